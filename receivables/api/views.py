from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import django_filters
from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import DateField, IntegerField, Serializer

from crm import selectors as crm_selectors
from finance import webhooks
from finance.api.base import KehuViewSet
from finance.api.filters import IdFilter
from finance.routers import reporting
from receivables import kpis, selectors, services
from receivables.api import serializers as s
from receivables.models import Allocation, CreditNote, ExchangeRate, Invoice, InvoiceLine, Payment


def _visible(actor: Any, model: type) -> QuerySet:
    return model.objects.filter(customer__in=crm_selectors.customers_visible_to(actor))


class DocumentFilter(django_filters.FilterSet):
    customer = IdFilter(field_name="customer_id")
    customer_external_id = django_filters.CharFilter(field_name="customer__external_id")
    external_id = django_filters.CharFilter()
    currency = django_filters.CharFilter()
    issued_after = django_filters.DateFilter(field_name="issue_date", lookup_expr="gte")
    issued_before = django_filters.DateFilter(field_name="issue_date", lookup_expr="lte")


class InvoiceFilter(DocumentFilter):
    number = django_filters.CharFilter()
    due_after = django_filters.DateFilter(field_name="due_date", lookup_expr="gte")
    due_before = django_filters.DateFilter(field_name="due_date", lookup_expr="lte")


class PaymentFilter(django_filters.FilterSet):
    customer = IdFilter(field_name="customer_id")
    customer_external_id = django_filters.CharFilter(field_name="customer__external_id")
    external_id = django_filters.CharFilter()
    currency = django_filters.CharFilter()
    received_after = django_filters.DateFilter(field_name="received_on", lookup_expr="gte")
    received_before = django_filters.DateFilter(field_name="received_on", lookup_expr="lte")


