"""Analytics: the organization's analytics policy, the dated nightly run (snapshot) with its
organization-wide figures, each customer's latest figures (ABC, RFM, lifetime value, churn risk,
lifecycle stage), the history of classification changes, and churn alerts with their outcome.

Amounts are in the organization's base currency, each document converted at its own date's rate.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Customer, FollowUp, LifecycleStage
from finance.models import TenantModel

MONEY = {"max_digits": 18, "decimal_places": 2}
PERCENT = {"max_digits": 5, "decimal_places": 2}


def _percent_validators(low: str = "0", high: str = "100") -> list:
    return [MinValueValidator(Decimal(low)), MaxValueValidator(Decimal(high))]


class AbcBasis(models.TextChoices):
    REVENUE = "revenue", _("Net revenue")
    CASH = "cash", _("Cash collected")


class Segment(models.TextChoices):
    CHAMPIONS = "champions", _("Champions")
    LOYAL = "loyal", _("Loyal")
    POTENTIAL_LOYALISTS = "potential_loyalists", _("Potential loyalists")
    NEW = "new", _("New")
    AT_RISK = "at_risk", _("At risk")
    CANNOT_LOSE = "cannot_lose", _("Cannot lose")
    HIBERNATING = "hibernating", _("Hibernating")
    LOST = "lost", _("Lost")


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class AnalyticsPolicy(TenantModel):
    """The organization's analytics settings: one row per organization; reading the policy of an
    organization without one gives the defaults and writes nothing."""

    abc_basis = models.CharField(
        _("ABC class on the customer from"), max_length=10, choices=AbcBasis.choices, default=AbcBasis.REVENUE
    )
    abc_a_percent = models.DecimalField(
        _("class A: first share of cumulative revenue (%)"),
        **PERCENT,
        default=Decimal("80"),
        validators=_percent_validators("1", "99"),
    )
    abc_b_percent = models.DecimalField(
        _("class B: next share of cumulative revenue (%)"),
        **PERCENT,
        default=Decimal("15"),
        validators=_percent_validators("0", "99"),
    )
    margin_percent = models.DecimalField(
        _("gross margin (%)"), **PERCENT, default=Decimal("30"), validators=_percent_validators()
    )
    discount_rate_percent = models.DecimalField(
        _("annual discount rate (%)"), **PERCENT, default=Decimal("10"), validators=_percent_validators()
    )
    clv_horizon_months = models.PositiveSmallIntegerField(
        _("lifetime value horizon (months)"),
        default=12,
        validators=[MinValueValidator(1), MaxValueValidator(120)],
    )
    churn_threshold = models.PositiveSmallIntegerField(
        _("churn alert threshold (risk 0-100)"),
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    alert_weekday = models.PositiveSmallIntegerField(
        _("churn alerts on"), choices=Weekday.choices, default=Weekday.MONDAY
    )
    outcome_days = models.PositiveSmallIntegerField(
        _("an alerted customer is retained if it buys again within (days)"),
        default=90,
        validators=[MinValueValidator(7), MaxValueValidator(730)],
    )
    churned_alive_percent = models.DecimalField(
        _("churned below this probability alive (%)"),
        **PERCENT,
        default=Decimal("20"),
        validators=_percent_validators(),
    )
    churned_after_days = models.PositiveSmallIntegerField(
        _("churned after this many days without a purchase"),
        default=365,
        validators=[MinValueValidator(30), MaxValueValidator(3650)],
    )
    loyal_min_tenure_days = models.PositiveSmallIntegerField(
        _("loyal: at least this many days since the first purchase"),
        default=365,
        validators=[MinValueValidator(0), MaxValueValidator(3650)],
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("analytics policy")
        verbose_name_plural = _("analytics policies")
        constraints = [models.UniqueConstraint(fields=["organization"], name="analytics_policy_one_per_org")]

    def __str__(self) -> str:
        return str(_("Analytics policy"))


class AnalyticsRun(TenantModel):
    """One recompute of an organization's analytics for one day: the dated snapshot. A second run
    on the same day replaces the first's figures (unique per organization and date)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    date = models.DateField(_("date"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    step = models.PositiveSmallIntegerField(default=0)
    steps = models.PositiveSmallIntegerField(default=0)
    step_label = models.CharField(max_length=100, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    customers = models.PositiveIntegerField(_("customers"), default=0)
    invoices = models.PositiveIntegerField(_("invoices"), default=0)
    # Fitted model parameters and their log-likelihood, or why a model could not be fitted.
    models_fit = models.JSONField(default=dict, blank=True)
    # Organization-wide figures: class and segment counts, concentration, cohorts, breakdowns.
    summary = models.JSONField(default=dict, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("analytics run")
        verbose_name_plural = _("analytics runs")
        ordering = ["-date"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "date"], name="analytics_run_unique_day")
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.status}"

    @property
    def seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return round((self.finished_at - self.started_at).total_seconds(), 1)
        return None


