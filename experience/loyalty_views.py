"""Browser pages of the loyalty program, under /experience/loyalty/ (namespace `experience`): the
home page, a customer's points statement with the redeem and adjust forms, and the settings
(program rules and tiers).

Views parse input with a form and call one service; a service's ValidationError comes back as
field errors with status 400 and nothing written. Customers are fetched through
`crm.selectors.customer_for` (another organization's id, or another rep's customer, is a 404); an
action the role may not take is a 403.
"""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from crm.models import Customer
from crm.selectors import customer_for
from experience import loyalty
from experience import loyalty_selectors as selectors
from experience.loyalty_forms import (
    AdjustForm,
    PeriodForm,
    ProgramForm,
    RedeemForm,
    TierForm,
    add_service_errors,
)
from experience.models import LoyaltyTier
from finance.actors import Actor
from finance.web import ActorRequiredMixin
from receivables.models import Invoice


def _require(actor: Actor, action: str) -> None:
    if not actor.can(action):
        raise PermissionDenied


def open_invoices(customer: Customer, currency: str) -> QuerySet[Invoice]:
    """Invoices a redemption may be applied to: the customer's open ones in base currency."""
    return Invoice.objects.filter(
        customer=customer,
        currency=currency,
        voided_on__isnull=True,
        total__gt=F("allocated_total") + F("written_off_total"),
    ).order_by("due_date", "pk")


def tier_for(pk: int) -> LoyaltyTier:
    tier = LoyaltyTier.objects.filter(pk=pk).first()
    if tier is None:
        raise Http404
    return tier


class HomeView(ActorRequiredMixin, View):
    """`/experience/loyalty/`: members by tier, points issued / redeemed / expired per month, and
    the members with the most points (a rep sees their own customers)."""

    required_action = "experience.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        actor = self.actor
        today = actor.organization.local_today()
        home = selectors.loyalty_home(actor=actor, today=today)
        peak = max([1, *(max(m["issued"], m["redeemed"], m["expired"]) for m in home.months)])
        for month in home.months:
            for key in ("issued", "redeemed", "expired"):
                month[f"{key}_pct"] = round(100 * month[key] / peak)
        return render(
            request,
            "experience/loyalty/home.html",
            {
                "home": home,
                "program": selectors.program_for(),
                "can_manage": actor.can("loyalty.manage"),
                "currency": actor.organization.base_currency,
            },
        )


class StatementView(ActorRequiredMixin, View):
    """`/experience/loyalty/customers/<id>/`: the customer's points statement for a period (this
    year by default), with the redeem and adjust forms for the roles allowed."""

    required_action = "experience.view"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self.page(customer_for(self.actor, pk))

    def page(
        self,
        customer: Customer,
        *,
        redeem_form: RedeemForm | None = None,
        adjust_form: AdjustForm | None = None,
        status: int = 200,
    ) -> HttpResponse:
        actor = self.actor
        today = actor.organization.local_today()
        base = actor.organization.base_currency
        period = PeriodForm(self.request.GET or None)
        date_from, date_to = datetime.date(today.year, 1, 1), today
        if period.is_bound and period.is_valid():
            date_from = period.cleaned_data["date_from"] or date_from
            date_to = period.cleaned_data["date_to"] or date_to
        statement = selectors.points_statement(
            customer=customer, date_from=date_from, date_to=date_to, today=today
        )
        program = selectors.program_for()
        return render(
            self.request,
            "experience/loyalty/statement.html",
            {
                "customer": customer,
                "statement": statement,
                "period": period
                if period.is_bound
                else PeriodForm(initial={"date_from": date_from, "date_to": date_to}),
                "program": program,
                "currency": base,
                "can_redeem": actor.can("loyalty.redeem"),
                "can_adjust": actor.can("loyalty.adjust"),
                "redeem_form": redeem_form or RedeemForm(invoices=open_invoices(customer, base)),
                "adjust_form": adjust_form or AdjustForm(),
            },
            status=status,
        )


