"""The credit API: `/api/v1/credit/check/`, `/credit/profiles/`, `/credit/limit-requests/`,
`/credit/statements/` and `/credit/orders/`. Each view parses its input, calls one selector or one
service of `credit`, and answers with the output serializer; the base viewset supplies tenancy,
roles, pagination and Idempotency-Key."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from credit import limits, selectors, services
from credit.api import filters
from credit.api import serializers as s
from credit.models import CreditProfile, FinancialStatement, LimitRequest, OpenOrder
from finance.api.base import ActorMixin, KehuViewSet
from finance.api.sensitive import SensitiveAuditMixin

EMPTY_BODY = {"type": "object", "description": "No fields: an empty object (or no body)."}
IGNORED_IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Accepted and ignored: a check writes nothing, so every call is answered afresh.",
)


class CreditCheckViewSet(ActorMixin, viewsets.GenericViewSet):
    """`POST /api/v1/credit/check/`: may this customer place an order of this amount now?
    "approve", "review" or "hold", with the limit, exposure and what is available in base
    currency and the reasons in the active language. Reads only: it writes nothing (not even an
    Idempotency-Key record), so it answers in a handful of queries."""

    action_permissions = {"create": "credit.view"}
    serializer_class = s.CreditCheckInSerializer
    pagination_class = None
    filter_backends: list = []

    @extend_schema(
        request=s.CreditCheckInSerializer,
        responses={200: s.CreditCheckSerializer},
        parameters=[IGNORED_IDEMPOTENCY_KEY],
    )
    def create(self, request: Request) -> Response:
        serializer = s.CreditCheckInSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        customer = serializer.validated_data["customer"]
        check = selectors.credit_check(
            customer=customer,
            amount=serializer.validated_data["amount"],
            currency=serializer.validated_data["currency"],
        )
        return Response(s.CreditCheckSerializer(s.CreditCheckSerializer.answer(customer, check)).data)


class ProfileViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, KehuViewSet):
    """Credit profiles: limit, exposure, score with its factors explained, suggested limit, active
    holds, terms and reviews. Read-only: limits change through `/credit/limit-requests/`. A list
    page reads exposure, holds and terms for all its rows at once."""

    queryset = CreditProfile.unscoped.none()
    serializer_class = s.ProfileSerializer
    filterset_class = filters.ProfileFilter
    search_fields = ["customer__name", "customer__external_id"]
    ordering_fields = ["id", "updated_at"]
    action_permissions = {"list": "credit.view", "retrieve": "credit.view"}

    def scoped_queryset(self) -> QuerySet[CreditProfile]:
        return selectors.profiles_visible_to(self.actor)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self._represent(page))

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(self._represent([self.get_object()])[0])

    def _represent(self, profiles: list[CreditProfile]) -> Any:
        organization = self.actor.organization
        facts = s.profile_facts(
            profiles, today=organization.local_today(), currency=organization.base_currency
        )
        context = {**self.get_serializer_context(), "facts": facts}
        return s.ProfileSerializer(profiles, many=True, context=context).data


class LimitRequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, KehuViewSet):
    """Credit-limit requests, maker-checker. POST asks for a new limit (API keys may ask); a
    finance manager (up to the policy's ceiling), an admin or the owner other than the requester
    approves or rejects it; the requester or an approver may cancel it while it is pending. A
    decrease asked by someone who may approve takes effect at once."""

    queryset = LimitRequest.unscoped.none()
    serializer_class = s.LimitRequestSerializer
    filterset_class = filters.LimitRequestFilter
    ordering_fields = ["id", "requested_at"]
    action_permissions = {
        "list": "credit.view",
        "retrieve": "credit.view",
        "create": "credit.request",
        "approve": "credit.approve",
        "reject": "credit.approve",
        "cancel": "credit.request",
    }

    def scoped_queryset(self) -> QuerySet[LimitRequest]:
        return selectors.limit_requests_visible_to(self.actor)

    @extend_schema(request=s.LimitRequestInSerializer, responses={201: s.LimitRequestSerializer})
    def create(self, request: Request) -> Response:
        serializer = s.LimitRequestInSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        limit_request = limits.limit_request_create(actor=self.actor, **serializer.validated_data)
        return Response(self.get_serializer(self._fresh(limit_request)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.LimitApproveSerializer, responses=s.LimitRequestSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        limit_request = self.get_object()
        serializer = s.LimitApproveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        limit_request = limits.limit_request_approve(
            actor=self.actor, request=limit_request, note=serializer.validated_data["note"]
        )
        return Response(self.get_serializer(self._fresh(limit_request)).data)

    @extend_schema(request=s.LimitRejectSerializer, responses=s.LimitRequestSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        limit_request = self.get_object()
        serializer = s.LimitRejectSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        limit_request = limits.limit_request_reject(
            actor=self.actor, request=limit_request, note=serializer.validated_data["note"]
        )
        return Response(self.get_serializer(self._fresh(limit_request)).data)

    @extend_schema(
        request={"application/json": EMPTY_BODY},
        responses=s.LimitRequestSerializer,
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        limit_request = limits.limit_request_cancel(actor=self.actor, request=self.get_object())
        return Response(self.get_serializer(self._fresh(limit_request)).data)

    def _fresh(self, limit_request: LimitRequest) -> LimitRequest:
        return self.get_queryset().get(pk=limit_request.pk)


class StatementViewSet(SensitiveAuditMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, KehuViewSet):
    """Customers' financial statements, one per customer and fiscal year, with their ratios and
    Altman Z″. Saving or deleting one rescores the customer after the commit."""

    queryset = FinancialStatement.unscoped.none()
    serializer_class = s.StatementSerializer
    filterset_class = filters.StatementFilter
    ordering_fields = ["id", "fiscal_year", "period_end"]
    action_permissions = {
        "list": "credit.view",
        "retrieve": "credit.view",
        "create": "credit.statement",
        "partial_update": "credit.statement",
        "destroy": "credit.statement",
    }

    def scoped_queryset(self) -> QuerySet[FinancialStatement]:
        return selectors.statements_visible_to(self.actor)

    @extend_schema(request=s.StatementInSerializer, responses={201: s.StatementSerializer})
    def create(self, request: Request) -> Response:
        serializer = s.StatementInSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        statement = services.statement_create(actor=self.actor, **serializer.validated_data)
        return Response(self.get_serializer(self._fresh(statement)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.StatementUpdateSerializer, responses=s.StatementSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        statement = self.get_object()
        serializer = s.StatementUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        statement = services.statement_update(
            actor=self.actor, statement=statement, **serializer.validated_data
        )
        return Response(self.get_serializer(self._fresh(statement)).data)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.statement_delete(actor=self.actor, statement=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _fresh(self, statement: FinancialStatement) -> FinancialStatement:
        return self.get_queryset().get(pk=statement.pk)


class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, KehuViewSet):
    """Open sales orders reported by the ERP, part of the customer's exposure until closed. POST
    upserts by `external_id`: 201 when the order is new, 200 when it was known."""

    queryset = OpenOrder.unscoped.none()
    serializer_class = s.OrderSerializer
    filterset_class = filters.OrderFilter
    search_fields = ["external_id"]
    ordering_fields = ["id", "created_at"]
    action_permissions = {"list": "credit.view", "retrieve": "credit.view", "create": "credit.order"}

    def scoped_queryset(self) -> QuerySet[OpenOrder]:
        return selectors.orders_visible_to(self.actor)

    @extend_schema(
        request=s.OrderInSerializer,
        responses={
            201: OpenApiResponse(s.OrderSerializer, description="The order was new."),
            200: OpenApiResponse(s.OrderSerializer, description="The order was known and is updated."),
        },
    )
    def create(self, request: Request) -> Response:
        serializer = s.OrderInSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        order, created = services.order_upsert(actor=self.actor, **serializer.validated_data)
        return Response(
            self.get_serializer(self._fresh(order)).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    def _fresh(self, order: OpenOrder) -> OpenOrder:
        return self.get_queryset().get(pk=order.pk)
