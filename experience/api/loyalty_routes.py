"""API routes of the loyalty part: (prefix, viewset, basename), registered by finance/urls.py."""

from __future__ import annotations

from typing import Any

from experience.api import loyalty as views

ROUTES: list[tuple[str, Any, str]] = [
    ("experience/loyalty-tiers", views.LoyaltyTierViewSet, "loyalty-tier"),
    ("experience/loyalty-program", views.LoyaltyProgramViewSet, "loyalty-program"),
    ("experience/loyalty-accounts", views.LoyaltyAccountViewSet, "loyalty-account"),
    ("experience/loyalty-entries", views.PointsEntryViewSet, "loyalty-entry"),
    ("experience/loyalty-redemptions", views.RedemptionViewSet, "loyalty-redemption"),
    ("experience/loyalty-statements", views.StatementViewSet, "loyalty-statement"),
]
