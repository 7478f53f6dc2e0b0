"""Browser pages of surveys and feedback, under /experience/surveys/ (namespace `experience`):
results, a survey's page and form, sending to a segment, the answers, the feedback board, a
feedback item with its improvement actions, and the customer-page panel.

Views parse input with a form and call one service or selector; a service's ValidationError comes
back as field errors with status 400 and nothing written. Objects named by id are fetched through
the `*_visible_to` selectors, so another organization's id, or a rep asking for another rep's
customer, is a 404; an action the role may not take is a 403.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views import View

from crm.models import Customer, Interaction
from crm.selectors import customer_for
from experience import feedback as feedback_services
from experience import surveys
from experience import surveys_selectors as selectors
from experience.models import FeedbackItem, ImprovementAction, Survey
from experience.surveys_forms import (
    ActionForm,
    ActionUpdateForm,
    FeedbackFilterForm,
    FeedbackForm,
    FeedbackStatusForm,
    ResponseFilterForm,
    SegmentForm,
    SurveyForm,
    add_service_errors,
)
from finance.actors import Actor
from finance.web import ActorRequiredMixin

PAGE_SIZE = 50
BOARD_SIZE = 50
TREND_MONTHS = 12


def _require(actor: Actor, action: str) -> None:
    if not actor.can(action):
        raise PermissionDenied


def survey_for(actor: Actor, pk: int) -> Survey:
    survey = selectors.surveys_visible_to(actor).filter(pk=pk).first()
    if survey is None:
        raise Http404
    return survey


def feedback_for(actor: Actor, pk: int) -> FeedbackItem:
    item = (
        selectors.feedback_visible_to(actor)
        .select_related("customer", "response", "created_by")
        .filter(pk=pk)
        .first()
    )
    if item is None:
        raise Http404
    return item


def action_for(actor: Actor, pk: int) -> ImprovementAction:
    action = selectors.actions_visible_to(actor).select_related("feedback__customer").filter(pk=pk).first()
    if action is None:
        raise Http404
    return action


# --- The trend chart ----------------------------------------


def trend_chart(months: list[selectors.Scores], *, title: str, width: int = 640, height: int = 180) -> str:
    """A small server-rendered SVG of the monthly NPS (−100..100; CSAT % when no NPS answers)."""
    from django.utils.html import format_html, format_html_join, mark_safe

    use_nps = any(m.nps is not None for m in months)
    points = [(m.label, m.nps if use_nps else m.csat) for m in months]
    points = [(label, value) for label, value in points if value is not None]
    pad, low, high = 28, (-100 if use_nps else 0), 100
    if not points:
        return ""

    def y(value: float) -> float:
        return round(pad / 2 + (high - value) * (height - pad * 1.5) / (high - low), 1)

    step = (width - 2 * pad) / max(len(points) - 1, 1)
    coords = [(round(pad + i * step, 1), y(value), label, value) for i, (label, value) in enumerate(points)]
    line = " ".join(f"{x},{yy}" for x, yy, _label, _value in coords)
    zero = y(0 if use_nps else 50)
    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="3"><title>{}: {}</title></circle>'
        '<text x="{}" y="{}" text-anchor="middle" font-size="10">{}</text>',
        ((x, yy, label, value, x, height - 2, label[2:]) for x, yy, label, value in coords),
    )
    return format_html(
        '<svg class="chart survey-trend" viewBox="0 0 {w} {h}" role="img" aria-label="{t}">'
        "<title>{t}</title>"
        '<line x1="{p}" x2="{r}" y1="{z}" y2="{z}" stroke="#cbd5e1" stroke-dasharray="4 3"/>'
        '<polyline points="{line}" fill="none" stroke="#2563eb" stroke-width="2"/>'
        '<g fill="#2563eb">{dots}</g></svg>',
        w=width,
        h=height,
        t=title,
        p=pad,
        r=width - pad,
        z=zero,
        line=line,
        dots=mark_safe(dots),  # noqa: S308 - built by format_html_join above
    )


def _results_context(actor: Actor, survey: Survey | None = None) -> dict[str, Any]:
    today = actor.organization.local_today()
    since = selectors.last_months(TREND_MONTHS, today)[0]
    results = selectors.survey_results(actor=actor, survey=survey)
    recent = [m for m in results.months if m.key >= since]
    return {
        "results": results,
        "trend": trend_chart(recent, title=_("Score by month")),
        "recent_months": recent,
        "breakdowns": [
            (_("By customer group"), results.by_group),
            (_("By ABC class"), results.by_abc),
            (_("By owner rep"), results.by_owner),
        ],
    }


# --- Surveys ----------------------------------------


class SurveysHomeView(ActorRequiredMixin, View):
    """`/experience/surveys/`: NPS, CSAT, response rate, the trend and breakdowns, and the surveys."""

    required_action = "experience.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        actor = self.actor
        return render(
            request,
            "experience/surveys/home.html",
            {
                **_results_context(actor),
                "surveys": list(selectors.surveys_visible_to(actor)),
                "can_manage": actor.can("survey.manage"),
                "can_send": actor.can("survey.send"),
            },
        )


class SurveyFormView(ActorRequiredMixin, View):
    """`/experience/surveys/new/` and `/experience/surveys/<id>/edit/`."""

    required_action = "survey.manage"

    def get(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        survey = survey_for(self.actor, pk) if pk else None
        return self._render(request, SurveyForm(survey=survey), survey)

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        survey = survey_for(self.actor, pk) if pk else None
        form = SurveyForm(request.POST, survey=survey)
        if form.is_valid():
            try:
                if survey is None:
                    survey = surveys.survey_create(actor=self.actor, **form.service_values())
                else:
                    survey = surveys.survey_update(actor=self.actor, survey=survey, **form.service_values())
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Survey saved."))
                return redirect("experience:survey-detail", pk=survey.pk)
        return self._render(request, form, survey, status=400)

    def _render(
        self, request: HttpRequest, form: SurveyForm, survey: Survey | None, status: int = 200
    ) -> HttpResponse:
        return render(
            request, "experience/surveys/form.html", {"form": form, "survey": survey}, status=status
        )


class SurveyDetailView(ActorRequiredMixin, View):
    """`/experience/surveys/<id>/`: the survey's settings, its results and latest answers."""

    required_action = "experience.view"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        actor = self.actor
        survey = survey_for(actor, pk)
        organization = actor.organization
        questions = [
            {"language": name, "text": surveys.question_for(survey, code, organization)}
            for code, name in surveys.Language.choices
        ]
        return render(
            request,
            "experience/surveys/detail.html",
            {
                **_results_context(actor, survey),
                "survey": survey,
                "questions": questions,
                "custom_questions": list(survey.questions.all()),
                "responses": list(
                    selectors.responses_visible_to(actor)
                    .filter(survey=survey)
                    .select_related("customer")[:20]
                ),
                "can_manage": actor.can("survey.manage"),
                "can_send": actor.can("survey.send"),
            },
        )


