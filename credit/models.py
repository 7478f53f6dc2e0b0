"""Credit: each customer's profile (limit, score, status), the organization's credit policy and
scorecard, financial statements, limit requests (maker-checker), holds, reviews and the open
orders the ERP reports. Amounts on profiles, requests and holds are in the organization's base
currency; statements and orders carry their own currency.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Customer, FollowUp
from finance.crypto import EncryptedDecimalField
from finance.models import ApiKey, TenantModel
from finance.money import validate_currency
from receivables.models import PaymentTerms

MONEY = {"max_digits": 18, "decimal_places": 2}
ZERO = Decimal("0")


class RiskClass(models.TextChoices):
    A = "A", _("A (best)")
    B = "B", _("B")
    C = "C", _("C")
    D = "D", _("D")
    E = "E", _("E (worst)")


class CreditStatus(models.TextChoices):
    OK = "ok", _("OK")
    WATCH = "watch", _("Watch")
    HOLD = "hold", _("Hold")
    BLOCKED = "blocked", _("Blocked")


class ExternalRating(models.TextChoices):
    AAA = "AAA", "AAA"
    AA = "AA", "AA"
    A = "A", "A"
    BBB = "BBB", "BBB"
    BB = "BB", "BB"
    B = "B", "B"
    CCC = "CCC", "CCC"
    CC = "CC", "CC"
    C = "C", "C"
    D = "D", "D"


class CreditPolicy(TenantModel):
    """The organization's credit rules: one row per organization, created with defaults on first
    use. `scorecard` holds the factors' weights and bands (validated by `credit.scorecard`)."""

    scorecard = models.JSONField(_("scorecard"), default=dict, blank=True)
    # Lowest score of classes A-D; below D's is E.
    class_floors = models.JSONField(_("risk class floors"), default=dict, blank=True)
    # Months between reviews per risk class.
    review_months = models.JSONField(_("review interval (months) by class"), default=dict, blank=True)
    max_days_past_due = models.PositiveSmallIntegerField(_("hold after this many days past due"), default=60)
    review_utilisation = models.DecimalField(
        _("review orders that take utilisation above (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal(90),
    )
    # The most a finance manager may approve (new limit, base currency); owners and admins: any.
    manager_approval_max = models.DecimalField(
        _("finance managers approve limits up to"), **MONEY, null=True, blank=True, default=Decimal("100000")
    )
    net_worth_cap = models.DecimalField(
        _("suggested limit cap (percentage of net worth)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal(10),
    )
    working_capital_cap = models.DecimalField(
        _("suggested limit cap (percentage of working capital)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal(20),
    )
    limit_rounding = models.DecimalField(_("round suggested limits down to"), **MONEY, default=Decimal(1000))
    override_days = models.PositiveSmallIntegerField(
        _("days an override keeps an automatic hold off"), default=14
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization"], name="credit_policy_one_per_org")]

    def __str__(self) -> str:
        return str(_("Credit policy"))


class CreditProfile(TenantModel):
    """A customer's credit standing. `credit_limit` null means "no limit set" (every order goes to
    review); zero means cash only."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="credit_profile")
    credit_limit = models.DecimalField(_("credit limit"), **MONEY, null=True, blank=True)
    temporary_limit = models.DecimalField(_("temporary limit"), **MONEY, null=True, blank=True)
    temporary_limit_expires_on = models.DateField(_("temporary limit expires on"), null=True, blank=True)
    score = models.PositiveSmallIntegerField(_("score"), null=True, blank=True)
    risk_class = models.CharField(_("risk class"), max_length=1, choices=RiskClass.choices, blank=True)
    factors = models.JSONField(_("score factors"), default=list, blank=True)
    scored_at = models.DateTimeField(_("scored at"), null=True, blank=True)
    suggested_limit = models.DecimalField(_("suggested limit"), **MONEY, null=True, blank=True)
    suggested_reasons = models.JSONField(default=list, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=CreditStatus.choices, default=CreditStatus.OK
    )
    blocked = models.BooleanField(_("blocked by hand"), default=False)
    last_review_on = models.DateField(_("last review"), null=True, blank=True)
    next_review_on = models.DateField(_("next review"), null=True, blank=True)
    external_rating = models.CharField(
        _("external rating"), max_length=3, choices=ExternalRating.choices, blank=True
    )
    external_rating_source = models.CharField(_("rating agency"), max_length=100, blank=True)
    external_rating_date = models.DateField(_("rating date"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "status"], name="credit_profile_status")]
        constraints = [
            models.CheckConstraint(
                condition=Q(credit_limit__isnull=True) | Q(credit_limit__gte=0),
                name="credit_limit_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(temporary_limit__isnull=True) | Q(temporary_limit_expires_on__isnull=False),
                name="credit_temporary_limit_expires",
            ),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__lte=100), name="credit_score_at_most_100"
            ),
        ]

    def __str__(self) -> str:
        return str(self.customer)

    def effective_limit(self, today: datetime.date) -> Decimal | None:
        """The limit in force on `today`: the temporary one while it lasts, if higher."""
        if (
            self.temporary_limit is not None
            and self.temporary_limit_expires_on is not None
            and self.temporary_limit_expires_on >= today
        ):
            return max(self.temporary_limit, self.credit_limit or ZERO)
        return self.credit_limit


class ScoreRecord(TenantModel):
    """A customer's score on a day, with its factors, for the history (one per customer and day)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    computed_on = models.DateField(_("date"))
    score = models.PositiveSmallIntegerField(_("score"), null=True)
    risk_class = models.CharField(_("risk class"), max_length=1, blank=True)
    factors = models.JSONField(default=list)
    suggested_limit = models.DecimalField(**MONEY, null=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "customer", "computed_on"], name="credit_score_one_per_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.computed_on}: {self.score}"


class FinancialStatement(TenantModel):
    """A customer's balance sheet and income statement figures for one fiscal year."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="financial_statements")
    fiscal_year = models.PositiveSmallIntegerField(_("fiscal year"))
    period_end = models.DateField(_("period end"))
    currency = models.CharField(_("currency"), max_length=3, validators=[validate_currency])
    # Figures are sensitive: stored encrypted (finance.crypto), read as Decimals, computed in Python.
    # Balance sheet
    cash = EncryptedDecimalField(_("cash and equivalents"), **MONEY, default=ZERO)
    current_assets = EncryptedDecimalField(_("current assets"), **MONEY)
    inventory = EncryptedDecimalField(_("inventory"), **MONEY, default=ZERO)
    total_assets = EncryptedDecimalField(_("total assets"), **MONEY)
    current_liabilities = EncryptedDecimalField(_("current liabilities"), **MONEY)
    total_liabilities = EncryptedDecimalField(_("total liabilities"), **MONEY)
    equity = EncryptedDecimalField(_("shareholders' equity (book)"), **MONEY)
    retained_earnings = EncryptedDecimalField(_("retained earnings"), **MONEY)
    # Income statement
    revenue = EncryptedDecimalField(_("revenue"), **MONEY)
    ebit = EncryptedDecimalField(_("EBIT (operating profit)"), **MONEY)
    interest_expense = EncryptedDecimalField(_("interest expense"), **MONEY, default=ZERO)
    net_income = EncryptedDecimalField(_("net income"), **MONEY)
    source = models.CharField(_("source"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    FIGURES = (
        "cash",
        "current_assets",
        "inventory",
        "total_assets",
        "current_liabilities",
        "total_liabilities",
        "equity",
        "retained_earnings",
        "revenue",
        "ebit",
        "interest_expense",
        "net_income",
    )

    class Meta:
        ordering = ["-fiscal_year"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "customer", "fiscal_year"], name="credit_statement_one_per_year"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer} {self.fiscal_year}"


class LimitRequest(TenantModel):
    """A requested change to a customer's limit (maker), decided by another person (checker)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        CANCELLED = "cancelled", _("Cancelled")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    current_limit = models.DecimalField(_("limit when requested"), **MONEY, null=True, blank=True)
    requested_limit = models.DecimalField(_("requested limit"), **MONEY)
    temporary = models.BooleanField(_("temporary"), default=False)
    expires_on = models.DateField(_("temporary until"), null=True, blank=True)
    suggested_limit = models.DecimalField(_("suggested limit"), **MONEY, null=True, blank=True)
    payment_terms = models.ForeignKey(
        PaymentTerms,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("new payment terms"),
    )
    reason = models.TextField(_("reason"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requested_by_key = models.ForeignKey(
        ApiKey, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "customer"],
                condition=Q(status="pending"),
                name="credit_one_pending_request",
            ),
            models.CheckConstraint(condition=Q(requested_limit__gte=0), name="credit_request_not_negative"),
            models.CheckConstraint(
                condition=Q(temporary=False) | Q(expires_on__isnull=False),
                name="credit_temporary_request_expires",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer}: {self.requested_limit}"


class CreditHold(TenantModel):
    """A reason a customer is on hold. Automatic holds are released when their cause clears; any
    hold can be released by an override with a reason (automatic ones then stay off for the
    policy's override days)."""

    class Reason(models.TextChoices):
        OVER_LIMIT = "over_limit", _("Exposure over the limit")
        PAST_DUE = "past_due", _("Invoices too far past due")
        DUNNING = "dunning", _("Dunning reached its hold level")
        MANUAL = "manual", _("Placed by hand")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(_("reason"), max_length=12, choices=Reason.choices)
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    placed_at = models.DateTimeField(_("placed"), default=timezone.now)
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    released_at = models.DateTimeField(_("released"), null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    release_note = models.CharField(_("release note"), max_length=500, blank=True)
    overridden = models.BooleanField(_("released by override"), default=False)
    override_until = models.DateField(_("override until"), null=True, blank=True)

    class Meta:
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "customer", "reason"],
                condition=Q(released_at__isnull=True),
                name="credit_one_active_hold_per_reason",
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer}: {self.get_reason_display()}"

    @property
    def is_active(self) -> bool:
        return self.released_at is None


class CreditReview(TenantModel):
    """A periodic review of a customer's credit, due by risk class, and its decision."""

    class Decision(models.TextChoices):
        KEEP = "keep", _("Keep limit and terms")
        CHANGE_LIMIT = "change_limit", _("Request a new limit")
        HOLD = "hold", _("Put on hold")
        BLOCK = "block", _("Block")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    due_on = models.DateField(_("due on"))
    risk_class = models.CharField(_("risk class"), max_length=1, blank=True)
    decision = models.CharField(_("decision"), max_length=15, choices=Decision.choices, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    completed_on = models.DateField(_("completed on"), null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    follow_up = models.ForeignKey(
        FollowUp, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["due_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "customer", "due_on"], name="credit_review_one_per_due_date"
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer}: {self.due_on}"


class OpenOrder(TenantModel):
    """A sales order the ERP reports as open: part of the customer's exposure until it is closed."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    external_id = models.CharField(_("external id"), max_length=100)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3, validators=[validate_currency])
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "external_id"], name="credit_order_external_id"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="credit_order_not_negative"),
        ]
        indexes = [
            models.Index(
                fields=["organization", "customer"], condition=Q(status="open"), name="credit_open_orders"
            )
        ]

    def __str__(self) -> str:
        return self.external_id
