from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from crm import selectors as crm_selectors
from finance.api.fields import PrefetchedListSerializer, ScopedPrimaryKeyRelatedField
from finance.api.representation import ModelSerializer
from finance.money import currency_codes, quantize
from receivables.models import Allocation, CreditNote, ExchangeRate, Invoice, Payment, PaymentMethod, WriteOff

MONEY = {"max_digits": 18, "decimal_places": 2, "min_value": Decimal("0.01")}


def context_actor(context: dict[str, Any]) -> Any:
    """The acting Actor: from the request (API) or given directly (imports, tasks)."""
    return context["actor"] if "actor" in context else context["request"].auth


def _customers(actor: Any) -> Any:
    return crm_selectors.customers_visible_to(actor)


def _invoices(actor: Any) -> Any:
    return Invoice.objects.filter(customer__in=crm_selectors.customers_visible_to(actor))


def customers_by_external_id(actor: Any, items: Any) -> dict[str, Any]:
    """The visible customers a bulk request names by external id, in one query (a bulk request's
    items then resolve `customer_external_id` from this map instead of one query each)."""
    if not isinstance(items, list):
        return {}
    wanted = {
        item["customer_external_id"]
        for item in items
        if isinstance(item, dict) and isinstance(item.get("customer_external_id"), str)
    }
    wanted = {w for w in wanted if 0 < len(w) <= 100 and "\x00" not in w}
    return {c.external_id: c for c in _customers(actor).filter(external_id__in=wanted)} if wanted else {}


class CustomerRefMixin(serializers.Serializer):
    """`customer` (id) or `customer_external_id`: exactly one, resolved inside the tenant."""

    customer = ScopedPrimaryKeyRelatedField(_customers, required=False)
    customer_external_id = serializers.CharField(max_length=100, required=False, write_only=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        external = attrs.pop("customer_external_id", None)
        if external is not None:
            if attrs.get("customer") is not None:
                raise serializers.ValidationError(
                    {"customer": [_("Give customer or customer_external_id, not both.")]}
                )
            known = self.context.get("customers_by_external_id")
            if known is not None:
                customer = known.get(external)
            else:
                customer = _customers(context_actor(self.context)).filter(external_id=external).first()
            if customer is None:
                raise serializers.ValidationError(
                    {"customer_external_id": [_("No customer with this external id.")]}
                )
            attrs["customer"] = customer
        if attrs.get("customer") is None and not (self.partial or self.instance):
            raise serializers.ValidationError({"customer": [_("Give customer or customer_external_id.")]})
        return attrs


class CurrencyField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=sorted(currency_codes()), **kwargs)


class InvoiceLineSerializer(serializers.Serializer):
    description = serializers.CharField(max_length=300)
    quantity = serializers.DecimalField(max_digits=14, decimal_places=4, min_value=Decimal("0.0001"))
    unit_price = serializers.DecimalField(max_digits=18, decimal_places=4, min_value=Decimal("0"))
    tax_rate = serializers.DecimalField(
        max_digits=6, decimal_places=4, min_value=Decimal("0"), max_value=Decimal("1"), default=Decimal("0")
    )
    amount = serializers.DecimalField(max_digits=18, decimal_places=2, read_only=True)

    class Meta:
        list_serializer_class = PrefetchedListSerializer


class InvoiceSerializer(CustomerRefMixin, ModelSerializer):
    currency = CurrencyField()
    total = serializers.DecimalField(**MONEY, required=False)
    external_id = serializers.CharField(max_length=100, required=False, allow_null=True)
    lines = InvoiceLineSerializer(many=True, required=False, max_length=500)
    outstanding = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    due_date = serializers.DateField(required=False)

    class Meta:
        model = Invoice
        fields = [
            "id",
            "external_id",
            "number",
            "customer",
            "customer_external_id",
            "currency",
            "issue_date",
            "due_date",
            "total",
            "description",
            "lines",
            "outstanding",
            "status",
            "allocated_total",
            "written_off_total",
            "voided_on",
            "created_at",
        ]
        read_only_fields = ["id", "allocated_total", "written_off_total", "voided_on", "created_at"]

    def get_outstanding(self, invoice: Invoice) -> str:
        as_of = self.context.get("as_of")
        if as_of is not None:
            from receivables.selectors import outstanding_as_of

            return str(quantize(outstanding_as_of(invoice, as_of), invoice.currency))
        return str(quantize(invoice.outstanding, invoice.currency))

    def get_status(self, invoice: Invoice) -> str:
        return invoice.status


def _allocation_rows(parent: serializers.Serializer, document: Any) -> list[dict[str, Any]]:
    """The document's allocations as output rows: the ones the view prefetched
    (`to_attr="prefetched_allocations"`), else the relation. One AllocationOutSerializer per parent
    serializer, which a list reuses for every row: building a ModelSerializer's fields costs more
    than serialising a row."""
    allocations = getattr(document, "prefetched_allocations", None)
    if allocations is None:
        allocations = document.allocations.all()
    out = parent.__dict__.get("_allocation_out")
    if out is None:
        out = parent.__dict__["_allocation_out"] = AllocationOutSerializer(context=parent.context)
    return [out.to_representation(allocation) for allocation in allocations]


