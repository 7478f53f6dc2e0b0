"""Browser pages of credit, under /credit/ (namespace `credit`): the dashboard, the approval inbox,
the limit-request form, financial statements, holds, reviews and the policy settings.

Views parse input with a form and call one service; a service's ValidationError comes back as
field errors with status 400 and nothing written (every service is atomic). Every object named
by id is fetched through a helper that scopes it to the actor's visible customers, so another
organization's id, or a rep asking for another rep's customer, is a 404. An action the role may
not take is a 403.
"""

from __future__ import annotations

import abc
import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from credit import charts, holds, limits, selectors, services
from credit.forms import (
    ApproveForm,
    HoldForm,
    LimitRequestForm,
    PolicyForm,
    RejectForm,
    ReleaseForm,
    ReviewForm,
    StatementForm,
    add_service_errors,
)
from credit.models import CreditHold, CreditReview, CreditStatus, FinancialStatement, LimitRequest
from credit.panels import credit_summary
from credit.ratios import statement_ratios
from crm.models import Customer
from crm.selectors import customer_for, customers_visible_to
from finance import sensitive
from finance.actors import Actor
from finance.web import ActorRequiredMixin
from receivables.views import safe_next

DECIDED_PAGE_SIZE = 25
PENDING_SHOWN = 100


# --- Fetching by id: visible customers only, 404 otherwise -------------------------------------------


def limit_request_for(actor: Actor, pk: int) -> LimitRequest:
    request = selectors.limit_requests_visible_to(actor).filter(pk=pk).first()
    if request is None:
        raise Http404
    return request


def hold_for(actor: Actor, pk: int) -> CreditHold:
    hold = (
        CreditHold.objects.filter(customer__in=customers_visible_to(actor), pk=pk)
        .select_related("customer")
        .first()
    )
    if hold is None or not actor.can("credit.view"):
        raise Http404
    return hold


def review_for(actor: Actor, pk: int) -> CreditReview:
    review = (
        CreditReview.objects.filter(customer__in=customers_visible_to(actor), pk=pk)
        .select_related("customer", "completed_by")
        .first()
    )
    if review is None or not actor.can("credit.view"):
        raise Http404
    return review


def statement_for(actor: Actor, customer: Customer, pk: int) -> FinancialStatement:
    statement = selectors.statements_visible_to(actor).filter(customer=customer, pk=pk).first()
    if statement is None:
        raise Http404
    return statement


def _require(actor: Actor, action: str) -> None:
    if not actor.can(action):
        raise PermissionDenied


# --- Dashboard ---------------------------------------------------------------------------------------


STATUS_LEVELS = {
    CreditStatus.OK: "ok",
    CreditStatus.WATCH: "warn",
    CreditStatus.HOLD: "danger",
    CreditStatus.BLOCKED: "danger",
}


class DashboardView(ActorRequiredMixin, View):
    """`/credit/`: active holds, reviews due, pending requests, the customers using the most of
    their limits, and how customers spread over risk classes and statuses."""

    required_action = "credit.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        actor = self.actor
        today = actor.organization.local_today()
        dashboard = selectors.credit_dashboard(actor=actor, today=today)
        for row in dashboard.top_utilisation:
            row["level"] = charts.utilisation_level(row["utilisation"])
        statuses = [
            {"value": value, "label": label, "count": dashboard.status_counts.get(value, 0)}
            for value, label in CreditStatus.choices
        ]
        return render(
            request,
            "credit/dashboard.html",
            {
                "dashboard": dashboard,
                "statuses": statuses,
                "chart": charts.risk_class_chart(dashboard.class_counts),
                "scored": sum(n for c, n in dashboard.class_counts.items() if c),
                "currency": actor.organization.base_currency,
                "today": today,
                "utilisation": selectors.utilisation(dashboard.total_exposure, dashboard.total_limit),
                "can_manage": actor.can("credit.manage"),
                "can_policy": actor.can("credit.policy"),
                "release_form": ReleaseForm(),
            },
        )


# --- Approval inbox ----------------------------------------------------------------------------------


