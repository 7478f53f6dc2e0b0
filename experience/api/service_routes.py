"""API routes of the service part: (prefix, viewset, basename), registered by finance/urls.py."""

from __future__ import annotations

from typing import Any

ROUTES: list[tuple[str, Any, str]] = []
