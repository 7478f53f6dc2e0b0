"""Recording audit events. Every service write calls `record()` inside its transaction."""

from __future__ import annotations

import datetime
import operator
from decimal import Decimal
from typing import Any

from django.db import models

from finance import auditchain
from finance.actors import Actor, request_id_var
from finance.bulk import insert_values
from finance.models import AuditEvent


def _plain(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, (Decimal, datetime.date, datetime.datetime)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def snapshot(instance: models.Model, fields: list[str] | None = None) -> dict[str, Any]:
    """The audited values of an instance: concrete fields by attribute name (ids for relations).

    Encrypted fields never enter the log in plaintext: a text shows as "••••" and its last 4
    characters, a figure as "••••"; blind-index columns are left out."""
    from finance.crypto import encrypted_marker, is_audit_hidden

    values = {}
    for field in instance._meta.concrete_fields:
        if field.name in {"id", "organization", "created_at", "updated_at"}:
            continue
        if fields is not None and field.name not in fields:
            continue
        if is_audit_hidden(field):
            continue
        value = getattr(instance, field.attname)
        values[field.name] = (
            encrypted_marker(field, value) if getattr(field, "encrypted", False) else _plain(value)
        )
    return values


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Changed fields as {field: [old, new]}; empty to empty (None, "", []) is no change."""
    keys = list(after) + [k for k in before if k not in after]
    return {
        k: [before.get(k), after.get(k)]
        for k in keys
        if before.get(k) != after.get(k) and not (_empty(before.get(k)) and _empty(after.get(k)))
    }


def build(
    *,
    actor: Actor,
    action: str,
    instance: models.Model,
    changes: dict[str, Any] | None = None,
    customer_id: int | None = None,
) -> AuditEvent:
    return AuditEvent(
        organization=actor.organization,
        actor_user=actor.user,
        actor_api_key=actor.api_key,
        action=action,
        object_type=instance._meta.label_lower,
        object_id=str(instance.pk),
        object_repr=str(instance)[:200],
        customer_id=customer_id,
        changes=changes or {},
        request_id=request_id_var.get(),
    )


# The columns of an event written as a row of values (`record_rows`), in this order.
EVENT_COLUMNS = [
    "organization",
    "actor_user",
    "actor_api_key",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "customer_id",
    "changes",
    "request_id",
    "created_at",
]
_event_row = operator.attrgetter(*(AuditEvent._meta.get_field(name).attname for name in EVENT_COLUMNS))


def record_rows(rows: list[tuple[Any, ...]]) -> None:
    """Write many events given as rows of `EVENT_COLUMNS` values (a night's 100k classifications:
    no model instances), through COPY from `bulk.COPY_FROM` of them; sealed after the commit like
    every event, although written past the model's manager."""
    insert_values(AuditEvent, EVENT_COLUMNS, rows)
    if rows:
        auditchain.seal_after_commit({row[0] for row in rows})


def record_many(events: list[AuditEvent]) -> None:
    """Write events made by `build`, many at once (a bulk import's thousand): `record_rows`."""
    record_rows([_event_row(event) for event in events])


def record(
    *,
    actor: Actor,
    action: str,
    instance: models.Model,
    changes: dict[str, Any] | None = None,
    customer_id: int | None = None,
) -> AuditEvent:
    event = build(actor=actor, action=action, instance=instance, changes=changes, customer_id=customer_id)
    event.save()
    return event
