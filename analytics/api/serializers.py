"""Serializers of the analytics API. Money is a string in the organization's base currency
(`currency`); ratios and counts are numbers. The summary and cohort serializers describe (and
render) the figures a run stored in `AnalyticsRun.summary`, so the schema matches the answers."""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from analytics import selectors
from analytics.models import AnalyticsRun, ChurnAlert, ClassChange, CustomerAnalytics
from finance.api.representation import ModelSerializer

MONEY = {"max_digits": 20, "decimal_places": 2}
ONE_DECIMAL = Decimal("0.1")


# Customers' figures -----------------------------------------------------------------------------


class RfmScoresSerializer(serializers.Serializer):
    r = serializers.IntegerField(allow_null=True, help_text=_("Recency score, 1-5 (5: most recent)."))
    f = serializers.IntegerField(allow_null=True, help_text=_("Frequency score, 1-5."))
    m = serializers.IntegerField(allow_null=True, help_text=_("Monetary score, 1-5."))
    segment = serializers.CharField(allow_blank=True, help_text=_("RFM segment; blank without purchases."))


class ChurnReasonSerializer(serializers.Serializer):
    factor = serializers.CharField()
    label = serializers.CharField()
    value = serializers.FloatField(allow_null=True, help_text=_("The measured value; null: no data."))
    weight = serializers.FloatField(allow_null=True)
    points = serializers.FloatField(allow_null=True, help_text=_("Points of churn risk; null: not counted."))
    reason = serializers.CharField()


class ClassChangeSerializer(serializers.Serializer):
    """A change of the ABC class, RFM segment or lifecycle stage found by a run."""

    def get_fields(self) -> dict[str, serializers.Field]:
        # "from" is a Python keyword, so the fields are named here rather than as attributes.
        return {
            "field": serializers.ChoiceField(choices=ClassChange.Field.choices),
            "from": serializers.CharField(source="old_value"),
            "to": serializers.CharField(source="new_value"),
            "date": serializers.DateField(),
        }


class CustomerAnalyticsSerializer(ModelSerializer):
    """A customer's latest figures. `abc_class` is the class on the customer (by the policy's
    basis); `clv` is the lifetime value over `horizon_months`; `value_at_stake` is what the
    "where to act" list ranks by (lifetime value times churn risk, plus what is overdue)."""

    # Reads `currency` and `horizon_months` from the context, the same for every row of a page.

    customer_external_id = serializers.CharField(
        source="customer.external_id", read_only=True, allow_null=True
    )
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    owner = serializers.IntegerField(source="customer.owner_id", read_only=True, allow_null=True)
    computed_on = serializers.DateField(source="run_date", read_only=True)
    abc_class = serializers.CharField(source="customer.abc_class", read_only=True)
    currency = serializers.SerializerMethodField()
    rfm = serializers.SerializerMethodField()
    horizon_months = serializers.SerializerMethodField()
    churn_reasons = serializers.SerializerMethodField()
    value_at_stake = serializers.DecimalField(source="action_value", **MONEY, read_only=True)

    class Meta:
        model = CustomerAnalytics
        fields = [
            "customer",
            "customer_external_id",
            "customer_name",
            "owner",
            "computed_on",
            "abc_class",
            "abc_revenue",
            "abc_cash",
            "revenue_12m",
            "cash_12m",
            "currency",
            "first_purchase",
            "last_purchase",
            "purchases",
            "recency_days",
            "frequency_12m",
            "rfm",
            "expected_purchases",
            "horizon_months",
            "prob_alive",
            "expected_order_value",
            "clv",
            "churn_risk",
            "churn_reasons",
            "lifecycle_stage",
            "overdue",
            "value_at_stake",
        ]
        read_only_fields = fields

    def get_currency(self, row: CustomerAnalytics) -> str:
        return self.context["currency"]

    @extend_schema_field(RfmScoresSerializer)
    def get_rfm(self, row: CustomerAnalytics) -> dict[str, Any]:
        return {"r": row.r_score, "f": row.f_score, "m": row.m_score, "segment": row.segment}

    @extend_schema_field(serializers.IntegerField())
    def get_horizon_months(self, row: CustomerAnalytics) -> int:
        return self.context["horizon_months"]

    @extend_schema_field(ChurnReasonSerializer(many=True))
    def get_churn_reasons(self, row: CustomerAnalytics) -> list[dict[str, Any]]:
        return ChurnReasonSerializer(selectors.explain_churn(row.churn_factors or []), many=True).data


