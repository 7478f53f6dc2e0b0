"""Serializers of the credit API. Money is a string; amounts on profiles, limit requests and checks
are in the organization's base currency; statements and orders carry their own. Every id is
resolved inside the actor's tenant and visibility, so another tenant's id reads "does not exist".
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from credit import scorecard, selectors
from credit.models import (
    CreditHold,
    CreditProfile,
    CreditStatus,
    ExternalRating,
    FinancialStatement,
    LimitRequest,
    OpenOrder,
)
from credit.ratios import statement_ratios
from finance.api import representation
from finance.api.fields import ScopedPrimaryKeyRelatedField
from finance.api.representation import ModelSerializer
from finance.api.sensitive import SensitiveSerializerMixin
from finance.sensitive import can_view_figures
from receivables.api.serializers import MONEY, CurrencyField, CustomerRefMixin
from receivables.models import CustomerTerms, PaymentTerms

# A statement's figure or a requested limit: up to 16 digits and 2 decimals (bounds per field).
AMOUNT = {"max_digits": 18, "decimal_places": 2}
BASE_MONEY = {"max_digits": 20, "decimal_places": 2, "read_only": True}


def _payment_terms(actor: Any) -> Any:
    return PaymentTerms.objects.all()


# The credit check ------------------------------------------------------------------------------


class CreditCheckInSerializer(CustomerRefMixin, representation.Serializer):
    """`customer` (id) or `customer_external_id`, and the order's `amount` in `currency`."""

    amount = serializers.DecimalField(**MONEY)
    currency = CurrencyField()


class CreditCheckSerializer(representation.Serializer):
    """The decision on an order and why. Amounts in base currency (`currency`, the order's
    `amount` converted at today's rate); `limit` and `available` are null when no limit is set.
    `reasons` are sentences in the request's language; `codes` the same reasons for machines:
    `within_limit`; review: `no_limit`, `high_utilisation`, `overdue`, `watch`, `review_overdue`,
    `missing_rates`; hold: `blocked`, `over_limit`, `past_due`, `hold_<reason>` (an active hold:
    `hold_over_limit`, `hold_past_due`, `hold_dunning`, `hold_manual`)."""

    customer = serializers.IntegerField()
    customer_external_id = serializers.CharField(allow_null=True)
    decision = serializers.ChoiceField(choices=[selectors.APPROVE, selectors.REVIEW, selectors.HOLD])
    currency = serializers.CharField()
    amount = serializers.DecimalField(**BASE_MONEY)
    limit = serializers.DecimalField(**BASE_MONEY, allow_null=True)
    exposure = serializers.DecimalField(**BASE_MONEY)
    available = serializers.DecimalField(**BASE_MONEY, allow_null=True)
    reasons = serializers.ListField(child=serializers.CharField())
    codes = serializers.ListField(child=serializers.CharField())
    status = serializers.ChoiceField(choices=CreditStatus.choices, allow_null=True)
    risk_class = serializers.CharField(allow_blank=True, allow_null=True)
    score = serializers.IntegerField(allow_null=True)

    @staticmethod
    def answer(customer: Any, check: selectors.CreditCheck) -> dict[str, Any]:
        """The check of `customer` as this serializer's input."""
        profile = check.profile
        return {
            "customer": customer.pk,
            "customer_external_id": customer.external_id,
            "decision": check.decision,
            "currency": check.currency,
            "amount": check.amount,
            "limit": check.limit,
            "exposure": check.exposure,
            "available": check.available,
            "reasons": [str(reason) for reason in check.reasons],
            "codes": check.codes,
            "status": profile.status if profile else None,
            "risk_class": profile.risk_class if profile else None,
            "score": profile.score if profile else None,
        }


# Profiles --------------------------------------------------------------------------------------


@dataclass
class ProfileFacts:
    """What a page of profiles needs beyond their rows, read for the whole page at once."""

    today: datetime.date
    currency: str
    exposures: dict[int, selectors.Exposure] = field(default_factory=dict)
    holds: dict[int, list[CreditHold]] = field(default_factory=dict)
    terms: dict[int, PaymentTerms] = field(default_factory=dict)
    default_terms: PaymentTerms | None = None


