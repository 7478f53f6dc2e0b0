"""Browser pages of collections: the collector's worklist with its row actions (htmx inline
forms), bulk assignment of collectors, the promises board and the disputes board.

Each row action answers an htmx request with a fragment (the form, or the refreshed row) and a
plain request with a page or a redirect, so every action also works without JavaScript. Form
errors answer 400 with the form and its errors. Another organization's id, or a customer the
actor may not see, is a 404.
"""

from __future__ import annotations

import datetime
import logging
from abc import ABC, abstractmethod
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from crm.models import Customer, InteractionKind
from crm.selectors import customer_for, customers_visible_to
from crm.services import interaction_log
from finance.bulk import error_detail
from finance.selectors import members
from finance.web import ActorRequiredMixin
from receivables import disputes, promises, worklist
from receivables.collection_forms import (
    MINE,
    AssignForm,
    CallForm,
    DisputeForm,
    ProfileForm,
    PromiseForm,
    RejectForm,
    ResolveForm,
    SnoozeForm,
    WorklistFilterForm,
)
from receivables.models import CollectionProfile, Dispute, PromiseToPay
from receivables.statements import statement_email, statement_recipient
from receivables.views import safe_next

logger = logging.getLogger(__name__)

STATEMENT_DAYS = 90
PAGE_SIZE = 50
CLOSED_DISPUTES_SHOWN = 20


def _add_errors(form: forms.Form, exc: ValidationError) -> None:
    for name, errors in error_detail(exc).items():
        form.add_error(name if name in form.fields else None, errors)


def row_permissions(actor: Any) -> dict[str, bool]:
    """What the actor may do from a worklist row (the buttons shown)."""
    return {
        "can_assign": actor.can("collections.assign"),
        "can_work": actor.can("collections.work"),
        "can_log": actor.can("interaction.log"),
        "can_promise": actor.can("promise.record"),
        "can_dispute": actor.can("dispute.open"),
    }


# --- The worklist ---------------------------------------------------------------------------------


WORKLIST_PAGE_SIZE = 50


class WorklistView(ActorRequiredMixin, View):
    """`/receivables/collections/`: customers with something overdue, highest value at risk first.

    A collector who cannot assign sees their own customers by default; the rest see everyone's."""

    required_action = "collections.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        actor = self.actor
        today = actor.organization.local_today()
        collectors = list(members())
        default = (
            MINE if actor.can("collections.work") and not actor.can("collections.assign") else worklist.ALL
        )
        form = WorklistFilterForm(request.GET or None, collectors=collectors, default=default)
        if form.is_bound and not form.is_valid():
            form = WorklistFilterForm(collectors=collectors, default=default)
        choice, collector = form.selection(actor.user)
        hide_snoozed = bool(form.is_bound and form.cleaned_data.get("hide_snoozed"))
        rows = worklist.worklist(
            actor=actor, today=today, collector=collector, include_snoozed=not hide_snoozed
        )
        page = Paginator(rows, WORKLIST_PAGE_SIZE).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        context: dict[str, Any] = {
            "form": form,
            "rows": page.object_list,
            "page": page,
            "row_count": len(rows),
            "today": today,
            "base_currency": actor.organization.base_currency,
            "choice": choice,
            "collectors": collectors,
            "total_at_risk": sum((row.value_at_risk for row in rows), worklist.ZERO),
            "snoozed_count": sum(1 for row in rows if row.is_snoozed),
            "query": query.urlencode(),
            **row_permissions(actor),
        }
        if request.htmx and request.htmx.target == "worklist-rows":  # type: ignore[attr-defined]
            return render(request, "receivables/collections/partials/worklist_rows.html", context)
        return render(request, "receivables/collections/worklist.html", context)


class AssignView(ActorRequiredMixin, View):
    """Bulk: the selected worklist customers get a collector."""

    required_action = "collections.assign"

    def post(self, request: HttpRequest) -> HttpResponse:
        form = AssignForm(request.POST, customers=customers_visible_to(self.actor), collectors=members())
        target = safe_next(request, reverse("receivables:worklist"))
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
            return redirect(target)
        collector = form.cleaned_data["collector"]
        try:
            worklist.collector_assign(
                actor=self.actor, customers=list(form.cleaned_data["customers"]), collector=collector
            )
        except ValidationError as exc:
            for error in exc.messages:
                messages.error(request, error)
            return redirect(target)
        count = len(form.cleaned_data["customers"])
        if collector is None:
            messages.success(request, _("Collector removed from %(count)s customers.") % {"count": count})
        else:
            messages.success(
                request,
                _("%(collector)s now collects %(count)s customers.")
                % {"collector": collector, "count": count},
            )
        return redirect(target)


