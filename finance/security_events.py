"""Security events: one JSON object per line on the logger `kehu.security`, with no personal data.

`emit(event, request=..., **fields)` is the single way to write one. Each line carries who (the
numeric organization and user ids, an API key's prefix), what (event, outcome, status), where (the
method and the URL *route*, never the raw path or query string), the request id and a keyed hash
of the client address. Emails, names, usernames, raw addresses and secrets never appear: the
attempted username of a failed sign-in is logged only as a keyed hash, so repeated attempts on
one account can be correlated without saying whose it is.

Events: login.succeeded, login.failed, login.locked_out, logout, session.expired,
apikey.auth_failed, apikey.rotated, access.denied (every 403), access.foreign_id (another
tenant's id was asked for; the response stays a 404) and throttled (429). Other modules may add
their own (2FA events) by calling `emit`.
"""

from __future__ import annotations

import contextvars
import datetime
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from finance.actors import Actor, request_id_var
from finance.tenancy import current_organization_or_none

logger = logging.getLogger("kehu.security")

# Fields whose values are personal data or secrets: a value passed under one of these names is
# replaced by its keyed hash (`<name>_hash`), never written as is.
HASHED_FIELDS = frozenset({"username", "email", "ip", "ip_address", "name", "phone", "tax_id"})
DROPPED_FIELDS = frozenset({"password", "token", "raw_key", "key", "secret", "otp", "code"})
_OUTCOMES = {
    "login.succeeded": "success",
    "logout": "success",
    "apikey.rotated": "success",
}

_current_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar(
    "kehu_security_request", default=None
)