def render_inbox(
    request: HttpRequest,
    actor: Actor,
    *,
    status: int = 200,
    failed: LimitRequest | None = None,
    reject_form: RejectForm | None = None,
) -> HttpResponse:
    """The pending requests (oldest first) with what the actor may do on each, and the decided
    ones below (latest first, paginated). A constant number of queries for any number of rows."""
    today = actor.organization.local_today()
    visible = selectors.limit_requests_visible_to(actor).select_related("payment_terms", "requested_by_key")
    pending = list(
        visible.filter(status=LimitRequest.Status.PENDING).order_by("requested_at", "id")[:PENDING_SHOWN]
    )
    policy = selectors.credit_policy()
    exposures = selectors.exposures([item.customer_id for item in pending], today)
    can_approve = actor.can("credit.approve")
    for item in pending:
        item.refusal = limits.may_approve(actor, item, policy=policy) if can_approve else None
        item.exposure = exposures.get(item.customer_id, selectors.Exposure()).total
        item.mine = item.requested_by_id is not None and item.requested_by_id == actor.user_id
        item.reject_form = reject_form if failed is not None and failed.pk == item.pk else RejectForm()
    decided = Paginator(
        visible.exclude(status=LimitRequest.Status.PENDING).order_by("-decided_at", "-id"), DECIDED_PAGE_SIZE
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "credit/approvals.html",
        {
            "pending": pending,
            "pending_more": len(pending) == PENDING_SHOWN,
            "decided": decided,
            "page": decided,
            "currency": actor.organization.base_currency,
            "can_approve": can_approve,
            "can_policy": actor.can("credit.policy"),
        },
        status=status,
    )


class ApprovalsView(ActorRequiredMixin, View):
    """`/credit/approvals/`: the maker-checker inbox of limit requests."""

    required_action = "credit.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        return render_inbox(request, self.actor)


class DecisionView(ActorRequiredMixin, View, metaclass=abc.ABCMeta):
    """POST only: approve, reject or withdraw one pending request, then back to the inbox. A refusal
    (the requester approving their own request, an amount above the manager's ceiling) answers
    403 with the inbox and the reason; a request decided meanwhile answers 400."""

    required_action = "credit.approve"
    decision = ""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        item = limit_request_for(self.actor, pk)
        form = RejectForm(request.POST) if self.decision == "reject" else ApproveForm(request.POST)
        if not form.is_valid():
            return render_inbox(request, self.actor, status=400, failed=item, reject_form=form)
        try:
            notice = self.perform(item, form.cleaned_data)
        except PermissionDenied as exc:
            messages.error(request, str(exc) or _("You do not have permission to do that."))
            return render_inbox(request, self.actor, status=403)
        except ValidationError as exc:
            if self.decision == "reject":
                add_service_errors(form, exc)
                for error in form.non_field_errors():
                    messages.error(request, error)
                return render_inbox(request, self.actor, status=400, failed=item, reject_form=form)
            for error in exc.messages:
                messages.error(request, error)
            return render_inbox(request, self.actor, status=400)
        messages.success(request, notice)
        return redirect(safe_next(request, reverse("credit:approvals")))

    @abc.abstractmethod
    def perform(self, item: LimitRequest, data: dict[str, Any]) -> str:
        """Take the decision; the message to show. Raises PermissionDenied or ValidationError."""


class ApproveView(DecisionView):
    decision = "approve"

    def perform(self, item: LimitRequest, data: dict[str, Any]) -> str:
        approved = limits.limit_request_approve(actor=self.actor, request=item, note=data.get("note", ""))
        return _("Approved: %(customer)s now has a limit of %(amount)s %(currency)s.") % {
            "customer": approved.customer.name,
            "amount": f"{approved.requested_limit:,.2f}",
            "currency": self.actor.organization.base_currency,
        }


class RejectView(DecisionView):
    decision = "reject"

    def perform(self, item: LimitRequest, data: dict[str, Any]) -> str:
        limits.limit_request_reject(actor=self.actor, request=item, note=data["note"])
        return _("Rejected the request for %(customer)s.") % {"customer": item.customer.name}


class CancelView(DecisionView):
    """The requester withdraws their own pending request (approvers may too)."""

    required_action = "credit.request"
    decision = "cancel"

    def perform(self, item: LimitRequest, data: dict[str, Any]) -> str:
        limits.limit_request_cancel(actor=self.actor, request=item)
        return _("Withdrew the request for %(customer)s.") % {"customer": item.customer.name}


# --- Limit request -----------------------------------------------------------------------------------


