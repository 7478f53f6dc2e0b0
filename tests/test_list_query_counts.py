"""Every API list makes a constant number of queries whatever its page size (no N+1), generated
from the router so that a new resource is covered the day it is registered.

Each list is read at page size 1 and 200 from a demo organization built by every app's seeder. A
page may run a query once for the whole page when some row on it needs one (the exchange rates of
foreign-currency rows, the one audit insert of the unmasked values shown): at most `ONCE_PER_PAGE`
more queries for the large page, whatever its length. An N+1 adds a query per row, and the lists
have at least `MIN_ROWS` rows (`THIN` names the few that do not), so it cannot hide in that margin.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from finance import tenancy
from finance.models import Organization
from finance.seeding import seeders
from finance.services import organization_create, user_create_or_join
from finance.urls import router

pytestmark = pytest.mark.django_db

SMALL, LARGE = 1, 200
ONCE_PER_PAGE = 2
MIN_ROWS = 2 + ONCE_PER_PAGE + 1
# Lists the demo data leaves with fewer than MIN_ROWS rows: still checked, but an N+1 there could
# hide in the margin. Keep it short; seed more data rather than adding to it.
THIN: set[str] = {
    # Configuration: a handful of rows per organization by nature.
    "/api/v1/dunning-policies/",
    "/api/v1/experience/loyalty-tiers/",
    "/api/v1/experience/sla-policies/",
    "/api/v1/processing-activities/",
    "/api/v1/retention-policies/",
    "/api/v1/webhooks/",
    "/api/v1/analytics/runs/",
    # Few in the demo; their own API tests pin the query count with more rows
    # (tests/api_mixins.py, test_query_count_does_not_grow_with_page_size).
    "/api/v1/credit/statements/",
    "/api/v1/disputes/",
    "/api/v1/promises/",
    "/api/v1/reminders/",
    "/api/v1/experience/surveys/",
    "/api/v1/experience/education-resources/",
    "/api/v1/experience/education-sessions/",
    "/api/v1/experience/improvement-actions/",
}


def list_routes() -> list[tuple[str, Any]]:
    routes = []
    for prefix, viewset, _basename in router.registry:
        if not hasattr(viewset, "list") or getattr(viewset, "pagination_class", True) is None:
            continue
        routes.append((f"/api/v1/{prefix}/", viewset))
    return sorted(routes, key=lambda r: r[0])


@pytest.fixture
def demo(db: Any) -> tuple[Organization, Any]:
    org = organization_create(slug="counted", name="Counted Trading Co.", base_currency="CNY")
    owner, _membership = user_create_or_join(
        email="owner@counted.test", organization=org, role="owner", password="pw-Counted-123"
    )
    with tenancy.tenant(org):
        for seeder in seeders():
            seeder.seed(org)
    return org, owner


def count(client: APIClient, url: str, size: int) -> tuple[int, int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, {"page_size": size})
    assert response.status_code == 200, (url, response.status_code, response.content[:300])
    return len(queries), len(response.json()["results"]), response.status_code


def test_the_generator_finds_the_lists() -> None:
    urls = [url for url, _viewset in list_routes()]
    assert len(urls) >= 30
    for expected in ("/api/v1/customers/", "/api/v1/invoices/", "/api/v1/payments/", "/api/v1/audit-events/"):
        assert expected in urls


def test_every_api_list_makes_the_same_queries_at_any_page_size(demo: tuple[Organization, Any]) -> None:
    _org, owner = demo
    client = APIClient()
    client.force_login(owner)
    problems, thin = [], set()
    for url, _viewset in list_routes():
        client.get(url, {"page_size": SMALL})  # warm caches (content types, settings)
        small, _rows, _status = count(client, url, SMALL)
        large, rows, _status = count(client, url, LARGE)
        if rows < MIN_ROWS:
            thin.add(url)
        if not small <= large <= small + ONCE_PER_PAGE:
            problems.append(f"{url}: {small} queries for {SMALL} row, {large} for {rows} rows")
    assert not problems, "\n".join(problems)
    assert thin <= THIN, f"lists with fewer than {MIN_ROWS} demo rows: {sorted(thin - THIN)}"
