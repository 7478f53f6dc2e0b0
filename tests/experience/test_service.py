"""Service requests: numbering, deadlines per priority, first response, the status flow (reopen,
close and its signal), the SLA check (warning vs breach, idempotent), quality metrics on a known
set, the settings' validation, and who may see and do what."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from crm.models import FollowUp
from experience import service, service_selectors
from experience.models import (
    BusinessCalendar,
    ServiceRequest,
    SlaPolicy,
    Survey,
    SurveyInvitation,
    SurveyResponse,
)
from experience.sla import sla_check
from experience.surveys import service_request_closed
from finance import tenancy
from finance.actors import Actor
from finance.models import AuditEvent
from tests.factories import ContactFactory, CustomerFactory

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
MONDAY = datetime.datetime(2025, 3, 3, 10, tzinfo=SHANGHAI)  # a Monday, 10:00


def at(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(2025, 3, day, hour, minute, tzinfo=SHANGHAI)


def actor_of(org, members, role):
    return Actor(organization=org, role=role, user=members[role])


@pytest.fixture
def clerk(org, members):
    return actor_of(org, members, "ar_clerk")


@pytest.fixture
def buyer(org, members):
    return CustomerFactory(organization=org, name="Buyer Ltd", owner=members["sales_rep"])


def open_request(actor, customer, **fields):
    fields.setdefault("subject", "Invoice does not match")
    fields.setdefault("opened_at", MONDAY)
    return service.service_request_create(actor=actor, customer=customer, **fields)


# Numbers and deadlines ---------------------------------------------------------------------------


def test_requests_are_numbered_per_organization(in_org, clerk, buyer, outsider_org):
    first = open_request(clerk, buyer)
    second = open_request(clerk, buyer)
    assert (first.number, second.number) == ("SR-000001", "SR-000002")
    with tenancy.tenant(outsider_org):
        theirs = open_request(Actor.system(outsider_org), CustomerFactory(organization=outsider_org))
        assert theirs.number == "SR-000001"


@pytest.mark.parametrize(
    ("priority", "first_due", "resolution_due"),
    [
        ("urgent", at(3, 11), at(3, 18)),
        ("high", at(3, 14), at(5, 16)),
        ("normal", at(3, 18), at(10, 13)),
        ("low", at(4, 17), at(17, 16)),
    ],
)
def test_deadlines_follow_the_priority_in_business_hours(
    in_org, clerk, buyer, priority, first_due, resolution_due
):
    request = open_request(clerk, buyer, priority=priority)
    assert request.first_response_due == first_due
    assert request.resolution_due == resolution_due


def test_saved_policy_and_calendar_are_used(in_org, org, members, clerk, buyer):
    owner = actor_of(org, members, "owner")
    service.sla_policy_update(
        actor=owner, priority="normal", first_response_minutes=30, resolution_minutes=600, warn_percent=50
    )
    service.business_calendar_update(
        actor=owner,
        working_days=[0, 1, 2, 3, 4],
        opens_at="08:00",
        closes_at="12:00",
        holidays=["2025-03-04"],
    )
    request = open_request(clerk, buyer)
    assert request.first_response_due == at(3, 10, 30)
    # Monday 10-12 (120), Tuesday is a holiday, Wednesday 240, Thursday 240 → Thursday 12:00.
    assert request.resolution_due == at(6, 12)


def test_reading_the_defaults_writes_nothing(in_org):
    assert service_selectors.business_calendar().working_days == [0, 1, 2, 3, 4]
    assert service_selectors.sla_policies()["urgent"].first_response_minutes == 60
    assert not BusinessCalendar.objects.exists()
    assert not SlaPolicy.objects.exists()


def test_priority_change_recomputes_the_deadlines(in_org, clerk, buyer):
    request = open_request(clerk, buyer, priority="low")
    request = service.service_request_update(actor=clerk, request=request, priority="urgent")
    assert request.first_response_due == at(3, 11)
    assert request.resolution_due == at(3, 18)
    assert AuditEvent.objects.filter(action="service.request_changed", object_id=str(request.pk)).exists()


def test_contact_must_belong_to_the_customer_and_assignee_be_a_member(in_org, org, clerk, buyer, outsider):
    stranger = ContactFactory(customer=CustomerFactory(organization=org))
    with pytest.raises(ValidationError) as error:
        open_request(clerk, buyer, contact=stranger)
    assert "contact" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        open_request(clerk, buyer, assignee=outsider)
    assert "assignee" in error.value.message_dict
    assert not ServiceRequest.objects.exists()


# Conversation and status flow -------------------------------------------------------------------


def test_first_outbound_note_is_the_first_response(in_org, clerk, buyer):
    request = open_request(clerk, buyer)
    service.service_note_add(actor=clerk, request=request, kind="inbound", body="Any news?", at=at(3, 11))
    service.service_note_add(actor=clerk, request=request, kind="internal", body="Checking", at=at(3, 12))
    request.refresh_from_db()
    assert request.first_response_at is None
    service.service_note_add(actor=clerk, request=request, kind="outbound", body="On it", at=at(3, 13))
    service.service_note_add(actor=clerk, request=request, kind="outbound", body="Fixed", at=at(3, 14))
    request.refresh_from_db()
    assert request.first_response_at == at(3, 13)
    assert request.status == "open"
    assert not request.first_response_breached


def test_late_first_response_is_flagged(in_org, clerk, buyer):
    request = open_request(clerk, buyer, priority="urgent")
    service.service_note_add(actor=clerk, request=request, kind="outbound", body="Sorry", at=at(3, 12))
    request.refresh_from_db()
    assert request.first_response_breached


def test_resolve_reopen_close(in_org, clerk, buyer, django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, request, **kwargs):
        received.append((request.pk, tenancy.current_organization().pk))

    service_request_closed.connect(receiver)
    try:
        request = open_request(clerk, buyer)
        request = service.service_request_resolve(actor=clerk, request=request)
        assert request.resolved_at is not None and request.status == "resolved"
        request = service.service_request_reopen(actor=clerk, request=request)
        assert request.reopen_count == 1 and request.resolved_at is None and request.status == "open"
        service.service_request_resolve(actor=clerk, request=request)
        with django_capture_on_commit_callbacks(execute=True):
            request = service.service_request_close(actor=clerk, request=request)
        assert request.closed_at is not None
        assert received == [(request.pk, request.organization_id)]
        request = service.service_request_reopen(actor=clerk, request=request)
        assert request.reopen_count == 2 and request.closed_at is None
    finally:
        service_request_closed.disconnect(receiver)
    actions = set(AuditEvent.objects.filter(object_id=str(request.pk)).values_list("action", flat=True))
    assert {"service.request_opened", "service.request_resolved", "service.request_reopened"} <= actions
    assert buyer.interactions.filter(summary__contains=request.number).count() >= 4


def test_an_open_request_cannot_be_reopened(in_org, clerk, buyer):
    with pytest.raises(ValidationError):
        service.service_request_reopen(actor=clerk, request=open_request(clerk, buyer))


# Who may do what --------------------------------------------------------------------------------


def test_rep_works_on_own_customers_only(in_org, org, members, rep_actor, buyer):
    mine = open_request(rep_actor, buyer)
    other = CustomerFactory(organization=org, owner=members["owner"])
    with pytest.raises(ValidationError) as error:
        open_request(rep_actor, other)
    assert "customer" in error.value.message_dict
    theirs = open_request(Actor.system(org), other)
    visible = set(service_selectors.service_requests_visible_to(rep_actor).values_list("pk", flat=True))
    assert visible == {mine.pk}
    with pytest.raises(PermissionDenied):
        service.service_note_add(actor=rep_actor, request=theirs, kind="outbound", body="hi")


def test_auditor_cannot_open_and_clerk_cannot_change_policies(in_org, org, members, clerk, buyer):
    with pytest.raises(PermissionDenied):
        open_request(actor_of(org, members, "auditor"), buyer)
    with pytest.raises(PermissionDenied):
        service.sla_policy_update(
            actor=clerk, priority="low", first_response_minutes=5, resolution_minutes=50, warn_percent=80
        )


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"working_days": [0, 9], "opens_at": "09:00", "closes_at": "18:00"}, "working_days"),
        ({"working_days": [0], "opens_at": "18:00", "closes_at": "09:00"}, "closes_at"),
        (
            {"working_days": [0], "opens_at": "09:00", "closes_at": "18:00", "holidays": ["2025-02-30"]},
            "holidays",
        ),
        ({"working_days": [], "opens_at": "09:00", "closes_at": "18:00"}, "working_days"),
    ],
)
def test_bad_calendars_are_refused_by_field(in_org, org, members, values, field):
    with pytest.raises(ValidationError) as error:
        service.business_calendar_update(actor=actor_of(org, members, "owner"), **values)
    assert field in error.value.message_dict
    assert not BusinessCalendar.objects.exists()


# The SLA check ----------------------------------------------------------------------------------


def test_sla_check_warns_then_flags_the_breach_once(
    in_org, org, members, clerk, buyer, django_capture_on_commit_callbacks
):
    system = Actor.system(org)
    request = open_request(clerk, buyer, assignee=members["ar_clerk"])  # normal: response due 18:00
    with django_capture_on_commit_callbacks(execute=True):
        early = sla_check(actor=system, now=at(3, 15))
    assert early["warnings"] == early["breaches"] == 0 and not mail.outbox

    with django_capture_on_commit_callbacks(execute=True):
        warned = sla_check(actor=system, now=at(3, 16, 30))  # 90 of 480 minutes left (< 20 %)
    assert (warned["warnings"], warned["breaches"]) == (1, 0)
    assert [m.to for m in mail.outbox] == [["ar_clerk@acme.test"]]
    request.refresh_from_db()
    assert request.sla_alerts == ["response_warning"] and not request.first_response_breached

    with django_capture_on_commit_callbacks(execute=True):
        again = sla_check(actor=system, now=at(3, 16, 45))
    assert again["warnings"] == again["breaches"] == 0 and len(mail.outbox) == 1

    with django_capture_on_commit_callbacks(execute=True):
        late = sla_check(actor=system, now=at(3, 18, 30))
    assert (late["warnings"], late["breaches"]) == (0, 1)
    request.refresh_from_db()
    assert request.first_response_breached and not request.resolution_breached
    assert "response_breach" in request.sla_alerts
    assert FollowUp.objects.filter(customer=buyer, assignee=members["ar_clerk"]).count() == 1
    assert len(mail.outbox) == 2

    with django_capture_on_commit_callbacks(execute=True):
        second = sla_check(actor=system, now=at(3, 18, 35))
    assert second["warnings"] == second["breaches"] == second["emails"] == 0
    assert len(mail.outbox) == 2
    assert FollowUp.objects.filter(customer=buyer).count() == 1


def test_breach_without_assignee_goes_to_owner_then_finance_managers(
    in_org, org, members, clerk, django_capture_on_commit_callbacks
):
    owned = CustomerFactory(organization=org, owner=members["sales_rep"])
    orphan = CustomerFactory(organization=org)
    open_request(clerk, owned, priority="urgent")
    open_request(clerk, orphan, priority="urgent")
    with django_capture_on_commit_callbacks(execute=True):
        result = sla_check(actor=Actor.system(org), now=at(4, 12))
    assert result["breaches"] == 4  # response and resolution of each
    recipients = sorted(address for message in mail.outbox for address in message.to)
    assert recipients == ["finance_manager@acme.test", "sales_rep@acme.test"]


def test_resolved_requests_are_not_checked(in_org, org, clerk, buyer):
    service.service_request_resolve(actor=clerk, request=open_request(clerk, buyer, priority="urgent"))
    assert sla_check(actor=Actor.system(org), now=at(10, 12))["breaches"] == 0


# Quality ----------------------------------------------------------------------------------------


def _survey_response(org, request, score, n):
    survey = Survey.objects.get_or_create(name="After service", defaults={"kind": "nps"})[0]
    invitation = SurveyInvitation.objects.create(
        survey=survey,
        customer=request.customer,
        email=f"buyer{n}@example.com",
        language="en",
        token_hash=f"{n:064d}",
        source=f"service:{request.pk}",
        expires_at=timezone.now() + datetime.timedelta(days=30),
    )
    SurveyResponse.objects.create(
        invitation=invitation,
        survey=survey,
        customer=request.customer,
        score=score,
        category="promoter",
        language="en",
    )


def test_quality_metrics_on_a_known_set(in_org, org, members, clerk, buyer):
    fast = open_request(clerk, buyer, priority="normal", category="billing", assignee=members["ar_clerk"])
    service.service_note_add(actor=clerk, request=fast, kind="outbound", body="ok", at=at(3, 11))  # 60 min
    service.service_request_set_status(actor=clerk, request=fast, status="resolved", at=at(3, 14))  # 240 min
    slow = open_request(clerk, buyer, priority="urgent", category="delivery")
    service.service_note_add(actor=clerk, request=slow, kind="outbound", body="late", at=at(3, 12))  # 120
    service.service_request_set_status(actor=clerk, request=slow, status="resolved", at=at(4, 10))
    service.service_request_reopen(actor=clerk, request=slow)
    service.service_request_set_status(actor=clerk, request=slow, status="resolved", at=at(4, 12))  # 660
    waiting = open_request(clerk, buyer, priority="low", category="billing", opened_at=at(5, 9))
    sla_check(actor=Actor.system(org), now=at(20, 12))  # both clocks of `waiting` are past due
    _survey_response(org, fast, 9, 1)
    _survey_response(org, slow, 5, 2)
    waiting.refresh_from_db()
    assert waiting.first_response_breached and waiting.resolution_breached

    owner = actor_of(org, members, "owner")
    (march,) = service_selectors.service_quality(actor=owner, months=1, group_by="month", now=at(20, 12))
    assert march["key"] == "2025-03"
    assert (march["opened"], march["resolved"]) == (3, 2)
    assert str(march["first_response_median_hours"]) == "1.5"
    assert str(march["first_response_average_hours"]) == "1.5"
    assert str(march["resolution_median_hours"]) == "7.5"
    assert str(march["resolution_average_hours"]) == "7.5"
    assert str(march["first_response_attainment"]) == "33.3"
    assert str(march["resolution_attainment"]) == "33.3"
    assert str(march["reopen_rate"]) == "33.3"
    assert str(march["satisfaction"]) == "7.00" and march["responses"] == 2

    by_category = {
        row["key"]: row
        for row in service_selectors.service_quality(
            actor=owner, months=1, group_by="category", now=at(20, 12)
        )
    }
    assert by_category["billing"]["opened"] == 2 and by_category["billing"]["satisfaction"] == 9
    assert by_category["delivery"]["reopen_rate"] == 100
    by_agent = service_selectors.service_quality(actor=owner, months=1, group_by="agent", now=at(20, 12))
    assert {row["key"] for row in by_agent} == {str(members["ar_clerk"].pk), ""}


def test_quality_with_no_responses_has_no_satisfaction(in_org, org, members, clerk, buyer):
    open_request(clerk, buyer)
    (row,) = service_selectors.service_quality(
        actor=actor_of(org, members, "owner"), months=1, group_by="month", now=at(20, 12)
    )
    assert row["satisfaction"] is None and row["responses"] == 0


def test_quality_costs_a_constant_number_of_queries(
    in_org, org, members, clerk, buyer, django_assert_max_num_queries
):
    for n in range(8):
        request = open_request(clerk, buyer, opened_at=at(3, 10, n))
        service.service_note_add(actor=clerk, request=request, kind="outbound", body="ok", at=at(3, 11))
        service.service_request_set_status(actor=clerk, request=request, status="resolved", at=at(3, 15))
    with django_assert_max_num_queries(4):
        service_selectors.service_quality(
            actor=actor_of(org, members, "owner"), months=2, group_by="agent", now=at(20, 12)
        )


def test_beat_dispatches_one_check_per_organization(org, outsider_org, members):
    from experience.tasks_service import dispatch_sla_checks
    from finance.schedule import BEAT_SCHEDULE

    entry = BEAT_SCHEDULE["dispatch-sla-checks"]
    assert entry["task"] == "experience.dispatch_sla_checks" and entry["options"]["expires"] <= 300
    with tenancy.tenant(org):
        request = open_request(Actor.system(org), CustomerFactory(organization=org), priority="urgent")
    assert dispatch_sla_checks() == 2  # tasks run eagerly in tests
    with tenancy.tenant(org):
        request.refresh_from_db()
        assert request.first_response_breached and request.resolution_breached
