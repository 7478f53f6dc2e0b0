"""API routes of the education part: (prefix, viewset, basename), registered by finance/urls.py."""

from __future__ import annotations

from typing import Any

from experience.api.education import AttendanceViewSet, ResourceViewSet, SessionViewSet

ROUTES: list[tuple[str, Any, str]] = [
    ("experience/education-resources", ResourceViewSet, "education-resource"),
    ("experience/education-sessions", SessionViewSet, "education-session"),
    ("experience/education-attendances", AttendanceViewSet, "education-attendance"),
]
