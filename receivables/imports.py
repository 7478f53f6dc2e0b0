"""Importing invoices or payments from a CSV or XLSX file.

upload (parse the file) → map columns to fields (guessed from the headers, English or Chinese) →
check every row with the same serializers as the API (per-row errors, nothing written) → run in
the background through `documents_bulk_upsert`, in one transaction: a file is all or nothing.
Progress goes through the cache so the page can show it while the transaction is still open.
"""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from finance.actors import Actor
from finance.bulk import BulkRowErrors
from receivables import services
from receivables.api import serializers as api_serializers
from receivables.models import ImportJob

MAX_ROWS = 10_000
MAX_BYTES = 5 * 1024 * 1024

FIELDS: dict[str, list[tuple[str, Any, bool]]] = {
    # target field, label, required
    "invoices": [
        ("external_id", gettext_lazy("External id"), True),
        ("number", gettext_lazy("Number"), True),
        ("customer_external_id", gettext_lazy("Customer external id"), True),
        ("currency", gettext_lazy("Currency"), True),
        ("issue_date", gettext_lazy("Issue date"), True),
        ("due_date", gettext_lazy("Due date"), False),
        ("total", gettext_lazy("Total"), True),
        ("description", gettext_lazy("Description"), False),
    ],
    "payments": [
        ("external_id", gettext_lazy("External id"), True),
        ("customer_external_id", gettext_lazy("Customer external id"), True),
        ("currency", gettext_lazy("Currency"), True),
        ("received_on", gettext_lazy("Received on"), True),
        ("amount", gettext_lazy("Amount"), True),
        ("method", gettext_lazy("Method"), False),
        ("reference", gettext_lazy("Reference"), False),
    ],
}
SYNONYMS = {
    "external_id": ["external id", "erp id", "id", "外部编号", "外部id"],
    "number": ["number", "invoice number", "invoice no", "发票号", "发票号码", "单号"],
    "customer_external_id": ["customer", "customer id", "customer external id", "客户编号", "客户"],
    "currency": ["currency", "ccy", "币种", "货币"],
    "issue_date": ["issue date", "date", "invoice date", "开票日期", "日期"],
    "due_date": ["due date", "due", "到期日"],
    "total": ["total", "amount", "金额", "总额", "合计"],
    "description": ["description", "memo", "说明", "备注"],
    "received_on": ["received on", "date", "payment date", "收款日期", "日期"],
    "amount": ["amount", "total", "金额"],
    "method": ["method", "payment method", "方式", "付款方式"],
    "reference": ["reference", "ref", "参考号", "流水号"],
}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(Decimal(repr(value)))
    return str(value).strip()