class RowActionView(ActorRequiredMixin, View, ABC):
    """A worklist row's action on one customer: GET the form, POST it.

    htmx: the form fragment, then the refreshed row; plain requests: a page, then a redirect."""

    title: Any = ""
    submit_label: Any = ""
    url_name: str = ""

    @abstractmethod
    def make_form(self, customer: Customer, data: Any = None) -> forms.Form: ...

    @abstractmethod
    def perform(self, customer: Customer, form: Any) -> str:
        """Do the action; the message to show. Raises ValidationError on refused input."""

    def describe(self, customer: Customer) -> str:
        return ""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = customer_for(self.actor, pk)
        return self.form_response(customer, self.make_form(customer))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = customer_for(self.actor, pk)
        form = self.make_form(customer, request.POST)
        if form.is_valid():
            try:
                notice = self.perform(customer, form)
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                if request.htmx:  # type: ignore[attr-defined]
                    return row_response(request, self.actor, customer, notice)
                messages.success(request, notice)
                return redirect(safe_next(request, reverse("receivables:worklist")))
        return self.form_response(customer, form, status=400)

    def form_response(self, customer: Customer, form: forms.Form, status: int = 200) -> HttpResponse:
        context = {
            "customer": customer,
            "form": form,
            "title": self.title,
            "description": self.describe(customer),
            "submit_label": self.submit_label,
            "action": reverse(f"receivables:{self.url_name}", args=[customer.pk]),
            "next": safe_next(self.request, ""),
            "kind": self.url_name.removeprefix("worklist-"),
        }
        if self.request.htmx:  # type: ignore[attr-defined]
            return render(
                self.request, "receivables/collections/partials/row_form.html", context, status=status
            )
        return render(self.request, "receivables/collections/action.html", context, status=status)

    @property
    def today(self) -> datetime.date:
        return self.actor.organization.local_today()


def row_response(request: HttpRequest, actor: Any, customer: Customer, notice: str) -> HttpResponse:
    """The customer's refreshed worklist row (or a line saying it left the list), with a notice."""
    today = actor.organization.local_today()
    rows = worklist.worklist(actor=actor, today=today, collector=worklist.ALL, customer_ids=[customer.pk])
    context = {"row": rows[0] if rows else None, "customer": customer, "notice": notice, "today": today}
    context.update(row_permissions(actor))
    response = render(request, "receivables/collections/partials/worklist_row.html", context)
    # The form asked to replace itself; on success the whole row is replaced instead.
    response["HX-Retarget"] = f"#wl-{customer.pk}"
    response["HX-Reswap"] = "outerHTML"
    return response


class CallView(RowActionView):
    required_action = "interaction.log"
    url_name = "worklist-call"
    title = gettext_lazy("Log a call")
    submit_label = gettext_lazy("Log call")

    def make_form(self, customer: Customer, data: Any = None) -> forms.Form:
        return CallForm(data)

    def perform(self, customer: Customer, form: Any) -> str:
        interaction_log(
            actor=self.actor,
            customer=customer,
            kind=InteractionKind.CALL,
            summary=form.cleaned_data["summary"],
            outcome=form.cleaned_data["outcome"],
        )
        return _("Call logged.")


class PromiseView(RowActionView):
    required_action = "promise.record"
    url_name = "worklist-promise"
    title = gettext_lazy("Record a promise to pay")
    submit_label = gettext_lazy("Record promise")

    def make_form(self, customer: Customer, data: Any = None) -> forms.Form:
        return PromiseForm(data, customer=customer, today=self.today)

    def perform(self, customer: Customer, form: Any) -> str:
        data = form.cleaned_data
        promise = promises.promise_record(
            actor=self.actor,
            customer=customer,
            amount=data["amount"],
            currency=data["currency"],
            promised_date=data["promised_date"],
            invoices=form.chosen_invoices(),
            note=data["note"],
        )
        return _("Promise of %(amount)s %(currency)s by %(date)s recorded.") % {
            "amount": f"{promise.amount:,.2f}",
            "currency": promise.currency,
            "date": promise.promised_date.isoformat(),
        }


class DisputeOpenView(RowActionView):
    required_action = "dispute.open"
    url_name = "worklist-dispute"
    title = gettext_lazy("Open a dispute")
    submit_label = gettext_lazy("Open dispute")

    def make_form(self, customer: Customer, data: Any = None) -> forms.Form:
        return DisputeForm(data, customer=customer)

    def perform(self, customer: Customer, form: Any) -> str:
        data = form.cleaned_data
        dispute = disputes.dispute_open(
            actor=self.actor,
            invoice=data["invoice"],
            reason=data["reason"],
            amount=data["amount"],
            description=data["description"],
        )
        return _("Dispute opened on %(invoice)s.") % {"invoice": dispute.invoice.number}