class CreditNoteAllocationSerializer(serializers.Serializer):
    class Meta:
        list_serializer_class = PrefetchedListSerializer

    invoice = ScopedPrimaryKeyRelatedField(_invoices, required=False)
    invoice_external_id = serializers.CharField(max_length=100, required=False)
    amount = serializers.DecimalField(**MONEY)
    allocated_on = serializers.DateField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        external = attrs.pop("invoice_external_id", None)
        if external is not None:
            invoice = _invoices(context_actor(self.context)).filter(external_id=external).first()
            if invoice is None:
                raise serializers.ValidationError(
                    {"invoice_external_id": [_("No invoice with this external id.")]}
                )
            attrs["invoice"] = invoice
        if attrs.get("invoice") is None:
            raise serializers.ValidationError({"invoice": [_("Give invoice or invoice_external_id.")]})
        return attrs


class AllocationOutSerializer(ModelSerializer):
    class Meta:
        model = Allocation
        fields = ["id", "invoice", "payment", "credit_note", "amount", "allocated_on", "created_at"]
        read_only_fields = fields


class CreditNoteSerializer(CustomerRefMixin, ModelSerializer):
    currency = CurrencyField()
    total = serializers.DecimalField(**MONEY)
    external_id = serializers.CharField(max_length=100, required=False, allow_null=True)
    allocations = CreditNoteAllocationSerializer(many=True, required=False, max_length=1000)
    unallocated = serializers.SerializerMethodField()

    class Meta:
        model = CreditNote
        fields = [
            "id",
            "external_id",
            "number",
            "customer",
            "customer_external_id",
            "currency",
            "issue_date",
            "total",
            "description",
            "allocations",
            "allocated_total",
            "unallocated",
            "created_at",
        ]
        read_only_fields = ["id", "allocated_total", "created_at"]

    def get_unallocated(self, note: CreditNote) -> str:
        return str(note.unallocated)

    def to_representation(self, instance: CreditNote) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["allocations"] = _allocation_rows(self, instance)
        return data


class PaymentSerializer(CustomerRefMixin, ModelSerializer):
    currency = CurrencyField()
    amount = serializers.DecimalField(**MONEY)
    external_id = serializers.CharField(max_length=100, required=False, allow_null=True)
    method = serializers.ChoiceField(choices=PaymentMethod.choices, required=False)
    allocations = CreditNoteAllocationSerializer(many=True, required=False, max_length=1000)
    auto_allocate = serializers.BooleanField(default=True, write_only=True)
    unapplied = serializers.SerializerMethodField()

    class Meta:
        model = Payment
        fields = [
            "id",
            "external_id",
            "customer",
            "customer_external_id",
            "currency",
            "received_on",
            "amount",
            "method",
            "reference",
            "allocations",
            "auto_allocate",
            "allocated_total",
            "unapplied",
            "created_at",
        ]
        read_only_fields = ["id", "allocated_total", "created_at"]

    def get_unapplied(self, payment: Payment) -> str:
        return str(payment.unapplied)

    def to_representation(self, instance: Payment) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["allocations"] = _allocation_rows(self, instance)
        return data


class AllocationInSerializer(serializers.Serializer):
    invoice = ScopedPrimaryKeyRelatedField(_invoices)
    payment = ScopedPrimaryKeyRelatedField(
        lambda actor: Payment.objects.filter(customer__in=_customers(actor)), required=False
    )
    credit_note = ScopedPrimaryKeyRelatedField(
        lambda actor: CreditNote.objects.filter(customer__in=_customers(actor)), required=False
    )
    amount = serializers.DecimalField(**MONEY)
    allocated_on = serializers.DateField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if (attrs.get("payment") is None) == (attrs.get("credit_note") is None):
            raise serializers.ValidationError({"payment": [_("Give either payment or credit_note.")]})
        return attrs


class WriteOffInSerializer(serializers.Serializer):
    amount = serializers.DecimalField(**MONEY)
    reason = serializers.CharField(max_length=500)
    written_off_on = serializers.DateField(required=False)


class WriteOffSerializer(ModelSerializer):
    class Meta:
        model = WriteOff
        fields = [
            "id",
            "invoice",
            "amount",
            "reason",
            "written_off_on",
            "status",
            "requested_by",
            "approved_by",
        ]
        read_only_fields = fields


class VoidSerializer(serializers.Serializer):
    voided_on = serializers.DateField(required=False)


class ExchangeRateSerializer(ModelSerializer):
    currency = CurrencyField()
    rate = serializers.DecimalField(max_digits=20, decimal_places=10, min_value=Decimal("0.0000000001"))

    class Meta:
        model = ExchangeRate
        fields = ["id", "currency", "date", "rate"]
        read_only_fields = ["id"]


def bulk_serializer(item_serializer: type[serializers.Serializer]) -> type[serializers.Serializer]:
    class ItemSerializer(item_serializer):  # type: ignore[misc, valid-type]
        external_id = serializers.CharField(max_length=100)

    class BulkSerializer(serializers.Serializer):
        items = ItemSerializer(many=True, allow_empty=False, max_length=settings.BULK_MAX_ITEMS)

    BulkSerializer.__name__ = f"{item_serializer.__name__.removesuffix('Serializer')}BulkSerializer"
    ItemSerializer.__name__ = f"{item_serializer.__name__.removesuffix('Serializer')}BulkItemSerializer"
    return BulkSerializer


class AgingQuerySerializer(serializers.Serializer):
    as_of = serializers.DateField(required=False)
    basis = serializers.ChoiceField(choices=["due_date", "issue_date"], default="due_date")
    owner = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    customer_group = serializers.CharField(required=False, max_length=100)
    currency = CurrencyField(required=False)
    min_balance = serializers.DecimalField(max_digits=18, decimal_places=2, required=False)
