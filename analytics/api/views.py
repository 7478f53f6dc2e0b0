"""The analytics API: `/api/v1/analytics/customers/` (each customer's latest figures),
`/analytics/cohorts/`, `/analytics/summary/`, `/analytics/runs/` (POST asks for a recompute) and
`/analytics/churn-alerts/`. Read-only but for POST runs. Each view calls the selectors of
`analytics`; the base viewset supplies tenancy, roles, pagination and Idempotency-Key."""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any

from django.db import models, transaction
from django.db.models import F, QuerySet, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.request import Request
from rest_framework.response import Response

from analytics import runs, selectors, tasks
from analytics.api import filters
from analytics.api import serializers as s
from analytics.models import AnalyticsRun, ChurnAlert, CustomerAnalytics
from finance.api.base import KehuViewSet
from finance.api.filters import BIGINT_MAX, FilterBackend
from finance.api.pagination import KehuCursorPagination

# Sorts below every real figure: a customer without a churn risk or lifetime value comes last
# when sorting high to low.
NO_FIGURE = -1


class FilterOrderCursorPagination(KehuCursorPagination):
    """Cursor pages in the order the filterset chose (`?ordering=`), the customer id breaking
    ties; by customer id without one."""

    ordering = "customer_id"

    def get_ordering(self, request: Request, queryset: QuerySet, view: Any) -> tuple[str, ...]:
        chosen = tuple(str(field) for field in queryset.query.order_by)
        return (*chosen, "customer_id") if chosen else ("customer_id",)


class RunCursorPagination(KehuCursorPagination):
    ordering = "-date"  # one run per day


class IdLookupMixin:
    """A lookup that is not a number a bigint can hold is "not found", like another tenant's id."""

    kwargs: dict[str, Any]

    def get_object(self) -> Any:
        lookup = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field, "")  # type: ignore[attr-defined]
        if not str(lookup).isdigit() or int(lookup) > BIGINT_MAX:
            raise Http404
        return super().get_object()  # type: ignore[misc]


@extend_schema_view(
    retrieve=extend_schema(
        parameters=[
            OpenApiParameter("customer_id", int, OpenApiParameter.PATH, description="The customer's id.")
        ]
    )
)
class CustomerAnalyticsViewSet(IdLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, KehuViewSet):
    """Each customer's latest figures (ABC, RFM, lifetime value, churn risk and its reasons,
    lifecycle stage), for the customers the caller may see; a sales rep sees its own. The detail
    is looked up by the customer's id and adds the history of its classes."""

    queryset = CustomerAnalytics.unscoped.none()
    serializer_class = s.CustomerAnalyticsSerializer
    filterset_class = filters.CustomerAnalyticsFilter
    filter_backends = [FilterBackend]
    pagination_class = FilterOrderCursorPagination
    lookup_field = "customer_id"
    lookup_url_kwarg = "customer_id"
    action_permissions = {"list": "analytics.view", "retrieve": "analytics.view"}

    def scoped_queryset(self) -> QuerySet[CustomerAnalytics]:
        return selectors.analytics_visible_to(self.actor).annotate(
            # A signed output: on the positive column's own type, Django would drop "> -1" as
            # always true, and the cursor past the customers without a risk would never move.
            churn_rank=Coalesce("churn_risk", Value(NO_FIGURE), output_field=models.IntegerField()),
            clv_rank=Coalesce(
                "clv",
                Value(Decimal(NO_FIGURE)),
                output_field=models.DecimalField(max_digits=18, decimal_places=2),
            ),
            customer_name_sort=F("customer__name"),
        )

    def get_serializer_class(self) -> type[s.CustomerAnalyticsSerializer]:
        if self.action == "retrieve":
            return s.CustomerAnalyticsDetailSerializer
        return s.CustomerAnalyticsSerializer

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if getattr(self, "swagger_fake_view", False):
            return context
        context["currency"] = self.actor.organization.base_currency
        context["horizon_months"] = selectors.analytics_policy().clv_horizon_months
        return context


