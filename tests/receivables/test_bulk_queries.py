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
