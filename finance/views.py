"""Browser pages of the platform: organization switcher, API keys, audit log, module placeholders."""

from __future__ import annotations

import csv
import datetime
import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.decorators.http import require_POST

from finance import audit, selectors, services, tenancy
from finance.forms import ApiKeyForm, ApiKeyRotateForm, AuditFilterForm
from finance.middleware import SESSION_ORG_KEY
from finance.models import ApiKey, AuditEvent
from finance.web import ActorRequiredMixin


@require_POST
@login_required
def switch_organization(request: HttpRequest) -> HttpResponse:
    """Make another of the user's organizations current (only one they are a member of)."""
    try:
        org_id = int(request.POST.get("organization", ""))
    except ValueError:
        raise Http404 from None
    if not any(m.organization_id == org_id for m in selectors.memberships_of(request.user)):
        raise Http404
    request.session[SESSION_ORG_KEY] = org_id
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/"
    return redirect(next_url or "/")


class ApiKeysView(ActorRequiredMixin, View):
    required_action = "apikey.manage"

    def get(self, request: HttpRequest, form: ApiKeyForm | None = None, new_key: str = "") -> HttpResponse:
        return _api_keys_page(request, form=form, new_key=new_key)

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ApiKeyForm(request.POST)
        if not form.is_valid():
            return self.get(request, form=form)
        try:
            _key, raw_key = services.api_key_create(
                actor=self.actor,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                rate_limit_per_minute=form.cleaned_data["rate_limit_per_minute"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.get(request, form=form)
        messages.success(request, _("API key created. Copy it now: it will not be shown again."))
        return self.get(request, new_key=raw_key)


def _api_keys_page(
    request: HttpRequest, *, form: ApiKeyForm | None = None, new_key: str = ""
) -> HttpResponse:
    return render(
        request,
        "finance/api_keys.html",
        {
            "keys": selectors.api_keys(),
            "form": form or ApiKeyForm(),
            "new_key": new_key,
            "overlap_choices": ApiKeyRotateForm.OVERLAP_CHOICES,
            "default_rate_limit": settings.API_KEY_RATE_LIMIT_PER_MINUTE,
        },
    )


def _api_key_or_404(pk: int) -> ApiKey:
    """One of the current organization's keys; another organization's id is a 404 like a missing one."""
    try:
        return ApiKey.objects.get(pk=pk)
    except ApiKey.DoesNotExist:
        raise Http404 from None


class ApiKeyRevokeView(ActorRequiredMixin, View):
    required_action = "apikey.manage"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        key = _api_key_or_404(pk)
        services.api_key_revoke(actor=self.actor, key=key)
        messages.success(request, _("API key revoked."))
        return redirect("api-keys")


class ApiKeyRotateView(ActorRequiredMixin, View):
    """Issues a successor key (shown once); the old one keeps working for the chosen overlap."""

    required_action = "apikey.manage"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        key = _api_key_or_404(pk)
        form = ApiKeyRotateForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
            return redirect("api-keys")
        try:
            _successor, raw_key = services.api_key_rotate(
                actor=self.actor,
                key=key,
                overlap_hours=form.cleaned_data["overlap_hours"],
                rate_limit_per_minute=form.cleaned_data["rate_limit_per_minute"],
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            return redirect("api-keys")
        messages.success(request, _("API key rotated. Copy the new key now: it will not be shown again."))
        return _api_keys_page(request, new_key=raw_key)


class AuditLogView(ActorRequiredMixin, View):
    required_action = "audit.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        form = AuditFilterForm(request.GET or None)
        events = selectors.audit_events()
        if form.is_valid():
            if form.cleaned_data["action"]:
                events = events.filter(action__icontains=form.cleaned_data["action"])
            tz = self.actor.organization.tzinfo
            if form.cleaned_data["since"]:
                events = events.filter(
                    created_at__gte=datetime.datetime.combine(form.cleaned_data["since"], datetime.time(), tz)
                )
            if form.cleaned_data["until"]:
                end = form.cleaned_data["until"] + datetime.timedelta(days=1)
                events = events.filter(created_at__lt=datetime.datetime.combine(end, datetime.time(), tz))
        if request.GET.get("export") == "csv" and form.is_valid():
            return audit_csv(self.actor, events, form.cleaned_data["since"], form.cleaned_data["until"])
        page = Paginator(events, 50).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        query.pop("export", None)
        return render(
            request,
            "finance/audit_log.html",
            {
                "page": page,
                "form": form,
                "query": query.urlencode(),
                "verification": selectors.latest_audit_verification(),
            },
        )


def _csv_text(value: str) -> str:
    """Text a spreadsheet would run as a formula gets a leading apostrophe."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def audit_csv(
    actor: Any, events: Any, since: datetime.date | None, until: datetime.date | None
) -> StreamingHttpResponse:
    """The filtered audit log as CSV for an auditor's period, streamed (any length, constant
    memory): time in the organization's timezone, actor, action, object, customer and the changes
    as JSON. The export itself is recorded in the audit log."""
    tz = actor.organization.tzinfo
    field = AuditEvent._meta.get_field
    header = [
        capfirst(field("created_at").verbose_name),
        _("Actor"),
        capfirst(field("action").verbose_name),
        capfirst(field("object_type").verbose_name),
        capfirst(field("object_id").verbose_name),
        capfirst(field("object_repr").verbose_name),
        _("customer"),
        capfirst(field("changes").verbose_name),
        capfirst(field("request_id").verbose_name),
    ]
    audit.record(
        actor=actor,
        action="audit.exported",
        instance=actor.organization,
        changes={"since": [None, str(since or "")], "until": [None, str(until or "")]},
    )

    class Echo:
        def write(self, value: str) -> str:
            return value

    writer = csv.writer(Echo())

    organization = actor.organization

    def rows() -> Any:
        yield "\ufeff" + writer.writerow([str(title) for title in header])
        # Streaming runs after the view returned and the middleware left the tenant: enter it again.
        with tenancy.tenant(organization):
            yield from _event_rows(events, tz, writer)

    name = f"audit-{since or 'start'}-{until or 'now'}.csv"
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _event_rows(events: Any, tz: Any, writer: Any) -> Any:
    for event in (
        events.select_related("actor_user", "actor_api_key")
        .order_by("created_at", "id")
        .iterator(chunk_size=2000)
    ):
        yield writer.writerow(
            [
                event.created_at.astimezone(tz).isoformat(timespec="seconds"),
                _csv_text(event.actor_label),
                event.action,
                event.object_type,
                _csv_text(event.object_id),
                _csv_text(event.object_repr),
                event.customer_id or "",
                _csv_text(json.dumps(event.changes, ensure_ascii=False, sort_keys=True)),
                _csv_text(event.request_id or ""),
            ]
        )


MODULES: dict[str, dict[str, Any]] = {
    "receivables": {
        "title": gettext_lazy("Receivables"),
        "text": gettext_lazy(
            "Invoices, payments, credit notes, exact aging as of any date, DSO and statements "
            "will appear here."
        ),
    },
    "collections": {
        "title": gettext_lazy("Collections"),
        "text": gettext_lazy("Dunning, promises to pay, disputes and collector worklists will appear here."),
    },
    "credit": {
        "title": gettext_lazy("Credit"),
        "text": gettext_lazy("Credit scores, suggested limits, approvals and holds will appear here."),
    },
}


class ModulePlaceholderView(ActorRequiredMixin, View):
    """A module that a later release fills: a clear empty state, never a broken link."""

    required_action = "organization.view"

    def get(self, request: HttpRequest, module: str) -> HttpResponse:
        if module not in MODULES:
            raise Http404
        return render(request, "finance/module_empty.html", {"module": MODULES[module], "key": module})
