"""A bulk import of invoices takes a number of queries that does not grow per item."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _items(start, count):
    return [
        {
            "external_id": f"E{i}",
            "number": f"N{i}",
            "customer_external_id": f"C{i % 5}",
            "currency": "CNY",
            "issue_date": "2026-01-01",
            "total": "10.00",
        }
        for i in range(start, start + count)
    ]


def test_bulk_invoice_queries_do_not_grow_with_the_batch(api, org):
    for i in range(5):
        CustomerFactory(organization=org, external_id=f"C{i}")
    api.post("/api/v1/invoices/bulk/", {"items": _items(0, 1)}, format="json")  # warm up the key
    counts = []
    for start, size in ((100, 10), (200, 100)):
        with CaptureQueriesContext(connection) as queries:
            response = api.post("/api/v1/invoices/bulk/", {"items": _items(start, size)}, format="json")
        assert response.status_code == 200, response.content
        counts.append(len(queries))
    assert counts[1] <= counts[0] + 5, counts


def test_a_bulk_import_queues_one_rescoring_for_all_its_customers(
    api, org, monkeypatch, django_capture_on_commit_callbacks
):
    """Credit reacts to a batch's invoices once: one `credit.refresh_customers` task for the
    customers whose new invoices are not yet due, instead of one task per customer; a single
    invoice still queues its customer's own refresh."""
    from django.core.cache import cache

    from credit import receivers

    cache.clear()
    queued: list[tuple[str, dict]] = []
    monkeypatch.setattr(
        receivers.refresh_customers, "apply_async", lambda kwargs, **options: queued.append(("many", kwargs))
    )
    monkeypatch.setattr(
        receivers.refresh_customer, "apply_async", lambda kwargs, **options: queued.append(("one", kwargs))
    )
    customers = [CustomerFactory(organization=org, external_id=f"C{i}") for i in range(5)]
    future = [{**item, "due_date": "2099-01-31"} for item in _items(0, 20)]
    past = [{**item, "due_date": "2026-01-31"} for item in _items(100, 5)]  # history: scored nightly
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/invoices/bulk/", {"items": future + past}, format="json")
    assert response.status_code == 200, response.content
    assert queued == [("many", {"organization_id": org.pk, "customer_ids": sorted(c.pk for c in customers)})]
    queued.clear()
    one = {**_items(500, 1)[0], "due_date": "2099-02-28", "customer_external_id": "C1"}
    cache.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/invoices/", one, format="json")
    assert response.status_code == 201, response.content
    assert queued == [("one", {"organization_id": org.pk, "customer_id": customers[1].pk})]
    assert receivers._batch.get() is None


def test_refresh_customers_rescores_each_customer_of_the_batch(org):
    from credit.models import CreditProfile
    from credit.tasks import refresh_customers

    customers = [CustomerFactory(organization=org) for _ in range(3)]
    assert (
        refresh_customers.apply(
            kwargs={"organization_id": org.pk, "customer_ids": [c.pk for c in customers]}
        ).get()
        == 3
    )
    from finance import tenancy

    with tenancy.tenant(org):
        assert CreditProfile.objects.filter(customer__in=customers).count() == 3


def test_a_large_import_records_and_seals_an_event_per_invoice(api, org, django_capture_on_commit_callbacks):
    """From `bulk.COPY_FROM` invoices their `invoice.created` events go in through COPY
    (`audit.record_many`): one per invoice, by the key, sealed after the commit, the chain intact."""
    from finance import auditchain, tenancy
    from finance.bulk import COPY_FROM
    from finance.models import AuditEvent
    from receivables.models import Invoice

    for i in range(5):
        CustomerFactory(organization=org, external_id=f"C{i}")
    count = COPY_FROM + 3
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/invoices/bulk/", {"items": _items(0, count)}, format="json")
    assert response.status_code == 200, response.content
    with tenancy.tenant(org):
        invoices = dict(Invoice.objects.values_list("id", "total"))
        events = list(AuditEvent.objects.filter(action="invoice.created"))
    assert len(invoices) == count
    assert sorted(int(event.object_id) for event in events) == sorted(invoices)
    assert {event.actor_api_key_id is not None for event in events} == {True}
    assert {event.changes["total"][1] for event in events} == {"10.00"}
    report = auditchain.verify(org)
    assert report.intact and report.unsealed == 0 and report.events_checked >= count
