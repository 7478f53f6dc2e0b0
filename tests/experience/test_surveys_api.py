"""The surveys and feedback API: the shared resource checks (list with cursor, detail, create,
update, outsider 404, bad input 400, read-only key, query count), sending to a segment, answers
filtered, the results summary, and a rep seeing their own customers only."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from experience import feedback
from experience.models import FeedbackItem, ImprovementAction, Survey, SurveyInvitation
from finance import tenancy
from finance.actors import Actor
from tests.api_mixins import ApiResourceChecks
from tests.experience.test_surveys import answer, invite, make_customer, make_survey
from tests.factories import CustomerFactory, InteractionFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/experience/"


@pytest.fixture
def manager_api(org: Any, members: dict[str, Any]) -> APIClient:
    """A finance manager's session: API keys may not manage or send surveys (survey.manage and
    survey.send are not in api_write)."""
    client = APIClient()
    client.force_login(members["finance_manager"])
    return client


class TestSurveys(ApiResourceChecks):
    url = f"{BASE}surveys/"
    model = Survey
    update_payload = {"name": "Renamed survey", "is_active": False}

    @pytest.fixture
    def api(self, manager_api: APIClient) -> APIClient:
        return manager_api

    def make(self, org: Any, n: int = 0) -> Survey:
        return make_survey(org, name=f"Survey {org.slug} {n}")

    def create_payload(self, org: Any) -> dict[str, Any]:
        return {
            "name": "After delivery",
            "kind": "csat",
            "trigger": "manual",
            "question": {"en": "How was the delivery?"},
            "questions": [{"kind": "text", "text": {"en": "Anything else?"}}],
        }

    def invalid_payloads(self, org: Any, outsider_org: Any) -> list[dict[str, Any]]:
        return [
            {},
            {"name": "X", "kind": "stars"},
            {"name": "X", "kind": "nps", "expiry_days": 0},
            {"name": "X", "kind": "nps", "question": {"fr": "Bonjour"}},
            {"name": "X", "kind": "nps", "questions": [{"kind": "choice", "text": {"en": "?"}}]},
            {"name": "X", "kind": "nps", "question": "not a dict"},
        ]

    def test_a_rep_reads_surveys_but_cannot_write_them(self, client, org, members):
        self.make(org)
        client.force_login(members["sales_rep"])
        assert client.get(self.url).status_code == 200
        assert (
            client.post(self.url, self.create_payload(org), content_type="application/json").status_code
            == 403
        )

    def test_a_survey_with_invitations_cannot_be_deleted(self, api, org):
        survey = self.make(org)
        invite(org, survey, make_customer(org))
        assert api.delete(f"{self.url}{survey.pk}/").status_code == 400
        unused = self.make(org, 1)
        assert api.delete(f"{self.url}{unused.pk}/").status_code == 204


class TestFeedback(ApiResourceChecks):
    url = f"{BASE}feedback/"
    model = FeedbackItem
    update_payload = {"status": "planned", "category": "delivery"}

    def make(self, org: Any, n: int = 0) -> FeedbackItem:
        customer = CustomerFactory(organization=org)
        with tenancy.tenant(org):
            return feedback.feedback_create(
                actor=Actor.system(org), customer=customer, summary=f"Feedback {n}", sentiment="negative"
            )

    def create_payload(self, org: Any) -> dict[str, Any]:
        customer = CustomerFactory(organization=org)
        interaction = InteractionFactory(organization=org, customer=customer)
        return {
            "customer": customer.pk,
            "interaction": interaction.pk,
            "summary": "Wants e-invoices",
            "sentiment": "neutral",
            "category": "billing",
        }

    def invalid_payloads(self, org: Any, outsider_org: Any) -> list[dict[str, Any]]:
        theirs = CustomerFactory(organization=outsider_org)
        mine = CustomerFactory(organization=org)
        other_interaction = InteractionFactory(organization=org, customer=CustomerFactory(organization=org))
        return [
            {},
            {"customer": theirs.pk, "summary": "x", "sentiment": "neutral"},
            {"customer": mine.pk, "summary": "", "sentiment": "neutral"},
            {"customer": mine.pk, "summary": "x", "sentiment": "angry"},
            {
                "customer": mine.pk,
                "summary": "x",
                "sentiment": "neutral",
                "interaction": other_interaction.pk,
            },
            {"customer": "abc", "summary": "x", "sentiment": "neutral"},
        ]

    def test_the_status_follows_its_flow(self, api, org):
        item = self.make(org)
        assert api.patch(f"{self.url}{item.pk}/", {"status": "done"}, format="json").status_code == 400
        assert api.patch(f"{self.url}{item.pk}/", {"status": "planned"}, format="json").status_code == 200
        assert (
            api.patch(f"{self.url}{item.pk}/", {"status": "done"}, format="json").json()["status"] == "done"
        )


class TestImprovementActions(ApiResourceChecks):
    url = f"{BASE}improvement-actions/"
    model = ImprovementAction
    update_payload = {"title": "Call the buyer"}

    def make(self, org: Any, n: int = 0) -> ImprovementAction:
        item = TestFeedback().make(org, n)
        with tenancy.tenant(org):
            return feedback.action_create(
                actor=Actor.system(org),
                feedback=item,
                title=f"Action {n}",
                due_date=datetime.date(2026, 12, 1),
            )

    def create_payload(self, org: Any) -> dict[str, Any]:
        return {"feedback": TestFeedback().make(org).pk, "title": "Fix PO numbers", "due_date": "2026-12-01"}

    def invalid_payloads(self, org: Any, outsider_org: Any) -> list[dict[str, Any]]:
        theirs = TestFeedback().make(outsider_org)
        mine = TestFeedback().make(org)
        return [
            {},
            {"feedback": theirs.pk, "title": "x", "due_date": "2026-12-01"},
            {"feedback": mine.pk, "title": "", "due_date": "2026-12-01"},
            {"feedback": mine.pk, "title": "x", "due_date": "someday"},
        ]

    def test_planning_an_action_plans_the_item_and_done_needs_an_outcome(self, api, org):
        action = self.make(org)
        with tenancy.tenant(org):
            assert action.feedback.__class__.objects.get(pk=action.feedback_id).status == "planned"
        assert api.patch(f"{self.url}{action.pk}/", {"status": "done"}, format="json").status_code == 400
        done = api.patch(f"{self.url}{action.pk}/", {"status": "done", "outcome": "Fixed"}, format="json")
        assert done.status_code == 200 and done.json()["completed_on"]


class TestResponses(ApiResourceChecks):
    url = f"{BASE}survey-responses/"
    model = Survey  # read-only resource: counts are not used
    writable = False

    def make(self, org: Any, n: int = 0) -> Any:
        survey = Survey.unscoped.filter(organization=org).first() or make_survey(org)
        return answer(org, survey, make_customer(org), n % 11)

    def test_filters_by_survey_category_and_customer(self, api, org):
        nps = make_survey(org)
        buyer = make_customer(org)
        answer(org, nps, buyer, 10)
        answer(org, nps, make_customer(org), 2)
        detractors = api.get(self.url, {"category": "detractor"}).json()["results"]
        assert [r["score"] for r in detractors] == [2]
        assert len(api.get(self.url, {"customer": buyer.pk}).json()["results"]) == 1
        assert len(api.get(self.url, {"survey": nps.pk}).json()["results"]) == 2
        assert api.get(self.url, {"category": "grumpy"}).status_code == 400
        assert api.get(self.url, {"responded_after": "not a date"}).status_code == 400


class TestInvitations(ApiResourceChecks):
    url = f"{BASE}survey-invitations/"
    model = SurveyInvitation
    writable = False  # POST sends to a segment: checked below

    def make(self, org: Any, n: int = 0) -> SurveyInvitation:
        survey = Survey.unscoped.filter(organization=org).first() or make_survey(org)
        return invite(org, survey, make_customer(org))[0]

    def test_post_sends_to_a_segment_once_per_contact(
        self, manager_api, org, outsider_org, django_capture_on_commit_callbacks
    ):
        survey = make_survey(org)
        make_customer(org, abc_class="A")
        make_customer(org, abc_class="B")
        api = manager_api
        assert TestInvitations.write_key_refused(org, survey)
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post(self.url, {"survey": survey.pk, "abc_class": "A"}, format="json")
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["invited"] == 1 and "token_hash" not in body["invitations"][0]
        again = api.post(self.url, {"survey": survey.pk, "abc_class": "A"}, format="json").json()
        assert (again["invited"], again["skipped_quiet"]) == (0, 1)
        theirs = make_survey(outsider_org)
        assert api.post(self.url, {"survey": theirs.pk}, format="json").status_code == 400
        assert api.post(self.url, {"survey": survey.pk, "abc_class": "Z"}, format="json").status_code == 400

    @staticmethod
    def write_key_refused(org: Any, survey: Survey) -> bool:
        from tests.conftest import make_key

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_key(org, ['read', 'write'])}")
        return (
            client.post(f"{BASE}survey-invitations/", {"survey": survey.pk}, format="json").status_code == 403
        )

    def test_a_read_key_cannot_send(self, read_api, org):
        survey = make_survey(org)
        assert read_api.post(self.url, {"survey": survey.pk}, format="json").status_code == 403


def test_results_summary(api, org, outsider_org):
    survey = make_survey(org)
    for score in (10, 9, 3):
        answer(org, survey, make_customer(org, customer_group="Retail"), score)
    theirs = make_survey(outsider_org)
    answer(outsider_org, theirs, make_customer(outsider_org), 0)
    body = api.get(f"{BASE}survey-results/").json()
    assert body["overall"]["nps"] == 33.3
    assert body["overall"]["answers"] == 3
    assert body["response_rate"] == 100.0
    assert body["by_group"][0]["label"] == "Retail"
    assert api.get(f"{BASE}survey-results/", {"survey": survey.pk}).status_code == 200
    assert api.get(f"{BASE}survey-results/", {"survey": theirs.pk}).status_code == 400
    assert api.get(f"{BASE}survey-results/", {"since": "yesterday"}).status_code == 400


def test_a_rep_sees_their_own_customers_answers_only(org, members):
    survey = make_survey(org)
    rep = members["sales_rep"]
    answer(org, survey, make_customer(org, rep), 9)
    answer(org, survey, make_customer(org, members["owner"]), 1)
    client = APIClient()
    client.force_login(rep)
    listed = client.get(f"{BASE}survey-responses/").json()["results"]
    assert [r["score"] for r in listed] == [9]
    assert client.get(f"{BASE}survey-results/").json()["overall"]["answers"] == 1
