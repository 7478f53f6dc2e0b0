"""The loyalty API under `/api/v1/experience/`: `loyalty-tiers` (CRUD), `loyalty-program` (GET and
PATCH of the single resource), `loyalty-accounts` (a customer's tier, balance and what expires),
`loyalty-entries` (the points ledger), `loyalty-redemptions` (POST: points into a credit note) and
`loyalty-statements/{customer_id}/?from=&to=`. Each view parses its input, calls one selector or
one service of the loyalty part; the base viewset supplies tenancy, roles, cursor pagination and
Idempotency-Key. Another tenant's id, or another rep's customer, is a 404 (or "does not exist"
in a body)."""

from __future__ import annotations

import datetime
from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import mixins, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from crm.models import Customer
from crm.selectors import customers_visible_to
from experience import loyalty
from experience import loyalty_selectors as selectors
from experience.models import LoyaltyProgram, LoyaltyTier, PointsEntry
from finance.api.base import KehuViewSet
from finance.api.fields import ScopedPrimaryKeyRelatedField
from finance.api.filters import IdFilter
from finance.api.representation import ModelSerializer
from receivables.models import Invoice

MAX_POINTS = loyalty.MAX_POINTS


def _invoices(actor: Any) -> QuerySet[Invoice]:
    return Invoice.objects.filter(customer__in=customers_visible_to(actor))


# Serializers -------------------------------------------------------------------------------------


class LoyaltyTierSerializer(ModelSerializer):
    """A tier: reached by paid revenue in 12 months (base currency) from `min_paid_revenue`;
    `extra_terms_days` is a suggestion for credit to consider, not applied by itself."""

    class Meta:
        model = LoyaltyTier
        fields = ["id", *loyalty.TIER_FIELDS]
        validators: list[Any] = []


@extend_schema_serializer(many=False)  # one object from a `list` action, not an array
class LoyaltyProgramSerializer(ModelSerializer):
    """The program's rules. Until someone saves them, the defaults (`updated_at` null)."""

    class Meta:
        model = LoyaltyProgram
        fields = [*loyalty.PROGRAM_FIELDS, "updated_at"]
        read_only_fields = ["updated_at"]


class LoyaltyAccountSerializer(serializers.Serializer):
    """A customer's loyalty account: tier with its benefits, redeemable `balance`, the points
    expiring in the next 90 days, and what the balance is worth in base currency."""

    id = serializers.IntegerField(source="customer.pk", help_text="The customer's id.")
    customer_name = serializers.CharField(source="customer.name")
    customer_external_id = serializers.CharField(source="customer.external_id", allow_null=True)
    tier = serializers.SerializerMethodField()
    balance = serializers.IntegerField()
    expiring_soon = serializers.IntegerField(help_text="Points whose last valid day is within 90 days.")
    value = serializers.SerializerMethodField()
    currency = serializers.SerializerMethodField()

    def get_tier(self, account: selectors.Account) -> dict[str, Any] | None:
        tier = account.tier
        if tier is None:
            return None
        return {
            "name": tier.name,
            "discount_percent": str(tier.discount_percent),
            "extra_terms_days": tier.extra_terms_days,
            "points_multiplier": str(tier.points_multiplier),
            "benefits": tier.benefits,
        }

    def get_value(self, account: selectors.Account) -> str:
        return str((account.balance * self.context["point_value"]).quantize(self.context["cent"]))

    def get_currency(self, account: selectors.Account) -> str:
        return self.context["currency"]


class PointsEntrySerializer(ModelSerializer):
    """One line of the points ledger (append-only): negative for redemptions and expiries."""

    kind = serializers.CharField(
        read_only=True, help_text="earned, bonus (early payment), redeemed, expired or adjusted."
    )

    class Meta:
        model = PointsEntry
        fields = [
            "id",
            "customer",
            "kind",
            "points",
            "date",
            "expires_on",
            "reference",
            "invoice_id",
            "credit_note_id",
            "amount",
            "note",
            "created_at",
        ]
        read_only_fields = fields


class PointsRedemptionInSerializer(serializers.Serializer):
    customer = ScopedPrimaryKeyRelatedField(customers_visible_to)
    points = serializers.IntegerField(min_value=1, max_value=MAX_POINTS)
    invoice = ScopedPrimaryKeyRelatedField(_invoices, required=False, allow_null=True)
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class PointsRedemptionSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The REDEEMED points entry.")
    customer = serializers.IntegerField(source="customer_id")
    points = serializers.IntegerField(help_text="Points redeemed (positive).")
    amount = serializers.DecimalField(max_digits=18, decimal_places=2)
    currency = serializers.CharField()
    credit_note = serializers.IntegerField(source="credit_note_id")
    invoice = serializers.IntegerField(source="invoice_id", allow_null=True)
    balance = serializers.IntegerField(help_text="Points left to redeem.")


