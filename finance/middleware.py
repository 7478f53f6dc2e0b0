"""Request guards, and the web half of tenancy: the current organization from the session user."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from finance import security_events, tenancy
from finance.actors import Actor, request_id_var
from finance.selectors import membership_for

SESSION_ORG_KEY = "kehu_org_id"
SESSION_STARTED_KEY = "kehu_signed_in_at"
SESSION_SEEN_KEY = "kehu_seen_at"
SEEN_RESOLUTION = 60  # seconds: the last-seen time is saved at most once a minute


def on_user_logged_in(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    """Every sign-in starts the absolute session clock again (Django keeps the session's data when
    the same user signs in again)."""
    if request is not None and hasattr(request, "session"):
        now = int(time.time())
        request.session[SESSION_STARTED_KEY] = now
        request.session[SESSION_SEEN_KEY] = now


class SessionTimeoutMiddleware:
    """Signs a browser session out after `SESSION_IDLE_SECONDS` without a request and, whatever
    the activity, `SESSION_ABSOLUTE_SECONDS` after sign-in. Pages go back to the sign-in page with a
    message; API and htmx requests get 401. API keys are not sessions and are not affected."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            now = int(time.time())
            started = request.session.get(SESSION_STARTED_KEY)
            seen = request.session.get(SESSION_SEEN_KEY) or started
            if started is None:  # a session from before these clocks existed
                request.session[SESSION_STARTED_KEY] = request.session[SESSION_SEEN_KEY] = now
            elif (
                now - started > settings.SESSION_ABSOLUTE_SECONDS
                or now - seen > settings.SESSION_IDLE_SECONDS
            ):
                security_events.emit("session.expired", request=request, user=user)
                logout(request)
                if request.path.startswith("/api/") or request.headers.get("HX-Request"):
                    return JsonResponse({"detail": _("Your session has expired: sign in again.")}, status=401)
                messages.info(request, _("Your session has expired: sign in again."))
                return redirect_to_login(request.get_full_path())
            elif now - seen >= SEEN_RESOLUTION:
                request.session[SESSION_SEEN_KEY] = now
        return self.get_response(request)


class RequestGuardMiddleware:
    """Gives every request an id, and refuses query strings no database could take (NUL bytes)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if incoming.isascii() and 0 < len(incoming) <= 64 else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        try:
            if "\x00" in request.META.get("QUERY_STRING", "") or "%00" in request.META.get(
                "QUERY_STRING", ""
            ):
                response: HttpResponse = JsonResponse(
                    {"detail": _("The request contains a NUL character.")}, status=400
                )
            else:
                with tenancy.request_scope():
                    response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


class TenantMiddleware:
    """Sets the current organization from the signed-in user's membership (chosen in the session).

    API requests are left to the API authentication, which sets the tenant from the key or session.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.actor = None  # type: ignore[attr-defined]
        request.membership = None  # type: ignore[attr-defined]
        if not request.path.startswith("/api/") and request.user.is_authenticated:
            membership = membership_for(request.user, request.session.get(SESSION_ORG_KEY))
            if membership is not None:
                tenancy.activate(membership.organization, user_id=request.user.pk)
                # Pages show and read times in the organization's timezone.
                timezone.activate(membership.organization.tzinfo)
                request.membership = membership  # type: ignore[attr-defined]
                request.actor = Actor(  # type: ignore[attr-defined]
                    organization=membership.organization, role=membership.role, user=request.user
                )
                if not request.COOKIES.get("django_language"):
                    language = request.user.language or membership.organization.language
                    translation.activate(language)
                    request.LANGUAGE_CODE = translation.get_language()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