class StatementView(RowActionView):
    """Email the statement of the last 90 days now."""

    required_action = "collections.work"
    url_name = "worklist-statement"
    title = gettext_lazy("Send a statement")
    submit_label = gettext_lazy("Send statement")

    def describe(self, customer: Customer) -> str:
        email = statement_recipient(customer)
        if not email:
            return _("This customer has no email address: add a billing contact first.")
        return _("Email the statement of the last %(days)s days to %(email)s now.") % {
            "days": STATEMENT_DAYS,
            "email": email,
        }

    def make_form(self, customer: Customer, data: Any = None) -> forms.Form:
        return forms.Form(data)

    def perform(self, customer: Customer, form: Any) -> str:
        date_to = self.today
        date_from = date_to - datetime.timedelta(days=STATEMENT_DAYS - 1)
        try:
            sent = statement_email(actor=self.actor, customer=customer, date_from=date_from, date_to=date_to)
        except ValidationError:
            raise
        except Exception as exc:  # the mail server's errors of every kind: shown, not a 500
            logger.exception("statement email to customer %s failed", customer.pk)
            raise ValidationError(_("The statement could not be sent; try again later.")) from exc
        if not sent:
            raise ValidationError(_("This customer has no email address: add a billing contact first."))
        return _("Statement emailed.")


class SnoozeView(RowActionView):
    required_action = "collections.work"
    url_name = "worklist-snooze"
    title = gettext_lazy("Snooze")
    submit_label = gettext_lazy("Save")

    def make_form(self, customer: Customer, data: Any = None) -> forms.Form:
        profile = CollectionProfile.objects.filter(customer=customer).first()
        initial = {"until": profile.snoozed_until if profile and profile.snoozed_until else None}
        if initial["until"] is None:
            initial["until"] = self.today + datetime.timedelta(days=7)
        return SnoozeForm(data, initial=initial)

    def perform(self, customer: Customer, form: Any) -> str:
        until = form.cleaned_data["until"]
        worklist.customer_snooze(actor=self.actor, customer=customer, until=until)
        if until is None:
            return _("Snooze cleared.")
        return _("Snoozed until %(date)s.") % {"date": until.isoformat()}


class ProfileView(RowActionView):
    """A customer's collector and dunning policy (from the customer page's panel)."""

    required_action = "collections.assign"
    url_name = "collection-profile"
    title = gettext_lazy("Collector and dunning policy")
    submit_label = gettext_lazy("Save")

    def make_form(self, customer: Customer, data: Any = None) -> forms.Form:
        profile = CollectionProfile.objects.filter(customer=customer).first()
        initial = {"collector": profile.collector_id, "policy": profile.policy_id} if profile else {}
        return ProfileForm(data, initial=initial, collectors=members())

    def perform(self, customer: Customer, form: Any) -> str:
        worklist.collector_assign(
            actor=self.actor, customers=[customer], collector=form.cleaned_data["collector"]
        )
        worklist.collection_policy_set(
            actor=self.actor, customer=customer, policy=form.cleaned_data["policy"]
        )
        return _("Saved.")


# --- Promises board -------------------------------------------------------------------------------

PROMISE_TABS = [
    PromiseToPay.Status.OPEN,
    PromiseToPay.Status.KEPT,
    PromiseToPay.Status.BROKEN,
    PromiseToPay.Status.CANCELLED,
]


class PromiseBoardView(ActorRequiredMixin, View):
    """`/receivables/promises/`: promises by status (tabs), newest due first for closed ones."""

    required_action = "collections.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        visible = promises.promises_visible_to(self.actor)
        status = request.GET.get("status") or PromiseToPay.Status.OPEN
        if status not in PROMISE_TABS:
            status = PromiseToPay.Status.OPEN
        counts = dict(visible.order_by().values("status").annotate(n=Count("id")).values_list("status", "n"))
        ordering = (
            ["promised_date", "id"] if status == PromiseToPay.Status.OPEN else ["-promised_date", "-id"]
        )
        rows = (
            visible.filter(status=status)
            .select_related("customer", "created_by")
            .prefetch_related("invoices")
            .order_by(*ordering)
        )
        page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
        tabs = [(value, PromiseToPay.Status(value).label, counts.get(value, 0)) for value in PROMISE_TABS]
        return render(
            request,
            "receivables/collections/promises.html",
            {
                "page": page,
                "status": status,
                "tabs": tabs,
                "today": self.actor.organization.local_today(),
                "can_cancel": self.actor.can("promise.record"),
                "query": f"status={status}",
            },
        )


def _promise_for(actor: Any, pk: int) -> PromiseToPay:
    promise = promises.promises_visible_to(actor).select_related("customer").filter(pk=pk).first()
    if promise is None:
        raise Http404
    return promise