class CustomerAnalyticsDetailSerializer(CustomerAnalyticsSerializer):
    """A customer's latest figures and the history of its classes (newest first)."""

    history = serializers.SerializerMethodField()

    class Meta(CustomerAnalyticsSerializer.Meta):
        fields = [*CustomerAnalyticsSerializer.Meta.fields, "history"]
        read_only_fields = fields

    @extend_schema_field(ClassChangeSerializer(many=True))
    def get_history(self, row: CustomerAnalytics) -> list[dict[str, Any]]:
        return ClassChangeSerializer(selectors.class_history(row.customer), many=True).data


# Cohorts ----------------------------------------------------------------------------------------


def retention(sizes: list[int], matrix: list[list[int]]) -> list[list[str | None]]:
    """Each count as a percentage of its cohort's size, one decimal (half up); null for a cohort
    without customers."""
    rows = []
    for size, counts in zip(sizes, matrix, strict=True):
        if not size:
            rows.append([None] * len(counts))
            continue
        rows.append(
            [
                str((Decimal(count) * 100 / Decimal(size)).quantize(ONE_DECIMAL, ROUND_HALF_UP))
                for count in counts
            ]
        )
    return rows


@extend_schema_serializer(many=False)  # one object from a `list` action, not an array
class AnalyticsCohortsSerializer(serializers.Serializer):
    """Monthly acquisition cohorts of the last 24 months of the latest run: `sizes[i]` customers
    first bought in `months[i]`; `matrix[i][k]` of them bought in the k-th month after it
    (k = 0 is the month itself), and `retention[i][k]` is that as a percentage of the size."""

    date = serializers.DateField(allow_null=True, help_text=_("The run's date; null before the first run."))
    months = serializers.ListField(child=serializers.CharField(), help_text=_("Cohort months, YYYY-MM."))
    sizes = serializers.ListField(child=serializers.IntegerField())
    matrix = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()))
    retention = serializers.ListField(
        child=serializers.ListField(
            child=serializers.DecimalField(max_digits=4, decimal_places=1, allow_null=True)
        ),
        help_text=_("Percentages with one decimal; null for a cohort without customers."),
    )

    @staticmethod
    def answer(run: AnalyticsRun | None) -> dict[str, Any]:
        stored = (run.summary or {}).get("cohorts", {}) if run else {}
        sizes, matrix = stored.get("sizes", []), stored.get("matrix", [])
        return {
            "date": run.date if run else None,
            "months": stored.get("months", []),
            "sizes": sizes,
            "matrix": matrix,
            "retention": retention(sizes, matrix),
        }


# Summary ----------------------------------------------------------------------------------------


class RevenueConcentrationSerializer(serializers.Serializer):
    customers = serializers.IntegerField(help_text=_("Customers with positive revenue."))
    top10_share = serializers.FloatField(allow_null=True, help_text=_("Share of the top 10, 0-1."))
    hhi = serializers.FloatField(allow_null=True, help_text=_("Herfindahl-Hirschman index, 0-10,000."))
    pareto = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2),
        help_text=_("Points [share of customers, share of revenue] of the Pareto curve."),
    )


class ClvHistogramSerializer(serializers.Serializer):
    edges = serializers.ListField(
        child=serializers.DecimalField(**MONEY), help_text=_("Bin edges (one more than counts).")
    )
    counts = serializers.ListField(child=serializers.IntegerField())


