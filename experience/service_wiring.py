"""What the service part of experience plugs in at start-up: the customer-page panel, the SLA
check's tasks (imported so workers know them) and the demo seeder. Called from
`ExperienceConfig.ready()`."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy

QUALITY_MONTHS = 6
OPEN_SHOWN = 10


def service_panel(request: HttpRequest, customer: Any) -> dict[str, Any]:
    """Open requests with their SLA state, the last resolved one and this customer's quality
    figures over the last months. Reads only; a handful of queries."""
    from experience import service_selectors
    from experience.models import ServiceRequest

    actor = getattr(request, "actor", None)
    requests = ServiceRequest.objects.filter(customer=customer)
    open_requests = list(
        requests.filter(status__in=ServiceRequest.OPEN_STATUSES).order_by("resolution_due", "id")[:OPEN_SHOWN]
    )
    service_selectors.with_sla_badges(open_requests)
    quality = None
    if actor is not None:
        rows = service_selectors.service_quality(
            actor=actor, months=QUALITY_MONTHS, group_by="category", customer_id=customer.pk
        )
        if rows:
            quality = _total(rows)
    return {
        "open_requests": open_requests,
        "last_resolved": requests.filter(resolved_at__isnull=False).order_by("-resolved_at").first(),
        "quality": quality,
        "months": QUALITY_MONTHS,
        "can_work": actor is not None and actor.can("service.work"),
    }


def _total(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Category rows summed into one (attainment weighted by the rows' volumes)."""
    from decimal import Decimal

    opened = sum(row["opened"] for row in rows)
    resolved = sum(row["resolved"] for row in rows)
    responses = sum(row["responses"] for row in rows)

    def weighted(key: str, weight: str) -> Decimal | None:
        pairs = [(row[key], row[weight]) for row in rows if row[key] is not None and row[weight]]
        total = sum(w for _v, w in pairs)
        if not total:
            return None
        return (sum(v * w for v, w in pairs) / total).quantize(Decimal("0.1"))

    return {
        "opened": opened,
        "resolved": resolved,
        "first_response_attainment": weighted("first_response_attainment", "opened"),
        "resolution_attainment": weighted("resolution_attainment", "resolved"),
        "satisfaction": (
            (
                sum(row["satisfaction"] * row["responses"] for row in rows if row["responses"]) / responses
            ).quantize(Decimal("0.01"))
            if responses
            else None
        ),
        "responses": responses,
    }


def connect() -> None:
    from crm.registry import Panel, registry
    from experience import service_seed, tasks_service  # noqa: F401  (registers the Celery tasks)
    from finance.seeding import Seeder, register_seeder

    registry.add_customer_panel(
        Panel(
            "service",
            gettext_lazy("Service"),
            "experience/service/panels/customer.html",
            service_panel,
            order=30,
            wide=False,
        )
    )
    register_seeder(Seeder(order=36, name="service", seed=service_seed.seed))