class PromiseCancelView(ActorRequiredMixin, View):
    required_action = "promise.record"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        promise = _promise_for(self.actor, pk)
        try:
            promises.promise_cancel(actor=self.actor, promise=promise)
        except ValidationError as exc:
            for error in exc.messages:
                messages.error(request, error)
        else:
            messages.success(request, _("Promise cancelled."))
        return redirect(safe_next(request, reverse("receivables:promises")))


# --- Disputes board -------------------------------------------------------------------------------


def _dispute_for(actor: Any, pk: int) -> Dispute:
    dispute = (
        disputes.disputes_visible_to(actor)
        .select_related("invoice", "customer", "owner")
        .filter(pk=pk)
        .first()
    )
    if dispute is None:
        raise Http404
    return dispute


def _board_disputes(visible: QuerySet[Dispute], status: str, limit: int | None) -> list[Dispute]:
    rows = visible.filter(status=status).select_related("invoice", "customer", "owner", "credit_note")
    rows = rows.order_by("opened_on", "id") if limit is None else rows.order_by("-resolved_on", "-id")
    return list(rows[:limit] if limit else rows[:500])


class DisputeBoardView(ActorRequiredMixin, View):
    """`/receivables/disputes/`: a column per status; the latest closed ones only."""

    required_action = "collections.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        visible = disputes.disputes_visible_to(self.actor)
        counts = dict(visible.order_by().values("status").annotate(n=Count("id")).values_list("status", "n"))
        columns = []
        for status in Dispute.Status:
            closed = status not in Dispute.ACTIVE
            columns.append(
                {
                    "status": status.value,
                    "label": status.label,
                    "count": counts.get(status.value, 0),
                    "disputes": _board_disputes(
                        visible, status.value, CLOSED_DISPUTES_SHOWN if closed else None
                    ),
                    "closed": closed,
                }
            )
        return render(
            request,
            "receivables/collections/disputes.html",
            {
                "columns": columns,
                "can_resolve": self.actor.can("dispute.resolve"),
            },
        )


class DisputeActionView(ActorRequiredMixin, View, ABC):
    """Move a dispute along: to review, resolved with a credit note, or rejected."""

    required_action = "dispute.resolve"
    form_class: type[forms.Form] = forms.Form
    url_name = ""

    @abstractmethod
    def title(self, dispute: Dispute) -> str: ...

    @abstractmethod
    def perform(self, dispute: Dispute, form: Any) -> str: ...

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        dispute = _dispute_for(self.actor, pk)
        return self.form_response(dispute, self.form_class())

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        dispute = _dispute_for(self.actor, pk)
        form = self.form_class(request.POST)
        if form.is_valid():
            try:
                notice = self.perform(dispute, form)
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, notice)
                return redirect(safe_next(request, reverse("receivables:disputes")))
        return self.form_response(dispute, form, status=400)

    def form_response(self, dispute: Dispute, form: forms.Form, status: int = 200) -> HttpResponse:
        context = {
            "customer": dispute.customer,
            "form": form,
            "title": self.title(dispute),
            "description": str(dispute),
            "submit_label": self.title(dispute),
            "action": reverse(f"receivables:{self.url_name}", args=[dispute.pk]),
            "next": safe_next(self.request, ""),
            "kind": self.url_name,
        }
        return render(self.request, "receivables/collections/action.html", context, status=status)


class DisputeReviewView(DisputeActionView):
    url_name = "dispute-review"

    def title(self, dispute: Dispute) -> str:
        return _("Move to review")

    def perform(self, dispute: Dispute, form: Any) -> str:
        disputes.dispute_update(actor=self.actor, dispute=dispute, status=Dispute.Status.IN_REVIEW)
        return _("Dispute on %(invoice)s is in review.") % {"invoice": dispute.invoice.number}


class DisputeResolveView(DisputeActionView):
    url_name = "dispute-resolve"
    form_class = ResolveForm

    def title(self, dispute: Dispute) -> str:
        return _("Resolve with a credit note")

    def perform(self, dispute: Dispute, form: Any) -> str:
        data = form.cleaned_data
        disputes.dispute_resolve(
            actor=self.actor,
            dispute=dispute,
            credit_amount=data["credit_amount"],
            credit_note_number=data["credit_note_number"] or None,
            resolution=data["resolution"],
        )
        return _("Dispute on %(invoice)s resolved.") % {"invoice": dispute.invoice.number}


class DisputeRejectView(DisputeActionView):
    url_name = "dispute-reject"
    form_class = RejectForm

    def title(self, dispute: Dispute) -> str:
        return _("Reject")

    def perform(self, dispute: Dispute, form: Any) -> str:
        disputes.dispute_reject(actor=self.actor, dispute=dispute, resolution=form.cleaned_data["resolution"])
        return _("Dispute on %(invoice)s rejected.") % {"invoice": dispute.invoice.number}