def profile_facts(profiles: list[CreditProfile], *, today: datetime.date, currency: str) -> ProfileFacts:
    """Exposure, active holds and payment terms of every profile in `profiles`: a fixed number of
    queries (about six) whatever their number."""
    ids = [profile.customer_id for profile in profiles]
    facts = ProfileFacts(today=today, currency=currency)
    if not ids:
        return facts
    facts.exposures = selectors.exposures(ids, today)
    for hold in selectors.active_holds(ids).order_by("placed_at", "id"):
        facts.holds.setdefault(hold.customer_id, []).append(hold)
    facts.terms = {
        own.customer_id: own.terms
        for own in CustomerTerms.objects.filter(customer_id__in=ids).select_related("terms")
    }
    facts.default_terms = PaymentTerms.objects.filter(is_default=True).order_by("pk").first()
    return facts


class FactorSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    value = serializers.CharField(allow_null=True, help_text=_("The metric, as a decimal string."))
    display = serializers.CharField(help_text=_("The metric as people read it."))
    weight = serializers.CharField(allow_null=True)
    points = serializers.IntegerField(allow_null=True, help_text=_("Null: no data, not counted."))
    contribution = serializers.CharField(allow_null=True)
    reason = serializers.CharField()


class HoldSerializer(ModelSerializer):
    class Meta:
        model = CreditHold
        fields = ["id", "reason", "detail", "placed_at"]
        read_only_fields = fields


class ProfileTermsSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    days = serializers.IntegerField()
    organization_default = serializers.BooleanField(
        help_text=_("True when the customer has no terms of its own and the organization's apply.")
    )


class ProfileSerializer(ModelSerializer):
    """A customer's credit standing. Money in base currency (`currency`); `effective_limit` is the
    temporary limit while it lasts (if higher), `available` is it less `exposure` (open receivables
    plus open ERP orders); both null when no limit is set."""

    # Reads `facts` (a ProfileFacts of the whole page) from the context: see `profile_facts`.

    customer_external_id = serializers.CharField(
        source="customer.external_id", read_only=True, allow_null=True
    )
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    # Declared so the schema lists "" (no rating): read-only model fields lose `allow_blank`.
    external_rating = serializers.ChoiceField(
        choices=ExternalRating.choices, allow_blank=True, read_only=True
    )
    currency = serializers.SerializerMethodField()
    effective_limit = serializers.SerializerMethodField()
    exposure = serializers.SerializerMethodField()
    available = serializers.SerializerMethodField()
    utilisation = serializers.SerializerMethodField()
    factors = serializers.SerializerMethodField()
    suggested_reasons = serializers.SerializerMethodField()
    holds = serializers.SerializerMethodField()
    payment_terms = serializers.SerializerMethodField()

    class Meta:
        model = CreditProfile
        fields = [
            "id",
            "customer",
            "customer_external_id",
            "customer_name",
            "currency",
            "credit_limit",
            "temporary_limit",
            "temporary_limit_expires_on",
            "effective_limit",
            "exposure",
            "available",
            "utilisation",
            "score",
            "risk_class",
            "status",
            "blocked",
            "factors",
            "scored_at",
            "suggested_limit",
            "suggested_reasons",
            "holds",
            "payment_terms",
            "last_review_on",
            "next_review_on",
            "external_rating",
            "external_rating_source",
            "external_rating_date",
            "notes",
            "updated_at",
        ]
        read_only_fields = fields

    @property
    def facts(self) -> ProfileFacts:
        return self.context["facts"]

    def _limit(self, profile: CreditProfile) -> Decimal | None:
        return profile.effective_limit(self.facts.today)

    def _exposure(self, profile: CreditProfile) -> Decimal:
        return self.facts.exposures.get(profile.customer_id, selectors.Exposure()).total

    def get_currency(self, profile: CreditProfile) -> str:
        return self.facts.currency

    @extend_schema_field(serializers.DecimalField(**BASE_MONEY, allow_null=True))
    def get_effective_limit(self, profile: CreditProfile) -> str | None:
        limit = self._limit(profile)
        return None if limit is None else f"{limit:.2f}"

    @extend_schema_field(serializers.DecimalField(**BASE_MONEY))
    def get_exposure(self, profile: CreditProfile) -> str:
        return f"{self._exposure(profile):.2f}"

    @extend_schema_field(serializers.DecimalField(**BASE_MONEY, allow_null=True))
    def get_available(self, profile: CreditProfile) -> str | None:
        limit = self._limit(profile)
        return None if limit is None else f"{limit - self._exposure(profile):.2f}"

    @extend_schema_field(
        serializers.DecimalField(
            max_digits=10,
            decimal_places=1,
            allow_null=True,
            help_text=_("Exposure as a percentage of the limit; null without a limit."),
        )
    )
    def get_utilisation(self, profile: CreditProfile) -> str | None:
        used = selectors.utilisation(self._exposure(profile), self._limit(profile))
        return None if used is None else str(used)

    @extend_schema_field(FactorSerializer(many=True))
    def get_factors(self, profile: CreditProfile) -> list[dict[str, Any]]:
        return scorecard.explain(profile.factors or [])

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_suggested_reasons(self, profile: CreditProfile) -> list[str]:
        return scorecard.limit_reasons(profile.suggested_reasons or [])

    @extend_schema_field(HoldSerializer(many=True))
    def get_holds(self, profile: CreditProfile) -> list[dict[str, Any]]:
        return HoldSerializer(self.facts.holds.get(profile.customer_id, []), many=True).data

    @extend_schema_field(ProfileTermsSerializer(allow_null=True))
    def get_payment_terms(self, profile: CreditProfile) -> dict[str, Any] | None:
        own = self.facts.terms.get(profile.customer_id)
        terms = own or self.facts.default_terms
        if terms is None:
            return None
        return {
            "id": terms.pk,
            "name": terms.name,
            "kind": terms.kind,
            "days": terms.days,
            "organization_default": own is None,
        }


