"""Outgoing webhooks: events queued after the transaction commits, signed with HMAC-SHA256,
delivered by Celery with retries and backoff, every attempt logged.

Signature header: `Kehu-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with the
endpoint's secret; receivers recompute it and reject old timestamps.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from finance import audit
from finance.actors import Actor
from finance.models import WebhookDelivery, WebhookEndpoint
from finance.tenancy import current_organization

EVENTS = {"invoice.created", "invoice.paid", "invoice.overdue", "payment.recorded"}
_endpoints_memo: contextvars.ContextVar[dict[int, list[WebhookEndpoint]] | None] = contextvars.ContextVar(
    "kehu_webhook_endpoints", default=None
)


@contextmanager
def endpoints_memoized() -> Iterator[None]:
    """Within the block (a bulk request emitting thousands of events), read each organization's
    endpoints once instead of once per event."""
    token = _endpoints_memo.set({})
    try:
        yield
    finally:
        _endpoints_memo.reset(token)


def _active_endpoints() -> list[WebhookEndpoint]:
    memo = _endpoints_memo.get()
    organization_id = current_organization().pk
    if memo is not None and organization_id in memo:
        return memo[organization_id]
    endpoints = list(WebhookEndpoint.objects.filter(is_active=True))
    if memo is not None:
        memo[organization_id] = endpoints
    return endpoints


TIMEOUT_SECONDS = 10
MAX_ATTEMPTS = 8


def register_events(*names: str) -> None:
    """Later modules add their event names here."""
    EVENTS.update(names)


def _address_allowed(address: str) -> bool:
    """A public address; loopback too when WEBHOOKS_ALLOW_HTTP_LOCALHOST (local testing). Private,
    link-local (cloud metadata), reserved and multicast addresses never: a webhook must not make
    the worker call into the network it runs in (SSRF)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.is_loopback:
        return bool(settings.WEBHOOKS_ALLOW_HTTP_LOCALHOST)
    return ip.is_global and not ip.is_multicast


def _literal_address(host: str) -> str | None:
    if host == "localhost":
        return "127.0.0.1"
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def _check_url(url: str) -> None:
    parsed = urlparse(url)
    host = parsed.hostname or ""
    literal = _literal_address(host)
    if literal is not None and not _address_allowed(literal):
        raise ValidationError({"url": [_("Webhook endpoints must be on a public address.")]})
    if parsed.scheme == "https" and host:
        return
    local = literal is not None and ipaddress.ip_address(literal).is_loopback
    if parsed.scheme == "http" and local and settings.WEBHOOKS_ALLOW_HTTP_LOCALHOST:
        return
    raise ValidationError({"url": [_("Webhook endpoints must use HTTPS.")]})


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a new destination: 3xx is a failed delivery, never followed
    (it could point into the worker's own network, or downgrade to plain HTTP)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _refused_address(url: str) -> str | None:
    """Why the URL's host may not be called now (resolved at delivery time, so a name that was
    public when registered and now points inside is refused too); None when it may."""
    host = urlparse(url).hostname or ""
    port = urlparse(url).port or 443
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)}
    except OSError as exc:
        return f"cannot resolve {host}: {exc}"
    blocked = sorted(a for a in addresses if not _address_allowed(a))
    if blocked:
        return f"refused: {host} resolves to a non-public address ({', '.join(blocked)})"
    return None


@transaction.atomic
def endpoint_create(*, actor: Actor, url: str, events: list[str]) -> WebhookEndpoint:
    actor.require("webhook.manage")
    _check_url(url)
    unknown = sorted(set(events) - EVENTS)
    if not events or unknown:
        raise ValidationError(
            {"events": [_("Unknown events: %(events)s") % {"events": ", ".join(unknown) or "—"}]}
        )
    endpoint = WebhookEndpoint(
        organization=actor.organization, url=url, events=sorted(set(events)), secret=secrets.token_hex(32)
    )
    endpoint.full_clean(exclude=["organization", "secret"])
    endpoint.save()
    memo = _endpoints_memo.get()
    if memo is not None:
        memo.clear()
    audit.record(actor=actor, action="webhook.created", instance=endpoint, changes={"url": [None, url]})
    return endpoint


@transaction.atomic
def endpoint_delete(*, actor: Actor, endpoint: WebhookEndpoint) -> None:
    actor.require("webhook.manage")
    audit.record(
        actor=actor, action="webhook.deleted", instance=endpoint, changes={"url": [endpoint.url, None]}
    )
    endpoint.delete()


def subscribed(event: str) -> bool:
    """Whether an active endpoint of the current organization takes `event`: a receiver asks first
    and skips building the payload (and its queries) when nobody listens."""
    return any(event in endpoint.events for endpoint in _active_endpoints())


def emit(*, event: str, event_id: str, payload: dict[str, Any]) -> int:
    """Queue `event` for every active endpoint of the current organization that subscribed.
    Delivery tasks start only after the surrounding transaction commits; an event id already
    queued for an endpoint is not queued again."""
    from finance.tasks import deliver_webhook

    queued = 0
    body = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    for endpoint in _active_endpoints():
        if event not in endpoint.events:
            continue
        try:
            with transaction.atomic():
                delivery = WebhookDelivery.objects.create(
                    endpoint=endpoint,
                    event=event,
                    event_id=event_id,
                    payload={
                        "id": event_id,
                        "event": event,
                        "created": timezone.now().isoformat(),
                        "data": body,
                    },
                )
        except IntegrityError:
            continue
        organization_id = endpoint.organization_id
        transaction.on_commit(
            lambda pk=delivery.pk, org=organization_id: deliver_webhook.delay(
                organization_id=org, delivery_id=pk
            )
        )
        queued += 1
    return queued


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def deliver(delivery: WebhookDelivery) -> bool:
    """One attempt. Returns True when the endpoint answered 2xx; records the outcome either way."""
    endpoint = delivery.endpoint
    body = json.dumps(delivery.payload, ensure_ascii=False).encode()
    timestamp = int(time.time())
    request = urllib.request.Request(
        endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Kehu-Webhooks/1",
            "Kehu-Event": delivery.event,
            "Kehu-Delivery": str(delivery.pk),
            "Kehu-Signature": sign(endpoint.secret, timestamp, body),
        },
    )
    delivery.attempts += 1
    refused = _refused_address(endpoint.url)
    try:
        if refused:
            raise urllib.error.URLError(refused)
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            delivery.response_status = response.status
            ok = 200 <= response.status < 300
            delivery.last_error = ""
    except urllib.error.HTTPError as exc:
        delivery.response_status, delivery.last_error, ok = exc.code, str(exc)[:500], False
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        delivery.response_status, delivery.last_error, ok = None, str(exc)[:500], False
    if ok:
        delivery.status, delivery.delivered_at = WebhookDelivery.Status.DELIVERED, timezone.now()
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = WebhookDelivery.Status.FAILED
    delivery.save(update_fields=["attempts", "response_status", "last_error", "status", "delivered_at"])
    return ok
