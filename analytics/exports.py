"""Downloads of the analytics customer list: CSV (UTF-8 with a byte-order mark, amounts as plain
2-decimal strings) and XLSX (amounts as numbers formatted with 2 decimals). Both take the list's
queryset as filtered for the actor, so nobody downloads a row they could not see on the page.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterable
from typing import Any

from django.http import HttpResponse
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from analytics.models import CustomerAnalytics

FORMATS = ("csv", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# (model field or special key, kind): kind says how each format writes the value.
COLUMNS: list[tuple[str, str]] = [
    ("external_id", "text"),
    ("customer", "text"),
    ("owner", "text"),
    ("abc_revenue", "text"),
    ("abc_cash", "text"),
    ("r_score", "int"),
    ("f_score", "int"),
    ("m_score", "int"),
    ("segment", "text"),
    ("lifecycle_stage", "text"),
    ("revenue_12m", "money"),
    ("cash_12m", "money"),
    ("purchases", "int"),
    ("last_purchase", "date"),
    ("expected_purchases", "decimal3"),
    ("prob_alive", "decimal4"),
    ("expected_order_value", "money"),
    ("clv", "money"),
    ("churn_risk", "int"),
    ("overdue", "money"),
    ("action_value", "money"),
]
TEXT_COLUMNS = {key for key, kind in COLUMNS if kind == "text"}
MONEY_COLUMNS = {key for key, kind in COLUMNS if kind == "money"}


def headers() -> list[str]:
    """Column titles in the active language: the model's field names, plus the customer's."""
    special = {"external_id": _("External id"), "customer": _("Customer"), "owner": _("Owner")}
    return [
        special.get(key) or str(capfirst(CustomerAnalytics._meta.get_field(key).verbose_name))
        for key, _kind in COLUMNS
    ]


def values(row: CustomerAnalytics) -> list[Any]:
    """One row's cells as Python values (Decimal, int, date, str; None when empty)."""
    customer = row.customer
    special = {
        "external_id": customer.external_id or "",
        "customer": customer.name,
        "owner": str(customer.owner) if customer.owner_id else "",
        "segment": row.get_segment_display() if row.segment else "",
        "lifecycle_stage": row.get_lifecycle_stage_display(),
    }
    return [special[key] if key in special else getattr(row, key) for key, _kind in COLUMNS]


def _csv_text(value: str) -> str:
    """Text a spreadsheet would run as a formula gets a leading apostrophe."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _csv_cell(key: str, value: Any) -> str:
    if value is None:
        return ""
    if key in MONEY_COLUMNS:
        return f"{value:.2f}"
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, str):
        return _csv_text(str(value))
    return str(value)


def customers_csv(rows: Iterable[CustomerAnalytics], filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow(headers())
    keys = [key for key, _kind in COLUMNS]
    for row in rows:
        writer.writerow([_csv_cell(key, value) for key, value in zip(keys, values(row), strict=True)])
    return response


def customers_xlsx(rows: Iterable[CustomerAnalytics], filename: str) -> HttpResponse:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _("Customers")[:31]
    sheet.append(headers())
    formats = {
        "money": "#,##0.00",
        "decimal3": "0.000",
        "decimal4": "0.0000",
        "int": "0",
        "date": "yyyy-mm-dd",
    }
    for row in rows:
        sheet.append(values(row))
    for cells in sheet.iter_rows(min_row=2):
        for cell, (_key, kind) in zip(cells, COLUMNS, strict=True):
            if cell.value is None:
                continue
            if kind == "text":
                cell.data_type = "s"  # a name starting with "=" stays text, never a formula
            else:
                cell.number_format = formats[kind]
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "C2"
    sheet.column_dimensions["B"].width = 36
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
    return response


def customers_export(rows: Any, kind: str, *, today: datetime.date) -> HttpResponse:
    """The filtered list as `kind` ("csv" or "xlsx"), streamed from the database in chunks."""
    filename = f"customer-analytics-{today.isoformat()}"
    chunked = rows.iterator(chunk_size=2000)
    if kind == "xlsx":
        return customers_xlsx(chunked, filename)
    return customers_csv(chunked, filename)