class CohortViewSet(KehuViewSet):
    """`GET /api/v1/analytics/cohorts/`: the acquisition cohorts of the latest finished run."""

    queryset = AnalyticsRun.unscoped.none()
    pagination_class = None
    filter_backends: list = []
    action_permissions = {"list": "analytics.portfolio"}

    @extend_schema(responses={200: s.AnalyticsCohortsSerializer})
    def list(self, request: Request) -> Response:
        return Response(
            s.AnalyticsCohortsSerializer(s.AnalyticsCohortsSerializer.answer(selectors.latest_run())).data
        )


class SummaryViewSet(KehuViewSet):
    """`GET /api/v1/analytics/summary/`: the organization's figures from the latest finished run,
    the fitted models, how churn alerts turned out, and where to act this week."""

    queryset = AnalyticsRun.unscoped.none()
    pagination_class = None
    filter_backends: list = []
    action_permissions = {"list": "analytics.portfolio"}

    @extend_schema(responses={200: s.AnalyticsSummarySerializer})
    def list(self, request: Request) -> Response:
        answer = s.AnalyticsSummarySerializer.answer(
            selectors.latest_run(),
            currency=self.actor.organization.base_currency,
            alerts=selectors.alert_precision(),
            where_to_act=selectors.where_to_act(self.actor),
        )
        return Response(s.AnalyticsSummarySerializer(answer).data)


@extend_schema_view(retrieve=extend_schema(parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)]))
class RunViewSet(IdLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, KehuViewSet):
    """Recomputes, newest day first. POST asks for one as of `date` (default today): 202 when it
    is queued, 200 with the run already queued or running for that day. The browser and the
    nightly job use the same runs, so a day is never computed twice at once."""

    queryset = AnalyticsRun.unscoped.none()
    serializer_class = s.AnalyticsRunSerializer
    filter_backends: list = []
    pagination_class = RunCursorPagination
    action_permissions = {
        "list": "analytics.portfolio",
        "retrieve": "analytics.portfolio",
        "create": "analytics.run",
    }

    def scoped_queryset(self) -> QuerySet[AnalyticsRun]:
        return AnalyticsRun.objects.all()

    @extend_schema(
        request=s.AnalyticsRunInSerializer,
        responses={
            202: OpenApiResponse(s.AnalyticsRunSerializer, description="The recompute is queued."),
            200: OpenApiResponse(
                s.AnalyticsRunSerializer, description="That day's recompute is already under way."
            ),
        },
    )
    def create(self, request: Request) -> Response:
        organization = self.actor.organization
        today = organization.local_today()
        serializer = s.AnalyticsRunInSerializer(data=request.data, context={"today": today})
        serializer.is_valid(raise_exception=True)
        run_date = serializer.validated_data.get("date") or today
        with transaction.atomic():
            run, start = runs.run_request(actor=self.actor, run_date=run_date)
            if start:
                transaction.on_commit(
                    partial(
                        tasks.recompute.delay,
                        organization_id=organization.pk,
                        run_date=run_date.isoformat(),
                    )
                )
        return Response(
            s.AnalyticsRunSerializer(run).data,
            status=status.HTTP_202_ACCEPTED if start else status.HTTP_200_OK,
        )


class ChurnAlertViewSet(mixins.ListModelMixin, KehuViewSet):
    """Churn alerts of the customers the caller may see, newest first, with their outcome."""

    queryset = ChurnAlert.unscoped.none()
    serializer_class = s.ChurnAlertSerializer
    filterset_class = filters.ChurnAlertFilter
    filter_backends = [FilterBackend]
    action_permissions = {"list": "analytics.view"}

    def scoped_queryset(self) -> QuerySet[ChurnAlert]:
        return selectors.alerts_visible_to(self.actor)
