"""finance.bulk.insert_many / insert_values: what goes in comes back, on SQLite and through
PostgreSQL's COPY path (CSV quoting, NULL against empty strings, JSON, upserts, row-level security)."""

from __future__ import annotations

import pytest
from django.db import connection

from finance import tenancy
from finance.bulk import COPY_FROM, insert_many, insert_values
from finance.models import AuditEvent

pytestmark = pytest.mark.django_db

TRICKY = 'quote " comma , tab \t newline \n backslash \\ 中文 \\N'


def test_values_come_back_exactly_with_nulls_empty_strings_and_json(org):
    with tenancy.tenant(org):
        insert_many(
            AuditEvent,
            [
                AuditEvent(
                    organization=org,
                    action="test.one",
                    object_type="x",
                    object_id="1",
                    object_repr=TRICKY,
                    customer_id=None,
                    changes={"note": [None, TRICKY], "n": 1.5},
                    request_id="",
                ),
                AuditEvent(
                    organization=org, action="test.two", object_type="x", object_id="2", customer_id=7
                ),
            ],
        )
        one, two = AuditEvent.objects.filter(action__startswith="test.").order_by("action")
    assert one.object_repr == TRICKY and one.customer_id is None and one.request_id == ""
    assert one.changes == {"note": [None, TRICKY], "n": 1.5}
    assert two.customer_id == 7 and two.changes == {} and two.object_repr == ""


def test_upsert_updates_the_named_fields_only(org):
    import datetime

    from analytics.models import ClassChange
    from tests.factories import CustomerFactory

    customer = CustomerFactory(organization=org)
    fields = ["organization", "customer", "field", "old_value", "new_value", "date"]
    day = datetime.date(2026, 11, 23)
    key = {"unique_fields": ["organization", "customer", "field", "date"], "update_fields": ["new_value"]}
    with tenancy.tenant(org):
        insert_values(ClassChange, fields, [(org.pk, customer.pk, "segment", "", "new", day)], **key)
        insert_values(ClassChange, fields, [(org.pk, customer.pk, "segment", "x", "loyal", day)], **key)
        row = ClassChange.objects.get()
    assert (row.old_value, row.new_value) == ("", "loyal")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row-level security is PostgreSQL's")
def test_rows_for_another_tenant_are_refused_by_row_level_security(org, outsider_org):
    from django.db import ProgrammingError

    with tenancy.tenant(org), pytest.raises(ProgrammingError):
        insert_many(
            AuditEvent,
            [AuditEvent(organization=outsider_org, action="test.sneaky", object_type="x", object_id="1")],
        )
    assert not AuditEvent.unscoped.filter(action="test.sneaky").exists()


@pytest.mark.parametrize("count", [COPY_FROM - 1, COPY_FROM, COPY_FROM + 7])
def test_every_row_goes_in_on_either_side_of_the_copy_threshold(org, count):
    """Under `COPY_FROM` rows (and always on SQLite) through bulk_create, from it through COPY: every
    row, not only the first `COPY_FROM` (a generator, as callers pass)."""
    from django.utils import timezone

    fields = ["organization", "action", "object_type", "object_id", "object_repr", "changes", "request_id"]
    fields.append("created_at")
    now = timezone.now()
    rows = ((org.pk, "test.bulk", "x", str(n), "", {"n": n}, "", now) for n in range(count))
    with tenancy.tenant(org):
        insert_values(AuditEvent, fields, rows)
        stored = list(AuditEvent.objects.filter(action="test.bulk").values_list("object_id", "changes"))
    assert sorted(stored, key=lambda row: int(row[0])) == [(str(n), {"n": n}) for n in range(count)]
