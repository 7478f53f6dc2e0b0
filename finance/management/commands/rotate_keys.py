"""Re-encrypt every encrypted column with the newest key of FIELD_ENCRYPTION_KEYS.

Rotation: put the new key first (`3:new,2:old`), run `rotate_keys`, check with `rotate_keys
--check`, then drop the old key. Each organization is processed inside its tenant (row-level
security), in batches of primary keys, one transaction per batch; rows already on the newest key
are left alone, so a second run (or a run after a crash) changes nothing. A value stored in
plaintext (written around the ORM) is encrypted. `--reindex` recomputes the blind indexes (after
BLIND_INDEX_KEY changes): a `BlindIndexField` named `<field>_index` indexes `<field>`.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models, transaction

from finance import crypto, tenancy
from finance.models import Organization


def _tenant_models_with_encryption() -> list[type[models.Model]]:
    return [
        model
        for model in apps.get_models()
        if crypto.encrypted_fields(model) and any(f.name == "organization" for f in model._meta.fields)
    ]


def _blind_indexes(model: type[models.Model]) -> list[tuple[models.Field, models.Field]]:
    pairs = []
    for field in model._meta.concrete_fields:
        if crypto.is_audit_hidden(field) and field.name.endswith("_index"):
            pairs.append((model._meta.get_field(field.name.removesuffix("_index")), field))
    return pairs


class Command(BaseCommand):
    help = "Re-encrypt every encrypted column with the newest key; --check lists rows on older keys."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="Only count rows not on the newest key.")
        parser.add_argument("--reindex", action="store_true", help="Also recompute the blind indexes.")
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        newest = crypto.keyring().newest_version
        check, reindex, batch_size = options["check"], options["reindex"], max(1, options["batch_size"])
        outdated_total = 0
        for model in _tenant_models_with_encryption():
            rows = outdated = changed = 0
            for organization in Organization.objects.order_by("pk"):
                with tenancy.tenant(organization):
                    r, o, c = self._model(model, organization.pk, newest, check, reindex, batch_size)
                rows, outdated, changed = rows + r, outdated + o, changed + c
            outdated_total += outdated
            if check:
                self.stdout.write(f"{model._meta.label}: {rows} rows, {outdated} not on key v{newest}")
            else:
                self.stdout.write(
                    f"{model._meta.label}: {rows} rows, {changed} re-encrypted to key v{newest}"
                )
        if check and outdated_total:
            raise CommandError(f"{outdated_total} rows are not on the newest key v{newest}.")

    def _model(
        self,
        model: type[models.Model],
        organization_id: int,
        newest: int,
        check: bool,
        reindex: bool,
        batch_size: int,
    ) -> tuple[int, int, int]:
        """(rows, rows on an older key or in plaintext, rows rewritten) of one organization."""
        table = connection.ops.quote_name(model._meta.db_table)
        fields = crypto.encrypted_fields(model)
        indexes = _blind_indexes(model) if reindex and not check else []
        columns = [f.column for f in fields]
        select = ", ".join(connection.ops.quote_name(c) for c in ["id", *columns])
        rows = outdated = changed = 0
        last_pk = 0
        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT {select} FROM {table} WHERE organization_id = %s AND id > %s"
                    " ORDER BY id LIMIT %s",
                    [organization_id, last_pk, batch_size],
                )
                batch = cursor.fetchall()
                if not batch:
                    return rows, outdated, changed
                last_pk = batch[-1][0]
                updates = []
                for pk, *stored in batch:
                    rows += 1
                    values = ["" if v is None else str(v) for v in stored]
                    stale = any(v and crypto.stored_version(v) != newest for v in values)
                    outdated += stale
                    if check or not (stale or indexes):
                        continue
                    new_values = [self._rotated(v, newest) if v else v for v in values]
                    assignments = dict(zip(columns, new_values, strict=True))
                    for source, index in indexes:
                        plaintext = (
                            crypto.decrypt(assignments[source.column]) if assignments[source.column] else ""
                        )
                        assignments[index.column] = crypto.blind_index(plaintext)
                    updates.append((assignments, pk))
                for assignments, pk in updates:
                    sets = ", ".join(f"{connection.ops.quote_name(c)} = %s" for c in assignments)
                    cursor.execute(f"UPDATE {table} SET {sets} WHERE id = %s", [*assignments.values(), pk])
                changed += len(updates)

    @staticmethod
    def _rotated(stored: str, newest: int) -> str:
        if not crypto.is_encrypted(stored):
            return crypto.encrypt(stored)  # plaintext written around the ORM
        if crypto.stored_version(stored) == newest:
            return stored
        return crypto.rotate(stored)
