"""Browser pages of receivables: dashboard, aging report, invoices, payments, write-offs.

Views parse input with a form, call one selector or service, and render. What an actor may see
follows crm.selectors.customers_visible_to (a sales rep: their own customers); another
organization's id, or one the actor may not see, is a 404.
"""

from __future__ import annotations

import csv
import datetime
import importlib.util
import io
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import F, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from crm.models import Customer
from crm.selectors import customer_for, customer_groups, customers_visible_to
from finance.actors import Actor
from finance.bulk import error_detail
from finance.models import Organization
from finance.money import currency_codes
from finance.routers import reporting
from finance.selectors import members
from finance.web import ActorRequiredMixin
from receivables import charts, kpis, selectors, services
from receivables.forms import (
    AgingFilterForm,
    AllocationTable,
    InvoiceFilterForm,
    PaymentFilterForm,
    PaymentForm,
    VoidForm,
    WriteOffForm,
)
from receivables.models import Invoice, Payment, PaymentMethod, ReceivablesSnapshot, WriteOff

PAGE_SIZE = 25
TOP_OVERDUE = 10
# XLSX export is offered only where the optional openpyxl package is installed.
XLSX_AVAILABLE = importlib.util.find_spec("openpyxl") is not None
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

STATUS_LABELS = {
    "open": gettext_lazy("Open"),
    "overdue": gettext_lazy("Overdue"),
    "partially_paid": gettext_lazy("Partially paid"),
    "paid": gettext_lazy("Paid"),
    "written_off": gettext_lazy("Written off"),
    "void": gettext_lazy("Void"),
}
STATUS_BADGES = {"overdue": "danger", "partially_paid": "warn", "paid": "ok", "written_off": "", "void": ""}


# --- Helpers: what the actor may see ------------------------------------------------------------


def visible_customer_ids(actor: Actor) -> list[int] | None:
    """None (every customer) unless the actor sees only their own customers."""
    if not actor.sees_own_customers_only:
        return None
    return list(customers_visible_to(actor).values_list("pk", flat=True))


def visible_invoices(actor: Actor) -> QuerySet[Invoice]:
    return Invoice.objects.filter(customer__in=customers_visible_to(actor))


def invoice_for(actor: Actor, invoice_id: int) -> Invoice:
    """The invoice if the actor may see its customer; Http404 alike for another tenant's id."""
    invoice = (
        visible_invoices(actor).select_related("customer", "customer__owner").filter(pk=invoice_id).first()
    )
    if invoice is None:
        raise Http404
    return invoice


def with_status(invoice: Invoice, today: datetime.date) -> Invoice:
    """Adds the status to show (the model's, or `overdue`) as a label and a badge class."""
    overdue = not invoice.voided_on and invoice.outstanding > 0 and invoice.due_date < today
    status = "overdue" if overdue else invoice.status
    invoice.status_label = STATUS_LABELS[status]  # type: ignore[attr-defined]
    invoice.badge = STATUS_BADGES.get(status, "")  # type: ignore[attr-defined]
    invoice.days_overdue = (today - invoice.due_date).days if overdue else 0  # type: ignore[attr-defined]
    return invoice


def bucket_labels(organization: Organization, basis: str) -> dict[str, str]:
    """Readable names of the organization's aging buckets ("Current", "1–30 days", "Over 90 days")."""
    labels = {}
    for key, low, high in selectors.buckets_for(organization, basis):
        if low is None and high is not None and high <= 0:
            labels[key] = _("Current")
        elif high is None:
            labels[key] = _("Over %(days)s days") % {"days": max((low or 1) - 1, 0)}
        else:
            labels[key] = _("%(low)s–%(high)s days") % {"low": low or 0, "high": high}
    return labels


def overdue_keys(organization: Organization) -> list[str]:
    """The due-date buckets that hold amounts past their due date (one day or more)."""
    return [key for key, low, _high in selectors.buckets_for(organization, "due_date") if low and low > 0]


def safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


