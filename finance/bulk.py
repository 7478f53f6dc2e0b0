"""Bulk upserts: all rows are validated before any is written; errors come back per row."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError


class BulkRowErrors(ValidationError):
    """Raised by a bulk service when any row is invalid; `rows[i]` holds row i's field errors
    ({} for a valid row). The API answers 400 with `{"items": rows}`."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        super().__init__("Some items are invalid.")
