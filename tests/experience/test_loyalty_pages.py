"""The loyalty pages: home, a customer's points statement with redeem and adjust, settings, the
customer-page panel, and who may see or do what."""

from __future__ import annotations

from django.urls import reverse

from experience.models import LoyaltyProgram, LoyaltyTier, PointsEntry
from finance import tenancy
from receivables.models import CreditNote
from tests.conftest import login
from tests.credit.conftest import customer as make_customer
from tests.experience.test_loyalty import DAY, lot, today


def test_home_shows_tiers_months_and_top_members(client, org, members):
    buyer = make_customer(org, name="Top Buyer Ltd", loyalty_tier="Gold")
    lot(org, buyer, 500, today(org), today(org) + 300 * DAY)
    response = login(client, members["auditor"]).get(reverse("experience:loyalty-home"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Top Buyer Ltd" in page and "Gold" in page and 'data-testid="loyalty-months"' in page
    assert reverse("experience:loyalty-settings") not in page


def test_statement_page_redeem_and_adjust(client, org, members):
    buyer = make_customer(org)
    lot(org, buyer, 100, today(org) - 5 * DAY, today(org) + 300 * DAY)
    client = login(client, members["finance_manager"])
    page = client.get(reverse("experience:loyalty-statement", args=[buyer.pk]))
    assert page.status_code == 200 and 'data-testid="redeem-form"' in page.content.decode()
    too_many = client.post(reverse("experience:loyalty-redeem", args=[buyer.pk]), {"points": "101"})
    assert too_many.status_code == 400 and "available" in too_many.content.decode()
    done = client.post(
        reverse("experience:loyalty-redeem", args=[buyer.pk]), {"points": "60", "note": "Gift"}
    )
    assert done.status_code == 302
    no_reason = client.post(
        reverse("experience:loyalty-adjust", args=[buyer.pk]), {"points": "5", "reason": ""}
    )
    assert no_reason.status_code == 400
    adjusted = client.post(
        reverse("experience:loyalty-adjust", args=[buyer.pk]), {"points": "-10", "reason": "Fix"}
    )
    assert adjusted.status_code == 302
    with tenancy.tenant(org):
        assert CreditNote.objects.count() == 1
        assert sorted(PointsEntry.objects.values_list("points", flat=True)) == [-60, -10, 100]
    page = client.get(reverse("experience:loyalty-statement", args=[buyer.pk]))
    assert "<b>30</b>" in page.content.decode()


def test_clerks_redeem_but_do_not_adjust_and_reps_see_only_their_own(client, org, members):
    own = make_customer(org, owner=members["sales_rep"])
    other = make_customer(org, name="Not theirs")
    clerk = login(client, members["ar_clerk"])
    page = clerk.get(reverse("experience:loyalty-statement", args=[own.pk])).content.decode()
    assert 'data-testid="redeem-form"' in page and 'data-testid="adjust-form"' not in page
    assert (
        clerk.post(
            reverse("experience:loyalty-adjust", args=[own.pk]), {"points": "5", "reason": "x"}
        ).status_code
        == 403
    )
    rep = login(client, members["sales_rep"])
    assert rep.get(reverse("experience:loyalty-statement", args=[own.pk])).status_code == 200
    assert rep.get(reverse("experience:loyalty-statement", args=[other.pk])).status_code == 404
    assert rep.post(reverse("experience:loyalty-redeem", args=[own.pk]), {"points": "1"}).status_code == 403
    assert rep.get(reverse("experience:loyalty-settings")).status_code == 403


def test_another_organizations_customer_is_a_404(client, members, outsider_org):
    theirs = make_customer(outsider_org)
    response = login(client, members["owner"]).get(reverse("experience:loyalty-statement", args=[theirs.pk]))
    assert response.status_code == 404


def test_settings_save_program_and_tiers(client, org, members):
    client = login(client, members["owner"])
    url = reverse("experience:loyalty-settings")
    page = client.get(url)
    assert page.status_code == 200 and "Silver" in page.content.decode()
    bad = client.post(
        url,
        {
            "form": "program",
            "points_per_unit": "0.01",
            "early_days": "5",
            "early_bonus_percent": "20",
            "expiry_months": "0",
            "point_value": "1",
            "on_time_percent": "80",
            "is_active": "on",
        },
    )
    assert bad.status_code == 400
    good = client.post(
        url,
        {
            "form": "program",
            "points_per_unit": "0.02",
            "early_days": "5",
            "early_bonus_percent": "20",
            "expiry_months": "12",
            "point_value": "1",
            "on_time_percent": "80",
            "is_active": "on",
        },
    )
    assert good.status_code == 302
    assert client.post(url, {"form": "defaults"}).status_code == 302
    duplicate = client.post(
        url,
        {
            "form": "tier",
            "name": "Gold",
            "min_paid_revenue": "3",
            "discount_percent": "0",
            "extra_terms_days": "0",
            "points_multiplier": "1",
        },
    )
    assert duplicate.status_code == 400 and "Another tier has this name" in duplicate.content.decode()
    with tenancy.tenant(org):
        assert LoyaltyProgram.objects.get().points_per_unit == 2 * LoyaltyProgram().points_per_unit
        gold = LoyaltyTier.objects.get(name="Gold")
    edit = reverse("experience:loyalty-tier", args=[gold.pk])
    assert client.get(edit).status_code == 200
    saved = client.post(
        edit,
        {
            "name": "Gold",
            "min_paid_revenue": "900000",
            "discount_percent": "6",
            "extra_terms_days": "20",
            "points_multiplier": "1.5",
            "benefits": "Priority",
        },
    )
    assert saved.status_code == 302
    assert client.post(reverse("experience:loyalty-tier-delete", args=[gold.pk])).status_code == 302
    with tenancy.tenant(org):
        assert list(LoyaltyTier.objects.values_list("name", flat=True)) == ["Member", "Silver"]


def test_customer_page_shows_the_loyalty_panel(client, org, members):
    buyer = make_customer(org, loyalty_tier="Silver")
    lot(org, buyer, 80, today(org), today(org) + 30 * DAY)
    page = (
        login(client, members["ar_clerk"]).get(reverse("customer-detail", args=[buyer.pk])).content.decode()
    )
    assert 'data-testid="loyalty-panel"' in page
    assert 'data-testid="loyalty-extra-terms"' in page and 'data-testid="loyalty-redeem-link"' in page
    page = login(client, members["auditor"]).get(reverse("customer-detail", args=[buyer.pk])).content.decode()
    assert 'data-testid="loyalty-panel"' in page and 'data-testid="loyalty-redeem-link"' not in page