class PointsStatementEntrySerializer(PointsEntrySerializer):
    balance = serializers.IntegerField(help_text="Running balance after this entry.")

    class Meta(PointsEntrySerializer.Meta):
        fields = [*PointsEntrySerializer.Meta.fields, "balance"]
        read_only_fields = fields


class PointsStatementSerializer(serializers.Serializer):
    customer = serializers.IntegerField(source="customer.pk")
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    opening = serializers.IntegerField()
    closing = serializers.IntegerField()
    earned = serializers.IntegerField()
    used = serializers.IntegerField()
    available = serializers.IntegerField()
    expiring_soon = serializers.IntegerField()
    entries = serializers.SerializerMethodField()

    def get_entries(self, statement: selectors.Statement) -> list[dict[str, Any]]:
        rows = []
        for entry, balance in statement.rows:
            entry.balance = balance
            rows.append(entry)
        return PointsStatementEntrySerializer(rows, many=True).data


class PointsPeriodSerializer(serializers.Serializer):
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("date_from") and attrs.get("date_to") and attrs["date_from"] > attrs["date_to"]:
            raise serializers.ValidationError({"to": [_("The end comes before the start.")]})
        return attrs


# Filters -----------------------------------------------------------------------------------------


class TierFilter(django_filters.FilterSet):
    name = django_filters.CharFilter()


class AccountFilter(django_filters.FilterSet):
    tier = django_filters.CharFilter(field_name="loyalty_tier")
    external_id = django_filters.CharFilter()


