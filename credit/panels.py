"""credit's panel on the customer page: limit, exposure, available credit, score and its reasons,
status and holds, suggested limit, reviews and a short history. Everyone who sees the customer
sees the panel; only the roles allowed to change credit get its buttons."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from credit import charts, scorecard, selectors
from credit.models import CreditHold, CreditProfile, LimitRequest, ScoreRecord
from crm.models import Customer
from crm.registry import Panel, registry
from finance.tenancy import current_organization

HISTORY = 5


def credit_summary(customer: Customer) -> dict[str, Any]:
    """The customer's credit figures as the panel and the limit-request page show them. Reads only
    (a customer never scored has no profile yet: the figures are then empty)."""
    organization = current_organization()
    today = organization.local_today()
    profile = CreditProfile.objects.filter(customer=customer).first()
    exposure = selectors.exposure_of(customer, today)
    limit = profile.effective_limit(today) if profile else None
    used = selectors.utilisation(exposure.total, limit)
    factors = scorecard.explain(profile.factors) if profile else []
    temporary_active = bool(
        profile
        and profile.temporary_limit is not None
        and profile.temporary_limit_expires_on is not None
        and profile.temporary_limit_expires_on >= today
    )
    return {
        "profile": profile,
        "exposure": exposure,
        "limit": limit,
        "temporary_active": temporary_active,
        "utilisation": used,
        "level": charts.utilisation_level(used),
        "available": None if limit is None else limit - exposure.total,
        "gauge": charts.exposure_gauge(used, title=_("Exposure against the limit")),
        "factors": [factor for factor in factors if factor["points"] is not None],
        "missing_factors": [factor for factor in factors if factor["points"] is None],
        "suggested_reasons": scorecard.limit_reasons(profile.suggested_reasons) if profile else [],
        "currency": organization.base_currency,
    }


def _credit(request: HttpRequest, customer: Customer) -> dict[str, Any]:
    actor = getattr(request, "actor", None)
    summary = credit_summary(customer)
    requests = list(
        LimitRequest.objects.filter(customer=customer).select_related("requested_by", "decided_by")[:HISTORY]
    )
    return {
        **summary,
        "holds": list(selectors.active_holds([customer.pk])),
        "pending": next((r for r in requests if r.status == LimitRequest.Status.PENDING), None),
        "requests": requests,
        "scores": list(ScoreRecord.objects.filter(customer=customer).order_by("-computed_on")[:HISTORY]),
        "past_holds": list(
            CreditHold.objects.filter(customer=customer, released_at__isnull=False).order_by("-released_at")[
                :HISTORY
            ]
        ),
        "can_request": actor is not None and actor.can("credit.request"),
        "can_manage": actor is not None and actor.can("credit.manage"),
        "can_statement": actor is not None and actor.can("credit.statement"),
    }


def register() -> None:
    registry.add_customer_panel(
        Panel("credit", gettext_lazy("Credit"), "credit/panels/customer.html", _credit, order=14, wide=True)
    )
