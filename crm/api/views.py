from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Prefetch, Q, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from crm import selectors, services
from crm.api.serializers import (
    BulkResponseSerializer,
    ContactSerializer,
    CustomerBulkSerializer,
    CustomerSerializer,
    FollowUpSerializer,
    InteractionSerializer,
)
from crm.models import (
    Contact,
    Customer,
    CustomerStatus,
    FollowUp,
    Interaction,
    InteractionKind,
    LifecycleStage,
)
from finance.api.base import KehuViewSet
from finance.api.filters import FilterBackend, IdFilter, IsoDateTimeFilter
from finance.api.sensitive import SensitiveAuditMixin


# Filters are declared one by one: a FilterSet's Meta.fields would query a tenant table at import.
class CustomerFilter(django_filters.FilterSet):
    external_id = django_filters.CharFilter()
    owner = IdFilter(field_name="owner_id")
    customer_group = django_filters.CharFilter()
    lifecycle_stage = django_filters.ChoiceFilter(choices=LifecycleStage.choices)
    status = django_filters.ChoiceFilter(choices=CustomerStatus.choices)
    country = django_filters.CharFilter()
    currency = django_filters.CharFilter()
    updated_since = IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")


class CustomerSearchFilter(SearchFilter):
    """`search` over the text fields, plus an exact tax id match through its blind index (the tax
    id column is encrypted, so it is never matched in part)."""

    def filter_queryset(self, request: Request, queryset: QuerySet, view: Any) -> QuerySet:
        search = request.query_params.get(self.search_param, "").strip()
        if not search:
            return queryset
        by_text = super().filter_queryset(request, queryset, view)
        return queryset.filter(Q(pk__in=by_text.values("pk")) | selectors.tax_id_match(search))


