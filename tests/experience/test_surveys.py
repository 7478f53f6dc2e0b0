"""Satisfaction surveys: the one-time link (no login, hashed token, expiry, one answer even under two
concurrent submits, another tenant's link irrelevant), the triggers (invoice settled once, quiet
days, service closed, the quarterly job, by hand to a segment), what an answer sets off (category,
feedback item, a call-back task for the owner rep on a detractor) and the results maths."""

from __future__ import annotations

import datetime
import re
import secrets
import threading
from types import SimpleNamespace
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from crm.models import FollowUp, Interaction
from experience import surveys
from experience import surveys_selectors as selectors
from experience.models import FeedbackItem, Survey, SurveyInvitation, SurveyResponse
from finance import jobs, tenancy
from finance.actors import Actor
from finance.models import AuditEvent
from tests.conftest import actor_for
from tests.credit.conftest import invoice
from tests.factories import ContactFactory, CustomerFactory

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https?://[^\s]+/s/([0-9]+\.[A-Za-z0-9_-]+)/")


# --- Builders (used by the other survey test modules too) ----------------------------------------


def make_survey(
    org: Any, kind: str = Survey.Kind.NPS, trigger: str = Survey.Trigger.MANUAL, **fields: Any
) -> Survey:
    with tenancy.tenant(org):
        return surveys.survey_create(
            actor=Actor.system(org),
            name=fields.pop("name", f"{kind} {trigger} {secrets.token_hex(3)}"),
            kind=kind,
            trigger=trigger,
            **fields,
        )


def make_customer(org: Any, owner: Any = None, *, language: str = "en", **fields: Any) -> Any:
    customer = CustomerFactory(organization=org, owner=owner, **fields)
    ContactFactory(
        organization=org, customer=customer, is_billing=True, preferred_language=language, name="Li Wei"
    )
    return customer


def invite(
    org: Any, survey: Survey, customer: Any, *, days: int | None = None
) -> tuple[SurveyInvitation, str]:
    """An invitation with a known token, as if emailed (no email is sent)."""
    token = f"{org.pk}.{secrets.token_urlsafe(32)}"
    with tenancy.tenant(org):
        invitation = SurveyInvitation.objects.create(
            survey=survey,
            customer=customer,
            email=f"{secrets.token_hex(4)}@example.test",
            language="en",
            token_hash=surveys.hash_token(token),
            source=f"test:{token[:8]}",
            status=SurveyInvitation.Status.SENT,
            sent_at=timezone.now(),
            expires_at=timezone.now()
            + datetime.timedelta(days=days if days is not None else survey.expiry_days),
        )
    return invitation, token


def answer(org: Any, survey: Survey, customer: Any, score: int, comment: str = "") -> SurveyResponse:
    invitation, _token = invite(org, survey, customer)
    with tenancy.tenant(org):
        return surveys.response_submit(invitation=invitation, score=score, comment=comment)


def emailed_token(message: Any) -> str:
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(1)


@pytest.fixture
def commit(django_capture_on_commit_callbacks: Any) -> Any:
    """Run what the code queues for after the commit (emails, receivables' signals)."""
    return django_capture_on_commit_callbacks


# --- Categories ----------------------------------------


@pytest.mark.parametrize(
    ("kind", "score", "category"),
    [
        ("nps", 10, "promoter"),
        ("nps", 9, "promoter"),
        ("nps", 8, "passive"),
        ("nps", 7, "passive"),
        ("nps", 6, "detractor"),
        ("nps", 0, "detractor"),
        ("csat", 5, "satisfied"),
        ("csat", 4, "satisfied"),
        ("csat", 3, "neutral"),
        ("csat", 2, "dissatisfied"),
        ("csat", 1, "dissatisfied"),
    ],
)
def test_a_score_falls_in_its_category(kind, score, category):
    assert surveys.category_for(kind, score) == category


# --- The link ----------------------------------------


