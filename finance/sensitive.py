"""Who sees sensitive values unmasked, and the audit trail of every unmasked view.

- Tax ids, bank accounts and identity numbers: roles with `sensitive.view` (owner, admin, finance
  manager, write-scoped API keys, which the ERP needs to match records); everyone else sees
  "••••" and the last 4 characters.
- Financial statement figures: `sensitive.view` or `credit.statement` (the clerks who enter them);
  everyone else sees no figure at all, only the ratios and scores computed from them.
Every unmasked view is one `sensitive.viewed` audit event per object, naming the fields (never the
values).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models

from finance import audit
from finance.actors import Actor
from finance.crypto import encrypted_fields, encrypted_marker, mask
from finance.models import AuditEvent

VIEWED = "sensitive.viewed"


def can_view_identifiers(actor: Actor | None) -> bool:
    return actor is not None and actor.can("sensitive.view")


def can_view_figures(actor: Actor | None) -> bool:
    return actor is not None and (actor.can("sensitive.view") or actor.can("credit.statement"))


def may_view(actor: Actor | None, field: models.Field) -> bool:
    if isinstance(field, models.DecimalField):
        return can_view_figures(actor)
    return can_view_identifiers(actor)


def masked(actor: Actor | None, field: models.Field, value: Any) -> Any:
    """The value as the actor may see it: itself, masked text, or None for a hidden figure."""
    if may_view(actor, field) or value is None or value == "":
        return value
    if isinstance(field, models.DecimalField):
        return None
    return mask(value)


def shown_fields(instance: models.Model, names: Iterable[str] | None = None) -> list[str]:
    """The encrypted fields of `instance` that hold a value (an unmasked view of them is audited)."""
    wanted = set(names) if names is not None else None
    return [
        f.name
        for f in encrypted_fields(type(instance))
        if (wanted is None or f.name in wanted) and getattr(instance, f.attname) not in (None, "")
    ]


def viewed_event(
    *, actor: Actor, instance: models.Model, fields: list[str], customer_id: int | None
) -> AuditEvent:
    return audit.build(
        actor=actor,
        action=VIEWED,
        instance=instance,
        changes={"fields": sorted(fields)},
        customer_id=customer_id,
    )


def record_views(actor: Actor, views: list[tuple[models.Model, list[str], int | None]]) -> None:
    """One `sensitive.viewed` event per object, in one insert (list pages keep a constant query count)."""
    events = [
        viewed_event(actor=actor, instance=instance, fields=fields, customer_id=customer_id)
        for instance, fields, customer_id in views
        if fields
    ]
    if events:
        AuditEvent.objects.bulk_create(events)


def plaintexts(instance: models.Model) -> dict[str, Any]:
    """The current values of the encrypted fields, to compare after a change (kept in memory only)."""
    return {f.name: getattr(instance, f.attname) for f in encrypted_fields(type(instance))}


def encrypted_changes(before: dict[str, Any], instance: models.Model) -> dict[str, list[Any]]:
    """Changed encrypted fields as {field: [old marker, new marker]}: the audit diff compares
    markers, and two values with the same last 4 characters have the same marker."""
    changes: dict[str, list[Any]] = {}
    for field in encrypted_fields(type(instance)):
        old, new = before.get(field.name), getattr(instance, field.attname)
        if field.name in before and old != new and not (old in (None, "") and new in (None, "")):
            changes[field.name] = [encrypted_marker(field, old), encrypted_marker(field, new)]
    return changes
