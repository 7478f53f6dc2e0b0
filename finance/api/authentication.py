"""API authentication: organization API keys (Bearer) and the browser session.

Both set the current organization, which is the API's half of tenancy.
"""

from __future__ import annotations

import hmac
from typing import Any, NoReturn

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from finance import security_events, tenancy
from finance.actors import Actor
from finance.selectors import api_key_by_prefix, membership_for
from finance.services import api_key_parse, api_key_touch


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, Actor] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            security_events.emit("apikey.auth_failed", request=request, reason="malformed", status=401)
            raise exceptions.AuthenticationFailed(_("Invalid Authorization header."))
        try:
            raw_key = header[1].decode("ascii")
        except UnicodeDecodeError:
            self._refuse(request, "malformed")
        parsed = api_key_parse(raw_key)
        if parsed is None:
            self._refuse(request, "malformed")
        prefix, hashed = parsed
        # Inside the request's scope (finance.middleware.RequestGuardMiddleware): the lookup context
        # stays until the tenant is set below, or until the request ends when the key is refused.
        key = api_key_by_prefix(prefix, hashed_key=hashed, restore=False)
        if key is None or not hmac.compare_digest(key.hashed_key, hashed):
            self._refuse(request, "unknown", prefix=prefix)
        if key.revoked_at is not None:
            self._refuse(request, "revoked", prefix=prefix, organization=key.organization)
        if key.is_expired:
            self._refuse(request, "expired", prefix=prefix, organization=key.organization)
        tenancy.activate(key.organization)
        api_key_touch(key)
        actor = Actor(
            organization=key.organization,
            role="api_write" if key.can_write else "api_read",
            api_key=key,
        )
        request._request.security_actor = actor
        return None, actor

    def _refuse(
        self, request: Request, reason: str, *, prefix: str | None = None, organization: Any = None
    ) -> NoReturn:
        """401 alike for every bad key; the security log says why (with the prefix if it parsed)."""
        security_events.emit(
            "apikey.auth_failed",
            request=request,
            api_key=prefix,
            organization=organization,
            reason=reason,
            status=401,
        )
        raise exceptions.AuthenticationFailed(_("Invalid API key."))

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class TenantSessionAuthentication(authentication.SessionAuthentication):
    """The browser's session, acting in the organization chosen in the session."""

    def authenticate(self, request: Request) -> tuple[Any, Actor] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user = result[0]
        from finance.middleware import SESSION_ORG_KEY

        membership = membership_for(user, request.session.get(SESSION_ORG_KEY))
        if membership is None:
            raise exceptions.PermissionDenied(_("You are not a member of any organization."))
        tenancy.activate(membership.organization, user_id=user.pk)
        actor = Actor(organization=membership.organization, role=membership.role, user=user)
        request._request.security_actor = actor
        return user, actor


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "finance.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Organization API key: `Authorization: Bearer kehu_xxxxxxxx.…`",
        }


class TenantSessionScheme(OpenApiAuthenticationExtension):
    target_class = "finance.api.authentication.TenantSessionAuthentication"
    name = "Session"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
