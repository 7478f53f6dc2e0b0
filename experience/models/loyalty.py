"""The loyalty program: its rules (one per organization), tiers with their benefits, and the
append-only points ledger."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Customer
from finance.models import TenantModel

MONEY = {"max_digits": 18, "decimal_places": 2}


class LoyaltyProgram(TenantModel):
    """Earning and redeeming rules; until someone saves them, the defaults (reading never writes)."""

    is_active = models.BooleanField(_("program active"), default=True)
    points_per_unit = models.DecimalField(
        _("points per unit of base currency paid"),
        max_digits=8,
        decimal_places=4,
        default=Decimal("0.01"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    early_days = models.PositiveSmallIntegerField(
        _("paid at least this many days before due earns the bonus"),
        default=5,
        validators=[MaxValueValidator(365)],
    )
    early_bonus_percent = models.DecimalField(
        _("early payment bonus (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("20"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("500"))],
    )
    expiry_months = models.PositiveSmallIntegerField(
        _("points expire after (months)"),
        default=24,
        validators=[MinValueValidator(1), MaxValueValidator(120)],
    )
    point_value = models.DecimalField(
        _("value of one point when redeemed (base currency)"),
        max_digits=10,
        decimal_places=4,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0.0001"))],
    )
    on_time_percent = models.DecimalField(
        _("on-time share needed for a tier above the first (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("80"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("loyalty program")
        constraints = [models.UniqueConstraint(fields=["organization"], name="loyalty_program_one_per_org")]

    def __str__(self) -> str:
        return str(_("Loyalty program"))


class LoyaltyTier(TenantModel):
    """A tier reached by trailing-12-month paid revenue (base currency), with its benefits."""

    name = models.CharField(_("name"), max_length=30)
    min_paid_revenue = models.DecimalField(
        _("paid revenue in 12 months from"), **MONEY, validators=[MinValueValidator(Decimal("0"))]
    )
    discount_percent = models.DecimalField(
        _("member discount (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("50"))],
    )
    extra_terms_days = models.PositiveSmallIntegerField(
        _("extra payment terms suggested to credit (days)"), default=0, validators=[MaxValueValidator(90)]
    )
    points_multiplier = models.DecimalField(
        _("points multiplier"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("10"))],
    )
    benefits = models.TextField(_("other benefits"), max_length=2000, blank=True)

    class Meta:
        verbose_name = _("loyalty tier")
        verbose_name_plural = _("loyalty tiers")
        ordering = ["min_paid_revenue", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="loyalty_tier_unique_name"),
            models.UniqueConstraint(
                fields=["organization", "min_paid_revenue"], name="loyalty_tier_unique_threshold"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PointsEntry(TenantModel):
    """One line of a customer's points ledger: append-only (never updated or deleted by Kehu);
    the balance is the sum. Earnings carry the date they expire; an expiry or redemption is a
    negative line."""

    class Kind(models.TextChoices):
        EARNED = "earned", _("Earned on a paid invoice")
        BONUS = "bonus", _("Early payment bonus")
        REDEEMED = "redeemed", _("Redeemed")
        EXPIRED = "expired", _("Expired")
        ADJUSTED = "adjusted", _("Adjusted by hand")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="points_entries")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    points = models.IntegerField(_("points"))
    date = models.DateField(_("date"))
    expires_on = models.DateField(_("expires on"), null=True, blank=True)
    # What it is for, unique per kind so an event never earns twice: "invoice:<id>", "redemption:<id>",
    # "expiry:<earning entry id>", "adjustment:<uuid>".
    reference = models.CharField(_("reference"), max_length=100)
    invoice_id = models.BigIntegerField(null=True, blank=True)
    credit_note_id = models.BigIntegerField(null=True, blank=True)
    amount = models.DecimalField(_("amount"), **MONEY, null=True, blank=True)  # base currency
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("points entry")
        verbose_name_plural = _("points entries")
        ordering = ["date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "kind", "reference"], name="points_entry_unique_reference"
            ),
            models.CheckConstraint(condition=~Q(points=0), name="points_entry_not_zero"),
        ]
        indexes = [models.Index(fields=["organization", "customer", "date"], name="points_customer_date")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.kind} {self.points}"