class CustomerAnalytics(TenantModel):
    """A customer's latest analytics figures, rewritten by each run."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="analytics")
    run_date = models.DateField(_("computed on"))
    revenue_12m = models.DecimalField(_("net revenue, 12 months"), **MONEY, default=Decimal("0"))
    cash_12m = models.DecimalField(_("cash collected, 12 months"), **MONEY, default=Decimal("0"))
    abc_revenue = models.CharField(_("ABC by revenue"), max_length=1, blank=True)
    abc_cash = models.CharField(_("ABC by cash"), max_length=1, blank=True)
    first_purchase = models.DateField(_("first purchase"), null=True, blank=True)
    last_purchase = models.DateField(_("last purchase"), null=True, blank=True)
    purchases = models.PositiveIntegerField(_("purchase days"), default=0)
    recency_days = models.PositiveIntegerField(_("days since last purchase"), null=True, blank=True)
    frequency_12m = models.PositiveIntegerField(_("purchase days, 12 months"), default=0)
    r_score = models.PositiveSmallIntegerField(_("R"), null=True, blank=True)
    f_score = models.PositiveSmallIntegerField(_("F"), null=True, blank=True)
    m_score = models.PositiveSmallIntegerField(_("M"), null=True, blank=True)
    segment = models.CharField(_("RFM segment"), max_length=20, choices=Segment.choices, blank=True)
    expected_purchases = models.DecimalField(
        _("expected purchases"), max_digits=12, decimal_places=3, null=True, blank=True
    )
    prob_alive = models.DecimalField(
        _("probability alive"), max_digits=5, decimal_places=4, null=True, blank=True
    )
    expected_order_value = models.DecimalField(_("expected order value"), **MONEY, null=True, blank=True)
    clv = models.DecimalField(_("lifetime value"), **MONEY, null=True, blank=True)
    churn_risk = models.PositiveSmallIntegerField(_("churn risk"), null=True, blank=True)
    churn_factors = models.JSONField(default=list, blank=True)
    overdue = models.DecimalField(_("overdue"), **MONEY, default=Decimal("0"))
    action_value = models.DecimalField(_("value at stake"), **MONEY, default=Decimal("0"))
    lifecycle_stage = models.CharField(
        _("lifecycle stage"), max_length=20, choices=LifecycleStage.choices, default=LifecycleStage.PROSPECT
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("customer analytics")
        verbose_name_plural = _("customer analytics")
        ordering = ["customer_id"]
        indexes = [
            models.Index(fields=["organization", "churn_risk"], name="analytics_churn_risk"),
            models.Index(fields=["organization", "action_value"], name="analytics_action_value"),
            models.Index(fields=["organization", "segment"], name="analytics_segment"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.run_date}"


class ClassChange(TenantModel):
    """A change of a customer's ABC class, RFM segment or lifecycle stage found by a run: the history
    the customer page and the API show. One per customer, field and day."""

    class Field(models.TextChoices):
        ABC_CLASS = "abc_class", _("ABC class")
        SEGMENT = "segment", _("RFM segment")
        LIFECYCLE_STAGE = "lifecycle_stage", _("Lifecycle stage")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="class_changes")
    field = models.CharField(_("field"), max_length=20, choices=Field.choices)
    old_value = models.CharField(_("from"), max_length=20, blank=True)
    new_value = models.CharField(_("to"), max_length=20, blank=True)
    date = models.DateField(_("date"))

    class Meta:
        verbose_name = _("classification change")
        verbose_name_plural = _("classification changes")
        ordering = ["-date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "customer", "field", "date"], name="class_change_unique_day"
            )
        ]
        indexes = [models.Index(fields=["organization", "customer", "-date"], name="class_change_customer")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.field}: {self.old_value} → {self.new_value}"


class ChurnAlert(TenantModel):
    """A customer whose churn risk crossed the threshold, raised by the weekly job (at most one per
    customer and week), with the retention follow-up it created and, once its window has passed or
    the customer bought again, its outcome."""

    class Outcome(models.TextChoices):
        PENDING = "pending", _("Pending")
        RETAINED = "retained", _("Bought again")
        CHURNED = "churned", _("Did not buy again")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="churn_alerts")
    week = models.DateField(_("week of"))
    raised_on = models.DateField(_("raised on"))
    churn_risk = models.PositiveSmallIntegerField(_("churn risk"))
    reasons = models.JSONField(default=list, blank=True)
    clv = models.DecimalField(_("lifetime value"), **MONEY, null=True, blank=True)
    follow_up = models.ForeignKey(
        FollowUp, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    window_ends = models.DateField(_("watch until"))
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    outcome_on = models.DateField(_("outcome on"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("churn alert")
        verbose_name_plural = _("churn alerts")
        ordering = ["-week", "-churn_risk", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "customer", "week"], name="churn_alert_unique_week"
            ),
            models.CheckConstraint(condition=Q(churn_risk__lte=100), name="churn_alert_risk_range"),
        ]
        indexes = [
            models.Index(fields=["organization", "outcome", "window_ends"], name="churn_alert_pending")
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.week} {self.churn_risk}"
