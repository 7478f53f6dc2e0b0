"""Rows read on every request, kept between requests in the shared cache (Redis in production):
an API key with its organization, an organization's credit policy.

Each entry is stamped with its row's *generation*, a random token kept beside it. Every write to
the row (a `post_save` or `post_delete` receiver calls `forget`) replaces the token at once and
again when its transaction commits, so:

- a reader never takes an entry stored before the write (its stamp no longer matches);
- a reader that read the row before the commit and stores it after cannot bring the old row back:
  it stamps its entry with the token it saw before reading, which the commit replaced;
- a row without a token gets one before anything is stored for it, so no entry is ever stamped
  with "no token": a token lost later (evicted, or Redis restarted empty) is replaced by a new
  one, which no entry carries;
- inside the writer's own transaction nothing is stored for the row it changed, so a rollback
  leaves no entry of a row that never existed.

An entry and its token are read in one round trip (`get_many`). An entry lives `seconds` at most
from its last store: a change made past Kehu's code (SQL typed into the database) shows within
that time. A cache outage never fails a request: reads fall through to the database.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections, transaction

logger = logging.getLogger("kehu.cache")

MISSING = object()


def _site() -> str:
    """Which database the rows come from: two sites (or test runs) sharing one Redis keep apart
    unless they share the database itself."""
    settings = connections[DEFAULT_DB_ALIAS].settings_dict
    return f"{settings['HOST'] or ''}:{settings['PORT'] or ''}/{settings['NAME']}"


class RowCache:
    def __init__(self, name: str, seconds: int) -> None:
        self.name = name
        self.seconds = seconds

    def _keys(self, ident: object) -> tuple[str, str]:
        entry = f"kehu:row:{_site()}:{self.name}:{ident}"
        return entry, f"{entry}:generation"

    def get(self, ident: object) -> tuple[Any, str | None]:
        """(the cached value or MISSING, the row's generation to `put` a value read now with)."""
        entry_key, generation_key = self._keys(ident)
        try:
            found = cache.get_many([entry_key, generation_key])
            generation = found.get(generation_key)
            if generation is None:  # a first token (or a lost one replaced): nothing carries it yet
                cache.add(generation_key, uuid.uuid4().hex, timeout=None)
                return MISSING, cache.get(generation_key)
        except Exception:  # noqa: BLE001 (a cache outage must not take requests down with it)
            logger.exception("Row cache unavailable; reading %s from the database.", self.name)
            return MISSING, None
        entry = found.get(entry_key)
        if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == generation:
            return entry[1], generation
        return MISSING, generation

    def put(self, ident: object, value: Any, generation: str | None) -> None:
        """Keep `value`, read after `get` returned `generation` (nothing without one, and nothing
        for a row the current transaction has changed)."""
        if generation is None or (self.name, ident) in _changed_here():
            return
        entry_key, _generation_key = self._keys(ident)
        try:
            cache.set(entry_key, (generation, value), self.seconds)
        except Exception:  # noqa: BLE001
            logger.exception("Row cache unavailable; %s not kept.", self.name)

    def forget(self, *idents: object) -> None:
        """The rows changed: no entry stored before now, or by a reader that read them before the
        current transaction commits, is used again."""

        def renew() -> None:
            try:
                cache.set_many({self._keys(i)[1]: uuid.uuid4().hex for i in idents}, timeout=None)
            except Exception:  # noqa: BLE001 (what was kept then expires after `seconds`)
                logger.exception("Row cache unavailable; could not forget %s %s.", self.name, idents)

        if not idents:
            return
        renew()
        connection = connections[DEFAULT_DB_ALIAS]
        if connection.in_atomic_block:
            changed = _changed_here()
            changed.update((self.name, ident) for ident in idents)

            def committed() -> None:
                renew()
                changed.difference_update((self.name, ident) for ident in idents)

            transaction.on_commit(committed, robust=True)


def _changed_here() -> set[tuple[str, object]]:
    """The rows the default connection's open transaction has changed (empty outside one; what a
    rolled-back transaction left is dropped once no transaction is open)."""
    connection = connections[DEFAULT_DB_ALIAS]
    changed: set[tuple[str, object]] | None = getattr(connection, "kehu_rows_changed", None)
    if changed is None:
        changed = connection.kehu_rows_changed = set()
    elif changed and not connection.in_atomic_block:
        changed.clear()
    return changed