def test_an_emailed_link_works_without_login_and_records_one_answer(client, org, members, commit):
    survey = make_survey(org)
    buyer = make_customer(org, members["sales_rep"])
    with tenancy.tenant(org), commit(execute=True):
        result = surveys.survey_send_to_segment(actor=Actor.system(org), survey=survey)
        invitation = result.created[0]
    assert len(mail.outbox) == 1
    token = emailed_token(mail.outbox[0])
    with tenancy.tenant(org):
        invitation.refresh_from_db()
        assert invitation.status == SurveyInvitation.Status.SENT
        assert invitation.token_hash == surveys.hash_token(token) != token
        assert not SurveyInvitation.objects.filter(token_hash=token).exists()
    page = client.get(f"/s/{token}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Acme Trading" in html
    assert buyer.name not in html and "Log out" not in html
    response = client.post(f"/s/{token}/", {"score": "9", "comment": "Great"})
    assert response.status_code == 200
    assert b"Thank you" in response.content
    with tenancy.tenant(org):
        stored = SurveyResponse.objects.get()
        assert (stored.score, stored.category, stored.customer_id) == (9, "promoter", buyer.pk)
        invitation.refresh_from_db()
        assert invitation.status == SurveyInvitation.Status.RESPONDED
    again = client.get(f"/s/{token}/")
    assert again.status_code == 200 and b"Already answered" in again.content
    second = client.post(f"/s/{token}/", {"score": "0"})
    assert second.status_code == 409 and b"Already answered" in second.content
    with tenancy.tenant(org):
        assert SurveyResponse.objects.count() == 1


@pytest.mark.parametrize("token", ["wrong", "x" * 43, "a/b", "%00" * 20, "🙂" * 30])
def test_a_wrong_or_malformed_token_is_a_friendly_404(client, org, token):
    response = client.get(f"/s/{token}/")
    assert response.status_code == 404
    assert b"Link not found" in response.content or response.status_code == 404


def test_an_expired_link_is_a_410_and_takes_no_answer(client, org):
    survey = make_survey(org)
    invitation, token = invite(org, survey, make_customer(org), days=0)
    assert client.get(f"/s/{token}/").status_code == 410
    assert client.post(f"/s/{token}/", {"score": "5"}).status_code == 410
    with tenancy.tenant(org):
        assert not SurveyResponse.objects.exists()


def test_a_bad_score_is_a_400_and_records_nothing(client, org):
    survey = make_survey(org, kind=Survey.Kind.CSAT)
    _invitation, token = invite(org, survey, make_customer(org))
    for bad in ({}, {"score": "0"}, {"score": "6"}, {"score": "abc"}):
        assert client.post(f"/s/{token}/", bad).status_code == 400
    with tenancy.tenant(org):
        assert not SurveyResponse.objects.exists()


def test_the_page_renders_in_the_invitations_language(client, org, commit):
    survey = make_survey(org, question={"zh-hans": "您会推荐我们吗？"})
    buyer = make_customer(org, language="zh-hans")
    with tenancy.tenant(org), commit(execute=True):
        surveys.survey_send_to_segment(actor=Actor.system(org), survey=survey)
    token = emailed_token(mail.outbox[0])
    page = client.get(f"/s/{token}/").content.decode()
    assert 'lang="zh-hans"' in page
    assert "您会推荐我们吗？" in page
    assert buyer.name not in page


def test_another_tenants_link_answers_in_its_own_tenant_only(client, org, outsider_org, members):
    theirs = make_survey(outsider_org)
    _invitation, token = invite(outsider_org, theirs, make_customer(outsider_org))
    login(client, members["owner"])  # signed in to org: the link still belongs to the outsider
    assert client.post(f"/s/{token}/", {"score": "3"}).status_code == 200
    with tenancy.tenant(org):
        assert not SurveyResponse.objects.exists()
    with tenancy.tenant(outsider_org):
        assert SurveyResponse.objects.get().organization_id == outsider_org.pk


def test_a_link_moved_to_another_organizations_id_finds_nothing(client, org, outsider_org):
    survey = make_survey(outsider_org)
    _invitation, token = invite(outsider_org, survey, make_customer(outsider_org))
    secret = token.split(".", 1)[1]
    assert client.get(f"/s/{org.pk}.{secret}/").status_code == 404
    assert client.get(f"/s/999999.{secret}/").status_code == 404
    assert client.get(f"/s/{secret}/").status_code == 404  # the secret alone is not a link


def login(client: Any, user: Any) -> Any:
    client.force_login(user)
    return client


def test_custom_questions_are_asked_and_stored(client, org):
    survey = make_survey(
        org,
        questions=[
            {"kind": "rating", "text": {"en": "Delivery?"}, "required": True},
            {"kind": "choice", "text": {"en": "Best part?"}, "choices": [{"en": "Price"}, {"en": "Quality"}]},
        ],
    )
    _invitation, token = invite(org, survey, make_customer(org))
    with tenancy.tenant(org):
        rating, choice = survey.questions.all()
    page = client.get(f"/s/{token}/").content.decode()
    assert "Delivery?" in page and "Quality" in page
    assert client.post(f"/s/{token}/", {"score": "8"}).status_code == 400  # the rating is required
    assert (
        client.post(f"/s/{token}/", {"score": "8", f"q{rating.pk}": "4", f"q{choice.pk}": "1"}).status_code
        == 200
    )
    with tenancy.tenant(org):
        assert SurveyResponse.objects.get().answers == {str(rating.pk): 4, str(choice.pk): 1}


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent submits need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_submits_at_once_record_exactly_one_answer(org):
    survey = make_survey(org)
    invitation, _token = invite(org, survey, make_customer(org))
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def submit(score: int) -> None:
        try:
            found = surveys.invitation_for_token(_token)
            with tenancy.tenant(org):
                start.wait(timeout=30)
                surveys.response_submit(invitation=found, score=score)
                outcomes.append("recorded")
        except surveys.InvitationUnavailable as exc:
            outcomes.append(exc.reason)
        except Exception as exc:  # noqa: BLE001 - reported below
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(score,)) for score in (2, 10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["answered", "recorded"]
    with tenancy.tenant(org):
        assert SurveyResponse.objects.filter(invitation=invitation).count() == 1
        assert AuditEvent.objects.filter(action="survey.responded").count() == 1


# --- Triggers ----------------------------------------


def test_a_settled_invoice_invites_the_billing_contact_once(org, commit):
    survey = make_survey(org, kind=Survey.Kind.CSAT, trigger=Survey.Trigger.INVOICE_PAID)
    buyer = make_customer(org)
    today = org.local_today()
    with commit(execute=True):
        paid = invoice(org, buyer, "INV-1", today, paid_on=today)
    with tenancy.tenant(org):
        invitation = SurveyInvitation.objects.get()
        assert (invitation.survey_id, invitation.source) == (survey.pk, f"invoice:{paid.pk}")
        assert invitation.contact.is_billing and invitation.status == SurveyInvitation.Status.SENT
        surveys.on_invoice_settled(None, invoice=paid)  # the signal again: nothing new
        assert SurveyInvitation.objects.count() == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [invitation.email]


def test_quiet_days_keep_a_contact_from_being_asked_again(org, commit):
    make_survey(org, kind=Survey.Kind.CSAT, trigger=Survey.Trigger.INVOICE_PAID, quiet_days=30)
    buyer = make_customer(org)
    today = org.local_today()
    with commit(execute=True):
        invoice(org, buyer, "INV-1", today, paid_on=today)
    with commit(execute=True):
        invoice(org, buyer, "INV-2", today, paid_on=today)
    with tenancy.tenant(org):
        assert SurveyInvitation.objects.count() == 1
        Survey.objects.update(quiet_days=0)
    with commit(execute=True):
        invoice(org, buyer, "INV-3", today, paid_on=today)
    with tenancy.tenant(org):
        assert SurveyInvitation.objects.count() == 2


def test_no_survey_for_the_trigger_or_a_paused_one_sends_nothing(org, commit):
    make_survey(org, kind=Survey.Kind.CSAT, trigger=Survey.Trigger.INVOICE_PAID, is_active=False)
    today = org.local_today()
    with commit(execute=True):
        invoice(org, make_customer(org), "INV-1", today, paid_on=today)
    with tenancy.tenant(org):
        assert not SurveyInvitation.objects.exists()
    assert not mail.outbox


def test_a_closed_service_request_signal_invites_its_contact_once(org):
    make_survey(org, kind=Survey.Kind.CSAT, trigger=Survey.Trigger.SERVICE_CLOSED)
    buyer = make_customer(org)
    with tenancy.tenant(org):
        contact = ContactFactory(organization=org, customer=buyer, email="caller@example.test")
        request = SimpleNamespace(pk=77, customer=buyer, contact=contact)
        surveys.service_request_closed.send(sender=None, request=request)
        surveys.on_service_request_closed(request)
        invitation = SurveyInvitation.objects.get()
    assert (invitation.email, invitation.source) == ("caller@example.test", "service:77")


def test_the_quarterly_job_invites_one_contact_per_active_customer_once(org):
    survey = make_survey(org, trigger=Survey.Trigger.QUARTERLY)
    customers = [make_customer(org) for _n in range(3)]
    CustomerFactory(organization=org, email="")  # no contact, no email: nobody to ask
    first_day = datetime.date(2026, 10, 1)
    run = jobs.job_run(organization=org, job_name="survey_quarterly", run_date=first_day)
    assert run.result == {"invited": 3, "quarter": "2026Q4"}
    jobs.job_run(organization=org, job_name="survey_quarterly", run_date=first_day, force=True)
    with tenancy.tenant(org):
        assert SurveyInvitation.objects.filter(survey=survey, source="quarter:2026Q4").count() == 3
        assert {i.customer_id for i in SurveyInvitation.objects.all()} == {c.pk for c in customers}
    other_day = jobs.job_run(
        organization=org, job_name="survey_quarterly", run_date=datetime.date(2026, 10, 2)
    )
    assert other_day.result["invited"] == 0


def test_a_segment_send_invites_matching_customers_and_respects_roles(org, members):
    survey = make_survey(org)
    a_customer = make_customer(org, abc_class="A")
    make_customer(org, abc_class="C")
    with tenancy.tenant(org):
        with pytest.raises(PermissionDenied):
            surveys.survey_send_to_segment(
                actor=actor_for(org, members["sales_rep"], "sales_rep"), survey=survey
            )
        clerk = actor_for(org, members["ar_clerk"], "ar_clerk")
        result = surveys.survey_send_to_segment(actor=clerk, survey=survey, abc_class="A")
        assert [i.customer_id for i in result.created] == [a_customer.pk]
        with pytest.raises(PermissionDenied):
            surveys.survey_create(actor=clerk, name="Nope", kind="nps")


def test_a_failing_mail_server_marks_the_invitation_failed(org, monkeypatch, commit):
    survey = make_survey(org)
    make_customer(org)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(surveys, "send_mail", broken)
    with tenancy.tenant(org), commit(execute=True):
        surveys.survey_send_to_segment(actor=Actor.system(org), survey=survey)
    with tenancy.tenant(org):
        invitation = SurveyInvitation.objects.get()
    assert invitation.status == SurveyInvitation.Status.FAILED
    assert "smtp down" in invitation.error


# --- What an answer sets off ----------------------------------------


def test_a_detractor_gives_the_owner_rep_a_call_back_task(org, members):
    rep = members["sales_rep"]
    survey = make_survey(org)
    buyer = make_customer(org, rep, name="华东机电")
    response = answer(org, survey, buyer, 3, comment="Deliveries are late")
    with tenancy.tenant(org):
        task = FollowUp.objects.get(customer=buyer)
        assert task.assignee_id == rep.pk
        assert task.title == "Detractor: 华东机电 scored 3 — call back"
        assert task.due_date == org.local_today() + datetime.timedelta(days=2)
        item = FeedbackItem.objects.get()
        assert (item.source, item.sentiment, item.response_id) == ("survey", "negative", response.pk)
        assert item.detail == "Deliveries are late"
        assert Interaction.objects.filter(customer=buyer, summary__contains="Deliveries are late").exists()
        assert set(AuditEvent.objects.values_list("action", flat=True)) >= {
            "survey.responded",
            "feedback.created",
            "followup.created",
        }


def test_a_dissatisfied_csat_answer_also_asks_for_a_call_back(org, members):
    survey = make_survey(org, kind=Survey.Kind.CSAT)
    buyer = make_customer(org, members["sales_rep"])
    answer(org, survey, buyer, 2)
    with tenancy.tenant(org):
        assert FollowUp.objects.get().title.startswith("Dissatisfied:")
        assert not FeedbackItem.objects.exists()  # no comment, no feedback item


def test_a_promoter_gets_no_task(org, members):
    survey = make_survey(org)
    answer(org, survey, make_customer(org, members["sales_rep"]), 10, comment="Great service")
    with tenancy.tenant(org):
        assert not FollowUp.objects.exists()
        assert FeedbackItem.objects.get().sentiment == "positive"


# --- Surveys ----------------------------------------


def test_an_empty_question_uses_kehus_wording(org):
    survey = make_survey(org, question={"en": "  "})
    with tenancy.tenant(org):
        assert surveys.question_for(survey, "en", org) == (
            "How likely are you to recommend Acme Trading to a friend or colleague?"
        )


def test_a_surveys_kind_is_fixed_once_answered_and_names_are_unique(org, members):
    survey = make_survey(org, name="Pulse")
    answer(org, survey, make_customer(org), 8)
    with tenancy.tenant(org):
        owner = actor_for(org, members["owner"], "owner")
        with pytest.raises(ValidationError) as kind_error:
            surveys.survey_update(actor=owner, survey=survey, kind="csat")
        assert "kind" in kind_error.value.message_dict
        with pytest.raises(ValidationError) as name_error:
            surveys.survey_create(actor=owner, name="pulse", kind="nps")
        assert "name" in name_error.value.message_dict
        with pytest.raises(ValidationError):
            surveys.survey_create(
                actor=owner, name="Bad", kind="nps", questions=[{"kind": "choice", "text": {"en": "?"}}]
            )


# --- Results ----------------------------------------


def test_results_compute_nps_csat_and_response_rate(org, members):
    rep = members["sales_rep"]
    nps = make_survey(org)
    csat = make_survey(org, kind=Survey.Kind.CSAT)
    mine = make_customer(org, rep, customer_group="Retail", abc_class="A")
    other = make_customer(org, members["owner"], customer_group="Wholesale", abc_class="B")
    for score in (10, 9, 9, 8):
        answer(org, nps, mine, score)
    for score in (2, 6):
        answer(org, nps, other, score)
    for score in (5, 4, 3, 1):
        answer(org, csat, other, score)
    invite(org, nps, mine)  # sent, not answered
    with tenancy.tenant(org):
        owner = actor_for(org, members["owner"], "owner")
        results = selectors.survey_results(actor=owner)
        # 3 promoters, 1 passive, 2 detractors of 6: 50 % − 33.3 % = 16.7
        assert results.overall.nps == 16.7
        assert results.overall.csat == 50.0
        assert (results.responded, results.sent, results.response_rate) == (10, 11, 90.9)
        groups = {row.label: row for row in results.by_group}
        assert groups["Retail"].nps == 75.0
        assert groups["Wholesale"].nps == -100.0
        assert {row.label: row.answers for row in results.by_abc} == {"A": 4, "B": 6}
        assert len(results.months) == 1 and results.months[0].answers == 10
        only_nps = selectors.survey_results(actor=owner, survey=nps)
        assert only_nps.overall.csat is None and only_nps.sent == 7
        # A rep sees their own customers' answers only.
        rep_results = selectors.survey_results(actor=actor_for(org, rep, "sales_rep"))
        assert rep_results.overall.answers == 4 and rep_results.overall.nps == 75.0


def test_results_take_a_fixed_number_of_queries(org, members, django_assert_max_num_queries):
    survey = make_survey(org)
    for n in range(12):
        answer(org, survey, make_customer(org, members["sales_rep"], customer_group=f"G{n % 3}"), n % 11)
    with tenancy.tenant(org), django_assert_max_num_queries(8):
        selectors.survey_results(actor=actor_for(org, members["owner"], "owner"))


def test_the_demo_seed_spreads_answers_feedback_and_one_action(org, members):
    from experience import surveys_seed

    for _n in range(16):
        make_customer(org, members["sales_rep"])
    with tenancy.tenant(org):
        surveys_seed.seed(org)
        surveys_seed.seed(org)  # a second run adds nothing
        assert Survey.objects.count() == 2
        assert SurveyInvitation.objects.count() == 16
        categories = set(SurveyResponse.objects.values_list("category", flat=True))
        assert len(categories) >= 3
        assert FeedbackItem.objects.filter(source="survey").exists()
        assert FeedbackItem.objects.filter(actions__isnull=False).count() == 1
