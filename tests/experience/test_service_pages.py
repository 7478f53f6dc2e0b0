"""The service pages: the queue with SLA badges and filters, a request's page and its actions,
the new-request form, the quality page with its chart, the settings page (400 with field errors),
the customer-page panel, and 404/403 for ids and roles that may not."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from experience import service
from experience.models import BusinessCalendar, ServiceRequest
from finance import tenancy
from finance.actors import Actor
from tests.conftest import login
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

HOME = reverse("experience:service-home")


def make_request(org, customer=None, **fields):
    with tenancy.tenant(org):
        customer = customer or CustomerFactory(organization=org)
        return service.service_request_create(
            actor=Actor.system(org), customer=customer, subject="Help", **fields
        )


def test_queue_shows_open_requests_with_sla_badges(client, org, members):
    late = make_request(org, priority="urgent", opened_at=timezone.now() - datetime.timedelta(days=10))
    fresh = make_request(org, priority="low")
    done = make_request(org)
    with tenancy.tenant(org):
        service.service_request_resolve(actor=Actor.system(org), request=done)
    page = login(client, members["ar_clerk"]).get(HOME)
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-request="{late.pk}"' in html and f'data-request="{fresh.pk}"' in html
    assert f'data-request="{done.pk}"' not in html
    assert 'data-sla="breached"' in html
    urgent_only = client.get(HOME, {"priority": "urgent"}).content.decode()
    assert f'data-request="{fresh.pk}"' not in urgent_only
    everything = client.get(HOME, {"status": "all"}).content.decode()
    assert f'data-request="{done.pk}"' in everything


def test_mine_filter(client, org, members):
    mine = make_request(org, assignee=members["ar_clerk"])
    other = make_request(org)
    html = login(client, members["ar_clerk"]).get(HOME, {"mine": "1"}).content.decode()
    assert f'data-request="{mine.pk}"' in html and f'data-request="{other.pk}"' not in html


def test_new_request_form(client, org, members):
    customer = CustomerFactory(organization=org, owner=members["sales_rep"])
    login(client, members["sales_rep"])
    assert client.get(reverse("experience:service-new")).status_code == 200
    bad = client.post(reverse("experience:service-new"), {"customer": customer.pk, "subject": ""})
    assert bad.status_code == 400
    response = client.post(
        reverse("experience:service-new"),
        {
            "customer": customer.pk,
            "subject": "Late goods",
            "category": "delivery",
            "priority": "high",
            "channel": "phone",
        },
    )
    assert response.status_code == 302
    with tenancy.tenant(org):
        request = ServiceRequest.objects.get()
    assert response["Location"] == reverse("experience:service-detail", args=[request.pk])
    other = CustomerFactory(organization=org, owner=members["owner"])
    refused = client.post(
        reverse("experience:service-new"),
        {
            "customer": other.pk,
            "subject": "x",
            "category": "delivery",
            "priority": "high",
            "channel": "phone",
        },
    )
    assert refused.status_code == 400


def test_detail_note_and_actions(client, org, members):
    request = make_request(org)
    url = reverse("experience:service-detail", args=[request.pk])
    login(client, members["ar_clerk"])
    page = client.get(url)
    assert page.status_code == 200 and request.number in page.content.decode()
    assert client.post(url, {"action": "note", "kind": "outbound", "body": ""}).status_code == 400
    assert client.post(url, {"action": "note", "kind": "outbound", "body": "Hello"}).status_code == 302
    assert client.post(url, {"action": "reopen"}).status_code == 400
    assert client.post(url, {"action": "resolve"}).status_code == 302
    assert (
        client.post(
            url, {"action": "update", "status": "new", "priority": "low", "category": "other"}
        ).status_code
        == 400
    )
    assert client.post(url, {"action": "close"}).status_code == 302
    with tenancy.tenant(org):
        request.refresh_from_db()
    assert request.status == "closed" and request.first_response_at is not None
    assert "Hello" in client.get(url).content.decode()


def test_other_tenant_and_other_rep_get_404_auditor_403(client, org, outsider_org, members, outsider):
    theirs = make_request(outsider_org)
    login(client, members["owner"])
    assert client.get(reverse("experience:service-detail", args=[theirs.pk])).status_code == 404
    owned = make_request(org, customer=CustomerFactory(organization=org, owner=members["owner"]))
    login(client, members["sales_rep"])
    assert client.get(reverse("experience:service-detail", args=[owned.pk])).status_code == 404
    login(client, members["auditor"])
    assert client.get(reverse("experience:service-detail", args=[owned.pk])).status_code == 200
    assert (
        client.post(reverse("experience:service-detail", args=[owned.pk]), {"action": "resolve"}).status_code
        == 403
    )
    assert client.get(reverse("experience:service-new")).status_code == 403
    assert client.get(reverse("experience:service-settings")).status_code == 403


def test_quality_page_has_table_and_chart(client, org, members):
    request = make_request(org)
    with tenancy.tenant(org):
        service.service_note_add(actor=Actor.system(org), request=request, kind="outbound", body="ok")
    login(client, members["finance_manager"])
    for group in ("month", "agent", "category"):
        page = client.get(reverse("experience:service-quality"), {"group_by": group, "months": "3"})
        assert page.status_code == 200
        assert "<svg" in page.content.decode()
    assert (
        client.get(reverse("experience:service-quality"), {"months": "abc", "group_by": "x"}).status_code
        == 200
    )


def test_settings_page_saves_and_rejects_bad_input(client, org, members):
    url = reverse("experience:service-settings")
    login(client, members["owner"])
    assert client.get(url).status_code == 200
    valid = {
        "working_days": ["0", "1", "2", "3", "4"],
        "opens_at": "08:30",
        "closes_at": "17:30",
        "holidays": "2025-10-01",
    }
    for priority, numbers in {
        "urgent": (60, 480),
        "high": (240, 1440),
        "normal": (480, 2880),
        "low": (960, 5760),
    }.items():
        valid[f"{priority}_first_response_minutes"] = numbers[0]
        valid[f"{priority}_resolution_minutes"] = numbers[1]
        valid[f"{priority}_warn_percent"] = 80
    assert client.post(url, valid).status_code == 302
    with tenancy.tenant(org):
        calendar = BusinessCalendar.objects.get()
    assert calendar.opens_at == datetime.time(8, 30) and calendar.holidays == ["2025-10-01"]
    for bad, field in (
        ({"closes_at": "07:00"}, "closes_at"),
        ({"working_days": ["0", "8"]}, "working_days"),
        ({"holidays": "2025-13-01"}, "holidays"),
    ):
        response = client.post(url, {**valid, **bad})
        assert response.status_code == 400, bad
        assert field in response.context["calendar_form"].errors
    response = client.post(url, {**valid, "low_resolution_minutes": 10})
    assert response.status_code == 400
    assert "low_resolution_minutes" in response.context["policy_form"].errors


def test_customer_panel(client, org, members):
    customer = CustomerFactory(organization=org, owner=members["sales_rep"])
    request = make_request(org, customer=customer)
    page = login(client, members["sales_rep"]).get(reverse("customer-detail", args=[customer.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="service-panel"' in html and request.number in html
    assert 'data-testid="panel-quality"' in html
