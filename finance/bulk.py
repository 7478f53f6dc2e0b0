"""Bulk upserts: all rows are validated before any is written; errors come back per row."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError


class BulkRowErrors(ValidationError):
    """Raised by a bulk service when any row is invalid; `rows[i]` holds row i's field errors
    ({} for a valid row). The API answers 400 with `{key: rows}` (`items` for bulk requests,
    `allocations` for the allocations given with a payment or credit note)."""

    def __init__(self, rows: list[dict[str, Any]], key: str = "items") -> None:
        self.rows = rows
        self.key = key
        super().__init__("Some items are invalid.")

    def as_dict(self) -> dict[str, Any]:
        return {self.key: self.rows}


def error_detail(exc: ValidationError) -> dict[str, Any]:
    """A ValidationError as field errors, keeping the per-row structure of BulkRowErrors."""
    if isinstance(exc, BulkRowErrors):
        return exc.as_dict()
    if hasattr(exc, "error_dict"):
        return exc.message_dict
    return {"non_field_errors": exc.messages}
