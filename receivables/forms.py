"""Forms of the receivables pages: report filters, the payment with its allocation table, write-offs."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.models import Customer
from finance.money import currency_codes, quantize
from receivables.models import Invoice, PaymentMethod

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
# The bases of selectors.aging_report, in the order of selectors.BASES.
BASIS_CHOICES = [("due_date", gettext_lazy("Due date")), ("issue_date", gettext_lazy("Issue date"))]


class AgingFilterForm(forms.Form):
    """The aging report's question. Every field may be left out; `values()` fills the defaults."""

    as_of = forms.DateField(label=gettext_lazy("As of"), required=False, widget=DATE)
    basis = forms.ChoiceField(label=gettext_lazy("Age by"), required=False, choices=BASIS_CHOICES)
    owner = forms.TypedChoiceField(label=gettext_lazy("Owner"), required=False, coerce=int, empty_value=None)
    group = forms.ChoiceField(label=gettext_lazy("Group"), required=False)
    currency = forms.ChoiceField(label=gettext_lazy("Currency"), required=False)
    min_balance = forms.DecimalField(
        label=gettext_lazy("Minimum balance"), required=False, min_value=0, max_digits=18, decimal_places=2
    )

    def __init__(
        self,
        *args: Any,
        today: datetime.date,
        owners: Iterable[Any],
        groups: Iterable[str],
        currencies: Iterable[str],
        show_owner: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        self.initial.setdefault("as_of", today)
        self.initial.setdefault("basis", "due_date")
        self.fields["owner"].choices = [("", _("All owners"))] + [(u.pk, str(u)) for u in owners]
        self.fields["group"].choices = [("", _("All groups"))] + [(g, g) for g in groups]
        self.fields["currency"].choices = [("", _("All currencies"))] + [(c, c) for c in currencies]
        if not show_owner:
            del self.fields["owner"]

    def values(self) -> dict[str, Any]:
        """The filters to report with (defaults where the form left a field empty)."""
        data = self.cleaned_data if self.is_bound else {}
        return {
            "as_of": data.get("as_of") or self.today,
            "basis": data.get("basis") or "due_date",
            "owner_id": data.get("owner"),
            "customer_group": data.get("group") or "",
            "currency": data.get("currency") or "",
            "min_balance": data.get("min_balance"),
        }


INVOICE_STATUSES = [
    ("", gettext_lazy("All statuses")),
    ("open", gettext_lazy("Open")),
    ("overdue", gettext_lazy("Overdue")),
    ("paid", gettext_lazy("Paid")),
    ("void", gettext_lazy("Void")),
]


class InvoiceFilterForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Number"), required=False, max_length=50)
    customer = forms.TypedChoiceField(
        label=gettext_lazy("Customer"), required=False, coerce=int, empty_value=None
    )
    status = forms.ChoiceField(label=gettext_lazy("Status"), required=False, choices=INVOICE_STATUSES)

    def __init__(self, *args: Any, customers: QuerySet[Customer], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["customer"].choices = [("", _("All customers"))] + list(
            customers.order_by("name", "id").values_list("pk", "name")
        )


class PaymentFilterForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Reference"), required=False, max_length=100)
    customer = forms.TypedChoiceField(
        label=gettext_lazy("Customer"), required=False, coerce=int, empty_value=None
    )

    def __init__(self, *args: Any, customers: QuerySet[Customer], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["customer"].choices = [("", _("All customers"))] + list(
            customers.order_by("name", "id").values_list("pk", "name")
        )


class PaymentForm(forms.Form):
    """The payment itself; its allocations come from the table under it (see AllocationTable)."""

    customer = forms.ModelChoiceField(label=gettext_lazy("Customer"), queryset=Customer.unscoped.none())
    currency = forms.ChoiceField(label=gettext_lazy("Currency"))
    received_on = forms.DateField(label=gettext_lazy("Received on"), widget=DATE)
    amount = forms.DecimalField(
        label=gettext_lazy("Amount"),
        min_value=Decimal("0.01"),
        max_digits=18,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )
    method = forms.ChoiceField(label=gettext_lazy("Method"), choices=PaymentMethod.choices)
    reference = forms.CharField(label=gettext_lazy("Reference"), required=False, max_length=200)

    def __init__(self, *args: Any, customers: QuerySet[Customer], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = customers.order_by("name", "id")
        self.fields["currency"].choices = [(c, c) for c in sorted(currency_codes())]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        amount, currency = data.get("amount"), data.get("currency")
        if amount is not None and currency and quantize(amount, currency) != amount:
            self.add_error("amount", _("Too many decimal places for %(currency)s.") % {"currency": currency})
        return data


def field_name(invoice_id: int) -> str:
    return f"allocate-{invoice_id}"


def suggested_amounts(invoices: Iterable[Invoice], amount: Decimal | None) -> dict[int, Decimal]:
    """Spread `amount` over the invoices in the order given (oldest due first, as
    services.payment_auto_allocate does), never more than each one's outstanding amount."""
    left = amount or Decimal(0)
    suggestion: dict[int, Decimal] = {}
    for invoice in invoices:
        if left <= 0:
            break
        share = min(left, invoice.outstanding)
        if share > 0:
            suggestion[invoice.pk] = share
            left -= share
    return suggestion


@dataclass
class AllocationRow:
    invoice: Invoice
    value: str  # as typed, or as suggested
    errors: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return field_name(self.invoice.pk)


@dataclass
class AllocationTable:
    """The payment's allocation rows: one per open invoice of the customer in the currency.

    Reads `allocate-<invoice id>` fields; a positive amount for an invoice that is no longer in the
    table (the customer, currency or date changed without the table being refreshed) is an error,
    so nothing the user typed is silently dropped.
    """

    rows: list[AllocationRow]
    errors: list[str] = field(default_factory=list)

    @classmethod
    def suggested(cls, invoices: list[Invoice], amount: Decimal | None, currency: str) -> AllocationTable:
        suggestion = suggested_amounts(invoices, amount)
        return cls(
            [
                AllocationRow(i, f"{quantize(suggestion[i.pk], currency)}" if i.pk in suggestion else "")
                for i in invoices
            ]
        )

    @classmethod
    def from_data(cls, invoices: list[Invoice], data: Mapping[str, Any]) -> AllocationTable:
        table = cls([AllocationRow(i, (data.get(field_name(i.pk)) or "").strip()) for i in invoices])
        shown = {row.name for row in table.rows}
        for key, value in data.items():
            if key.startswith("allocate-") and key not in shown and _positive(value):
                table.errors.append(
                    _("The list of open invoices changed; check the amounts to allocate and save again.")
                )
                break
        return table

    def cleaned(self, currency: str) -> list[dict[str, Any]] | None:
        """[{'invoice', 'amount'}] for the rows with an amount, or None after marking row errors."""
        allocations = []
        for row in self.rows:
            if not row.value:
                continue
            try:
                amount = Decimal(row.value.replace(",", ""))
            except InvalidOperation:
                row.errors.append(_("Enter a number."))
                continue
            if not amount.is_finite() or amount < 0:
                row.errors.append(_("Enter a positive amount."))
            elif quantize(amount, currency) != amount:
                row.errors.append(_("Too many decimal places for %(currency)s.") % {"currency": currency})
            elif amount > row.invoice.outstanding:
                row.errors.append(_("More than the outstanding amount."))
            elif amount > 0:
                allocations.append({"invoice": row.invoice, "amount": amount})
        if self.has_errors:
            return None
        return allocations

    def add_service_errors(self, messages: list[str]) -> None:
        """The service's allocation errors (the form already checks each row, so these are the
        rare ones found under the lock, such as a concurrent payment); shown above the table."""
        self.errors.extend(messages)

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(row.errors for row in self.rows)

    @property
    def total(self) -> Decimal:
        total = Decimal(0)
        for row in self.rows:
            if _positive(row.value):
                total += Decimal(row.value.replace(",", ""))
        return total


def _positive(value: Any) -> bool:
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        return False
    return amount.is_finite() and amount > 0


class WriteOffForm(forms.Form):
    amount = forms.DecimalField(
        label=gettext_lazy("Amount"),
        min_value=Decimal("0.01"),
        max_digits=18,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=500)
    written_off_on = forms.DateField(label=gettext_lazy("Date"), required=False, widget=DATE)


class VoidForm(forms.Form):
    voided_on = forms.DateField(label=gettext_lazy("Void on"), required=False, widget=DATE)