def keyed_hash(value: str) -> str:
    """A short HMAC of `value` under SECRET_KEY: stable within a deployment, not reversible."""
    digest = hmac.new(settings.SECRET_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()
    return digest[:16]


_CONVERTER = re.compile(r"<(?:[^>:]+:)?([^>]+)>")
_REGEX_GROUP = re.compile(r"\(\?P<([^>]+)>[^)]*\)")


def route_of(request: HttpRequest | None) -> str | None:
    """The matched URL pattern as `/api/v1/customers/{pk}/`; None when nothing matched."""
    if request is None:
        return None
    match = getattr(request, "resolver_match", None)
    if match is None:  # a middleware speaking before the URL was resolved
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return None
    if not match.route:
        return None
    route = _REGEX_GROUP.sub(r"{\1}", match.route)
    route = _CONVERTER.sub(r"{\1}", route)
    route = route.replace("^", "").replace("$", "").replace("\\.", ".").replace("/?", "/")
    return "/" + route.lstrip("/")


def _django_request(request: Any) -> HttpRequest | None:
    """The Django request behind a DRF one (or the request itself)."""
    if request is None:
        return None
    return getattr(request, "_request", request)


def _actor(request: HttpRequest | None) -> Actor | None:
    if request is None:
        return None
    actor = getattr(request, "security_actor", None) or getattr(request, "actor", None)
    return actor if isinstance(actor, Actor) else None


def _id_of(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    pk = getattr(value, "pk", None)
    return pk if isinstance(pk, int) else None


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)[:200]


def emit(event: str, *, request: Any = None, **fields: Any) -> dict[str, Any]:
    """Write one security event and return it. `request` defaults to the current request.

    Recognised fields: `outcome` (default "failure", or "success" for sign-in, sign-out and
    rotation), `status`, `user` / `organization` (an object or a numeric id), `api_key` (an ApiKey
    or its prefix). Any other field must be a plain value and not personal data; values under
    names like `username` or `email` are hashed and secrets (`password`, `token`) are dropped.
    """
    django_request = _django_request(request) or _current_request.get()
    actor = _actor(django_request)

    user = fields.pop("user", None)
    if user is None and actor is not None:
        user = actor.user
    if user is None and django_request is not None:
        request_user = getattr(django_request, "user", None)
        if request_user is not None and getattr(request_user, "is_authenticated", False):
            user = request_user
    organization = fields.pop("organization", None)
    if organization is None and actor is not None:
        organization = actor.organization
    if organization is None:
        organization = current_organization_or_none()
    api_key = fields.pop("api_key", None)
    if api_key is None and actor is not None:
        api_key = actor.api_key
    prefix = api_key if isinstance(api_key, str) else getattr(api_key, "prefix", None)

    client_address = django_request.META.get("REMOTE_ADDR", "") if django_request is not None else ""
    record: dict[str, Any] = {
        "timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
        "event": event,
        "outcome": fields.pop("outcome", None) or _OUTCOMES.get(event, "failure"),
        "organization_id": _id_of(organization),
        "user_id": _id_of(user),
        "api_key_prefix": prefix,
        "request_id": request_id_var.get() or getattr(django_request, "request_id", None) or None,
        "method": django_request.method if django_request is not None else None,
        "route": route_of(django_request),
        "status": fields.pop("status", None),
        "client_hash": keyed_hash(client_address) if client_address else None,
    }
    for name, value in fields.items():
        if name in DROPPED_FIELDS or name in record:
            continue
        if name in HASHED_FIELDS:
            record[f"{name}_hash"] = keyed_hash(str(value).strip().lower()) if value else None
        else:
            record[name] = _scalar(value)
    logger.info(event, extra={"security": record})
    return record


class JsonFormatter(logging.Formatter):
    """The security record as one JSON line (other records: their message in the same shape)."""

    def format(self, record: logging.LogRecord) -> str:
        payload = getattr(record, "security", None)
        if payload is None:
            payload = {"event": record.getMessage(), "level": record.levelname}
        return json.dumps(payload, ensure_ascii=False, sort_keys=False, default=str)


class SecurityEventMiddleware:
    """Makes the request available to `emit` and logs every 403 (access.denied) and 429
    (throttled) response, whichever layer produced it; adds the rate-limit headers a throttle
    left on the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _current_request.set(request)
        try:
            response = self.get_response(request)
            if response.status_code == 403:
                emit("access.denied", request=request, status=403)
            elif response.status_code == 429 and getattr(request, "rate_limit", None) is not None:
                emit("throttled", request=request, status=429)
        finally:
            _current_request.reset(token)
        rate = getattr(request, "rate_limit", None)
        if rate is not None:
            response["X-RateLimit-Limit"] = str(rate[0])
            response["X-RateLimit-Remaining"] = str(rate[1])
        return response


def current_request() -> HttpRequest | None:
    return _current_request.get()


def _on_login(sender: Any, request: HttpRequest | None = None, user: Any = None, **kwargs: Any) -> None:
    emit("login.succeeded", request=request, user=user)


def _on_login_failed(
    sender: Any, credentials: dict[str, Any] | None = None, request: HttpRequest | None = None, **kwargs: Any
) -> None:
    credentials = credentials or {}
    username = credentials.get("username") or credentials.get("email") or ""
    emit("login.failed", request=request, username=username)


def _on_logout(sender: Any, request: HttpRequest | None = None, user: Any = None, **kwargs: Any) -> None:
    emit("logout", request=request, user=user)


def _on_locked_out(
    sender: Any, request: HttpRequest | None = None, username: str | None = None, **kwargs: Any
) -> None:
    emit("login.locked_out", request=request, username=username or "")


def connect_signals() -> None:
    """Called from `FinanceConfig.ready()` (django-axes' signals need the app registry)."""
    from axes.signals import user_locked_out

    user_logged_in.connect(_on_login, dispatch_uid="kehu_security_login")
    user_login_failed.connect(_on_login_failed, dispatch_uid="kehu_security_login_failed")
    user_logged_out.connect(_on_logout, dispatch_uid="kehu_security_logout")
    user_locked_out.connect(_on_locked_out, dispatch_uid="kehu_security_locked_out")