class RedeemView(StatementView):
    """POST `/experience/loyalty/customers/<id>/redeem/`: points into a discount credit note."""

    required_action = "loyalty.redeem"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = customer_for(self.actor, pk)  # another organization's id is a 404
        return redirect("experience:loyalty-statement", pk=customer.pk)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = customer_for(self.actor, pk)
        form = RedeemForm(
            request.POST, invoices=open_invoices(customer, self.actor.organization.base_currency)
        )
        if not form.is_valid():
            return self.page(customer, redeem_form=form, status=400)
        try:
            entry = loyalty.points_redeem(actor=self.actor, customer=customer, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self.page(customer, redeem_form=form, status=400)
        messages.success(
            request,
            _("%(points)s points redeemed: credit note of %(amount)s %(currency)s.")
            % {
                "points": -entry.points,
                "amount": entry.amount,
                "currency": self.actor.organization.base_currency,
            },
        )
        return redirect("experience:loyalty-statement", pk=customer.pk)


class AdjustView(StatementView):
    """POST `/experience/loyalty/customers/<id>/adjust/`: add or remove points by hand, with a reason."""

    required_action = "loyalty.adjust"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = customer_for(self.actor, pk)  # another organization's id is a 404
        return redirect("experience:loyalty-statement", pk=customer.pk)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = customer_for(self.actor, pk)
        form = AdjustForm(request.POST)
        if not form.is_valid():
            return self.page(customer, adjust_form=form, status=400)
        try:
            loyalty.points_adjust(actor=self.actor, customer=customer, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self.page(customer, adjust_form=form, status=400)
        messages.success(request, _("Points adjusted."))
        return redirect("experience:loyalty-statement", pk=customer.pk)


class SettingsView(ActorRequiredMixin, View):
    """`/experience/loyalty/settings/`: the program's rules and its tiers."""

    required_action = "loyalty.manage"

    def _render(self, program_form: ProgramForm, tier_form: TierForm, status: int = 200) -> HttpResponse:
        return render(
            self.request,
            "experience/loyalty/settings.html",
            {
                "program_form": program_form,
                "tier_form": tier_form,
                "tiers": selectors.tiers_for(),
                "using_defaults": not LoyaltyTier.objects.exists(),
                "currency": self.actor.organization.base_currency,
            },
            status=status,
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(ProgramForm(instance=selectors.program_for()), TierForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        which = request.POST.get("form")
        program_form = ProgramForm(instance=selectors.program_for())
        tier_form = TierForm()
        try:
            if which == "program":
                program_form = ProgramForm(request.POST, instance=selectors.program_for())
                if not program_form.is_valid():
                    return self._render(program_form, tier_form, status=400)
                loyalty.program_update(actor=self.actor, **program_form.cleaned_data)
                messages.success(request, _("Loyalty program saved."))
            elif which == "tier":
                tier_form = TierForm(request.POST)
                if not tier_form.is_valid():
                    return self._render(program_form, tier_form, status=400)
                loyalty.tier_create(actor=self.actor, **tier_form.cleaned_data)
                messages.success(request, _("Tier added."))
            elif which == "defaults":
                loyalty.tiers_adopt_defaults(actor=self.actor)
                messages.success(request, _("The default tiers are now yours to edit."))
            else:
                return self._render(program_form, tier_form, status=400)
        except ValidationError as exc:
            add_service_errors(program_form if which == "program" else tier_form, exc)
            return self._render(program_form, tier_form, status=400)
        return redirect("experience:loyalty-settings")


class TierEditView(ActorRequiredMixin, View):
    """`/experience/loyalty/tiers/<id>/`: change a tier."""

    required_action = "loyalty.manage"

    def _render(self, tier: LoyaltyTier, form: TierForm, status: int = 200) -> HttpResponse:
        return render(
            self.request, "experience/loyalty/tier.html", {"tier": tier, "form": form}, status=status
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        tier = tier_for(pk)
        return self._render(tier, TierForm(instance=tier))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        tier = tier_for(pk)
        form = TierForm(request.POST, instance=LoyaltyTier.objects.get(pk=tier.pk))
        if not form.is_valid():
            return self._render(tier, form, status=400)
        try:
            loyalty.tier_update(actor=self.actor, tier=tier, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self._render(tier, form, status=400)
        messages.success(request, _("Tier saved."))
        return redirect("experience:loyalty-settings")


class TierDeleteView(ActorRequiredMixin, View):
    """POST `/experience/loyalty/tiers/<id>/delete/`."""

    required_action = "loyalty.manage"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        loyalty.tier_delete(actor=self.actor, tier=tier_for(pk))
        messages.success(request, _("Tier deleted."))
        return redirect(reverse("experience:loyalty-settings"))