class AnalyticsBreakdownSerializer(serializers.Serializer):
    key = serializers.CharField(allow_blank=True)
    customers = serializers.IntegerField()
    revenue = serializers.DecimalField(**MONEY)
    margin = serializers.DecimalField(**MONEY)
    clv = serializers.DecimalField(**MONEY)


class AnalyticsRepBreakdownSerializer(AnalyticsBreakdownSerializer):
    key = serializers.IntegerField(help_text=_("The owner rep's user id; 0: customers without one."))


class ChurnAlertPrecisionSerializer(serializers.Serializer):
    pending = serializers.IntegerField()
    retained = serializers.IntegerField()
    churned = serializers.IntegerField()
    decided = serializers.IntegerField(help_text=_("Alerts whose window has closed."))
    precision = serializers.FloatField(
        allow_null=True, help_text=_("Share of decided alerts whose customer did not buy again.")
    )
    retained_share = serializers.FloatField(allow_null=True)


class WhereToActRowSerializer(serializers.Serializer):
    customer = serializers.IntegerField()
    customer_external_id = serializers.CharField(allow_null=True)
    customer_name = serializers.CharField()
    churn_risk = serializers.IntegerField(allow_null=True)
    clv = serializers.DecimalField(**MONEY, allow_null=True)
    overdue = serializers.DecimalField(**MONEY)
    value_at_stake = serializers.DecimalField(**MONEY)
    reasons = serializers.ListField(child=serializers.CharField())

    @staticmethod
    def answer(row: CustomerAnalytics) -> dict[str, Any]:
        return {
            "customer": row.customer_id,
            "customer_external_id": row.customer.external_id,
            "customer_name": row.customer.name,
            "churn_risk": row.churn_risk,
            "clv": row.clv,
            "overdue": row.overdue,
            "value_at_stake": row.action_value,
            "reasons": selectors.action_reasons(row),
        }


def _counts(help_text: Any) -> serializers.DictField:
    return serializers.DictField(child=serializers.IntegerField(), help_text=help_text)


EMPTY_SUMMARY: dict[str, Any] = {
    "customers": 0,
    "buyers": 0,
    "revenue_12m": "0.00",
    "cash_12m": "0.00",
    "margin_12m": "0.00",
    "clv_total": "0.00",
    "overdue": "0.00",
    "abc_revenue": {},
    "abc_cash": {},
    "segments": {},
    "lifecycle": {},
    "concentration": {"customers": 0, "top10_share": None, "hhi": None, "pareto": []},
    "rfm_grid": [],
    "clv_histogram": {"edges": [], "counts": []},
    "churn_bands": [],
    "at_risk": 0,
    "by_segment": [],
    "by_class": [],
    "by_rep": [],
}


