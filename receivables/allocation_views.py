"""Apply a customer's unallocated credit (a credit note) or unapplied cash (a payment) to one of
its open invoices, through the same allocation service as `POST /api/v1/allocations/`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from crm.models import Customer
from crm.selectors import customer_for
from finance.bulk import error_detail
from finance.web import ActorRequiredMixin
from receivables import services
from receivables.models import CreditNote, Invoice, Payment


def _sources(customer: Customer) -> list[tuple[str, str]]:
    notes = CreditNote.objects.filter(
        customer=customer, voided_on__isnull=True, total__gt=F("allocated_total")
    )
    payments = Payment.objects.filter(customer=customer, amount__gt=F("allocated_total"))
    choices = [
        (
            f"credit_note:{n.pk}",
            _("Credit note %(number)s: %(left)s %(currency)s unallocated")
            % {"number": n.number, "left": n.unallocated, "currency": n.currency},
        )
        for n in notes.order_by("issue_date", "id")
    ]
    choices += [
        (
            f"payment:{p.pk}",
            _("Payment %(reference)s of %(date)s: %(left)s %(currency)s unapplied")
            % {
                "reference": p,
                "date": p.received_on.isoformat(),
                "left": p.unapplied,
                "currency": p.currency,
            },
        )
        for p in payments.order_by("received_on", "id")
    ]
    return choices


class ApplyCreditForm(forms.Form):
    source = forms.ChoiceField(label=gettext_lazy("Credit or cash to apply"))
    invoice = forms.ModelChoiceField(label=gettext_lazy("Invoice"), queryset=Invoice.unscoped.none())
    amount = forms.DecimalField(
        label=gettext_lazy("Amount"), max_digits=18, decimal_places=2, min_value=Decimal("0.01")
    )
    allocated_on = forms.DateField(label=gettext_lazy("Date"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, customer: Customer, today: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = _sources(customer)
        self.fields["invoice"].queryset = Invoice.objects.filter(
            customer=customer, voided_on__isnull=True, total__gt=F("allocated_total") + F("written_off_total")
        ).order_by("due_date", "id")
        self.fields["invoice"].label_from_instance = lambda i: f"{i.number} · {i.outstanding} {i.currency}"
        self.initial.setdefault("allocated_on", today)


class ApplyCreditView(ActorRequiredMixin, View):
    required_action = "payment.post"

    def form(self, customer: Customer, data: Any = None) -> ApplyCreditForm:
        return ApplyCreditForm(data, customer=customer, today=self.actor.organization.local_today())

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = customer_for(self.actor, pk)
        return render(
            request, "receivables/apply_credit.html", {"customer": customer, "form": self.form(customer)}
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = customer_for(self.actor, pk)
        form = self.form(customer, request.POST)
        if form.is_valid():
            kind, _sep, source_id = form.cleaned_data["source"].partition(":")
            model = CreditNote if kind == "credit_note" else Payment
            source = model.objects.get(pk=int(source_id), customer=customer)
            try:
                services.allocation_create(
                    actor=self.actor,
                    invoice=form.cleaned_data["invoice"],
                    amount=form.cleaned_data["amount"],
                    allocated_on=form.cleaned_data["allocated_on"],
                    **{kind: source},
                )
            except ValidationError as exc:
                for field, errors in error_detail(exc).items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, _("Applied."))
                return redirect("customer-detail", pk=customer.pk)
        return render(
            request, "receivables/apply_credit.html", {"customer": customer, "form": form}, status=400
        )