# Limit requests --------------------------------------------------------------------------------


class LimitRequestSerializer(ModelSerializer):
    customer_external_id = serializers.CharField(
        source="customer.external_id", read_only=True, allow_null=True
    )
    customer_name = serializers.CharField(source="customer.name", read_only=True)

    class Meta:
        model = LimitRequest
        fields = [
            "id",
            "customer",
            "customer_external_id",
            "customer_name",
            "current_limit",
            "requested_limit",
            "temporary",
            "expires_on",
            "suggested_limit",
            "payment_terms",
            "reason",
            "status",
            "requested_by",
            "requested_by_key",
            "requested_at",
            "decided_by",
            "decided_at",
            "decision_note",
        ]
        read_only_fields = fields


class LimitRequestInSerializer(CustomerRefMixin, serializers.Serializer):
    """A new limit for `customer` (base currency; 0 means cash only), or with `temporary` a higher
    limit until `expires_on`; optionally new `payment_terms` (id) to apply with it."""

    requested_limit = serializers.DecimalField(**AMOUNT, min_value=Decimal(0))
    reason = serializers.CharField(max_length=5000)
    temporary = serializers.BooleanField(default=False)
    expires_on = serializers.DateField(required=False, allow_null=True, default=None)
    payment_terms = ScopedPrimaryKeyRelatedField(
        _payment_terms, required=False, allow_null=True, default=None
    )


class LimitApproveSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class LimitRejectSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=5000)


# Financial statements --------------------------------------------------------------------------


