"""Bulk upserts: all rows are validated before any is written; errors come back per row."""

from __future__ import annotations

import csv
import io
import itertools
import json
import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, router, transaction
from django.db.models import Field, JSONField, Model
from django.utils import timezone


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


def insert_many(
    model: type[Model],
    objs: list[Model],
    *,
    unique_fields: list[str] | None = None,
    update_fields: list[str] | None = None,
) -> None:
    """Insert many model instances fast, or upsert them on `unique_fields` (updating
    `update_fields`); returns no ids. See `insert_values`."""
    if not objs:
        return
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    getters = [_copy_value(field) for field in fields]
    insert_values(
        model,
        [field.name for field in fields],
        ([getter(obj) for getter in getters] for obj in objs),
        unique_fields=unique_fields,
        update_fields=update_fields,
        prepared=True,
    )


COPY_FROM = 500  # rows from which `insert_values` goes through COPY on PostgreSQL


def insert_values(
    model: type[Model],
    field_names: list[str],
    rows: Iterable[Sequence[Any]],
    *,
    unique_fields: list[str] | None = None,
    update_fields: list[str] | None = None,
    prepared: bool = False,
) -> None:
    """Insert rows given as value tuples (in the order of `field_names`, which must include every
    column without a database default), or upsert them on `unique_fields`. On PostgreSQL the rows
    go through COPY into a temporary table, then one `INSERT … SELECT … [ON CONFLICT … DO UPDATE]`
    into the real table, where row-level security and every constraint apply as for any insert
    (PostgreSQL refuses COPY into a table with RLS). Elsewhere (SQLite) it is `bulk_create`. One
    transaction; no model instances on PostgreSQL, which is what makes it fast. Fewer than
    `COPY_FROM` rows go through `bulk_create` there too: COPY's temporary table would cost more than
    it saves (the audit seals of one request)."""
    connection = connections[router.db_for_write(model)]
    by_name = {field.name: field for field in model._meta.concrete_fields}
    fields = [by_name[name] for name in field_names]
    rows = iter(rows)
    first = list(itertools.islice(rows, COPY_FROM))
    rows = itertools.chain(first, rows)
    if connection.vendor != "postgresql" or len(first) < COPY_FROM:
        objs = [
            model(**{field.attname: value for field, value in zip(fields, row, strict=True)}) for row in rows
        ]
        if prepared:
            for obj in objs:  # JSON was dumped for COPY: load it back for the ORM
                for field in fields:
                    if isinstance(field, JSONField) and isinstance(getattr(obj, field.attname), str):
                        setattr(obj, field.attname, json.loads(getattr(obj, field.attname)))
        options: dict[str, Any] = {"batch_size": 2000}
        if unique_fields:
            options.update(update_conflicts=True, unique_fields=unique_fields, update_fields=update_fields)
        if objs:
            with transaction.atomic(using=connection.alias):  # a failed insert leaves the caller's usable
                model._base_manager.bulk_create(objs, **options)
        return
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    table = quote(model._meta.db_table)
    stage = quote(f"bulk_stage_{model._meta.db_table}")
    conflict = ""
    if unique_fields:
        keys = ", ".join(quote(by_name[name].column) for name in unique_fields)
        quoted = [quote(by_name[name].column) for name in update_fields or []]
        updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in quoted)
        conflict = (
            f" ON CONFLICT ({keys}) DO UPDATE SET {updates}"
            if updates
            else f" ON CONFLICT ({keys}) DO NOTHING"
        )
    json_positions = [] if prepared else [i for i, field in enumerate(fields) if isinstance(field, JSONField)]
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {columns} FROM {table} WITH NO DATA"
        )
        # CSV through the C csv writer is several times faster than psycopg's row-by-row COPY; a
        # quoted empty value is NULL in the nullable columns (FORCE_NULL), as None is written so.
        nullable = ", ".join(quote(field.column) for field in fields if field.null)
        options = f"FORMAT csv, FORCE_NULL ({nullable})" if nullable else "FORMAT csv"
        with cursor.cursor.copy(f"COPY {stage} ({columns}) FROM STDIN WITH ({options})") as copy:
            buffer = io.StringIO()
            writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
            for number, row in enumerate(rows, start=1):
                if json_positions:
                    row = list(row)
                    for i in json_positions:
                        row[i] = None if row[i] is None else json.dumps(row[i], cls=DjangoJSONEncoder)
                writer.writerow(row)
                if number % 20000 == 0:
                    copy.write(buffer.getvalue())
                    buffer.seek(0)
                    buffer.truncate()
            copy.write(buffer.getvalue())
        cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage}{conflict}")
        cursor.execute(f"DROP TABLE {stage}")


def _copy_value(field: Field) -> Callable[[Model], Any]:
    """How COPY gets one field's value from an instance: the attribute as is (psycopg adapts
    numbers, Decimals, dates and strings), JSON as text, and `auto_now` fields as now."""
    attname = field.attname
    if getattr(field, "auto_now", False):
        now = timezone.now()
        return lambda obj: now
    if getattr(field, "auto_now_add", False):
        now = timezone.now()
        return lambda obj: getattr(obj, attname) or now
    if isinstance(field, JSONField):
        encoder = field.encoder or DjangoJSONEncoder

        def as_json(obj: Model) -> str | None:
            value = getattr(obj, attname)
            return None if value is None else json.dumps(value, cls=encoder)

        return as_json
    return operator.attrgetter(attname)


def update_values(
    model: type[Model], field_names: list[str], rows: Sequence[Sequence[Any]], *, batch_size: int = 5000
) -> None:
    """Set `field_names` of many rows at once: each row is (pk, value, value, ...). On PostgreSQL
    one COPY into a temporary table and one `UPDATE … FROM` it (row-level security applies to the
    UPDATE); elsewhere `bulk_update`. The caller's transaction holds it together."""
    if not rows:
        return
    connection = connections[router.db_for_write(model)]
    by_name = {field.name: field for field in model._meta.concrete_fields}
    fields = [by_name[name] for name in field_names]
    if connection.vendor != "postgresql":
        objs = []
        for pk, *values in rows:
            obj = model(pk=pk)
            for field, value in zip(fields, values, strict=True):
                setattr(obj, field.attname, value)
            objs.append(obj)
        model._base_manager.bulk_update(objs, field_names, batch_size=batch_size)
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    key = quote(model._meta.pk.column)
    columns = [key, *(quote(field.column) for field in fields)]
    stage = quote(f"bulk_update_{model._meta.db_table}")
    assignments = ", ".join(f"{column} = s.{column}" for column in columns[1:])
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        listed = ", ".join(columns)
        cursor.execute(
            f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {listed} FROM {table} WITH NO DATA"
        )
        with cursor.cursor.copy(f"COPY {stage} ({listed}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"UPDATE {table} AS t SET {assignments} FROM {stage} AS s WHERE t.{key} = s.{key}")
        cursor.execute(f"DROP TABLE {stage}")