class _DocumentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, KehuViewSet):
    kind: str
    create_permission: str

    # Each subclass names the service that creates one document of its kind.
    create_document: Callable[[dict[str, Any]], Any]

    def create(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        document = self.create_document(dict(serializer.validated_data))
        return Response(self.get_serializer(document).data, status=status.HTTP_201_CREATED)

    def get_serializer_class(self) -> type[Serializer]:
        return s.bulk_serializer(self.serializer_class) if self.action == "bulk" else self.serializer_class

    def _bulk(self, request: Request) -> Response:
        context = self.get_serializer_context()
        items = request.data.get("items") if isinstance(request.data, dict) else None
        context["customers_by_external_id"] = s.customers_by_external_id(self.actor, items)
        serializer = self.get_serializer_class()(data=request.data, context=context)
        serializer.is_valid(raise_exception=True)
        with webhooks.endpoints_memoized():
            results = services.documents_bulk_upsert(
                actor=self.actor, kind=self.kind, items=serializer.validated_data["items"]
            )
        return Response({"results": [r.__dict__ for r in results]})


class InvoiceViewSet(_DocumentViewSet):
    """Invoices. `GET /invoices/{id}/?as_of=YYYY-MM-DD` gives the outstanding amount on that date."""

    queryset = Invoice.unscoped.none()
    serializer_class = s.InvoiceSerializer
    filterset_class = InvoiceFilter
    search_fields = ["number", "external_id", "description"]
    ordering_fields = ["id", "issue_date", "due_date", "total"]
    kind = "invoice"
    action_permissions = {
        "list": "receivables.view",
        "retrieve": "receivables.view",
        "create": "invoice.create",
        "bulk": "invoice.create",
        "write_off": "writeoff.request",
        "void": "invoice.void",
    }

    def scoped_queryset(self) -> QuerySet[Invoice]:
        return _visible(self.actor, Invoice).prefetch_related(
            Prefetch(
                "lines", queryset=InvoiceLine.objects.order_by("position", "id"), to_attr="prefetched_lines"
            )
        )

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if self.action == "retrieve" and "as_of" in self.request.query_params:
            field = DateField()
            try:
                context["as_of"] = field.to_internal_value(self.request.query_params["as_of"])
            except Exception as exc:  # DRF raises its ValidationError with the message
                raise ValidationError({"as_of": getattr(exc, "detail", ["Invalid date."])}) from None
        return context

    @extend_schema(parameters=[OpenApiParameter("as_of", str, description="YYYY-MM-DD")])
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().retrieve(request, *args, **kwargs)

    def create_document(self, data: dict[str, Any]) -> Invoice:
        if data.get("lines"):
            data["lines"] = [services.LineInput(**line) for line in data["lines"]]
        return services.invoice_create(actor=self.actor, **data)

    @extend_schema(request=s.bulk_serializer(s.InvoiceSerializer), responses={200: dict})
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        return self._bulk(request)

    @extend_schema(request=s.WriteOffInSerializer, responses={201: s.WriteOffSerializer})
    @action(detail=True, methods=["post"], url_path="write-off")
    def write_off(self, request: Request, pk: str | None = None) -> Response:
        invoice = self.get_object()
        serializer = s.WriteOffInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        write_off = services.invoice_write_off(actor=self.actor, invoice=invoice, **serializer.validated_data)
        return Response(s.WriteOffSerializer(write_off).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.VoidSerializer, responses=s.InvoiceSerializer)
    @action(detail=True, methods=["post"])
    def void(self, request: Request, pk: str | None = None) -> Response:
        serializer = s.VoidSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invoice = services.invoice_void(
            actor=self.actor, invoice=self.get_object(), **serializer.validated_data
        )
        return Response(self.get_serializer(invoice).data)


class CreditNoteViewSet(_DocumentViewSet):
    queryset = CreditNote.unscoped.none()
    serializer_class = s.CreditNoteSerializer
    filterset_class = DocumentFilter
    search_fields = ["number", "external_id"]
    ordering_fields = ["id", "issue_date", "total"]
    kind = "credit_note"
    action_permissions = {
        "list": "receivables.view",
        "retrieve": "receivables.view",
        "create": "credit_note.create",
        "bulk": "credit_note.create",
    }

    def scoped_queryset(self) -> QuerySet[CreditNote]:
        return _visible(self.actor, CreditNote).prefetch_related(
            Prefetch(
                "allocations", queryset=Allocation.objects.order_by("id"), to_attr="prefetched_allocations"
            )
        )

    def create_document(self, data: dict[str, Any]) -> CreditNote:
        return services.credit_note_create(actor=self.actor, **data)

    @extend_schema(request=s.bulk_serializer(s.CreditNoteSerializer), responses={200: dict})
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        return self._bulk(request)


class PaymentViewSet(_DocumentViewSet):
    """Payments. Without `allocations` and with `auto_allocate` (default true) a payment pays the
    customer's open invoices in its currency, oldest due date first; the rest stays unapplied."""

    queryset = Payment.unscoped.none()
    serializer_class = s.PaymentSerializer
    filterset_class = PaymentFilter
    search_fields = ["reference", "external_id"]
    ordering_fields = ["id", "received_on", "amount"]
    kind = "payment"
    action_permissions = {
        "list": "receivables.view",
        "retrieve": "receivables.view",
        "create": "payment.post",
        "bulk": "payment.post",
    }

    def scoped_queryset(self) -> QuerySet[Payment]:
        return _visible(self.actor, Payment).prefetch_related(
            Prefetch(
                "allocations", queryset=Allocation.objects.order_by("id"), to_attr="prefetched_allocations"
            )
        )

    def create_document(self, data: dict[str, Any]) -> Payment:
        return services.payment_record(actor=self.actor, **data)

    @extend_schema(request=s.bulk_serializer(s.PaymentSerializer), responses={200: dict})
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        return self._bulk(request)


class AllocationFilter(django_filters.FilterSet):
    invoice = IdFilter(field_name="invoice_id")
    payment = IdFilter(field_name="payment_id")
    credit_note = IdFilter(field_name="credit_note_id")


class AllocationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, KehuViewSet):
    """Allocations; POST applies existing unapplied cash or credit to an invoice."""

    queryset = Allocation.unscoped.none()
    serializer_class = s.AllocationOutSerializer
    filterset_class = AllocationFilter
    ordering_fields = ["id", "allocated_on"]
    action_permissions = {
        "list": "receivables.view",
        "retrieve": "receivables.view",
        "create": "payment.post",
    }

    def scoped_queryset(self) -> QuerySet[Allocation]:
        return Allocation.objects.filter(invoice__customer__in=crm_selectors.customers_visible_to(self.actor))

    @extend_schema(request=s.AllocationInSerializer, responses={201: s.AllocationOutSerializer})
    def create(self, request: Request) -> Response:
        serializer = s.AllocationInSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        allocation = services.allocation_create(actor=self.actor, **serializer.validated_data)
        return Response(s.AllocationOutSerializer(allocation).data, status=status.HTTP_201_CREATED)


class ExchangeRateFilter(django_filters.FilterSet):
    currency = django_filters.CharFilter()
    date_after = django_filters.DateFilter(field_name="date", lookup_expr="gte")
    date_before = django_filters.DateFilter(field_name="date", lookup_expr="lte")


class ExchangeRateViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, KehuViewSet):
    queryset = ExchangeRate.unscoped.none()
    serializer_class = s.ExchangeRateSerializer
    filterset_class = ExchangeRateFilter
    ordering_fields = ["id", "date"]
    action_permissions = {
        "list": "receivables.view",
        "retrieve": "receivables.view",
        "create": "exchange_rate.change",
    }

    def scoped_queryset(self) -> QuerySet[ExchangeRate]:
        return ExchangeRate.objects.all()

    def create(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rate = services.exchange_rate_set(actor=self.actor, **serializer.validated_data)
        return Response(self.get_serializer(rate).data, status=status.HTTP_201_CREATED)


class AgingReportViewSet(KehuViewSet):
    """`GET /api/v1/reports/aging/?as_of=&basis=due_date|issue_date`: amounts in base currency."""

    action_permissions = {"list": "receivables.view"}
    pagination_class = None
    queryset = Invoice.unscoped.none()
    filter_backends: list = []

    @extend_schema(parameters=[s.AgingQuerySerializer], responses={200: dict})
    def list(self, request: Request) -> Response:
        query = s.AgingQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        organization = self.actor.organization
        try:
            with reporting():
                report = selectors.aging_report(
                    organization=organization,
                    as_of=params.get("as_of") or organization.local_today(),
                    basis=params["basis"],
                    owner_id=params.get("owner"),
                    customer_group=params.get("customer_group", ""),
                    currency=params.get("currency", ""),
                    min_balance=params.get("min_balance"),
                    customer_ids=self._visible_customer_ids(),
                )
        except selectors.MissingExchangeRates as exc:
            raise _missing_rates_error(exc) from None
        except selectors.InvalidAgingBuckets as exc:  # the organization's settings, not the request
            raise ValidationError({"aging_buckets": [str(exc)]}) from None
        money = lambda amount: f"{amount:.2f}"  # noqa: E731
        return Response(
            {
                "as_of": report.as_of.isoformat(),
                "basis": report.basis,
                "currency": report.currency,
                "buckets": report.bucket_keys,
                "totals": {key: money(value) for key, value in report.totals.items()},
                "customers": [
                    {
                        "customer": row.customer_id,
                        "external_id": row.external_id,
                        "name": row.name,
                        **{key: money(value) for key, value in row.buckets.items()},
                        "total": money(row.total),
                        "unapplied": money(row.unapplied),
                    }
                    for row in report.rows
                ],
            }
        )

    def _visible_customer_ids(self) -> list[int] | None:
        if not self.actor.sees_own_customers_only:
            return None
        return list(crm_selectors.customers_visible_to(self.actor).values_list("pk", flat=True))


def _missing_rates_error(exc: selectors.MissingExchangeRates) -> ValidationError:
    return ValidationError(
        {
            "exchange_rates": [str(exc)],
            "missing": [{"currency": c, "date": d.isoformat()} for c, d in exc.missing],
        }
    )


class KpiQuerySerializer(Serializer):
    """`from` and `to` (YYYY-MM-DD, both included; by default the 90 days ending today in the
    organization's time zone) and optionally one `customer`."""

    to = DateField(required=False)
    customer = IntegerField(required=False, min_value=1, max_value=2**63 - 1)

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["from"] = DateField(required=False)  # a Python keyword: no class attribute can be named so
        return fields


class KpiReportViewSet(KehuViewSet):
    """`GET /api/v1/reports/kpis/?from=&to=[&customer=]`: DSO (countback, simple), best-possible
    DSO, ADD, CEI, percent overdue and write-off ratio, in base currency (docs/metrics.md)."""

    action_permissions = {"list": "receivables.view"}
    pagination_class = None
    queryset = Invoice.unscoped.none()
    filter_backends: list = []
    default_days = 90

    @extend_schema(parameters=[KpiQuerySerializer], responses={200: dict})
    def list(self, request: Request) -> Response:
        query = KpiQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        organization = self.actor.organization
        date_to = params.get("to") or organization.local_today()
        date_from = params.get("from") or date_to - datetime.timedelta(days=self.default_days - 1)
        if date_from > date_to:
            raise ValidationError({"from": [_("The period cannot start after it ends.")]})
        if "customer" in params:  # another tenant's customer, or another rep's, is a 404
            customer_ids = [crm_selectors.customer_for(self.actor, params["customer"]).pk]
        elif self.actor.sees_own_customers_only:
            customer_ids = list(crm_selectors.customers_visible_to(self.actor).values_list("pk", flat=True))
        else:
            customer_ids = None
        try:
            with reporting():
                figures = kpis.kpis(
                    organization=organization, date_from=date_from, date_to=date_to, customer_ids=customer_ids
                )
        except selectors.MissingExchangeRates as exc:
            raise _missing_rates_error(exc) from None
        return Response(kpis.kpis_as_json(figures))
