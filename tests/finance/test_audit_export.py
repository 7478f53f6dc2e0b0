"""Auditors export the audit log of a period as CSV: only their organization's events, only the
period's, formulas defused, and the export itself recorded."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.utils import timezone

from finance import audit, tenancy
from finance.actors import Actor
from finance.models import AuditEvent
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def event_at(org, when: datetime.datetime, name: str) -> AuditEvent:
    customer = CustomerFactory(organization=org, name=name)
    with tenancy.tenant(org):
        event = audit.build(
            actor=Actor.system(org),
            action="customer.updated",
            instance=customer,
            changes={"name": ["old", name]},
            customer_id=customer.pk,
        )
        event.created_at = when  # audit rows are insert-only: set the time before the insert
        event.save()
    return event


def exported(client, **params) -> list[list[str]]:
    response = client.get("/audit/", {"export": "csv", **params})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_an_auditor_exports_one_period_of_their_own_organization(client, org, outsider_org, members):
    tz = org.tzinfo
    inside = event_at(org, datetime.datetime(2026, 10, 15, 12, 0, tzinfo=tz), '=HYPERLINK("x")')
    event_at(org, datetime.datetime(2026, 9, 30, 23, 59, tzinfo=tz), "before")
    event_at(org, datetime.datetime(2026, 11, 1, 0, 0, tzinfo=tz), "after")
    event_at(outsider_org, datetime.datetime(2026, 10, 15, 12, 0, tzinfo=tz), "outsider secret")
    client.force_login(members["auditor"])
    rows = exported(client, since="2026-10-01", until="2026-10-31")
    header, *events = rows
    assert len(header) == 9
    assert [row[4] for row in events] == [inside.object_id]
    assert events[0][0] == "2026-10-15T12:00:00+08:00"
    assert events[0][5].startswith("'=")  # a spreadsheet shows it, never runs it
    assert "outsider secret" not in str(rows)
    with tenancy.tenant(org):
        export = AuditEvent.objects.get(action="audit.exported")
    assert export.changes == {"since": [None, "2026-10-01"], "until": [None, "2026-10-31"]}
    assert export.actor_user == members["auditor"]


def test_only_roles_that_see_the_audit_log_export_it(client, org, members):
    event_at(org, timezone.now(), "anything")
    client.force_login(members["sales_rep"])
    assert client.get("/audit/", {"export": "csv"}).status_code == 403
    client.force_login(members["ar_clerk"])
    assert client.get("/audit/", {"export": "csv"}).status_code == 403


def test_a_bad_period_shows_the_form_errors_instead_of_a_file(client, org, members):
    client.force_login(members["auditor"])
    response = client.get("/audit/", {"export": "csv", "since": "not-a-date"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")


def test_the_audit_log_page_shows_pairs_as_changes_and_facts_whole(client, org, members):
    from tests.conftest import login

    with tenancy.tenant(org):
        actor = Actor.system(org)
        audit.record(
            actor=actor, action="customer.updated", instance=org, changes={"name": ["Old Co", "New Co"]}
        )
        audit.record(
            actor=actor,
            action="sensitive.viewed",
            instance=org,
            changes={"fields": ["bank_account", "tax_id"]},
        )
        audit.record(
            actor=actor,
            action="privacy.consent_recorded",
            instance=org,
            changes={"purpose": "credit_assessment", "granted": True, "sections": ["crm", "credit"]},
        )
    login(client, members["auditor"])
    page = client.get("/audit/").content.decode()
    assert "<b>name</b>: Old Co → New Co" in page
    assert "<b>fields</b>: [&quot;bank_account&quot;, &quot;tax_id&quot;]" in page
    assert "<b>purpose</b>: credit_assessment</div>" in page
    assert "<b>granted</b>: true</div>" in page
    assert "bank_account → tax_id" not in page and "c → r" not in page
