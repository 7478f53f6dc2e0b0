"""Forms of the collections pages: the worklist's filter and its row actions (a call, a promise, a
dispute, a snooze), bulk assignment of collectors, and the dispute board's decisions."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.models import Customer
from finance.money import currency_codes, quantize
from receivables import selectors
from receivables.models import Dispute, DunningPolicy, Invoice
from receivables.worklist import ALL, MAX_SNOOZE_DAYS, UNASSIGNED

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
MONEY_INPUT = forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal", "class": "amount"})
MINE = "mine"


def open_invoices(customer: Customer) -> QuerySet[Invoice]:
    """The customer's invoices with something left to pay, oldest due first."""
    return selectors.open_invoices().filter(customer=customer).order_by("due_date", "id")


def _invoice_label(invoice: Invoice) -> str:
    return _("%(number)s · due %(due)s · %(amount)s %(currency)s open") % {
        "number": invoice.number,
        "due": invoice.due_date.isoformat(),
        "amount": f"{invoice.outstanding:,.2f}",
        "currency": invoice.currency,
    }


class WorklistFilterForm(forms.Form):
    collector = forms.ChoiceField(label=gettext_lazy("Collector"), required=False)
    hide_snoozed = forms.BooleanField(label=gettext_lazy("Hide snoozed"), required=False)

    def __init__(self, *args: Any, collectors: list[Any], default: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.default = default
        self.fields["collector"].choices = [
            (MINE, _("My customers")),
            (ALL, _("All collectors")),
            (UNASSIGNED, _("No collector")),
        ] + [(str(user.pk), str(user)) for user in collectors]
        self.collectors = {str(user.pk): user for user in collectors}
        self.initial.setdefault("collector", default)

    def selection(self, actor_user: Any) -> tuple[str, Any]:
        """(the choice, the worklist's `collector` argument)."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        choice = data.get("collector") or self.default
        if choice == MINE:
            return choice, actor_user or ALL
        if choice in (ALL, UNASSIGNED):
            return choice, choice
        return choice, self.collectors.get(choice, ALL)


class AssignForm(forms.Form):
    """Bulk: give the selected customers a collector (empty: nobody)."""

    customers = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Customers"), queryset=Customer.unscoped.none(), widget=forms.MultipleHiddenInput
    )
    collector = forms.ModelChoiceField(
        label=gettext_lazy("Collector"),
        queryset=Customer.unscoped.none(),
        required=False,
        empty_label=gettext_lazy("Nobody"),
    )

    def __init__(self, *args: Any, customers: QuerySet[Customer], collectors: QuerySet[Any], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["customers"].queryset = customers
        self.fields["customers"].error_messages["required"] = _("Select at least one customer.")
        self.fields["collector"].queryset = collectors


class ProfileForm(forms.Form):
    """One customer's collector and dunning policy (managers)."""

    collector = forms.ModelChoiceField(
        label=gettext_lazy("Collector"),
        queryset=Customer.unscoped.none(),
        required=False,
        empty_label=gettext_lazy("Nobody"),
    )
    policy = forms.ModelChoiceField(
        label=gettext_lazy("Dunning policy"),
        queryset=DunningPolicy.unscoped.none(),
        required=False,
        empty_label=gettext_lazy("By rule"),
    )

    def __init__(self, *args: Any, collectors: QuerySet[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["collector"].queryset = collectors
        self.fields["policy"].queryset = DunningPolicy.objects.filter(is_active=True).order_by(
            "priority", "id"
        )


class CallForm(forms.Form):
    summary = forms.CharField(label=gettext_lazy("What was said"), max_length=500)
    outcome = forms.CharField(
        label=gettext_lazy("Outcome"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class PromiseForm(forms.Form):
    amount = forms.DecimalField(
        label=gettext_lazy("Amount"),
        min_value=Decimal("0.01"),
        max_digits=18,
        decimal_places=2,
        widget=MONEY_INPUT,
    )
    currency = forms.ChoiceField(label=gettext_lazy("Currency"))
    promised_date = forms.DateField(label=gettext_lazy("Promised date"), widget=DATE)
    invoices = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Invoices"),
        queryset=Invoice.unscoped.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Leave all unticked for every open invoice in the currency."),
    )
    note = forms.CharField(label=gettext_lazy("Note"), required=False, max_length=500)

    def __init__(self, *args: Any, customer: Customer, today: datetime.date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        self.fields["invoices"].queryset = open_invoices(customer)
        self.fields["invoices"].label_from_instance = _invoice_label
        self.fields["currency"].choices = [(c, c) for c in sorted(currency_codes())]
        if not self.is_bound:
            invoices = list(self.fields["invoices"].queryset)
            overdue: dict[str, Decimal] = {}
            for invoice in invoices:
                if invoice.due_date < today:
                    overdue[invoice.currency] = (
                        overdue.get(invoice.currency, Decimal(0)) + invoice.outstanding
                    )
            currency = max(overdue, key=lambda c: overdue[c]) if overdue else customer.currency
            self.initial.setdefault("currency", currency)
            if currency in overdue:
                self.initial.setdefault("amount", overdue[currency])
            self.initial.setdefault("promised_date", today + datetime.timedelta(days=7))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        amount, currency = data.get("amount"), data.get("currency")
        if amount is not None and currency and quantize(amount, currency) != amount:
            self.add_error("amount", _("Too many decimal places for %(currency)s.") % {"currency": currency})
        promised = data.get("promised_date")
        if promised and promised < self.today:
            self.add_error("promised_date", _("A promise is for today or later."))
        if currency and any(i.currency != currency for i in data.get("invoices") or []):
            self.add_error("invoices", _("Pick invoices in the promised currency."))
        return data

    def chosen_invoices(self) -> list[Invoice]:
        """The ticked invoices, else every open invoice in the promise's currency."""
        chosen = list(self.cleaned_data.get("invoices") or [])
        if chosen:
            return chosen
        return [i for i in self.fields["invoices"].queryset if i.currency == self.cleaned_data["currency"]]


class DisputeForm(forms.Form):
    invoice = forms.ModelChoiceField(label=gettext_lazy("Invoice"), queryset=Invoice.unscoped.none())
    reason = forms.ChoiceField(label=gettext_lazy("Reason"), choices=Dispute.Reason.choices)
    amount = forms.DecimalField(
        label=gettext_lazy("Disputed amount"),
        required=False,
        min_value=Decimal("0.01"),
        max_digits=18,
        decimal_places=2,
        widget=MONEY_INPUT,
        help_text=gettext_lazy("Empty for the whole invoice."),
    )
    description = forms.CharField(
        label=gettext_lazy("Description"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["invoice"].queryset = open_invoices(customer)
        self.fields["invoice"].label_from_instance = _invoice_label

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        invoice, amount = data.get("invoice"), data.get("amount")
        if invoice is not None and amount is not None and amount > invoice.total:
            self.add_error("amount", _("More than the invoice's total."))
        return data


class SnoozeForm(forms.Form):
    until = forms.DateField(
        label=gettext_lazy("Snooze until"),
        required=False,
        widget=DATE,
        help_text=gettext_lazy("At most %(days)s days ahead; empty to wake the customer now.")
        % {"days": MAX_SNOOZE_DAYS},
    )


class ResolveForm(forms.Form):
    credit_amount = forms.DecimalField(
        label=gettext_lazy("Credit note amount"),
        min_value=Decimal("0.01"),
        max_digits=18,
        decimal_places=2,
        widget=MONEY_INPUT,
    )
    credit_note_number = forms.CharField(
        label=gettext_lazy("Credit note number"),
        required=False,
        max_length=50,
        help_text=gettext_lazy("Empty for a number given by Kehu."),
    )
    resolution = forms.CharField(
        label=gettext_lazy("Resolution"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class RejectForm(forms.Form):
    resolution = forms.CharField(
        label=gettext_lazy("Why it is rejected"), max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )
