"""Request guards, and the web half of tenancy: the current organization from the session user."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from finance import tenancy
from finance.actors import Actor, request_id_var
from finance.selectors import membership_for

SESSION_ORG_KEY = "kehu_org_id"


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