@extend_schema_serializer(many=False)  # one object from a `list` action, not an array
class AnalyticsSummarySerializer(serializers.Serializer):
    """The organization's figures from the latest finished run (`date` null and empty figures
    before the first), with the fitted models, the run's warnings, how churn alerts turned out
    and this week's "where to act" list (the 20 customers with the most value at stake)."""

    date = serializers.DateField(allow_null=True)
    computed_at = serializers.DateTimeField(allow_null=True)
    currency = serializers.CharField()
    customers = serializers.IntegerField()
    buyers = serializers.IntegerField(help_text=_("Customers with at least one purchase."))
    revenue_12m = serializers.DecimalField(**MONEY)
    cash_12m = serializers.DecimalField(**MONEY)
    margin_12m = serializers.DecimalField(**MONEY)
    clv_total = serializers.DecimalField(**MONEY)
    overdue = serializers.DecimalField(**MONEY)
    abc_revenue = _counts(_("Customers per ABC class by revenue."))
    abc_cash = _counts(_("Customers per ABC class by cash collected."))
    segments = _counts(_("Customers per RFM segment."))
    lifecycle = _counts(_("Customers per lifecycle stage."))
    concentration = RevenueConcentrationSerializer()
    rfm_grid = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text=_("Buyers per recency (row, R-1) and frequency (column, F-1) score."),
    )
    clv_histogram = ClvHistogramSerializer()
    churn_bands = serializers.ListField(
        child=serializers.IntegerField(), help_text=_("Customers per churn-risk band of 10 points.")
    )
    at_risk = serializers.IntegerField(help_text=_("Customers at or above the churn threshold."))
    by_segment = AnalyticsBreakdownSerializer(many=True)
    by_class = AnalyticsBreakdownSerializer(many=True)
    by_rep = AnalyticsRepBreakdownSerializer(many=True)
    models = serializers.DictField(
        help_text=_("Fitted model parameters, or why a model could not be fitted.")
    )
    warnings = serializers.ListField(child=serializers.DictField(child=serializers.CharField()))
    alerts = ChurnAlertPrecisionSerializer()
    where_to_act = WhereToActRowSerializer(many=True)

    @staticmethod
    def answer(
        run: AnalyticsRun | None,
        *,
        currency: str,
        alerts: dict[str, Any],
        where_to_act: list[CustomerAnalytics],
    ) -> dict[str, Any]:
        figures = {**EMPTY_SUMMARY, **(run.summary if run else {})}
        figures.pop("cohorts", None)
        return {
            "date": run.date if run else None,
            "computed_at": run.finished_at if run else None,
            "currency": currency,
            **figures,
            "models": run.models_fit if run else {},
            "warnings": run.warnings if run else [],
            "alerts": alerts,
            "where_to_act": [WhereToActRowSerializer.answer(row) for row in where_to_act],
        }


# Runs -------------------------------------------------------------------------------------------


class AnalyticsRunSerializer(ModelSerializer):
    """A recompute: its progress (`step` of `steps`, `step_label`) while it runs, then its counts,
    duration, warnings (e.g. missing exchange rates) and fitted models; `error` when it failed."""

    seconds = serializers.FloatField(read_only=True, allow_null=True)
    warnings = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField()), read_only=True
    )
    models_fit = serializers.DictField(read_only=True)

    class Meta:
        model = AnalyticsRun
        fields = [
            "id",
            "date",
            "status",
            "step",
            "steps",
            "step_label",
            "customers",
            "invoices",
            "started_at",
            "finished_at",
            "seconds",
            "error",
            "warnings",
            "models_fit",
        ]
        read_only_fields = fields


class AnalyticsRunInSerializer(serializers.Serializer):
    """Recompute as of `date` (default: the organization's today; not in the future)."""

    date = serializers.DateField(required=False)

    def validate_date(self, value: datetime.date) -> datetime.date:
        if value > self.context["today"]:
            raise serializers.ValidationError(_("The date cannot be in the future."))
        return value


# Churn alerts -----------------------------------------------------------------------------------


class ChurnAlertSerializer(ModelSerializer):
    """A churn alert raised by the weekly job, with the risk's reasons as they were then, the
    retention follow-up it created and, once decided, whether the customer bought again."""

    customer_external_id = serializers.CharField(
        source="customer.external_id", read_only=True, allow_null=True
    )
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    reasons = serializers.SerializerMethodField()
    clv = serializers.DecimalField(**MONEY, read_only=True, allow_null=True)

    class Meta:
        model = ChurnAlert
        fields = [
            "id",
            "customer",
            "customer_external_id",
            "customer_name",
            "week",
            "raised_on",
            "churn_risk",
            "reasons",
            "clv",
            "follow_up",
            "window_ends",
            "outcome",
            "outcome_on",
        ]
        read_only_fields = fields

    @extend_schema_field(ChurnReasonSerializer(many=True))
    def get_reasons(self, alert: ChurnAlert) -> list[dict[str, Any]]:
        return ChurnReasonSerializer(selectors.explain_churn(alert.reasons or []), many=True).data