class CustomerViewSet(
    SensitiveAuditMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    KehuViewSet,
):
    """Customers. Sales reps' keys and sessions see their own customers only."""

    queryset = Customer.unscoped.none()
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilter
    filter_backends = [FilterBackend, CustomerSearchFilter, OrderingFilter]
    search_fields = ["name", "legal_name", "external_id", "email"]
    ordering_fields = ["id", "name", "created_at", "updated_at"]
    action_permissions = {
        "list": "customer.view",
        "retrieve": "customer.view",
        "create": "customer.create",
        "update": "customer.change",
        "partial_update": "customer.change",
        "destroy": "customer.delete",
        "archive": "customer.archive",
        "restore": "customer.archive",
        "bulk": "customer.create",
    }

    def scoped_queryset(self) -> QuerySet[Customer]:
        return selectors.customers_visible_to(self.actor)

    def create(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        customer = services.customer_create(actor=self.actor, **serializer.validated_data)
        return Response(self.get_serializer(customer).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: str | None = None, partial: bool = False) -> Response:
        customer = self.get_object()
        serializer = self.get_serializer(customer, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        customer = services.customer_update(actor=self.actor, customer=customer, **serializer.validated_data)
        return Response(self.get_serializer(customer).data)

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        return self.update(request, pk, partial=True)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.customer_delete(actor=self.actor, customer=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=CustomerSerializer)
    @action(detail=True, methods=["post"])
    def archive(self, request: Request, pk: str | None = None) -> Response:
        customer = services.customer_archive(actor=self.actor, customer=self.get_object())
        return Response(self.get_serializer(customer).data)

    @extend_schema(request=None, responses=CustomerSerializer)
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str | None = None) -> Response:
        customer = services.customer_restore(actor=self.actor, customer=self.get_object())
        return Response(self.get_serializer(customer).data)

    @extend_schema(request=CustomerBulkSerializer, responses=BulkResponseSerializer)
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        """Upsert up to 1000 customers by `external_id`, all or nothing."""
        self.actor.require("customer.change")
        serializer = CustomerBulkSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        results = services.customers_bulk_upsert(actor=self.actor, items=serializer.validated_data["items"])
        return Response({"results": [r.__dict__ for r in results]})

    def get_serializer_class(self) -> type[Serializer]:
        return CustomerBulkSerializer if self.action == "bulk" else CustomerSerializer


class _RelationshipViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, KehuViewSet):
    """Create and update through the service each subclass names in `perform_write`."""

    def create(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        obj = self.perform_write(serializer, None)
        return Response(self.get_serializer(obj).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: str | None = None, partial: bool = False) -> Response:
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        obj = self.perform_write(serializer, instance)
        return Response(self.get_serializer(obj).data)

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        return self.update(request, pk, partial=True)


class ContactFilter(django_filters.FilterSet):
    customer = IdFilter(field_name="customer_id")
    is_primary = django_filters.BooleanFilter()
    is_billing = django_filters.BooleanFilter()
    email = django_filters.CharFilter(lookup_expr="iexact")


class ContactViewSet(SensitiveAuditMixin, _RelationshipViewSet):
    queryset = Contact.unscoped.none()
    serializer_class = ContactSerializer
    filterset_class = ContactFilter
    search_fields = ["name", "email", "phone"]
    ordering_fields = ["id", "name", "created_at"]
    action_permissions = {
        "list": "contact.view",
        "retrieve": "contact.view",
        "create": "contact.change",
        "update": "contact.change",
        "partial_update": "contact.change",
        "destroy": "contact.change",
    }

    def scoped_queryset(self) -> QuerySet[Contact]:
        return selectors.contacts_visible_to(self.actor)

    def perform_write(self, serializer: Serializer, instance: Contact | None) -> Contact:
        data = dict(serializer.validated_data)
        if instance is None:
            customer = data.pop("customer")
            return services.contact_create(actor=self.actor, customer=customer, **data)
        return services.contact_update(actor=self.actor, contact=instance, **data)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.contact_delete(actor=self.actor, contact=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class InteractionFilter(django_filters.FilterSet):
    customer = IdFilter(field_name="customer_id")
    contact = IdFilter(field_name="contact_id")
    user = IdFilter(field_name="user_id")
    occurred_after = IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")
    kind = django_filters.ChoiceFilter(choices=InteractionKind.choices)


class InteractionViewSet(_RelationshipViewSet):
    """Interactions are logged, not edited: the timeline is a record of what happened."""

    queryset = Interaction.unscoped.none()
    serializer_class = InteractionSerializer
    filterset_class = InteractionFilter
    search_fields = ["summary", "outcome"]
    ordering_fields = ["id", "occurred_at"]
    action_permissions = {
        "list": "interaction.view",
        "retrieve": "interaction.view",
        "create": "interaction.log",
    }

    def scoped_queryset(self) -> QuerySet[Interaction]:
        return selectors.interactions_visible_to(self.actor).prefetch_related(
            Prefetch(
                "follow_ups",
                queryset=FollowUp.objects.only("id", "interaction_id"),
                to_attr="prefetched_follow_ups",  # a list: no related manager built per row
            )
        )

    def perform_write(self, serializer: Serializer, instance: Interaction | None) -> Interaction:
        return services.interaction_log(actor=self.actor, **serializer.validated_data)


class FollowUpFilter(django_filters.FilterSet):
    customer = IdFilter(field_name="customer_id")
    assignee = IdFilter(field_name="assignee_id")
    due_before = django_filters.DateFilter(field_name="due_date", lookup_expr="lte")
    due_after = django_filters.DateFilter(field_name="due_date", lookup_expr="gte")
    done = django_filters.BooleanFilter()


class FollowUpViewSet(_RelationshipViewSet):
    queryset = FollowUp.unscoped.none()
    serializer_class = FollowUpSerializer
    filterset_class = FollowUpFilter
    search_fields = ["title"]
    ordering_fields = ["id", "due_date", "created_at"]
    action_permissions = {
        "list": "followup.view",
        "retrieve": "followup.view",
        "create": "followup.change",
        "update": "followup.change",
        "partial_update": "followup.change",
    }

    def scoped_queryset(self) -> QuerySet[FollowUp]:
        return selectors.follow_ups_visible_to(self.actor).select_related("customer")

    def perform_write(self, serializer: Serializer, instance: FollowUp | None) -> FollowUp:
        data = dict(serializer.validated_data)
        if instance is None:
            return services.follow_up_create(actor=self.actor, **data)
        return services.follow_up_update(actor=self.actor, follow_up=instance, **data)
