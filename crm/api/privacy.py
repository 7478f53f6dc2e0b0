"""The API of personal information rights: consents, export, erasure, the register, retention.

Routes (crm/api/privacy_routes.py): `/contacts/{id}/consents/` (GET, POST),
`/customers/{id}/privacy-export/` and `/contacts/{id}/privacy-export/` (POST -> application/zip),
`/customers/{id}/erase/` and `/contacts/{id}/erase/` (POST -> the result), `/processing-activities/`
(CRUD) and `/retention-policies/` (CRUD). Another organization's id is a 404.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from crm import privacy, selectors
from crm.models import (
    ConsentPurpose,
    ConsentSource,
    Contact,
    ContactConsent,
    Customer,
    ErasureRequest,
    LawfulBasis,
    ProcessingActivity,
    RetentionDocumentType,
    RetentionPolicy,
)
from finance.api.base import IdempotentMixin, KehuViewSet
from finance.api.representation import ModelSerializer

# --- Serializers --------------------------------------------------------------------------------


class ConsentSerializer(ModelSerializer):
    purpose = serializers.ChoiceField(choices=ConsentPurpose.choices)
    lawful_basis = serializers.ChoiceField(choices=LawfulBasis.choices)
    source = serializers.ChoiceField(choices=ConsentSource.choices)
    granted = serializers.BooleanField()

    class Meta:
        model = ContactConsent
        fields = [
            "id",
            "contact",
            "purpose",
            "lawful_basis",
            "granted",
            "source",
            "note",
            "recorded_at",
            "recorded_by",
        ]
        read_only_fields = ["id", "contact", "recorded_at", "recorded_by"]


class ConsentPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ConsentSerializer(many=True)


class ErasureInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ErasureEntrySerializer(serializers.Serializer):
    section = serializers.CharField()
    status = serializers.ChoiceField(choices=["anonymised", "kept"])
    label = serializers.CharField()
    count = serializers.IntegerField()
    text = serializers.CharField(
        help_text="The entry in words, e.g. '42 invoices kept until 2036-03-31: ...'."
    )
    changed = serializers.IntegerField(required=False, help_text="Rows changed by this run (anonymised).")
    fields = serializers.ListField(child=serializers.CharField(), required=False)
    kept_until = serializers.DateField(required=False, allow_null=True)
    reason = serializers.CharField(required=False, help_text="Why it was kept.")


class ErasureResultSerializer(serializers.Serializer):
    subject = serializers.ChoiceField(choices=["customer", "contact"])
    anonymised = ErasureEntrySerializer(many=True)
    kept = ErasureEntrySerializer(many=True)


class ErasureSerializer(ModelSerializer):
    result = ErasureResultSerializer()

    class Meta:
        model = ErasureRequest
        fields = [
            "id",
            "customer",
            "contact",
            "status",
            "reason",
            "requested_by",
            "requested_at",
            "completed_at",
            "result",
        ]
        read_only_fields = fields


class ProcessingActivitySerializer(ModelSerializer):
    lawful_basis = serializers.ChoiceField(choices=LawfulBasis.choices)

    class Meta:
        model = ProcessingActivity
        fields = ["id", *privacy.ACTIVITY_FIELDS, "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        validators: list[Any] = []  # uniqueness per organization: checked by the service


class RetentionPolicySerializer(ModelSerializer):
    document_type = serializers.ChoiceField(choices=RetentionDocumentType.choices)
    years = serializers.IntegerField(min_value=1, max_value=100)

    class Meta:
        model = RetentionPolicy
        fields = ["id", "document_type", "years", "note", "updated_at"]
        read_only_fields = ["id", "updated_at"]
        validators: list[Any] = []


ZIP_RESPONSE = {
    (200, "application/zip"): OpenApiResponse(
        OpenApiTypes.BINARY, description="A ZIP: manifest.json and one JSON file per section."
    )
}


def _zip_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class _ExportNotReplayed:
    """An export is safe to repeat: it is generated afresh, never replayed from the key store."""

    action: str | None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if self.action == "privacy_export":
            super(IdempotentMixin, self).initial(request, *args, **kwargs)  # type: ignore[misc]
            self._idempotency_row = None
            return
        super().initial(request, *args, **kwargs)  # type: ignore[misc]


# --- Views --------------------------------------------------------------------------------------


class CustomerPrivacyViewSet(_ExportNotReplayed, KehuViewSet):
    """A customer's export (everything Kehu holds about it, as a ZIP) and erasure."""

    queryset = Customer.unscoped.none()
    serializer_class = ErasureSerializer
    pagination_class = None
    filter_backends: list[Any] = []
    action_permissions = {"privacy_export": "privacy.export", "erase": "privacy.erase"}

    def scoped_queryset(self) -> QuerySet[Customer]:
        return selectors.customers_visible_to(self.actor)

    @extend_schema(request=None, responses=ZIP_RESPONSE)
    @action(detail=True, methods=["post"], url_path="privacy-export")
    def privacy_export(self, request: Request, pk: str | None = None) -> HttpResponse:
        customer = self.get_object()
        content = privacy.privacy_export(actor=self.actor, customer=customer)
        return _zip_response(content, privacy.export_filename(customer=customer))

    @extend_schema(request=ErasureInputSerializer, responses=ErasureSerializer)
    @action(detail=True, methods=["post"])
    def erase(self, request: Request, pk: str | None = None) -> Response:
        """Anonymise the customer's personal data (and all its contacts') in every module; the
        result lists what was anonymised, and what was kept until when and why. Idempotent."""
        customer = self.get_object()
        data = ErasureInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        erasure = privacy.privacy_erase(
            actor=self.actor, customer=customer, reason=data.validated_data["reason"]
        )
        return Response(ErasureSerializer(erasure).data)