class RatiosSerializer(serializers.Serializer):
    working_capital = serializers.CharField(
        allow_null=True, help_text=_("null when the caller may not see the statement's figures.")
    )
    current_ratio = serializers.CharField(allow_null=True)
    quick_ratio = serializers.CharField(allow_null=True)
    debt_to_equity = serializers.CharField(allow_null=True)
    interest_coverage = serializers.CharField(allow_null=True)
    z_score = serializers.CharField(allow_null=True, help_text=_("Altman Z″ (non-manufacturers)."))
    z_score_em = serializers.CharField(allow_null=True, help_text=_("Z″ + 3.25 (emerging markets)."))
    zone = serializers.ChoiceField(choices=["safe", "grey", "distress"], allow_null=True)


class StatementSerializer(SensitiveSerializerMixin, ModelSerializer):
    """Figures are null unless the caller may see them (`sensitive.view` or `credit.statement`);
    each statement shown with its figures is a `sensitive.viewed` audit event."""

    customer_external_id = serializers.CharField(
        source="customer.external_id", read_only=True, allow_null=True
    )
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    ratios = serializers.SerializerMethodField()

    class Meta:
        model = FinancialStatement
        fields = [
            "id",
            "customer",
            "customer_external_id",
            "customer_name",
            "fiscal_year",
            "period_end",
            "currency",
            *FinancialStatement.FIGURES,
            "source",
            "ratios",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
        extra_kwargs = {name: {"allow_null": True} for name in FinancialStatement.FIGURES}

    @extend_schema_field(RatiosSerializer)
    def get_ratios(self, statement: FinancialStatement) -> dict[str, str | None]:
        ratios = statement_ratios(statement).as_json()
        if not can_view_figures(getattr(self.context.get("request"), "auth", None)):
            ratios["working_capital"] = None  # an amount, not a ratio: it would reveal the figures
        return ratios


class StatementFiguresSerializer(serializers.Serializer):
    """A statement's year, currency and figures; `cash`, `inventory` and `interest_expense` are 0
    when left out. Equity, retained earnings, EBIT and net income may be negative."""

    fiscal_year = serializers.IntegerField(min_value=1900, max_value=2200)
    period_end = serializers.DateField()
    currency = CurrencyField()
    cash = serializers.DecimalField(**AMOUNT, min_value=Decimal(0), default=Decimal(0))
    current_assets = serializers.DecimalField(**AMOUNT, min_value=Decimal(0))
    inventory = serializers.DecimalField(**AMOUNT, min_value=Decimal(0), default=Decimal(0))
    total_assets = serializers.DecimalField(**AMOUNT, min_value=Decimal("0.01"))
    current_liabilities = serializers.DecimalField(**AMOUNT, min_value=Decimal(0))
    total_liabilities = serializers.DecimalField(**AMOUNT, min_value=Decimal(0))
    equity = serializers.DecimalField(**AMOUNT)
    retained_earnings = serializers.DecimalField(**AMOUNT)
    revenue = serializers.DecimalField(**AMOUNT, min_value=Decimal(0))
    ebit = serializers.DecimalField(**AMOUNT)
    interest_expense = serializers.DecimalField(**AMOUNT, min_value=Decimal(0), default=Decimal(0))
    net_income = serializers.DecimalField(**AMOUNT)
    source = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class StatementInSerializer(CustomerRefMixin, StatementFiguresSerializer):
    pass


class StatementUpdateSerializer(StatementFiguresSerializer):
    """Any of the figures; the customer of a statement does not change."""


# Orders ----------------------------------------------------------------------------------------


class OrderSerializer(ModelSerializer):
    customer_external_id = serializers.CharField(
        source="customer.external_id", read_only=True, allow_null=True
    )

    class Meta:
        model = OpenOrder
        fields = [
            "id",
            "external_id",
            "customer",
            "customer_external_id",
            "amount",
            "currency",
            "status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class OrderInSerializer(CustomerRefMixin, serializers.Serializer):
    """An ERP order by its `external_id`: created, or updated when known. Closing one takes it
    out of the customer's exposure."""

    external_id = serializers.CharField(max_length=100)
    amount = serializers.DecimalField(**MONEY)
    currency = CurrencyField()
    status = serializers.ChoiceField(choices=OpenOrder.Status.choices, default=OpenOrder.Status.OPEN)
