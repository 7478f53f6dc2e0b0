"""Outgoing webhooks: events queued after the transaction commits, signed with HMAC-SHA256,
delivered by Celery with retries and backoff, every attempt logged.

Signature header: `Kehu-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with the
endpoint's secret; receivers recompute it and reject old timestamps.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import json
import secrets
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


def _check_url(url: str) -> None:
    parsed = urlparse(url)
    local = parsed.hostname in {"127.0.0.1", "localhost"}
    if parsed.scheme == "https" and parsed.hostname:
        return
    if parsed.scheme == "http" and local and settings.WEBHOOKS_ALLOW_HTTP_LOCALHOST:
        return
    raise ValidationError({"url": [_("Webhook endpoints must use HTTPS.")]})


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
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (https checked)
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
