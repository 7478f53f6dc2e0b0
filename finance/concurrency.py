"""Per-organization concurrency limits for tenant tasks (across every worker on every machine).

Each organization has `TENANT_TASK_CONCURRENCY` slots, kept in the shared cache (Redis in
production). A tenant task takes a free slot before it runs and gives it back after; when all the
organization's slots are taken, the task is retried a little later instead of running, so a large
organization's burst of work (an import, a recompute, a dunning run) cannot hold every worker
while other organizations wait. `cache.add` is atomic on Redis (SET NX): two workers never take the
same slot. A slot expires after `TENANT_TASK_SLOT_SECONDS`, so a worker that died holding one frees
it in time. Eager tasks (tests, CELERY_TASK_ALWAYS_EAGER) run in the caller's process: no slot.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.cache import cache

# A waiting task looks again after this many seconds (plus jitter), for up to about four hours.
RETRY_SECONDS = 10
MAX_WAITS = 1500


class NoFreeSlot(Exception):
    """Every slot of the organization is taken."""


def _key(organization_id: int, slot: int) -> str:
    return f"kehu:tenant-slot:{organization_id}:{slot}"


def limit() -> int:
    return max(1, int(settings.TENANT_TASK_CONCURRENCY))


def acquire(organization_id: int, holder: str) -> str | None:
    """The key of a slot taken for `holder`, or None when every slot is taken."""
    timeout = int(getattr(settings, "TENANT_TASK_SLOT_SECONDS", 3600))
    for slot in range(limit()):
        key = _key(organization_id, slot)
        if cache.add(key, holder, timeout=timeout):
            return key
    return None


def release(key: str) -> None:
    cache.delete(key)


def busy_slots(organization_id: int) -> int:
    return sum(1 for slot in range(limit()) if cache.get(_key(organization_id, slot)) is not None)


@contextmanager
def tenant_slot(organization_id: int, holder: str) -> Iterator[None]:
    """Hold one of the organization's slots for the block; raises NoFreeSlot when none is free."""
    key = acquire(organization_id, holder)
    if key is None:
        raise NoFreeSlot(organization_id)
    try:
        yield
    finally:
        release(key)


def retry_countdown() -> float:
    return RETRY_SECONDS + random.uniform(0, RETRY_SECONDS)  # noqa: S311 - jitter, not security


def run_in_slot(task: Any, organization_id: int, call: Any) -> Any:
    """Run `call()` in one of the organization's slots, or ask Celery to retry the task later."""
    if task.request.is_eager:
        return call()
    try:
        with tenant_slot(organization_id, holder=str(task.request.id)):
            return call()
    except NoFreeSlot:
        raise task.retry(countdown=retry_countdown(), max_retries=MAX_WAITS) from None
