"""Bench only: patches for `bench/import.py --projected` / `--one-by-one`. Not the shipped code.

`projected()`: the two fixes proposed in docs/performance.md for the bulk import's remaining hot
spots, applied as monkeypatches to measure what they would give; the owners of these modules
decide how to implement them.

1. receivables/api/serializers.py: resolve every `customer_external_id` of a bulk request with one
   query, not one per item (`CustomerRefMixin.validate`).
2. finance/webhooks.py: `emit()` looks up the organization's active endpoints once, not once per
   event (here: remembered for a second; in the real fix, for the request or the transaction).
"""

from __future__ import annotations

import time
from typing import Any


def one_by_one() -> None:
    """The bulk import as before its fast path: every invoice through invoice_create."""
    from receivables import services

    services._invoices_create_many = lambda actor, items: None


def projected() -> None:
    from finance import webhooks
    from finance.tenancy import current_organization
    from receivables.api import serializers as s

    original_validate = s.CustomerRefMixin.validate

    def validate(self: Any, attrs: dict[str, Any]) -> dict[str, Any]:
        external = attrs.get("customer_external_id")
        root = self.root
        data = getattr(root, "initial_data", None)
        item_of_a_request = root is not self and isinstance(data, dict)
        if external is not None and attrs.get("customer") is None and item_of_a_request:
            cache = root.__dict__.get("_projected_customers")
            if cache is None:
                wanted = {i.get("customer_external_id") for i in data.get("items", []) if isinstance(i, dict)}
                wanted.discard(None)
                actor = s.context_actor(self.context)
                cache = {c.external_id: c for c in s._customers(actor).filter(external_id__in=wanted)}
                root._projected_customers = cache
            if external in cache:
                attrs = {k: v for k, v in attrs.items() if k != "customer_external_id"}
                attrs["customer"] = cache[external]
        return original_validate(self, attrs)

    s.CustomerRefMixin.validate = validate

    original_emit = webhooks.emit
    has_endpoints: dict[int, tuple[float, bool]] = {}

    def emit(*, event: str, event_id: str, payload: dict[str, Any]) -> int:
        org_id = current_organization().pk
        now = time.monotonic()
        known = has_endpoints.get(org_id)
        if known is None or now - known[0] > 1.0:
            known = (now, webhooks.WebhookEndpoint.objects.filter(is_active=True).exists())
            has_endpoints[org_id] = known
        if not known[1]:
            return 0
        return original_emit(event=event, event_id=event_id, payload=payload)

    webhooks.emit = emit


def bare() -> None:
    """`GET /bench/bare/`: a bare Django JSON view (no DRF, no authentication, no query) behind the
    same middleware, the baseline of bench/api.py."""
    from django.http import JsonResponse
    from django.urls import clear_url_caches, path

    from finance import urls

    def view(request: Any) -> JsonResponse:
        return JsonResponse({"status": "ok", "results": []})

    urls.urlpatterns.insert(0, path("bench/bare/", view))
    clear_url_caches()
