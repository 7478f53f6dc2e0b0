"""PostgreSQL roles and row-level security.

- Every connection switches to `DATABASE_APP_ROLE` (when set) as soon as it opens, and receives the
  current tenant settings. `owner_mode()` (used by `migrate` and `flush`) keeps the owner instead.
- After every `migrate`, each tenant table gets RLS `ENABLE` + `FORCE` and one policy comparing
  `organization_id` with the connection setting `kehu.org_id`, in `USING` and `WITH CHECK`; the
  app role gets DML rights only, and only SELECT and INSERT on the audit tables. Nothing here runs
  on SQLite, where the ORM wall alone holds.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connections
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.signals import connection_created

_owner_mode: contextvars.ContextVar[bool] = contextvars.ContextVar("kehu_owner_mode", default=False)

# Tables the application role may read and append to, never change: the tamper-evident audit log.
APPEND_ONLY_TABLES = ("finance_auditevent", "finance_auditseal")

TENANT_POLICY = "organization_id = NULLIF(current_setting('kehu.org_id', true), '')::bigint"


def _switch_role(connection: Any) -> None:
    role = settings.DATABASE_APP_ROLE
    # The maintenance connection (CREATE/DROP DATABASE for tests) stays with the owner.
    if connection.vendor != "postgresql" or not role or connection.alias == NO_DB_ALIAS:
        return
    with connection.cursor() as cursor:
        if _owner_mode.get():
            cursor.execute("RESET ROLE")
        else:
            cursor.execute(f'SET ROLE "{role}"')


def on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    from finance.tenancy import apply_db_context

    _switch_role(connection)
    apply_db_context(connection)


connection_created.connect(on_connection_created, dispatch_uid="kehu_connection_created")


@contextmanager
def owner_mode() -> Iterator[None]:
    """Run schema work as the owner of the tables (no app role)."""
    token = _owner_mode.set(True)
    for conn in connections.all():
        if conn.connection is not None:
            _switch_role(conn)
    try:
        yield
    finally:
        _owner_mode.reset(token)
        for conn in connections.all():
            if conn.connection is not None:
                _switch_role(conn)


def tenant_tables() -> list[tuple[str, str]]:
    """(table, extra lookup condition) of every concrete tenant model."""
    from finance.models import TenantModel

    return sorted(
        (model._meta.db_table, model.rls_lookup)
        for model in apps.get_models()
        if issubclass(model, TenantModel) and not model._meta.proxy
    )


def apply_row_level_security(using: str = "default") -> None:
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    role = settings.DATABASE_APP_ROLE
    with connection.cursor() as cursor:
        for table, lookup in tenant_tables():
            using_clause = TENANT_POLICY if not lookup else f"({TENANT_POLICY}) OR ({lookup})"
            cursor.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
            cursor.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
            cursor.execute(f'DROP POLICY IF EXISTS kehu_tenant ON "{table}"')
            cursor.execute(
                f'CREATE POLICY kehu_tenant ON "{table}" USING ({using_clause}) WITH CHECK ({TENANT_POLICY})'
            )
        if role:
            cursor.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"')
            cursor.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
            cursor.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
            # The audit log and its chain are insert-only for the application.
            cursor.execute(
                f'REVOKE UPDATE, DELETE, TRUNCATE ON {", ".join(APPEND_ONLY_TABLES)} FROM "{role}"'
            )


def on_post_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    apply_row_level_security(using)