class EntryFilter(django_filters.FilterSet):
    customer = IdFilter(field_name="customer_id")
    kind = django_filters.ChoiceFilter(choices=PointsEntry.Kind.choices)
    date_from = django_filters.DateFilter(field_name="date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="date", lookup_expr="lte")


# Views -------------------------------------------------------------------------------------------


class LoyaltyTierViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, KehuViewSet):
    """The organization's own tiers (none listed while it uses the defaults: Member, Silver, Gold).
    Writing needs `loyalty.manage` (owners, admins, finance managers; not API keys)."""

    queryset = LoyaltyTier.unscoped.none()
    serializer_class = LoyaltyTierSerializer
    filterset_class = TierFilter
    ordering_fields = ["id", "min_paid_revenue"]
    action_permissions = {
        "list": "experience.view",
        "retrieve": "experience.view",
        "create": "loyalty.manage",
        "partial_update": "loyalty.manage",
        "destroy": "loyalty.manage",
    }

    def scoped_queryset(self) -> QuerySet[LoyaltyTier]:
        return LoyaltyTier.objects.all()

    @extend_schema(request=LoyaltyTierSerializer, responses={201: LoyaltyTierSerializer})
    def create(self, request: Request) -> Response:
        serializer = LoyaltyTierSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tier = loyalty.tier_create(actor=self.actor, **serializer.validated_data)
        return Response(LoyaltyTierSerializer(tier).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=LoyaltyTierSerializer, responses=LoyaltyTierSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        tier = self.get_object()
        serializer = LoyaltyTierSerializer(tier, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        tier = loyalty.tier_update(actor=self.actor, tier=tier, **serializer.validated_data)
        return Response(LoyaltyTierSerializer(tier).data)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        loyalty.tier_delete(actor=self.actor, tier=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class LoyaltyProgramViewSet(KehuViewSet):
    """`GET /api/v1/experience/loyalty-program/` reads the rules (the defaults until saved; reading
    never writes); `PATCH` the same URL changes them (`loyalty.manage`)."""

    queryset = LoyaltyProgram.unscoped.none()
    serializer_class = LoyaltyProgramSerializer
    pagination_class = None
    filter_backends: list = []
    # PATCH on the list URL is not a router action: the method itself is the action name.
    action_permissions = {"list": "experience.view", "patch": "loyalty.manage"}

    @extend_schema(responses=LoyaltyProgramSerializer)
    def list(self, request: Request) -> Response:
        return Response(LoyaltyProgramSerializer(selectors.program_for()).data)

    @extend_schema(request=LoyaltyProgramSerializer, responses=LoyaltyProgramSerializer)
    def patch(self, request: Request) -> Response:
        serializer = LoyaltyProgramSerializer(selectors.program_for(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        program = loyalty.program_update(actor=self.actor, **serializer.validated_data)
        return Response(LoyaltyProgramSerializer(program).data)


class LoyaltyAccountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, KehuViewSet):
    """One account per customer the actor sees, by customer id. A page reads the ledger of all
    its customers in one query."""

    queryset = Customer.unscoped.none()
    serializer_class = LoyaltyAccountSerializer
    filterset_class = AccountFilter
    search_fields = ["name", "external_id"]
    ordering_fields = ["id", "name"]
    action_permissions = {"list": "experience.view", "retrieve": "experience.view"}

    def scoped_queryset(self) -> QuerySet[Customer]:
        return selectors.accounts_visible_to(self.actor)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self._represent(page))

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(self._represent([self.get_object()])[0])

    def _represent(self, customers: list[Customer]) -> Any:
        from decimal import Decimal

        organization = self.actor.organization
        context = {
            "point_value": selectors.program_for().point_value,
            "cent": Decimal("0.01"),
            "currency": organization.base_currency,
        }
        accounts = selectors.accounts(list(customers), organization.local_today())
        return LoyaltyAccountSerializer(accounts, many=True, context=context).data


class PointsEntryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, KehuViewSet):
    """The points ledger of the customers the actor sees; filter by `customer`, `kind`,
    `date_from`, `date_to`."""

    queryset = PointsEntry.unscoped.none()
    serializer_class = PointsEntrySerializer
    filterset_class = EntryFilter
    ordering_fields = ["id", "date"]
    action_permissions = {"list": "experience.view", "retrieve": "experience.view"}

    def scoped_queryset(self) -> QuerySet[PointsEntry]:
        return selectors.entries_visible_to(self.actor)


class RedemptionViewSet(KehuViewSet):
    """`POST /api/v1/experience/loyalty-redemptions/`: redeem `points` of `customer` as a discount
    credit note (points × point value, base currency), applied to `invoice` when given and open.
    201 with the credit note's id; 400 with field errors (not above zero, above the balance, an
    invoice of another customer)."""

    queryset = PointsEntry.unscoped.none()
    serializer_class = PointsRedemptionSerializer
    action_permissions = {"create": "loyalty.redeem"}

    @extend_schema(request=PointsRedemptionInSerializer, responses={201: PointsRedemptionSerializer})
    def create(self, request: Request) -> Response:
        serializer = PointsRedemptionInSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        entry = loyalty.points_redeem(actor=self.actor, **serializer.validated_data)
        today = self.actor.organization.local_today()
        lots = selectors.customer_lots([entry.customer_id])[entry.customer_id]
        body = {
            "id": entry.pk,
            "customer_id": entry.customer_id,
            "points": -entry.points,
            "amount": entry.amount,
            "currency": self.actor.organization.base_currency,
            "credit_note_id": entry.credit_note_id,
            "invoice_id": entry.invoice_id,
            "balance": selectors.available_points(lots, today),
        }
        return Response(PointsRedemptionSerializer(body).data, status=status.HTTP_201_CREATED)


class StatementViewSet(KehuViewSet):
    """`GET /api/v1/experience/loyalty-statements/{customer_id}/?from=&to=`: opening balance, the
    period's entries with a running balance, closing balance, redeemable points and those
    expiring in 90 days. The period defaults to this year to date."""

    queryset = Customer.unscoped.none()
    serializer_class = PointsStatementSerializer
    pagination_class = None
    filter_backends: list = []
    action_permissions = {"retrieve": "experience.view"}

    def scoped_queryset(self) -> QuerySet[Customer]:
        return selectors.accounts_visible_to(self.actor)

    @extend_schema(
        parameters=[
            OpenApiParameter("from", datetime.date, description="First day (default: 1 January)."),
            OpenApiParameter("to", datetime.date, description="Last day (default: today)."),
        ],
        responses=PointsStatementSerializer,
    )
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        customer = self.get_object()
        period = PointsPeriodSerializer(
            data={
                k: v
                for k, v in (
                    ("date_from", request.query_params.get("from")),
                    ("date_to", request.query_params.get("to")),
                )
                if v
            }
        )
        if not period.is_valid():
            errors = {{"date_from": "from", "date_to": "to"}.get(k, k): v for k, v in period.errors.items()}
            raise serializers.ValidationError(errors)
        today = self.actor.organization.local_today()
        statement = selectors.points_statement(
            customer=customer,
            date_from=period.validated_data.get("date_from") or datetime.date(today.year, 1, 1),
            date_to=period.validated_data.get("date_to") or today,
            today=today,
        )
        return Response(PointsStatementSerializer(statement).data)
