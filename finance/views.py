"""Browser pages of the platform: organization switcher, API keys, audit log, module placeholders."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.decorators.http import require_POST

from finance import selectors, services
from finance.forms import ApiKeyForm, AuditFilterForm
from finance.middleware import SESSION_ORG_KEY
from finance.models import ApiKey
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
        return render(
            request,
            "finance/api_keys.html",
            {"keys": selectors.api_keys(), "form": form or ApiKeyForm(), "new_key": new_key},
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ApiKeyForm(request.POST)
        if not form.is_valid():
            return self.get(request, form=form)
        try:
            _key, raw_key = services.api_key_create(
                actor=self.actor, name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"]
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.get(request, form=form)
        messages.success(request, _("API key created. Copy it now: it will not be shown again."))
        return self.get(request, new_key=raw_key)


class ApiKeyRevokeView(ActorRequiredMixin, View):
    required_action = "apikey.manage"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        key = ApiKey.objects.filter(pk=pk).first()
        if key is None:
            raise Http404
        services.api_key_revoke(actor=self.actor, key=key)
        messages.success(request, _("API key revoked."))
        return redirect("api-keys")


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
        page = Paginator(events, 50).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        return render(
            request, "finance/audit_log.html", {"page": page, "form": form, "query": query.urlencode()}
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
