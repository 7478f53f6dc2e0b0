"""Reads for reports go to a read replica when one is configured; everything else to the primary.

A report or export wraps its reads in `reporting()`. Inside it, with a `replica` database
configured (`DATABASE_REPLICA_URL`), the ORM reads from the replica: the large aggregates (aging,
KPIs, analytics, exports) then load the replica and leave the primary to the writes. Writes always
go to the primary, even inside `reporting()` (an export records its own audit event), and so does
every read outside it, so a request never reads its own writes from a lagging replica.

The replica connection is a connection like any other: it switches to the application role and
receives the tenant settings as it opens (finance/db.py), so row-level security applies there too.
Without a replica `reporting()` changes nothing.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import models

REPLICA = "replica"
PRIMARY = "default"

_reporting: contextvars.ContextVar[bool] = contextvars.ContextVar("kehu_reporting", default=False)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


@contextmanager
def reporting() -> Iterator[None]:
    """Reads in this block may come from the read replica (a report's, not a service's reads)."""
    token = _reporting.set(True)
    try:
        yield
    finally:
        _reporting.reset(token)


def reading_from_replica() -> bool:
    return _reporting.get() and replica_configured()


class ReplicaRouter:
    def db_for_read(self, model: type[models.Model], **hints: Any) -> str | None:
        return REPLICA if reading_from_replica() else PRIMARY

    def db_for_write(self, model: type[models.Model], **hints: Any) -> str | None:
        return PRIMARY

    def allow_relation(self, obj1: models.Model, obj2: models.Model, **hints: Any) -> bool | None:
        return True  # the replica holds the primary's rows: the same objects

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return db == PRIMARY