def _apply_errors(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


# --- Dashboard ----------------------------------------------------------------------------------


KPI_DAYS = 90
TREND_POINTS = 24


def kpi_trend(organization: Organization) -> SafeString | None:
    """DSO, ADD and CEI from the nightly snapshots (the last 24), as an SVG line chart."""
    snapshots = list(ReceivablesSnapshot.objects.order_by("-date")[:TREND_POINTS])[::-1]
    if len(snapshots) < 2:
        return None

    def values(key: str) -> list[Decimal | None]:
        return [Decimal(s.kpis[key]) if s.kpis.get(key) is not None else None for s in snapshots]

    return charts.line_chart(
        [s.date.isoformat() for s in snapshots],
        [
            charts.Series(_("DSO (countback, days)"), values("dso_countback")),
            charts.Series(_("ADD (days)"), values("add")),
            charts.Series(_("CEI (%)"), values("cei")),
        ],
        title=_("DSO, ADD and CEI over time"),
    )


class DashboardView(ActorRequiredMixin, View):
    """Outstanding and overdue in base currency, the aging chart, the most overdue customers."""

    required_action = "receivables.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        organization = self.actor.organization
        today = organization.local_today()
        context: dict[str, Any] = {"today": today, "currency": organization.base_currency}
        try:
            with reporting():
                report = selectors.aging_report(
                    organization=organization,
                    as_of=today,
                    basis="due_date",
                    customer_ids=visible_customer_ids(self.actor),
                )
        except selectors.MissingExchangeRates as exc:
            context["missing_rates"] = exc.missing
            return render(request, "receivables/dashboard.html", context)
        labels = bucket_labels(organization, "due_date")
        late = overdue_keys(organization)
        overdue_total = sum((report.totals[key] for key in late), Decimal(0))
        ranked = sorted(
            (
                (sum((row.buckets[key] for key in late), Decimal(0)), row)
                for row in report.rows
                if any(row.buckets[key] for key in late)
            ),
            key=lambda item: (-item[0], item[1].name),
        )
        chart = charts.bar_chart(
            [charts.Bar(label=labels[key], value=report.totals[key]) for key in report.bucket_keys],
            title=_("Receivables by age (%(currency)s)") % {"currency": report.currency},
        )
        customer_ids = visible_customer_ids(self.actor)
        try:
            figures = kpis.kpis(
                organization=organization,
                date_from=today - datetime.timedelta(days=KPI_DAYS - 1),
                date_to=today,
                customer_ids=customer_ids,
            )
        except selectors.MissingExchangeRates:
            figures = None
        context.update(
            kpis=figures,
            kpi_days=KPI_DAYS,
            trend=kpi_trend(organization) if customer_ids is None else None,
            report=report,
            outstanding=report.totals["total"],
            overdue=overdue_total,
            overdue_share=(overdue_total * 100 / report.totals["total"]) if report.totals["total"] else 0,
            unapplied=report.totals["unapplied"],
            chart=chart,
            top_overdue=[{"amount": amount, "row": row} for amount, row in ranked[:TOP_OVERDUE]],
            can_record_payment=self.actor.can("payment.post"),
        )
        return render(request, "receivables/dashboard.html", context)


# --- Aging report -------------------------------------------------------------------------------


def _csv_text(value: str) -> str:
    """Text cells that a spreadsheet would run as a formula are quoted with a leading apostrophe."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def aging_csv(report: selectors.AgingReport, labels: dict[str, str]) -> HttpResponse:
    """UTF-8 with a byte-order mark (so Excel reads Chinese names), amounts as plain 2-decimal strings."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"aging-{report.as_of.isoformat()}-{report.currency}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")
    writer = csv.writer(response)
    amount_keys = [*report.bucket_keys, "total", "unapplied"]
    writer.writerow(
        [
            _("External id"),
            _("Customer"),
            *(labels[k] for k in report.bucket_keys),
            _("Total"),
            _("Unapplied"),
        ]
    )
    for row in report.rows:
        amounts = {**row.buckets, "total": row.total, "unapplied": row.unapplied}
        writer.writerow(
            [
                _csv_text(row.external_id or ""),
                _csv_text(row.name),
                *(f"{amounts[k]:.2f}" for k in amount_keys),
            ]
        )
    writer.writerow(["", _("Total"), *(f"{report.totals[k]:.2f}" for k in amount_keys)])
    return response


def aging_xlsx(report: selectors.AgingReport, labels: dict[str, str]) -> HttpResponse:
    """The same table as the CSV, with numeric cells formatted as money and text kept as text."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = report.as_of.isoformat()
    amount_keys = [*report.bucket_keys, "total", "unapplied"]
    sheet.append(
        [
            _("External id"),
            _("Customer"),
            *(labels[k] for k in report.bucket_keys),
            _("Total"),
            _("Unapplied"),
        ]
    )
    for row in report.rows:
        amounts = {**row.buckets, "total": row.total, "unapplied": row.unapplied}
        sheet.append([row.external_id or "", row.name, *(amounts[k] for k in amount_keys)])
    sheet.append(["", _("Total"), *(report.totals[k] for k in amount_keys)])
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells[:2]:
            cell.data_type = "s"  # a name starting with "=" is text, never a formula
        for cell in cells[2:]:
            cell.number_format = "#,##0.00"
    for cell in [*sheet[1], *sheet[sheet.max_row]]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "C2"
    sheet.column_dimensions["B"].width = 36
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX_TYPE)
    filename = f"aging-{report.as_of.isoformat()}-{report.currency}.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def aging_pdf(
    report: selectors.AgingReport, labels: dict[str, str], organization: Organization
) -> HttpResponse:
    """The same table as a printable A4 landscape PDF (WeasyPrint), in the active language."""
    from weasyprint import HTML

    html = render_to_string(
        "receivables/aging_pdf.html",
        {
            "report": report,
            "organization": organization,
            "columns": [labels[k] for k in report.bucket_keys],
            "customers": report.rows,
            "totals": [report.totals[k] for k in report.bucket_keys],
        },
    )
    response = HttpResponse(HTML(string=html).write_pdf(), content_type="application/pdf")
    filename = f"aging-{report.as_of.isoformat()}-{report.currency}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class AgingFormMixin(ActorRequiredMixin):
    def aging_form(self, data: Any) -> AgingFilterForm:
        organization = self.actor.organization
        currencies = set(Invoice.objects.order_by().values_list("currency", flat=True).distinct())
        return AgingFilterForm(
            data,
            today=organization.local_today(),
            owners=list(members()) if not self.actor.sees_own_customers_only else [],
            groups=customer_groups(),
            currencies=sorted(currencies | {organization.base_currency}),
            show_owner=not self.actor.sees_own_customers_only,
        )


class AgingReportView(AgingFormMixin, View):
    """Aged receivables per customer; `?format=csv` downloads the same figures."""

    required_action = "receivables.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        organization = self.actor.organization
        form = self.aging_form(request.GET or None)
        if form.is_bound and not form.is_valid():
            return render(request, "receivables/aging.html", {"form": form}, status=400)
        values = form.values()
        labels = bucket_labels(organization, values["basis"])
        context: dict[str, Any] = {"form": form, "values": values, "labels": labels}
        try:
            with reporting():
                report = selectors.aging_report(
                    organization=organization, customer_ids=visible_customer_ids(self.actor), **values
                )
        except selectors.MissingExchangeRates as exc:
            context["missing_rates"] = exc.missing
            return render(request, "receivables/aging.html", context)
        if request.GET.get("format") == "csv":
            return aging_csv(report, labels)
        if request.GET.get("format") == "xlsx" and XLSX_AVAILABLE:
            return aging_xlsx(report, labels)
        if request.GET.get("format") == "pdf":
            return aging_pdf(report, labels, organization)
        owners = (
            {choice[0]: choice[1] for choice in form.fields["owner"].choices}
            if "owner" in form.fields
            else {}
        )
        query = request.GET.copy()
        query.pop("format", None)
        keys = report.bucket_keys
        cells = lambda amounts: [amounts.get(key, Decimal(0)) for key in keys]  # noqa: E731
        context.update(
            report=report,
            columns=[labels[key] for key in keys],
            colspan=len(keys) + 3,
            rows=[{"row": row, "cells": cells(row.buckets)} for row in report.rows],
            totals=cells(report.totals),
            by_owner=self._summary(
                report.grouped("owner_id"), cells, lambda k: owners.get(k) or _("No owner")
            ),
            by_group=self._summary(report.grouped("customer_group"), cells, lambda k: k or _("No group")),
            query=query.urlencode(),
            show_owner_summary="owner" in form.fields,
            xlsx=XLSX_AVAILABLE,
        )
        return render(request, "receivables/aging.html", context)

    @staticmethod
    def _summary(groups: dict[Any, dict[str, Decimal]], cells: Any, name: Any) -> list[dict[str, Any]]:
        """Rows of a grouped summary, largest total first."""
        rows = [
            {"name": name(key), "cells": cells(amounts), "total": amounts.get("total", Decimal(0))}
            for key, amounts in groups.items()
        ]
        return sorted(rows, key=lambda r: (-r["total"], str(r["name"])))


class AgingCustomerView(AgingFormMixin, View):
    """Drill-down: the open invoices behind one customer's aging row (an htmx fragment or a page)."""

    required_action = "receivables.view"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = customer_for(self.actor, pk)
        organization = self.actor.organization
        form = self.aging_form(request.GET or None)
        values = form.values() if not form.is_bound or form.is_valid() else self.aging_form(None).values()
        labels = bucket_labels(organization, values["basis"])
        invoices = list(
            selectors.aging_invoices(
                organization=organization,
                as_of=values["as_of"],
                basis=values["basis"],
                customer_id=customer.pk,
            )
        )
        for invoice in invoices:
            invoice.days_past_due = (values["as_of"] - invoice.due_date).days  # type: ignore[attr-defined]
            invoice.age = (values["as_of"] - invoice.issue_date).days  # type: ignore[attr-defined]
        context = {"customer": customer, "invoices": invoices, "values": values, "labels": labels}
        if request.htmx:  # type: ignore[attr-defined]
            return render(request, "receivables/partials/aging_invoices.html", context)
        return render(request, "receivables/aging_customer.html", context)


# --- Invoices -----------------------------------------------------------------------------------


class InvoiceListView(ActorRequiredMixin, View):
    required_action = "receivables.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        today = self.actor.organization.local_today()
        form = InvoiceFilterForm(request.GET or None, customers=customers_visible_to(self.actor))
        invoices = visible_invoices(self.actor).select_related("customer")
        if form.is_valid():
            data = form.cleaned_data
            if data["q"]:
                invoices = invoices.filter(
                    Q(number__icontains=data["q"]) | Q(external_id__icontains=data["q"])
                )
            if data["customer"]:
                invoices = invoices.filter(customer_id=data["customer"])
            invoices = self._by_status(invoices, data["status"], today)
        page = Paginator(invoices.order_by("-issue_date", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
        for invoice in page:
            with_status(invoice, today)
        query = request.GET.copy()
        query.pop("page", None)
        context = {"form": form, "page": page, "query": query.urlencode()}
        if request.htmx:  # type: ignore[attr-defined]
            return render(request, "receivables/partials/invoice_rows.html", context)
        return render(request, "receivables/invoice_list.html", context)

    @staticmethod
    def _by_status(invoices: QuerySet[Invoice], status: str, today: datetime.date) -> QuerySet[Invoice]:
        settled = F("allocated_total") + F("written_off_total")
        if status == "void":
            return invoices.filter(voided_on__isnull=False)
        if status == "paid":
            return invoices.filter(voided_on__isnull=True, total__lte=settled)
        if status in ("open", "overdue"):
            invoices = invoices.filter(voided_on__isnull=True, total__gt=settled)
        if status == "overdue":
            invoices = invoices.filter(due_date__lt=today)
        return invoices


class InvoiceDetailView(ActorRequiredMixin, View):
    required_action = "receivables.view"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return render_invoice(request, self.actor, invoice_for(self.actor, pk))


def render_invoice(
    request: HttpRequest,
    actor: Actor,
    invoice: Invoice,
    *,
    write_off_form: WriteOffForm | None = None,
    void_form: VoidForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The invoice page: lines, allocation history, write-offs, and the actions the actor may take."""
    today = actor.organization.local_today()
    with_status(invoice, today)
    allocations = invoice.allocations.select_related("payment", "credit_note", "created_by").order_by(
        "allocated_on", "id"
    )
    write_offs = invoice.write_offs.select_related("requested_by", "approved_by").order_by(
        "-created_at", "-id"
    )
    can_void = actor.can("invoice.void") and not invoice.voided_on and not invoice.settled_total
    can_write_off = actor.can("writeoff.request") and invoice.outstanding > 0
    return render(
        request,
        "receivables/invoice_detail.html",
        {
            "invoice": invoice,
            "lines": list(invoice.lines.all()),
            "allocations": list(allocations),
            "write_offs": list(write_offs),
            "can_void": can_void,
            "can_write_off": can_write_off,
            "can_decide": actor.can("writeoff.approve"),
            "can_record_payment": actor.can("payment.post") and invoice.outstanding > 0,
            "write_off_form": write_off_form
            or (WriteOffForm(initial={"amount": invoice.outstanding}) if can_write_off else None),
            "void_form": void_form or (VoidForm() if can_void else None),
        },
        status=status,
    )


class InvoiceWriteOffView(ActorRequiredMixin, View):
    """Request a write-off; small ones take effect at once, larger ones wait for someone else."""

    required_action = "writeoff.request"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice = invoice_for(self.actor, pk)
        form = WriteOffForm(request.POST)
        if form.is_valid():
            try:
                write_off = services.invoice_write_off(actor=self.actor, invoice=invoice, **form.cleaned_data)
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                if write_off.status == WriteOff.Status.APPROVED:
                    messages.success(request, _("Written off."))
                else:
                    messages.warning(request, _("Write-off requested. Someone else must approve it."))
                return redirect("receivables:invoice-detail", pk=invoice.pk)
        return render_invoice(request, self.actor, invoice, write_off_form=form, status=400)


class InvoiceVoidView(ActorRequiredMixin, View):
    required_action = "invoice.void"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice = invoice_for(self.actor, pk)
        form = VoidForm(request.POST)
        if form.is_valid():
            try:
                services.invoice_void(
                    actor=self.actor, invoice=invoice, voided_on=form.cleaned_data["voided_on"]
                )
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("Invoice voided."))
                return redirect("receivables:invoice-detail", pk=invoice.pk)
        return render_invoice(request, self.actor, invoice, void_form=form, status=400)


class WriteOffDecideView(ActorRequiredMixin, View):
    """Approve or reject a pending write-off (maker-checker: never the requester's own)."""

    required_action = "writeoff.approve"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        write_off = (
            WriteOff.objects.filter(invoice__customer__in=customers_visible_to(self.actor), pk=pk)
            .select_related("invoice")
            .first()
        )
        if write_off is None:
            raise Http404
        approve = request.POST.get("approve") == "1"
        try:
            services.write_off_decide(actor=self.actor, write_off=write_off, approve=approve)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            return render_invoice(
                request, self.actor, invoice_for(self.actor, write_off.invoice_id), status=400
            )
        messages.success(request, _("Write-off approved.") if approve else _("Write-off rejected."))
        return redirect("receivables:invoice-detail", pk=write_off.invoice_id)


# --- Payments -----------------------------------------------------------------------------------


class PaymentListView(ActorRequiredMixin, View):
    required_action = "receivables.view"

    def get(self, request: HttpRequest) -> HttpResponse:
        form = PaymentFilterForm(request.GET or None, customers=customers_visible_to(self.actor))
        payments = Payment.objects.filter(customer__in=customers_visible_to(self.actor)).select_related(
            "customer"
        )
        if form.is_valid():
            if form.cleaned_data["q"]:
                payments = payments.filter(reference__icontains=form.cleaned_data["q"])
            if form.cleaned_data["customer"]:
                payments = payments.filter(customer_id=form.cleaned_data["customer"])
        page = Paginator(payments.order_by("-received_on", "-id"), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        query = request.GET.copy()
        query.pop("page", None)
        context = {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "can_record_payment": self.actor.can("payment.post"),
        }
        if request.htmx:  # type: ignore[attr-defined]
            return render(request, "receivables/partials/payment_rows.html", context)
        return render(request, "receivables/payment_list.html", context)


def _open_invoices(customer: Customer, currency: str, on: datetime.date) -> list[Invoice]:
    """The invoices a payment of this customer, currency and date may pay, oldest due first."""
    return services.open_invoices_for(Payment(customer_id=customer.pk, currency=currency), on)


def _lenient_date(value: str | None, default: datetime.date) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value or "")
    except ValueError:
        return default


def _lenient_amount(value: str | None) -> Decimal | None:
    try:
        amount = Decimal((value or "").replace(",", "").strip())
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount > 0 else None


class PaymentCreateView(ActorRequiredMixin, View):
    """Record a payment with explicit allocations, pre-filled oldest due first; the rest stays unapplied."""

    required_action = "payment.post"

    def customers(self) -> QuerySet[Customer]:
        return customers_visible_to(self.actor)

    def get(self, request: HttpRequest) -> HttpResponse:
        """`?customer=<id>` (and optionally currency, amount, received_on) pre-fills the form."""
        today = self.actor.organization.local_today()
        initial: dict[str, Any] = {"received_on": today, "method": PaymentMethod.BANK_TRANSFER}
        for name in ("amount", "method", "reference"):
            if request.GET.get(name):
                initial[name] = request.GET[name]
        received_on = _lenient_date(request.GET.get("received_on"), today)
        initial["received_on"] = received_on
        table = None
        if request.GET.get("customer"):
            customer = customer_for(self.actor, request.GET["customer"])
            currency = request.GET.get("currency", "")
            currency = currency if currency in currency_codes() else customer.currency
            initial.update(customer=customer, currency=currency)
            table = AllocationTable.suggested(
                _open_invoices(customer, currency, received_on),
                _lenient_amount(request.GET.get("amount")),
                currency,
            )
        form = PaymentForm(initial=initial, customers=self.customers())
        return self.render(request, form, table)

    def post(self, request: HttpRequest) -> HttpResponse:
        form = PaymentForm(request.POST, customers=self.customers())
        valid = form.is_valid()
        data = form.cleaned_data
        table = None
        if data.get("customer") and data.get("currency"):
            on = data.get("received_on") or self.actor.organization.local_today()
            invoices = _open_invoices(data["customer"], data["currency"], on)
            if "suggest" in request.POST:
                table = AllocationTable.suggested(invoices, data.get("amount"), data["currency"])
                return self.render(request, form, table)
            table = AllocationTable.from_data(invoices, request.POST)
        if not valid or table is None:
            return self.render(request, form, table, status=400)
        allocations = table.cleaned(data["currency"])
        if allocations is None:
            return self.render(request, form, table, status=400)
        try:
            payment = services.payment_record(
                actor=self.actor,
                customer=data["customer"],
                currency=data["currency"],
                received_on=data["received_on"],
                amount=data["amount"],
                method=data["method"],
                reference=data["reference"],
                allocations=allocations,
                auto_allocate=False,
            )
        except ValidationError as exc:
            for name, field_errors in error_detail(exc).items():
                if name == "allocations":
                    table.add_service_errors(
                        [
                            str(m)
                            for row in field_errors
                            if isinstance(row, dict)
                            for ms in row.values()
                            for m in ms
                        ]
                    )
                else:
                    form.add_error(name if name in form.fields else None, field_errors)
            return self.render(request, form, table, status=400)
        messages.success(
            request,
            _("Payment of %(amount)s %(currency)s recorded.")
            % {"amount": number_format(payment.amount, 2, force_grouping=True), "currency": payment.currency},
        )
        if payment.unapplied > 0:
            messages.warning(
                request,
                _(
                    "%(amount)s %(currency)s was not allocated to any invoice; it stays on the "
                    "customer's account as unapplied cash."
                )
                % {
                    "amount": number_format(payment.unapplied, 2, force_grouping=True),
                    "currency": payment.currency,
                },
            )
        return redirect(safe_next(request, reverse("receivables:payments")))

    def render(
        self, request: HttpRequest, form: PaymentForm, table: AllocationTable | None, status: int = 200
    ) -> HttpResponse:
        return render(
            request,
            "receivables/payment_form.html",
            {
                "form": form,
                "table": table,
                "next": safe_next(request, ""),
                "today": self.actor.organization.local_today(),
            },
            status=status,
        )


class PaymentAllocationsView(ActorRequiredMixin, View):
    """htmx: the allocation table with suggestions for the customer, currency, amount and date given."""

    required_action = "payment.post"

    def get(self, request: HttpRequest) -> HttpResponse:
        table = None
        if request.GET.get("customer"):
            customer = customer_for(self.actor, request.GET["customer"])
            currency = request.GET.get("currency", "")
            if currency in currency_codes():
                on = _lenient_date(request.GET.get("received_on"), self.actor.organization.local_today())
                table = AllocationTable.suggested(
                    _open_invoices(customer, currency, on),
                    _lenient_amount(request.GET.get("amount")),
                    currency,
                )
        return render(
            request,
            "receivables/partials/payment_allocations.html",
            {"table": table, "today": self.actor.organization.local_today()},
        )