def parse_file(name: str, content: bytes) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of a CSV (UTF-8, or GB18030 as Chinese Excel saves it) or XLSX file."""
    if len(content) > MAX_BYTES:
        raise ValidationError({"file": [_("The file is larger than 5 MB.")]})
    if name.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(io.BytesIO(content), read_only=True, data_only=True).worksheets[0]
            table = [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        except Exception:  # openpyxl raises many kinds for a damaged file
            raise ValidationError({"file": [_("This is not a readable XLSX file.")]}) from None
    elif name.lower().endswith(".csv"):
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = content.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise ValidationError({"file": [_("The CSV file is neither UTF-8 nor GB18030.")]})
        if "\x00" in text:
            raise ValidationError({"file": [_("This is not a text CSV file.")]})
        table = [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text))]
    else:
        raise ValidationError({"file": [_("Upload a .csv or .xlsx file.")]})
    table = [row for row in table if any(row)]
    if len(table) < 2:
        raise ValidationError({"file": [_("The file needs a header row and at least one row of data.")]})
    if len(table) - 1 > MAX_ROWS:
        raise ValidationError({"file": [_("At most %(max)s rows per file.") % {"max": MAX_ROWS}]})
    headers = [h or f"#{i + 1}" for i, h in enumerate(table[0])]
    width = len(headers)
    rows = [(row + [""] * width)[:width] for row in table[1:]]
    return headers, rows


def guess_mapping(kind: str, headers: list[str]) -> dict[str, str]:
    normalized = {h.strip().lower().replace("_", " "): h for h in headers}
    mapping = {}
    for field, _label, _required in FIELDS[kind]:
        for candidate in [field.replace("_", " "), *SYNONYMS.get(field, [])]:
            if candidate in normalized and normalized[candidate] not in mapping.values():
                mapping[field] = normalized[candidate]
                break
    return mapping


@transaction.atomic
def import_create(*, actor: Actor, kind: str, filename: str, content: bytes) -> ImportJob:
    actor.require("invoice.create" if kind == "invoices" else "payment.post")
    if kind not in FIELDS:
        raise ValidationError({"kind": [_("Choose invoices or payments.")]})
    headers, rows = parse_file(filename, content)
    return ImportJob.objects.create(
        kind=kind,
        filename=filename[:255],
        headers=headers,
        rows=rows,
        mapping=guess_mapping(kind, headers),
        created_by=actor.user,
    )


def _items(job: ImportJob) -> list[dict[str, Any]]:
    index = {h: i for i, h in enumerate(job.headers)}
    items = []
    for row in job.rows:
        item = {}
        for field, column in job.mapping.items():
            value = row[index[column]] if column in index else ""
            if value != "":
                item[field] = value
        items.append(item)
    return items


def import_check(*, actor: Actor, job: ImportJob, mapping: dict[str, str]) -> ImportJob:
    """Map the columns and check every row as the API would; errors are kept per row number."""
    missing = [
        str(label) for field, label, required in FIELDS[job.kind] if required and not mapping.get(field)
    ]
    if missing:
        raise ValidationError(
            {"mapping": [_("Map these fields: %(fields)s") % {"fields": ", ".join(missing)}]}
        )
    unknown = set(mapping.values()) - set(job.headers) - {""}
    if unknown:
        raise ValidationError({"mapping": [_("Unknown columns.")]})
    job.mapping = {k: v for k, v in mapping.items() if v}
    item_serializer = (
        api_serializers.InvoiceSerializer if job.kind == "invoices" else api_serializers.PaymentSerializer
    )
    errors: dict[str, Any] = {}
    seen: set[str] = set()
    for number, item in enumerate(_items(job), start=2):  # row 1 is the header
        serializer = item_serializer(data=item, context={"actor": actor})
        if not serializer.is_valid():
            errors[str(number)] = serializer.errors
        elif item["external_id"] in seen:
            errors[str(number)] = {"external_id": [_("This external id appears twice in the file.")]}
        seen.add(item.get("external_id", ""))
    job.row_errors = errors
    job.status = ImportJob.Status.UPLOADED if errors else ImportJob.Status.VALIDATED
    job.save(update_fields=["mapping", "row_errors", "status"])
    return job


def progress_key(job: ImportJob) -> str:
    return f"kehu:import:{job.organization_id}:{job.pk}"


def import_progress(job: ImportJob) -> dict[str, int]:
    return cache.get(progress_key(job)) or {"done": 0, "total": len(job.rows)}


def import_run(*, actor: Actor, job: ImportJob) -> ImportJob:
    """Write every row through the bulk upsert, all or nothing; reports progress as it goes."""
    if job.status not in (ImportJob.Status.QUEUED, ImportJob.Status.VALIDATED):
        return job
    job.status = ImportJob.Status.RUNNING
    job.save(update_fields=["status"])
    total = len(job.rows)
    item_serializer = (
        api_serializers.InvoiceSerializer if job.kind == "invoices" else api_serializers.PaymentSerializer
    )
    items, invalid = [], {}
    for number, item in enumerate(_items(job), start=2):
        serializer = item_serializer(data=item, context={"actor": actor})
        if serializer.is_valid():
            items.append(serializer.validated_data)
        else:  # the data changed since the check (a customer archived, say)
            invalid[str(number)] = serializer.errors
    if invalid:
        job.row_errors, job.status, job.finished_at = invalid, ImportJob.Status.FAILED, timezone.now()
        job.save(update_fields=["row_errors", "status", "finished_at"])
        return job

    def report(done: int) -> None:
        cache.set(progress_key(job), {"done": done, "total": total}, timeout=24 * 3600)

    try:
        results = services.documents_bulk_upsert(
            actor=actor, kind="invoice" if job.kind == "invoices" else "payment", items=items, progress=report
        )
    except (BulkRowErrors, ValidationError) as exc:
        rows = exc.rows if isinstance(exc, BulkRowErrors) else [exc.message_dict]
        job.row_errors = {str(i + 2): e for i, e in enumerate(rows) if e}
        job.status, job.finished_at = ImportJob.Status.FAILED, timezone.now()
        job.save(update_fields=["row_errors", "status", "finished_at"])
        return job
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for result in results:
        counts[result.status] += 1
    report(total)
    job.result, job.status, job.finished_at = counts, ImportJob.Status.DONE, timezone.now()
    job.save(update_fields=["result", "status", "finished_at"])
    return job
