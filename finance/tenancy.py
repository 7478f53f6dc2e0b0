"""The current organization, and the walls that keep tenants apart.

The current organization lives in a context variable. It is set in exactly three places: the web
middleware, the API authentication and the Celery tenant-task base class (plus `tenant()` blocks
in operator commands and tests). `TenantModel.objects` raises `NoTenantError` when none is set,
so a query can never silently see every tenant. On PostgreSQL the same value is pushed into the
connection setting `kehu.org_id`, which the row-level security policies compare with each row.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import connections, models

if TYPE_CHECKING:
    from finance.models import Organization


class NoTenantError(RuntimeError):
    """A tenant-scoped query ran with no current organization."""


@dataclass(frozen=True)
class DbContext:
    """What the database may see: one organization, and the lookup keys used before it is known."""

    org_id: int | None = None
    user_id: int | None = None
    key_prefix: str | None = None


_current_org: contextvars.ContextVar[Organization | None] = contextvars.ContextVar(
    "kehu_current_org", default=None
)
_db_context: contextvars.ContextVar[DbContext] = contextvars.ContextVar(
    "kehu_db_context",
    default=DbContext(),  # noqa: B039 (a frozen dataclass: immutable)
)


def current_organization() -> Organization:
    org = _current_org.get()
    if org is None:
        raise NoTenantError("No current organization: enter a tenant context first.")
    return org


def current_organization_or_none() -> Organization | None:
    return _current_org.get()


def current_db_context() -> DbContext:
    return _db_context.get()


def apply_db_context(connection: Any = None) -> None:
    """Push the current database context into the PostgreSQL connection's settings."""
    conns = [connection] if connection is not None else [connections[a] for a in connections]
    ctx = _db_context.get()
    for conn in conns:
        if conn.vendor != "postgresql" or conn.connection is None:
            continue
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('kehu.org_id', %s, false), set_config('kehu.user_id', %s, false),"
                " set_config('kehu.key_prefix', %s, false)",
                [
                    str(ctx.org_id or ""),
                    str(ctx.user_id or ""),
                    ctx.key_prefix or "",
                ],
            )


def _set(org: Organization | None, ctx: DbContext) -> tuple[Any, Any]:
    tokens = (_current_org.set(org), _db_context.set(ctx))
    apply_db_context()
    return tokens


def _reset(tokens: tuple[Any, Any]) -> None:
    _current_org.reset(tokens[0])
    _db_context.reset(tokens[1])
    apply_db_context()


@contextmanager
def tenant(org: Organization, *, user_id: int | None = None) -> Iterator[Organization]:
    """Run the block as `org`; the previous context (or none) is restored afterwards."""
    tokens = _set(org, DbContext(org_id=org.pk, user_id=user_id))
    try:
        yield org
    finally:
        _reset(tokens)


@contextmanager
def lookup_context(
    *, user_id: int | None = None, key_prefix: str | None = None, restore: bool = True
) -> Iterator[None]:
    """Before the tenant is known: see only the memberships of one user or the keys of one prefix.

    `restore=False` leaves the lookup context in place after the block, for a caller inside
    `request_scope` that sets the tenant next (API authentication): the request's end restores the
    context anyway, and the database round trip of restoring it twice is saved."""
    tokens = _set(None, DbContext(user_id=user_id, key_prefix=key_prefix))
    try:
        yield
    finally:
        if restore:
            _reset(tokens)


def activate(org: Organization | None, *, user_id: int | None = None) -> None:
    """Set the tenant for the rest of a request; the middleware restores the previous one."""
    _current_org.set(org)
    _db_context.set(DbContext(org_id=org.pk if org else None, user_id=user_id))
    apply_db_context()


@contextmanager
def request_scope() -> Iterator[None]:
    """Wrap a request: whatever it activates is undone when it ends."""
    previous_org, previous_ctx = _current_org.get(), _db_context.get()
    try:
        yield
    finally:
        _current_org.set(previous_org)
        _db_context.set(previous_ctx)
        apply_db_context()


class TenantQuerySet(models.QuerySet):
    def get(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().get(*args, **kwargs)
        except self.model.DoesNotExist:
            _report_foreign_id(self.model, args, kwargs)
            raise


_PK_LOOKUPS = ("pk", "id", "pk__exact", "id__exact")


def _report_foreign_id(model: type[models.Model], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """A by-id lookup that missed in the current tenant: if the id belongs to another tenant, log
    `access.foreign_id` (the caller still answers 404, exactly as for a missing id).

    Only plain primary-key lookups made during a request are checked, so `get_or_create` and
    background jobs cost nothing extra. On PostgreSQL, row-level security hides other tenants'
    rows from the application role, so there the check finds nothing and stays silent.
    """
    org = _current_org.get()
    if org is None or args or len(kwargs) != 1:
        return
    name, value = next(iter(kwargs.items()))
    if name not in _PK_LOOKUPS:
        return
    from finance import security_events

    if security_events.current_request() is None:
        return
    try:
        pk = int(value)
    except (TypeError, ValueError, OverflowError):
        return
    unscoped = getattr(model, "unscoped", None)
    if unscoped is None or not -(2**63) <= pk < 2**63:
        return
    if unscoped.filter(pk=pk).exclude(organization_id=org.pk).exists():
        security_events.emit(
            "access.foreign_id", object_type=model._meta.label_lower, object_id=pk, status=404
        )


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):  # type: ignore[misc]
    """Default manager of tenant models: filtered by the current organization, raises without one."""

    def get_queryset(self) -> TenantQuerySet:
        org = current_organization()
        return super().get_queryset().filter(organization_id=org.pk)

    def none(self) -> TenantQuerySet:
        """An empty queryset needs no tenant (schema generation and filters ask for one)."""
        return super().get_queryset().none()


class UnscopedManager(models.Manager):
    """Every tenant's rows. Grep for `.unscoped` to find each place that crosses tenants."""
