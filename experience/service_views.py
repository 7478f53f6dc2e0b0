"""Browser pages of the service part, under /experience/service/: the queue with SLA badges, a
request with its conversation and actions, the new-request form, the quality report and the
settings (calendar and SLA policies).

Views parse input with a form and call one service; a service's ValidationError comes back as
field errors with status 400 and nothing written. A request named by id is fetched through
`service_request_for`, so another organization's id, or a rep asking for another rep's
customer's request, is a 404. An action the role may not take is a 403.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views import View

from crm.selectors import customers_visible_to
from experience import service, service_selectors
from experience.models import ServiceRequest
from experience.models.service import Priority
from experience.service_forms import (
    CalendarForm,
    NoteForm,
    PolicyForm,
    ServiceRequestForm,
    ServiceRequestUpdateForm,
    add_service_errors,
)
from finance.web import ActorRequiredMixin

PAGE_SIZE = 50
BADGE_LEVELS = {"ok": "level-ok", "due_soon": "level-warn", "breached": "level-danger"}


def attainment_chart(rows: list[dict[str, Any]]) -> SafeString:
    """Horizontal bars of first-response and resolution SLA attainment per row, as SVG."""
    shown = [row for row in rows if row["opened"] or row["resolved"]]
    if not shown:
        return mark_safe("")
    label_w, bar_w, row_h = 150, 300, 34
    height = row_h * len(shown) + 30
    parts = [
        f'<svg class="chart service-attainment" viewBox="0 0 {label_w + bar_w + 60} {height}" role="img" '
        f'aria-label="{escape(_("SLA attainment"))}">'
    ]
    for index, row in enumerate(shown):
        y = index * row_h + 4
        parts.append(f'<text class="label small" x="0" y="{y + 16}">{escape(str(row["label"])[:22])}</text>')
        for offset, key, css in (
            (0, "first_response_attainment", "#4c78a8"),
            (14, "resolution_attainment", "#72b37e"),
        ):
            value = row[key]
            width = 0 if value is None else float(value) * bar_w / 100
            parts.append(
                f'<rect x="{label_w}" y="{y + offset}" width="{width:.1f}" height="12" fill="{css}"></rect>'
            )
            text = "—" if value is None else f"{value} %"
            x = label_w + width + 4
            parts.append(f'<text class="tiny" x="{x:.1f}" y="{y + offset + 10}">{escape(text)}</text>')
    legend_y = height - 8
    parts.append(f'<rect x="0" y="{legend_y - 9}" width="10" height="10" fill="#4c78a8"></rect>')
    parts.append(f'<text class="tiny" x="14" y="{legend_y}">{escape(_("First response"))}</text>')
    parts.append(f'<rect x="130" y="{legend_y - 9}" width="10" height="10" fill="#72b37e"></rect>')
    parts.append(f'<text class="tiny" x="144" y="{legend_y}">{escape(_("Resolution"))}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def _int(value: str | None) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if 0 < number < 2**63 else None


class ServiceHomeView(ActorRequiredMixin, View):
    """`/experience/service/`: the queue of open requests, most urgent deadline first, with SLA
    badges; filters by status, priority, category, SLA state and "mine"."""

    required_action = "experience.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        actor = self.actor
        status = request.GET.get("status", "")
        if status not in ServiceRequest.Status.values and status != "all":
            status = ""
        priority = request.GET.get("priority", "")
        priority = priority if priority in Priority.values else ""
        category = request.GET.get("category", "")
        category = category if category in ServiceRequest.Category.values else ""
        mine = request.GET.get("mine") == "1"
        breached = request.GET.get("breached") == "1"
        requests = service_selectors.service_request_list(
            actor=actor,
            status=status if status != "all" else "",
            priority=priority,
            category=category,
            assignee_id=actor.user_id if mine else None,
            customer_id=_int(request.GET.get("customer")),
            breached=True if breached else None,
            open_only=not status,
        ).order_by("resolution_due", "id")
        page = Paginator(requests, PAGE_SIZE).get_page(request.GET.get("page"))
        service_selectors.with_sla_badges(list(page.object_list))
        for item in page.object_list:
            item.badge_level = BADGE_LEVELS.get(item.sla_badge, "")
        query = request.GET.copy()
        query.pop("page", None)
        return render(
            request,
            "experience/service/home.html",
            {
                "page": page,
                "query": query.urlencode(),
                "filters": {
                    "status": status,
                    "priority": priority,
                    "category": category,
                    "mine": mine,
                    "breached": breached,
                },
                "statuses": ServiceRequest.Status.choices,
                "priorities": Priority.choices,
                "categories": ServiceRequest.Category.choices,
                "can_work": actor.can("service.work"),
                "can_policy": actor.can("service.policy"),
            },
        )


class ServiceNewView(ActorRequiredMixin, View):
    """`/experience/service/new/`: open a request for a customer the actor sees."""

    required_action = "service.work"

    def _form(self, data: Any = None) -> ServiceRequestForm:
        initial = {}
        customer = _int(self.request.GET.get("customer"))
        if customer:
            initial["customer"] = customer
        return ServiceRequestForm(data, customers=customers_visible_to(self.actor), initial=initial)

    def _render(self, form: ServiceRequestForm, status: int = 200) -> HttpResponse:
        return render(self.request, "experience/service/new.html", {"form": form}, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(self._form())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = self._form(request.POST)
        if form.is_valid():
            try:
                created = service.service_request_create(actor=self.actor, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request, _("Service request %(number)s opened.") % {"number": created.number}
                )
                return redirect("experience:service-detail", pk=created.pk)
        return self._render(form, status=400)


class ServiceDetailView(ActorRequiredMixin, View):
    """`/experience/service/<id>/`: the request, its deadlines and SLA state, the conversation,
    a reply form and the actions (change, resolve, close, reopen)."""

    required_action = "experience.view"

    def _render(
        self,
        service_request: ServiceRequest,
        note_form: NoteForm | None = None,
        update_form: ServiceRequestUpdateForm | None = None,
        status: int = 200,
    ) -> HttpResponse:
        service_selectors.with_sla_badges([service_request])
        service_request.badge_level = BADGE_LEVELS.get(service_request.sla_badge, "")
        update_form = update_form or ServiceRequestUpdateForm(
            initial={
                "status": service_request.status,
                "priority": service_request.priority,
                "category": service_request.category,
                "assignee": service_request.assignee_id,
            }
        )
        return render(
            self.request,
            "experience/service/detail.html",
            {
                "item": service_request,
                "notes": list(service_request.notes.select_related("author")),
                "note_form": note_form or NoteForm(),
                "update_form": update_form,
                "can_work": self.actor.can("service.work"),
                "is_open": service_request.status in ServiceRequest.OPEN_STATUSES,
                "can_policy": self.actor.can("service.policy"),
            },
            status=status,
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._render(service_selectors.service_request_for(self.actor, pk))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        """One of: `action=note` (reply), `action=update`, `action=resolve|close|reopen`."""
        if not self.actor.can("service.work"):
            raise PermissionDenied
        service_request = service_selectors.service_request_for(self.actor, pk)
        action = request.POST.get("action", "")
        here = reverse("experience:service-detail", args=[service_request.pk])
        if action == "note":
            form = NoteForm(request.POST)
            if form.is_valid():
                try:
                    service.service_note_add(actor=self.actor, request=service_request, **form.cleaned_data)
                except ValidationError as exc:
                    add_service_errors(form, exc)
                else:
                    messages.success(request, _("Message added."))
                    return redirect(f"{here}#conversation")
            return self._render(service_request, note_form=form, status=400)
        if action == "update":
            form = ServiceRequestUpdateForm(request.POST)
            if form.is_valid():
                try:
                    service.service_request_update(
                        actor=self.actor, request=service_request, **form.cleaned_data
                    )
                except ValidationError as exc:
                    add_service_errors(form, exc)
                else:
                    messages.success(request, _("Service request saved."))
                    return redirect(here)
            return self._render(service_request, update_form=form, status=400)
        actions = {
            "resolve": service.service_request_resolve,
            "close": service.service_request_close,
            "reopen": service.service_request_reopen,
        }
        if action not in actions:
            return self._render(service_request, status=400)
        try:
            actions[action](actor=self.actor, request=service_request)
        except ValidationError as exc:
            for error in exc.messages:
                messages.error(request, error)
            return self._render(service_request, status=400)
        messages.success(request, _("Service request saved."))
        return redirect(here)


class ServiceQualityView(ActorRequiredMixin, View):
    """`/experience/service/quality/`: quality figures per month, agent or category."""

    required_action = "experience.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        group_by = request.GET.get("group_by", "month")
        group_by = group_by if group_by in service_selectors.GROUPS else "month"
        months = _int(request.GET.get("months")) or 6
        months = min(months, 36)
        rows = service_selectors.service_quality(actor=self.actor, months=months, group_by=group_by)
        return render(
            request,
            "experience/service/quality.html",
            {
                "rows": rows,
                "group_by": group_by,
                "months": months,
                "chart": attainment_chart(rows),
                "can_policy": self.actor.can("service.policy"),
                "groups": [
                    ("month", _("Month")),
                    ("agent", _("Agent")),
                    ("category", _("Category")),
                ],
            },
        )


class ServiceSettingsView(ActorRequiredMixin, View):
    """`/experience/service/settings/`: the business calendar and the SLA targets per priority."""

    required_action = "service.policy"

    def _render(
        self, calendar_form: CalendarForm, policy_form: PolicyForm, status: int = 200
    ) -> HttpResponse:
        return render(
            self.request,
            "experience/service/settings.html",
            {"calendar_form": calendar_form, "policy_form": policy_form},
            status=status,
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        calendar = service_selectors.business_calendar()
        calendar_form = CalendarForm(
            initial={
                "working_days": [str(day) for day in calendar.working_days],
                "opens_at": calendar.opens_at.strftime("%H:%M"),
                "closes_at": calendar.closes_at.strftime("%H:%M"),
                "holidays": "\n".join(calendar.holidays or []),
            }
        )
        initial = {}
        for priority, policy in service_selectors.sla_policies().items():
            for name in PolicyForm.FIELDS:
                initial[f"{priority}_{name}"] = getattr(policy, name)
        return self._render(calendar_form, PolicyForm(initial=initial))

    def post(self, request: HttpRequest) -> HttpResponse:
        calendar_form = CalendarForm(request.POST)
        policy_form = PolicyForm(request.POST)
        if calendar_form.is_valid() and policy_form.is_valid():
            try:
                with transaction.atomic():
                    service.business_calendar_update(
                        actor=self.actor,
                        working_days=calendar_form.cleaned_data["working_days"],
                        opens_at=calendar_form.cleaned_data["opens_at"],
                        closes_at=calendar_form.cleaned_data["closes_at"],
                        holidays=calendar_form.holiday_list(),
                    )
                    failed = False
                    for priority, values in policy_form.policies().items():
                        try:
                            service.sla_policy_update(actor=self.actor, priority=priority, **values)
                        except ValidationError as exc:
                            failed = True
                            for name, errors in exc.message_dict.items():
                                field = f"{priority}_{name}"
                                policy_form.add_error(field if field in policy_form.fields else None, errors)
                    if failed:
                        raise ValidationError({})
            except ValidationError as exc:
                if getattr(exc, "error_dict", None):
                    add_service_errors(calendar_form, exc)
            else:
                messages.success(request, _("Service settings saved. New requests use them."))
                return redirect("experience:service-settings")
        return self._render(calendar_form, policy_form, status=400)