class SurveySendView(ActorRequiredMixin, View):
    """`/experience/surveys/<id>/send/`: invite one contact of every customer in a segment."""

    required_action = "survey.send"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        survey = survey_for(self.actor, pk)
        return self._render(request, survey, SegmentForm())

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        survey = survey_for(self.actor, pk)
        form = SegmentForm(request.POST)
        if form.is_valid():
            try:
                result = surveys.survey_send_to_segment(actor=self.actor, survey=survey, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    _(
                        "%(sent)s invitations sent; %(quiet)s skipped (asked recently), "
                        "%(none)s without an email."
                    )
                    % {
                        "sent": len(result.created),
                        "quiet": result.skipped_quiet + result.skipped_duplicate,
                        "none": result.skipped_no_email,
                    },
                )
                return redirect("experience:survey-detail", pk=survey.pk)
        return self._render(request, survey, form, status=400)

    def _render(
        self, request: HttpRequest, survey: Survey, form: SegmentForm, status: int = 200
    ) -> HttpResponse:
        return render(
            request, "experience/surveys/send.html", {"survey": survey, "form": form}, status=status
        )


class ResponsesView(ActorRequiredMixin, View):
    """`/experience/surveys/responses/`: the answers, latest first, filtered and paginated."""

    required_action = "experience.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        form = ResponseFilterForm(request.GET or None)
        responses = selectors.responses_visible_to(self.actor).select_related("customer", "survey", "contact")
        if form.is_valid():
            data = form.cleaned_data
            if data["survey"]:
                responses = responses.filter(survey=data["survey"])
            if data["category"]:
                responses = responses.filter(category=data["category"])
            if data["since"]:
                responses = responses.filter(responded_at__date__gte=data["since"])
            if data["until"]:
                responses = responses.filter(responded_at__date__lte=data["until"])
        page = Paginator(responses.order_by("-responded_at", "-id"), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        return render(request, "experience/surveys/responses.html", {"form": form, "page": page})


# --- Feedback ----------------------------------------


class FeedbackBoardView(ActorRequiredMixin, View):
    """`/experience/surveys/feedback/`: feedback in columns by status, filtered by category and sentiment."""

    required_action = "experience.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        form = FeedbackFilterForm(request.GET or None)
        items = selectors.feedback_visible_to(self.actor).select_related("customer")
        if form.is_valid():
            for name in ("category", "sentiment"):
                if form.cleaned_data[name]:
                    items = items.filter(**{name: form.cleaned_data[name]})
        columns = []
        for status, label in FeedbackItem.Status.choices:
            columns.append(
                {"status": status, "label": label, "items": list(items.filter(status=status)[:BOARD_SIZE])}
            )
        return render(
            request,
            "experience/surveys/feedback_board.html",
            {"form": form, "columns": columns, "can_change": self.actor.can("feedback.change")},
        )


class FeedbackCreateView(ActorRequiredMixin, View):
    """`/experience/surveys/feedback/new/?customer=<id>[&interaction=<id>]`: record feedback by hand."""

    required_action = "feedback.change"

    def _context(self, request: HttpRequest) -> tuple[Customer, Interaction | None]:
        customer = customer_for(self.actor, request.GET.get("customer") or request.POST.get("customer") or 0)
        interaction = None
        interaction_id = request.GET.get("interaction") or request.POST.get("interaction")
        if interaction_id:
            interaction = Interaction.objects.filter(
                customer=customer, pk=int(interaction_id) if interaction_id.isdigit() else 0
            ).first()
            if interaction is None:
                raise Http404
        return customer, interaction

    def get(self, request: HttpRequest) -> HttpResponse:
        customer, interaction = self._context(request)
        initial = {"summary": interaction.summary[:300]} if interaction else {}
        return self._render(request, FeedbackForm(initial=initial), customer, interaction)

    def post(self, request: HttpRequest) -> HttpResponse:
        customer, interaction = self._context(request)
        form = FeedbackForm(request.POST)
        if form.is_valid():
            try:
                item = feedback_services.feedback_create(
                    actor=self.actor, customer=customer, interaction=interaction, **form.cleaned_data
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Feedback recorded."))
                return redirect("experience:survey-feedback-detail", pk=item.pk)
        return self._render(request, form, customer, interaction, status=400)

    def _render(
        self,
        request: HttpRequest,
        form: FeedbackForm,
        customer: Customer,
        interaction: Interaction | None,
        status: int = 200,
    ) -> HttpResponse:
        return render(
            request,
            "experience/surveys/feedback_form.html",
            {"form": form, "customer": customer, "interaction": interaction},
            status=status,
        )


class FeedbackDetailView(ActorRequiredMixin, View):
    """`/experience/surveys/feedback/<id>/`: an item, its status and its improvement actions. POST
    with `status` moves it; POST with `title` plans an action."""

    required_action = "experience.view"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        item = feedback_for(self.actor, pk)
        return self._render(request, item, FeedbackStatusForm(initial={"status": item.status}), ActionForm())

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        _require(self.actor, "feedback.change")
        item = feedback_for(self.actor, pk)
        status_form = FeedbackStatusForm(initial={"status": item.status})
        action_form = ActionForm()
        if "title" in request.POST:
            action_form = ActionForm(request.POST)
            form: Any = action_form
        else:
            status_form = FeedbackStatusForm(request.POST)
            form = status_form
        if form.is_valid():
            try:
                if form is action_form:
                    feedback_services.action_create(actor=self.actor, feedback=item, **form.cleaned_data)
                else:
                    feedback_services.feedback_update(actor=self.actor, feedback=item, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Saved."))
                return redirect("experience:survey-feedback-detail", pk=item.pk)
        return self._render(request, item, status_form, action_form, status=400)

    def _render(
        self, request: HttpRequest, item: FeedbackItem, status_form: Any, action_form: Any, status: int = 200
    ) -> HttpResponse:
        actions = list(item.actions.select_related("owner"))
        for action in actions:
            action.form = ActionUpdateForm(initial={"status": action.status, "outcome": action.outcome})
        return render(
            request,
            "experience/surveys/feedback_detail.html",
            {
                "item": item,
                "actions": actions,
                "status_form": status_form,
                "action_form": action_form,
                "can_change": self.actor.can("feedback.change"),
            },
            status=status,
        )


class ActionUpdateView(ActorRequiredMixin, View):
    """POST `/experience/surveys/actions/<id>/`: mark an improvement action done (with the outcome)
    or cancelled, then back to its feedback item."""

    required_action = "feedback.change"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        action = action_for(self.actor, pk)
        form = ActionUpdateForm(request.POST)
        if form.is_valid():
            try:
                feedback_services.action_update(actor=self.actor, action=action, **form.cleaned_data)
            except ValidationError as exc:
                for errors in exc.message_dict.values():
                    for error in errors:
                        messages.error(request, error)
            else:
                messages.success(request, _("Saved."))
        else:
            messages.error(request, _("Choose a status."))
        return redirect("experience:survey-feedback-detail", pk=action.feedback_id)


# --- The customer panel ----------------------------------------


def satisfaction_panel(request: HttpRequest, customer: Customer) -> dict[str, Any]:
    actor = getattr(request, "actor", None)
    return {
        **selectors.customer_satisfaction(customer),
        "can_change": actor is not None and actor.can("feedback.change"),
    }