class ContactPrivacyViewSet(_ExportNotReplayed, KehuViewSet):
    """A contact's consents (append-only history), export and erasure."""

    queryset = Contact.unscoped.none()
    serializer_class = ConsentSerializer
    filter_backends: list[Any] = []
    action_permissions = {
        "consents": "contact.view",
        "privacy_export": "privacy.export",
        "erase": "privacy.erase",
    }

    def scoped_queryset(self) -> QuerySet[Contact]:
        return selectors.contacts_visible_to(self.actor)

    @extend_schema(methods=["GET"], request=None, responses=ConsentPageSerializer)
    @extend_schema(methods=["POST"], request=ConsentSerializer, responses={201: ConsentSerializer})
    @action(detail=True, methods=["get", "post"])
    def consents(self, request: Request, pk: str | None = None) -> Response:
        """GET: the consent history, newest first (the latest per purpose is the current state).
        POST: record a decision (granted or withdrawn) for one purpose."""
        contact = self.get_object()
        if request.method == "POST":
            self.actor.require("contact.change")
            serializer = ConsentSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            consent = privacy.consent_record(actor=self.actor, contact=contact, **serializer.validated_data)
            return Response(ConsentSerializer(consent).data, status=status.HTTP_201_CREATED)
        page = self.paginate_queryset(ContactConsent.objects.filter(contact=contact))
        return self.get_paginated_response(ConsentSerializer(page, many=True).data)

    @extend_schema(request=None, responses=ZIP_RESPONSE)
    @action(detail=True, methods=["post"], url_path="privacy-export")
    def privacy_export(self, request: Request, pk: str | None = None) -> HttpResponse:
        contact = self.get_object()
        content = privacy.privacy_export(actor=self.actor, contact=contact)
        return _zip_response(content, privacy.export_filename(contact=contact))

    @extend_schema(request=ErasureInputSerializer, responses=ErasureSerializer)
    @action(detail=True, methods=["post"])
    def erase(self, request: Request, pk: str | None = None) -> Response:
        """Anonymise the contact's personal data in every module. Idempotent."""
        contact = self.get_object()
        data = ErasureInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        erasure = privacy.privacy_erase(
            actor=self.actor, contact=contact, reason=data.validated_data["reason"]
        )
        return Response(ErasureSerializer(erasure).data)


class ProcessingActivityViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, KehuViewSet
):
    """The register of processing activities (GDPR art. 30, PIPL records of processing)."""

    queryset = ProcessingActivity.unscoped.none()
    serializer_class = ProcessingActivitySerializer
    ordering_fields = ["id", "name", "updated_at"]
    action_permissions = {
        "list": "privacy.view",
        "retrieve": "privacy.view",
        "create": "privacy.manage",
        "update": "privacy.manage",
        "partial_update": "privacy.manage",
        "destroy": "privacy.manage",
    }

    def scoped_queryset(self) -> QuerySet[ProcessingActivity]:
        return ProcessingActivity.objects.all()

    def create(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        activity = privacy.processing_activity_save(actor=self.actor, **serializer.validated_data)
        return Response(self.get_serializer(activity).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: str | None = None, partial: bool = False) -> Response:
        activity = self.get_object()
        serializer = self.get_serializer(activity, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        activity = privacy.processing_activity_save(
            actor=self.actor, activity=activity, **serializer.validated_data
        )
        return Response(self.get_serializer(activity).data)

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        return self.update(request, pk, partial=True)

    def perform_destroy(self, instance: ProcessingActivity) -> None:
        privacy.processing_activity_delete(actor=self.actor, activity=instance)


class RetentionPolicyViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, KehuViewSet
):
    """Retention in years per document type; a type without a policy is kept 10 years."""

    queryset = RetentionPolicy.unscoped.none()
    serializer_class = RetentionPolicySerializer
    action_permissions = {
        "list": "privacy.view",
        "retrieve": "privacy.view",
        "create": "privacy.manage",
        "update": "privacy.manage",
        "partial_update": "privacy.manage",
        "destroy": "privacy.manage",
    }

    def scoped_queryset(self) -> QuerySet[RetentionPolicy]:
        return RetentionPolicy.objects.all()

    def create(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        document_type = serializer.validated_data["document_type"]
        if RetentionPolicy.objects.filter(document_type=document_type).exists():
            raise exceptions.ValidationError(
                {"document_type": [_("This document type already has a retention policy.")]}
            )
        policy = privacy.retention_policy_set(actor=self.actor, **serializer.validated_data)
        return Response(self.get_serializer(policy).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: str | None = None, partial: bool = False) -> Response:
        policy = self.get_object()
        serializer = self.get_serializer(policy, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data.get("document_type", policy.document_type) != policy.document_type:
            raise exceptions.ValidationError({"document_type": [_("The document type cannot change.")]})
        policy = privacy.retention_policy_set(
            actor=self.actor,
            document_type=policy.document_type,
            years=data.get("years", policy.years),
            note=data.get("note", policy.note),
        )
        return Response(self.get_serializer(policy).data)

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        return self.update(request, pk, partial=True)

    def perform_destroy(self, instance: RetentionPolicy) -> None:
        privacy.retention_policy_delete(actor=self.actor, policy=instance)
