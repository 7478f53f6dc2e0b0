"""The hot queries can use their indexes on PostgreSQL (EXPLAIN), under row-level security.

Test tables are tiny, so the planner would rightly read them whole; `enable_seqscan = off` asks it
for its best plan that is not a sequential scan, and the table's other plain indexes are dropped
for the test (in its transaction), so the plan names the index only if the index exists and fits
the query (its leading columns, its partial condition). A dropped index, or a query that
stops matching its index (a function around the column, a condition the partial index does not
imply), fails here. The production-size figures are in docs/performance.md.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.db.models import QuerySet

from crm.models import Customer
from crm.selectors import tax_id_match
from finance import tenancy
from finance.models import AuditEvent
from receivables.models import Allocation, DunningMessage, Invoice, PromiseToPay
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

DAY = datetime.date(2026, 6, 30)


@pytest.fixture
def planner(org: Any) -> Any:
    if connection.vendor != "postgresql":
        pytest.skip("EXPLAIN plans are PostgreSQL's")
    with tenancy.tenant(org):
        CustomerFactory(organization=org)
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_bitmapscan = on")
        yield org


HOT_QUERIES: dict[str, tuple[Callable[[Any], QuerySet], str]] = {
    # The customer list, by name, a page at a time.
    "customer list": (lambda org: Customer.objects.order_by("name", "id")[:50], "customer_org_name"),
    # Exact tax id search and duplicate detection, through the blind index.
    "tax id search": (
        lambda org: Customer.objects.filter(tax_id_match("91310000775785552L")).order_by(),
        "customer_org_tax_index",
    ),
    # Open items: unvoided invoices due by a date (aging, dunning, overdue events).
    "open invoices due": (
        lambda org: Invoice.objects.filter(voided_on__isnull=True, due_date__lte=DAY),
        "invoice_open_due",
    ),
    # A customer's invoices by due date (customer page, statement, credit exposure).
    "invoices of a customer": (
        lambda org: Invoice.objects.filter(customer_id=1).order_by("due_date"),
        "invoice_customer_due",
    ),
    # What was applied to an invoice (its outstanding amount as of any date).
    "allocations of an invoice": (
        lambda org: Allocation.objects.filter(invoice_id=1).order_by(),
        "allocation_invoice_date",
    ),
    # Has anything been allocated after a report's date?
    "allocations after a date": (
        lambda org: Allocation.objects.filter(allocated_on__gt=DAY),
        "allocation_org_date",
    ),
    # The dunning sender's undelivered messages (a partial index on the few pending ones).
    "undelivered dunning messages": (
        lambda org: DunningMessage.objects.filter(status="pending").order_by(),
        "dunning_message_undelivered",
    ),
    # Promises to pay falling due (the daily promises job).
    "open promises due": (
        lambda org: PromiseToPay.objects.filter(status="open", promised_date__lte=DAY),
        "promise_open_due",
    ),
    # The audit log, newest first.
    "audit log": (lambda org: AuditEvent.objects.order_by("-created_at")[:50], "audit_org_time"),
}


def drop_other_indexes(table: str, keep: str) -> None:
    """Inside the test's transaction (rolled back after it), as the table's owner: drop the table's
    plain indexes other than `keep`, so the plan depends on `keep` alone and not on the statistics
    other tests left in the shared test database, and its unique constraints but the primary key."""
    from finance.db import owner_mode

    with owner_mode(), connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname FROM pg_index i
            JOIN pg_class c ON c.oid = i.indexrelid
            JOIN pg_class t ON t.oid = i.indrelid
            WHERE t.relname = %s AND c.relname <> %s
              AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
            """,
            [table, keep],
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP INDEX "{name}"')
        # Unique constraints other than the primary key go too (their index can look cheapest on
        # the few rows a test leaves, e.g. (organization, number) for any invoice query).
        cursor.execute(
            """
            SELECT k.conname FROM pg_constraint k
            JOIN pg_class t ON t.oid = k.conrelid
            JOIN pg_class c ON c.oid = k.conindid
            WHERE t.relname = %s AND k.contype = 'u' AND c.relname <> %s
            """,
            [table, keep],
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')


@pytest.mark.parametrize("name", sorted(HOT_QUERIES))
def test_a_hot_query_uses_its_index(planner: Any, name: str) -> None:
    build, index = HOT_QUERIES[name]
    queryset = build(planner)
    drop_other_indexes(queryset.model._meta.db_table, index)
    plan = queryset.explain()
    assert index in plan, f"{name}: expected {index}\n{plan}"
    assert "Seq Scan" not in plan, plan


def test_every_index_named_here_exists() -> None:
    """The names above are the models' own, so a renamed index fails loudly rather than silently."""
    declared = {
        index.name
        for model in (Customer, Invoice, Allocation, DunningMessage, PromiseToPay, AuditEvent)
        for index in model._meta.indexes
    }
    assert {index for _build, index in HOT_QUERIES.values()} <= declared
