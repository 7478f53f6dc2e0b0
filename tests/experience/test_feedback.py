"""Feedback items and improvement actions (services and pages), and the survey pages: who may open
and do what, bad input answered with field errors, other organizations' ids and other reps'
customers 404, the customer-page panel, and list pages whose query count does not grow."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from experience import feedback
from experience.models import FeedbackItem, ImprovementAction, Survey, SurveyInvitation
from finance import tenancy
from finance.actors import Actor
from finance.models import AuditEvent, Role
from tests.conftest import actor_for, login
from tests.experience.test_surveys import answer, make_customer, make_survey
from tests.factories import InteractionFactory

pytestmark = pytest.mark.django_db


def item_for(org, customer, **fields):
    with tenancy.tenant(org):
        return feedback.feedback_create(
            actor=Actor.system(org),
            customer=customer,
            summary=fields.pop("summary", "Late"),
            sentiment="negative",
        )


# --- Services ----------------------------------------


def test_feedback_from_an_interaction_moves_new_planned_done(org, members):
    rep = members["sales_rep"]
    buyer = make_customer(org, rep)
    interaction = InteractionFactory(organization=org, customer=buyer)
    with tenancy.tenant(org):
        actor = actor_for(org, rep, "sales_rep")
        item = feedback.feedback_create(
            actor=actor, customer=buyer, interaction=interaction, summary="Wants EDI", sentiment="neutral"
        )
        assert (item.source, item.status) == ("interaction", "new")
        with pytest.raises(ValidationError):
            feedback.feedback_update(actor=actor, feedback=item, status="done")
        action = feedback.action_create(
            actor=actor, feedback=item, title="Offer EDI", due_date=datetime.date(2026, 12, 1)
        )
        item.refresh_from_db()
        assert item.status == "planned" and action.owner_id == rep.pk
        with pytest.raises(ValidationError):
            feedback.action_update(actor=actor, action=action, status="done")
        action = feedback.action_update(actor=actor, action=action, status="done", outcome="EDI live")
        assert action.completed_on == org.local_today()
        feedback.feedback_update(actor=actor, feedback=item, status="done")
        assert set(AuditEvent.objects.values_list("action", flat=True)) >= {
            "feedback.created",
            "feedback.updated",
            "improvement_action.created",
            "improvement_action.updated",
        }


def test_a_rep_changes_only_their_own_customers_feedback(org, members):
    theirs = make_customer(org, members["owner"])
    with tenancy.tenant(org):
        rep = actor_for(org, members["sales_rep"], "sales_rep")
        with pytest.raises(PermissionDenied):
            feedback.feedback_create(actor=rep, customer=theirs, summary="x", sentiment="neutral")
        item = feedback.feedback_create(
            actor=Actor.system(org), customer=theirs, summary="x", sentiment="neutral"
        )
        with pytest.raises(PermissionDenied):
            feedback.feedback_update(actor=rep, feedback=item, status="planned")
        auditor = actor_for(org, members["auditor"], "auditor")
        with pytest.raises(PermissionDenied):
            feedback.feedback_update(actor=auditor, feedback=item, status="planned")


def test_an_action_owner_must_be_a_member(org, members, outsider):
    item = item_for(org, make_customer(org))
    with tenancy.tenant(org), pytest.raises(ValidationError):
        feedback.action_create(
            actor=Actor.system(org),
            feedback=item,
            title="x",
            due_date=datetime.date(2026, 12, 1),
            owner=outsider,
        )


# --- Pages ----------------------------------------


@pytest.fixture
def story(org, members):
    survey = make_survey(org, name="Pulse")
    buyer = make_customer(org, members["sales_rep"], name="Rep Customer")
    response = answer(org, survey, buyer, 2, comment="Invoices are wrong")
    with tenancy.tenant(org):
        item = FeedbackItem.objects.get(response=response)
        action = feedback.action_create(
            actor=Actor.system(org),
            feedback=item,
            title="Check invoices",
            due_date=datetime.date(2026, 12, 1),
        )
    return {"survey": survey, "customer": buyer, "item": item, "action": action}


def pages(story):
    return [
        "/experience/surveys/",
        f"/experience/surveys/{story['survey'].pk}/",
        "/experience/surveys/responses/",
        "/experience/surveys/feedback/",
        f"/experience/surveys/feedback/{story['item'].pk}/",
        f"/customers/{story['customer'].pk}/",
    ]


@pytest.mark.parametrize("role", list(Role.values))
def test_every_page_opens_for_every_role(client, members, story, role):
    login(client, members[role])
    for url in pages(story):
        response = client.get(url)
        assert response.status_code == 200, (url, role)
    customer_page = client.get(f"/customers/{story['customer'].pk}/").content.decode()
    assert 'data-testid="satisfaction-panel"' in customer_page
    assert "Invoices are wrong" in customer_page


def test_manage_and_send_pages_follow_the_role_table(client, members, story):
    survey = story["survey"]
    for role, manage, send in (("owner", 200, 200), ("ar_clerk", 403, 200), ("sales_rep", 403, 403)):
        login(client, members[role])
        assert client.get("/experience/surveys/new/").status_code == manage, role
        assert client.get(f"/experience/surveys/{survey.pk}/edit/").status_code == manage, role
        assert client.get(f"/experience/surveys/{survey.pk}/send/").status_code == send, role


def test_a_survey_is_created_and_sent_through_the_pages(
    client, org, members, django_capture_on_commit_callbacks
):
    login(client, members["finance_manager"])
    bad = client.post("/experience/surveys/new/", {"name": "", "kind": "nps", "trigger": "manual"})
    assert bad.status_code == 400
    created = client.post(
        "/experience/surveys/new/",
        {
            "name": "Quarterly NPS",
            "kind": "nps",
            "trigger": "quarterly",
            "is_active": "on",
            "expiry_days": "14",
            "quiet_days": "30",
            "question_en": "Would you recommend us?",
            "q1_kind": "choice",
            "q1_text_en": "Best part?",
            "q1_choices": "Price; Quality",
        },
    )
    assert created.status_code == 302, created.content.decode()[:2000]
    with tenancy.tenant(org):
        survey = Survey.objects.get(name="Quarterly NPS")
        assert survey.question == {"en": "Would you recommend us?"}
        assert survey.questions.get().choices == [
            {"en": "Price", "zh-hans": "Price"},
            {"en": "Quality", "zh-hans": "Quality"},
        ]
    make_customer(org, abc_class="A")
    make_customer(org, abc_class="B")
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(f"/experience/surveys/{survey.pk}/send/", {"abc_class": "A"})
    assert sent.status_code == 302
    with tenancy.tenant(org):
        assert SurveyInvitation.objects.filter(survey=survey, status="sent").count() == 1


def test_feedback_is_recorded_and_planned_through_the_pages(client, org, members, story):
    login(client, members["sales_rep"])
    buyer = story["customer"]
    url = f"/experience/surveys/feedback/new/?customer={buyer.pk}"
    assert client.get(url).status_code == 200
    assert client.post(url, {"summary": "", "sentiment": "neutral", "category": "other"}).status_code == 400
    saved = client.post(url, {"summary": "Wants a discount", "sentiment": "neutral", "category": "price"})
    assert saved.status_code == 302
    with tenancy.tenant(org):
        item = FeedbackItem.objects.get(summary="Wants a discount")
    detail = f"/experience/surveys/feedback/{item.pk}/"
    assert client.post(detail, {"title": "Offer volume price", "due_date": "2026-12-01"}).status_code == 302
    with tenancy.tenant(org):
        action = ImprovementAction.objects.get(feedback=item)
    client.post(f"/experience/surveys/actions/{action.pk}/", {"status": "done", "outcome": "Agreed 3 %"})
    with tenancy.tenant(org):
        action.refresh_from_db()
        item.refresh_from_db()
    assert action.status == "done" and item.status == "planned"
    assert client.post(detail, {"status": "done"}).status_code == 302


def test_other_organizations_and_other_reps_ids_are_404(client, org, members, outsider_org, story):
    theirs_survey = make_survey(outsider_org)
    theirs_item = item_for(outsider_org, make_customer(outsider_org))
    login(client, members["owner"])
    assert client.get(f"/experience/surveys/{theirs_survey.pk}/").status_code == 404
    assert client.get(f"/experience/surveys/feedback/{theirs_item.pk}/").status_code == 404
    assert (
        client.get(f"/experience/surveys/feedback/new/?customer={make_customer(outsider_org).pk}").status_code
        == 404
    )
    other_rep_item = item_for(org, make_customer(org, members["owner"]))
    login(client, members["sales_rep"])
    assert client.get(f"/experience/surveys/feedback/{other_rep_item.pk}/").status_code == 404
    assert (
        client.post(f"/experience/surveys/actions/{story['action'].pk}/", {"status": "cancelled"}).status_code
        == 302
    )
    board = client.get("/experience/surveys/feedback/").content.decode()
    assert "Invoices are wrong" in board
    assert f"/experience/surveys/feedback/{other_rep_item.pk}/" not in board


def test_anonymous_visitors_are_sent_to_log_in(client, story):
    for url in pages(story)[:5]:
        assert client.get(url).status_code == 302


@pytest.mark.parametrize(
    "url", ["/experience/surveys/responses/", "/experience/surveys/feedback/", "/experience/surveys/"]
)
def test_list_pages_take_the_same_queries_for_more_rows(client, org, members, url):
    survey = make_survey(org)
    login(client, members["owner"])

    def count() -> int:
        client.get(url)  # warm up (session, sidenav caches)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    answer(org, survey, make_customer(org, customer_group="G1"), 1, comment="a")
    answer(org, survey, make_customer(org, customer_group="G2"), 9, comment="b")
    few = count()
    for n in range(10):
        answer(org, survey, make_customer(org, customer_group=f"G{n % 2 + 1}"), n, comment=f"c{n}")
    assert count() == few
