"""The loyalty API: tiers and program (managers only), accounts, the ledger, redemptions and
statements, with tenancy, reps' own customers, Idempotency-Key and constant query counts."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from experience.models import LoyaltyProgram, LoyaltyTier, PointsEntry
from finance import tenancy
from receivables.models import CreditNote
from tests.credit.conftest import customer as make_customer
from tests.credit.conftest import invoice as make_invoice
from tests.experience.test_loyalty import DAY, lot, today

BASE = "/api/v1/experience/"


def session(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def with_points(org, points=100, **fields):
    buyer = make_customer(org, **fields)
    lot(org, buyer, points, today(org) - 10 * DAY, today(org) + 30 * DAY, reference=f"test:{buyer.pk}")
    return buyer


# Tiers and program -------------------------------------------------------------------------------


def test_managers_keep_tiers_and_keys_only_read_them(org, members, api):
    owner = session(members["owner"])
    created = owner.post(
        f"{BASE}loyalty-tiers/",
        {
            "name": "Platinum",
            "min_paid_revenue": "5000000.00",
            "discount_percent": "8",
            "extra_terms_days": 30,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert api.get(f"{BASE}loyalty-tiers/").json()["results"][0]["name"] == "Platinum"
    assert (
        api.post(f"{BASE}loyalty-tiers/", {"name": "X", "min_paid_revenue": "1"}, format="json").status_code
        == 403
    )
    changed = owner.patch(f"{BASE}loyalty-tiers/{pk}/", {"points_multiplier": "2.00"}, format="json")
    assert changed.status_code == 200 and changed.json()["points_multiplier"] == "2.00"
    duplicate = owner.post(
        f"{BASE}loyalty-tiers/", {"name": "Platinum", "min_paid_revenue": "1"}, format="json"
    )
    assert duplicate.status_code == 400 and "name" in duplicate.json()
    for bad in (
        {"name": "Y", "min_paid_revenue": "-1"},
        {"name": "", "min_paid_revenue": "1"},
        {"discount_percent": "99"},
    ):
        assert owner.post(f"{BASE}loyalty-tiers/", bad, format="json").status_code == 400
    rep = session(members["sales_rep"])
    assert rep.delete(f"{BASE}loyalty-tiers/{pk}/").status_code == 403
    assert owner.delete(f"{BASE}loyalty-tiers/{pk}/").status_code == 204
    with tenancy.tenant(org):
        assert not LoyaltyTier.objects.exists()


def test_program_reads_defaults_without_writing_and_patches(org, members, api):
    body = api.get(f"{BASE}loyalty-program/").json()
    assert body["points_per_unit"] == "0.0100" and body["updated_at"] is None
    with tenancy.tenant(org):
        assert not LoyaltyProgram.objects.exists()
    assert api.patch(f"{BASE}loyalty-program/", {"early_days": 3}, format="json").status_code == 403
    owner = session(members["owner"])
    bad = owner.patch(f"{BASE}loyalty-program/", {"expiry_months": 0, "point_value": "x"}, format="json")
    assert bad.status_code == 400 and {"expiry_months", "point_value"} <= set(bad.json())
    good = owner.patch(f"{BASE}loyalty-program/", {"early_days": 3}, format="json")
    assert good.status_code == 200 and good.json()["early_days"] == 3
    with tenancy.tenant(org):
        assert LoyaltyProgram.objects.get().early_days == 3


# Accounts and entries ----------------------------------------------------------------------------


def test_accounts_list_and_detail(org, api, outsider_org):
    buyer = with_points(org, 120, loyalty_tier="Silver")
    theirs = with_points(outsider_org, 5)
    body = api.get(f"{BASE}loyalty-accounts/{buyer.pk}/").json()
    assert (body["id"], body["balance"], body["expiring_soon"], body["value"]) == (
        buyer.pk,
        120,
        120,
        "120.00",
    )
    assert body["tier"]["name"] == "Silver" and body["tier"]["extra_terms_days"] == 7
    assert api.get(f"{BASE}loyalty-accounts/{theirs.pk}/").status_code == 404
    listed = {row["id"] for row in api.get(f"{BASE}loyalty-accounts/", {"page_size": 500}).json()["results"]}
    assert buyer.pk in listed and theirs.pk not in listed
    assert api.get(f"{BASE}loyalty-accounts/", {"tier": "Gold"}).json()["results"] == []


def test_a_rep_sees_only_their_own_customers(org, members):
    own = with_points(org, owner=members["sales_rep"])
    other = with_points(org)
    rep = session(members["sales_rep"])
    assert rep.get(f"{BASE}loyalty-accounts/{own.pk}/").status_code == 200
    assert rep.get(f"{BASE}loyalty-accounts/{other.pk}/").status_code == 404
    assert rep.get(f"{BASE}loyalty-statements/{other.pk}/").status_code == 404
    entries = rep.get(f"{BASE}loyalty-entries/").json()["results"]
    assert {row["customer"] for row in entries} == {own.pk}


def test_entries_filter_by_customer_kind_and_date(org, api):
    buyer, other = with_points(org, 10), with_points(org, 20)
    lot(org, buyer, -4, today(org) - 2 * DAY, None, kind="redeemed")
    rows = api.get(f"{BASE}loyalty-entries/", {"customer": buyer.pk}).json()["results"]
    assert sorted(row["points"] for row in rows) == [-4, 10]
    assert [
        r["points"] for r in api.get(f"{BASE}loyalty-entries/", {"kind": "redeemed"}).json()["results"]
    ] == [-4]
    since = (today(org) - 3 * DAY).isoformat()
    assert len(api.get(f"{BASE}loyalty-entries/", {"date_from": since}).json()["results"]) == 1
    assert api.get(f"{BASE}loyalty-entries/", {"kind": "nonsense"}).status_code == 400
    assert api.get(f"{BASE}loyalty-entries/", {"customer": "99999999999999999999"}).status_code == 400
    assert other.pk


def test_lists_cost_the_same_queries_whatever_the_page(org, api):
    for n in range(12):
        buyer = with_points(org, 10 + n)
        lot(org, buyer, -1, today(org), None, kind="redeemed", reference=f"r:{n}")
    api.get(f"{BASE}loyalty-accounts/")
    for url in (f"{BASE}loyalty-accounts/", f"{BASE}loyalty-entries/"):
        counts = []
        for size in (2, 10):
            with CaptureQueriesContext(connection) as queries:
                response = api.get(url, {"page_size": size})
            assert response.status_code == 200 and len(response.json()["results"]) == size
            counts.append(len(queries))
        assert counts[0] == counts[1], (url, counts)


# Redemptions and statements ----------------------------------------------------------------------


def test_redeeming_through_the_api(org, api, outsider_org):
    buyer = with_points(org, 100)
    other = make_customer(org, name="Other")
    open_invoice = make_invoice(org, buyer, "INV-1", today(org) + 10 * DAY, total="30.00")
    theirs = make_invoice(org, other, "INV-2", today(org) + 10 * DAY)
    outsider = make_customer(outsider_org)
    url = f"{BASE}loyalty-redemptions/"
    headers = {"HTTP_IDEMPOTENCY_KEY": "redeem-1"}
    payload = {"customer": buyer.pk, "points": 40, "invoice": open_invoice.pk, "note": "Thanks"}
    first = api.post(url, payload, format="json", **headers)
    assert first.status_code == 201, first.content
    body = first.json()
    assert (body["points"], body["amount"], body["currency"], body["balance"]) == (40, "40.00", "CNY", 60)
    replay = api.post(url, payload, format="json", **headers)
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    with tenancy.tenant(org):
        note = CreditNote.objects.get()
        assert note.pk == body["credit_note"] and note.allocated_total == Decimal("30.00")
        assert PointsEntry.objects.filter(kind="redeemed").count() == 1
    for bad, field in (
        ({"customer": buyer.pk, "points": 0}, "points"),
        ({"customer": buyer.pk, "points": 61}, "points"),
        ({"customer": buyer.pk, "points": 1, "invoice": theirs.pk}, "invoice"),
        ({"customer": outsider.pk, "points": 1}, "customer"),
        ({"customer": buyer.pk, "points": "lots"}, "points"),
    ):
        response = api.post(url, bad, format="json")
        assert response.status_code == 400 and field in response.json(), (bad, response.content)
    assert api.post(url, data="{nope", content_type="application/json").status_code == 400


def test_read_keys_and_reps_cannot_redeem(org, read_api, members):
    buyer = with_points(org, 10, owner=members["sales_rep"])
    payload = {"customer": buyer.pk, "points": 1}
    assert read_api.post(f"{BASE}loyalty-redemptions/", payload, format="json").status_code == 403
    assert (
        session(members["sales_rep"]).post(f"{BASE}loyalty-redemptions/", payload, format="json").status_code
        == 403
    )


def test_statement_endpoint(org, api, outsider_org):
    buyer = with_points(org, 100)
    lot(org, buyer, -30, today(org) - DAY, None, kind="redeemed")
    start = (today(org) - 5 * DAY).isoformat()
    body = api.get(
        f"{BASE}loyalty-statements/{buyer.pk}/", {"from": start, "to": today(org).isoformat()}
    ).json()
    assert (body["opening"], body["closing"], body["used"], body["available"]) == (100, 70, 30, 70)
    assert [row["balance"] for row in body["entries"]] == [70]
    whole = api.get(f"{BASE}loyalty-statements/{buyer.pk}/").json()
    assert whole["closing"] == 70
    assert api.get(f"{BASE}loyalty-statements/{buyer.pk}/", {"from": "yesterday"}).status_code == 400
    later = (today(org) + DAY).isoformat()
    assert api.get(f"{BASE}loyalty-statements/{buyer.pk}/", {"from": later, "to": start}).status_code == 400
    theirs = with_points(outsider_org)
    assert api.get(f"{BASE}loyalty-statements/{theirs.pk}/").status_code == 404
    assert datetime.date.fromisoformat(whole["date_from"]).month == 1
