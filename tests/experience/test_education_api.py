"""The education API: resources, sessions and attendances through the shared resource checks
(list, detail, create, update, the outsider's 404, bad input's 400, constant queries), the bulk
segment invitation, Idempotency-Key, and a sales rep's view of their own customers only."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from experience import education
from experience.models import Attendance, Resource, Session
from finance import tenancy
from finance.actors import Actor
from tests.api_mixins import ApiResourceChecks
from tests.conftest import login
from tests.factories import ContactFactory, CustomerFactory

pytestmark = pytest.mark.django_db

RESOURCES = "/api/v1/experience/education-resources/"
SESSIONS = "/api/v1/experience/education-sessions/"
ATTENDANCES = "/api/v1/experience/education-attendances/"
INVITE = f"{ATTENDANCES}invite/"


def make_resource(org, n=0, **fields):
    with tenancy.tenant(org):
        return education.resource_create(
            actor=Actor.system(org),
            title=fields.pop("title", f"Webinar {n}"),
            kind=fields.pop("kind", "webinar"),
            topic="Payments",
            language="en",
            **fields,
        )


def make_session(org, n=0, resource=None):
    resource = resource or make_resource(org, n)
    with tenancy.tenant(org):
        return education.session_create(
            actor=Actor.system(org),
            resource=resource,
            starts_at=timezone.now() + datetime.timedelta(days=n + 1),
        )


def make_place(org, n=0, resource=None, customer=None, **kwargs):
    resource = resource or make_resource(org, n)
    customer = customer or CustomerFactory(organization=org)
    with tenancy.tenant(org):
        place, _created = education.attendance_invite(
            actor=Actor.system(org), resource=resource, customer=customer, **kwargs
        )
    return place


class TestResourcesApi(ApiResourceChecks):
    url = RESOURCES
    model = Resource
    update_payload = {"title": "Paying online, revised", "is_active": False}

    def make(self, org, n=0):
        return make_resource(org, n)

    def create_payload(self, org):
        return {"title": "读懂对账单", "kind": "guide", "topic": "对账单", "language": "zh-hans"}

    def invalid_payloads(self, org, outsider_org):
        return [
            {},
            {"title": "x", "kind": "podcast", "topic": "x", "language": "en"},
            {"title": "x", "kind": "guide", "topic": "x", "language": "fr"},
            {"title": "x" * 201, "kind": "guide", "topic": "x", "language": "en"},
            {"title": "x", "kind": "guide", "topic": "x", "language": "en", "url": "not a link"},
        ]


class TestSessionsApi(ApiResourceChecks):
    url = SESSIONS
    model = Session
    update_payload = {"location": "Room 2", "duration_minutes": 45}

    def make(self, org, n=0):
        return make_session(org, n)

    def create_payload(self, org):
        return {
            "resource": make_resource(org).pk,
            "starts_at": "2030-01-15T10:00:00+08:00",
            "duration_minutes": 90,
        }

    def invalid_payloads(self, org, outsider_org):
        guide = make_resource(org, kind="guide", title="Guide")
        theirs = make_resource(outsider_org)
        mine = make_resource(org)
        return [
            {},
            {"resource": guide.pk, "starts_at": "2030-01-15T10:00:00Z"},
            {"resource": theirs.pk, "starts_at": "2030-01-15T10:00:00Z"},
            {"resource": mine.pk, "starts_at": "not a date"},
            {"resource": mine.pk, "starts_at": "2030-01-15T10:00:00Z", "duration_minutes": 2},
            {"resource": mine.pk, "starts_at": "2030-01-15T10:00:00Z", "duration_minutes": 99999},
            {"resource": "x" * 30, "starts_at": "2030-01-15T10:00:00Z"},
            {"resource": 2**70, "starts_at": "2030-01-15T10:00:00Z"},
        ]


class TestAttendancesApi(ApiResourceChecks):
    url = ATTENDANCES
    model = Attendance
    update_payload = {"status": "attended", "rating": 4, "feedback": "Useful"}

    def make(self, org, n=0):
        return make_place(org, n)

    def create_payload(self, org):
        buyer = CustomerFactory(organization=org)
        return {
            "resource": make_resource(org).pk,
            "customer": buyer.pk,
            "contact": ContactFactory(customer=buyer).pk,
        }

    def invalid_payloads(self, org, outsider_org):
        resource = make_resource(org)
        buyer = CustomerFactory(organization=org)
        stranger = ContactFactory(customer=CustomerFactory(organization=org))
        theirs = CustomerFactory(organization=outsider_org)
        return [
            {},
            {"resource": resource.pk},
            {"resource": resource.pk, "customer": buyer.pk, "contact": stranger.pk},
            {"resource": resource.pk, "customer": theirs.pk},
            {"resource": make_resource(outsider_org).pk, "customer": buyer.pk},
            {"resource": resource.pk, "customer": buyer.pk, "session": make_session(org, 5).pk},
            {"resource": resource.pk, "customer": [1]},
        ]


def test_a_repeated_invitation_answers_200_with_the_first(api, org):
    resource = make_resource(org)
    buyer = CustomerFactory(organization=org)
    first = api.post(ATTENDANCES, {"resource": resource.pk, "customer": buyer.pk}, format="json")
    again = api.post(ATTENDANCES, {"resource": resource.pk, "customer": buyer.pk}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]


def test_the_status_moves_forward_only(api, org):
    place = make_place(org)
    url = f"{ATTENDANCES}{place.pk}/"
    assert api.patch(url, {"rating": 5}, format="json").status_code == 400
    assert api.patch(url, {"status": "completed"}, format="json").json()["completed_on"] == str(
        org.local_today()
    )
    refused = api.patch(url, {"status": "invited"}, format="json")
    assert refused.status_code == 400 and "status" in refused.json()
    assert api.patch(url, {"status": "gone"}, format="json").status_code == 400
    assert api.patch(url, {"on": "2999-01-01", "status": "attended"}, format="json").status_code == 400


def test_the_list_filters_by_resource_session_customer_and_status(api, org):
    resource = make_resource(org)
    session = make_session(org, resource=resource)
    buyer = CustomerFactory(organization=org)
    on_session = make_place(org, resource=resource, customer=buyer, session=session)
    other = make_place(org, resource=resource)
    make_place(org)
    with tenancy.tenant(org):
        education.attendance_update(actor=Actor.system(org), attendance=other, status="no_show")

    def ids(**params):
        return {row["id"] for row in api.get(ATTENDANCES, params).json()["results"]}

    assert ids(resource=resource.pk) == {on_session.pk, other.pk}
    assert ids(session=session.pk) == {on_session.pk}
    assert ids(customer=buyer.pk) == {on_session.pk}
    assert ids(status="no_show") == {other.pk}
    assert api.get(ATTENDANCES, {"customer": "x"}).status_code == 400
    assert api.get(ATTENDANCES, {"status": "lost"}).status_code == 400


def test_a_segment_is_invited_in_bulk_and_idempotently(api, org):
    resource = make_resource(org)
    session = make_session(org, resource=resource)
    group = [CustomerFactory(organization=org, customer_group="Retail") for _ in range(3)]
    CustomerFactory(organization=org, customer_group="Wholesale")
    body = {"resource": resource.pk, "session": session.pk, "customer_group": "Retail"}
    first = api.post(INVITE, body, format="json", headers={"Idempotency-Key": "invite-retail"})
    assert first.status_code == 200, first.content
    assert (first.json()["invited"], first.json()["already_invited"]) == (3, 0)
    replay = api.post(INVITE, body, format="json", headers={"Idempotency-Key": "invite-retail"})
    assert replay.headers.get("Idempotent-Replayed") == "true"
    again = api.post(INVITE, body, format="json")
    assert (again.json()["invited"], again.json()["already_invited"]) == (0, 3)
    with tenancy.tenant(org):
        assert set(Attendance.objects.values_list("customer_id", flat=True)) == {c.pk for c in group}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"resource": None, "customer_group": "Retail"},
        {"resource": "R"},
        {"abc_class": "Z"},
        {"lifecycle_stage": "ancient"},
        {"owner": 2**70},
    ],
)
def test_a_bad_segment_is_a_400(api, org, body):
    resource = make_resource(org)
    payload = {"resource": resource.pk, **body} if "resource" not in body else body
    response = api.post(INVITE, payload, format="json")
    assert response.status_code == 400, response.content
    with tenancy.tenant(org):
        assert not Attendance.objects.exists()


def test_a_resource_with_invitations_is_not_deleted(api, org):
    place = make_place(org)
    assert api.delete(f"{RESOURCES}{place.resource_id}/").status_code == 400
    empty = make_resource(org, 9)
    assert api.delete(f"{RESOURCES}{empty.pk}/").status_code == 204


def test_resource_figures_in_the_api(api, org):
    resource = make_resource(org)
    done = make_place(org, resource=resource)
    make_place(org, resource=resource)
    with tenancy.tenant(org):
        education.attendance_update(actor=Actor.system(org), attendance=done, status="completed", rating=4)
    row = api.get(f"{RESOURCES}{resource.pk}/").json()
    assert (row["invited"], row["completed"], row["completion_rate"], row["avg_rating"]) == (2, 1, 50.0, 4.0)


def test_a_rep_sees_and_invites_only_their_own_customers(org, members):
    rep = members["sales_rep"]
    resource = make_resource(org)
    mine = make_place(org, resource=resource, customer=CustomerFactory(organization=org, owner=rep))
    theirs = make_place(
        org, resource=resource, customer=CustomerFactory(organization=org, owner=members["owner"])
    )
    client = login(APIClient(), rep)
    assert {row["id"] for row in client.get(ATTENDANCES).json()["results"]} == {mine.pk}
    assert client.get(f"{ATTENDANCES}{theirs.pk}/").status_code == 404
    assert (
        client.patch(f"{ATTENDANCES}{theirs.pk}/", {"status": "attended"}, format="json").status_code == 404
    )
    refused = client.post(
        ATTENDANCES, {"resource": resource.pk, "customer": theirs.customer_id}, format="json"
    )
    assert refused.status_code == 400
    assert client.get(f"{RESOURCES}{resource.pk}/").json()["invited"] == 1


def test_an_outsider_sees_none_of_it(outsider_api, org):
    place = make_place(org)
    session = make_session(org)
    assert outsider_api.get(f"{ATTENDANCES}{place.pk}/").status_code == 404
    assert outsider_api.get(f"{RESOURCES}{place.resource_id}/").status_code == 404
    assert outsider_api.get(f"{SESSIONS}{session.pk}/").status_code == 404
    refused = outsider_api.post(INVITE, {"resource": place.resource_id, "abc_class": "A"}, format="json")
    assert refused.status_code == 400