class LimitRequestView(ActorRequiredMixin, View):
    """`/credit/customers/<id>/limit-request/`: ask for a new (or temporary) limit, with the figures
    that justify it on the page: limit, exposure, score and the suggested limit with its reasons."""

    required_action = "credit.request"

    def _render(self, customer: Customer, form: LimitRequestForm, status: int = 200) -> HttpResponse:
        pending = LimitRequest.objects.filter(customer=customer, status=LimitRequest.Status.PENDING).first()
        return render(
            self.request,
            "credit/limit_request.html",
            {"customer": customer, "form": form, "pending": pending, **credit_summary(customer)},
            status=status,
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = customer_for(self.actor, pk)
        summary = credit_summary(customer)
        profile = summary["profile"]
        initial = {}
        if profile is not None and profile.suggested_limit is not None:
            initial["requested_limit"] = profile.suggested_limit
        return self._render(customer, LimitRequestForm(initial=initial))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = customer_for(self.actor, pk)
        form = LimitRequestForm(request.POST)
        if not form.is_valid():
            return self._render(customer, form, status=400)
        data = form.cleaned_data
        try:
            created = limits.limit_request_create(
                actor=self.actor,
                customer=customer,
                requested_limit=data["requested_limit"],
                reason=data["reason"],
                temporary=data["temporary"],
                expires_on=data["expires_on"],
                payment_terms=data["payment_terms"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self._render(customer, form, status=400)
        amount = f"{created.requested_limit:,.2f} {self.actor.organization.base_currency}"
        if created.status == LimitRequest.Status.APPROVED:
            messages.success(
                request,
                _("The limit is lowered to %(amount)s: a decrease needs no second approval.")
                % {"amount": amount},
            )
        else:
            messages.success(
                request, _("A limit of %(amount)s is requested: it now awaits approval.") % {"amount": amount}
            )
        return redirect(safe_next(request, reverse("customer-detail", args=[customer.pk])))


# --- Financial statements ----------------------------------------------------------------------------


def _statement_defaults(customer: Customer, today: datetime.date) -> dict[str, Any]:
    year = today.year - 1
    return {"fiscal_year": year, "period_end": datetime.date(year, 12, 31), "currency": customer.currency}


class StatementsView(ActorRequiredMixin, View):
    """`/credit/customers/<id>/statements/` and `.../<statement id>/`: the customer's years with
    their ratios and Altman Z″; a form to add a year, or to correct the one named in the URL."""

    required_action = "credit.view"

    def _render(
        self,
        customer: Customer,
        form: StatementForm | None,
        editing: FinancialStatement | None = None,
        status: int = 200,
    ) -> HttpResponse:
        statements = list(
            selectors.statements_visible_to(self.actor).filter(customer=customer).order_by("-fiscal_year")
        )
        rows = [{"statement": statement, "ratios": statement_ratios(statement)} for statement in statements]
        return render(
            self.request,
            "credit/statements.html",
            {
                "customer": customer,
                "rows": rows,
                "form": form,
                "editing": editing,
                "can_enter": self.actor.can("credit.statement"),
            },
            status=status,
        )

    def _statement(self, customer: Customer, statement_pk: int | None) -> FinancialStatement | None:
        if statement_pk is None:
            return None
        _require(self.actor, "credit.statement")
        return statement_for(self.actor, customer, statement_pk)

    def get(self, request: HttpRequest, pk: int, statement_pk: int | None = None) -> HttpResponse:
        customer = customer_for(self.actor, pk)
        editing = self._statement(customer, statement_pk)
        form = None
        if editing is not None:
            form = StatementForm(initial=StatementForm.initial_for(editing))
            # The correction form shows the figures unmasked: an audited sensitive view.
            sensitive.record_views(self.actor, [(editing, sensitive.shown_fields(editing), customer.pk)])
        elif self.actor.can("credit.statement"):
            form = StatementForm(initial=_statement_defaults(customer, self.actor.organization.local_today()))
        return self._render(customer, form, editing)

    def post(self, request: HttpRequest, pk: int, statement_pk: int | None = None) -> HttpResponse:
        _require(self.actor, "credit.statement")
        customer = customer_for(self.actor, pk)
        editing = self._statement(customer, statement_pk)
        form = StatementForm(request.POST)
        if not form.is_valid():
            return self._render(customer, form, editing, status=400)
        try:
            if editing is None:
                saved = services.statement_create(actor=self.actor, customer=customer, **form.figures())
            else:
                saved = services.statement_update(actor=self.actor, statement=editing, **form.figures())
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self._render(customer, form, editing, status=400)
        messages.success(request, _("Statement %(year)s saved.") % {"year": saved.fiscal_year})
        return redirect("credit:statements", pk=customer.pk)


class StatementDeleteView(ActorRequiredMixin, View):
    required_action = "credit.statement"

    def post(self, request: HttpRequest, pk: int, statement_pk: int) -> HttpResponse:
        customer = customer_for(self.actor, pk)
        statement = statement_for(self.actor, customer, statement_pk)
        services.statement_delete(actor=self.actor, statement=statement)
        messages.success(request, _("Statement %(year)s deleted.") % {"year": statement.fiscal_year})
        return redirect("credit:statements", pk=customer.pk)


# --- Holds -------------------------------------------------------------------------------------------


def render_action(
    request: HttpRequest,
    *,
    customer: Customer,
    form: Any,
    title: str,
    submit_label: str,
    action: str,
    description: str = "",
    danger: bool = False,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "credit/action.html",
        {
            "customer": customer,
            "form": form,
            "title": title,
            "submit_label": submit_label,
            "action": action,
            "description": description,
            "danger": danger,
            "next": safe_next(request, ""),
        },
        status=status,
    )


class HoldPlaceView(ActorRequiredMixin, View):
    """`/credit/customers/<id>/hold/`: put a customer on hold by hand, with the reason."""

    required_action = "credit.manage"

    def _render(self, customer: Customer, form: HoldForm, status: int = 200) -> HttpResponse:
        return render_action(
            self.request,
            customer=customer,
            form=form,
            title=_("Put on credit hold"),
            submit_label=_("Put on hold"),
            action=reverse("credit:hold-place", args=[customer.pk]),
            description=_("New orders need a finance decision until someone releases the hold."),
            danger=True,
            status=status,
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._render(customer_for(self.actor, pk), HoldForm())

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = customer_for(self.actor, pk)
        form = HoldForm(request.POST)
        if form.is_valid():
            try:
                holds.hold_place(actor=self.actor, customer=customer, detail=form.cleaned_data["detail"])
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("%(customer)s is on credit hold.") % {"customer": customer.name})
                return redirect(safe_next(request, reverse("customer-detail", args=[customer.pk])))
        return self._render(customer, form, status=400)


class HoldReleaseView(ActorRequiredMixin, View):
    """`/credit/holds/<id>/release/`: release a hold by override, with the reason. An automatic
    hold then stays off for the policy's override days."""

    required_action = "credit.manage"

    def _render(self, hold: CreditHold, form: ReleaseForm, status: int = 200) -> HttpResponse:
        description = _("%(reason)s, placed on %(date)s.") % {
            "reason": hold.get_reason_display(),
            "date": hold.placed_at.date().isoformat(),
        }
        if hold.detail:
            description = f"{description} {hold.detail}"
        return render_action(
            self.request,
            customer=hold.customer,
            form=form,
            title=_("Release the credit hold"),
            submit_label=_("Release hold"),
            action=reverse("credit:hold-release", args=[hold.pk]),
            description=description,
            status=status,
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._render(hold_for(self.actor, pk), ReleaseForm())

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        hold = hold_for(self.actor, pk)
        form = ReleaseForm(request.POST)
        if form.is_valid():
            try:
                holds.hold_release(actor=self.actor, hold=hold, note=form.cleaned_data["note"])
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request, _("The hold on %(customer)s is released.") % {"customer": hold.customer.name}
                )
                return redirect(safe_next(request, reverse("customer-detail", args=[hold.customer_id])))
        return self._render(hold, form, status=400)


# --- Reviews -----------------------------------------------------------------------------------------


class ReviewView(ActorRequiredMixin, View):
    """`/credit/reviews/<id>/`: a periodic review with the customer's figures; managers record the
    decision (keep, request a new limit, hold, block) and the next review is scheduled."""

    required_action = "credit.view"

    def _render(self, review: CreditReview, form: ReviewForm | None, status: int = 200) -> HttpResponse:
        return render(
            self.request,
            "credit/review.html",
            {"review": review, "customer": review.customer, "form": form, **credit_summary(review.customer)},
            status=status,
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        review = review_for(self.actor, pk)
        can_complete = self.actor.can("credit.manage") and review.completed_on is None
        return self._render(review, ReviewForm() if can_complete else None)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        _require(self.actor, "credit.manage")
        review = review_for(self.actor, pk)
        form = ReviewForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.review_complete(
                    actor=self.actor,
                    review=review,
                    decision=data["decision"],
                    notes=data["notes"],
                    requested_limit=data["requested_limit"],
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request, _("Review of %(customer)s completed.") % {"customer": review.customer.name}
                )
                return redirect(safe_next(request, reverse("credit:dashboard")))
        return self._render(review, form, status=400)


# --- Settings ----------------------------------------------------------------------------------------


class SettingsView(ActorRequiredMixin, View):
    """`/credit/settings/`: the credit policy and the scorecard's weights and bands (owners, admins)."""

    required_action = "credit.policy"

    def _render(self, form: PolicyForm, status: int = 200) -> HttpResponse:
        return render(self.request, "credit/settings.html", {"form": form}, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        policy = selectors.credit_policy()
        initial = PolicyForm.initial_for(
            policy,
            selectors.policy_scorecard(policy),
            selectors.policy_class_floors(policy),
            selectors.policy_review_months(policy),
        )
        return self._render(PolicyForm(initial=initial))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = PolicyForm(request.POST)
        if not form.is_valid():
            return self._render(form, status=400)
        try:
            services.policy_update(actor=self.actor, **form.policy_fields())
        except ValidationError as exc:
            form.add_service_errors(exc)
            return self._render(form, status=400)
        messages.success(request, _("Credit policy saved. Tonight's scoring uses it."))
        return redirect("credit:settings")
