"""API routes of the service part: (prefix, viewset, basename), registered by finance/urls.py."""

from __future__ import annotations

from typing import Any

from experience.api import service as views

ROUTES: list[tuple[str, Any, str]] = [
    ("experience/service-requests", views.ServiceRequestViewSet, "service-request"),
    ("experience/sla-policies", views.SlaPolicyViewSet, "sla-policy"),
    ("experience/service-quality", views.ServiceQualityViewSet, "service-quality"),
]
