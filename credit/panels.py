"""credit's panel on the customer page (filled in with the pages)."""

from __future__ import annotations


def register() -> None:
    return None
