"""The surveys and feedback API under /api/v1/experience/: surveys (CRUD for survey.manage, read for
all), survey-invitations (list; POST sends a survey to a segment), survey-responses (list),
survey-results (the summary), feedback and improvement-actions. Each view parses its input with
a serializer and calls one service or selector; the base viewset supplies tenancy, roles,
cursor pagination and Idempotency-Key. Ids resolve inside the actor's tenant and visibility, so
another organization's id reads "does not exist" (404 on a path, 400 in a body)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import mixins, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from crm.models import LifecycleStage
from crm.selectors import customers_visible_to, interactions_visible_to
from experience import feedback as feedback_services
from experience import surveys
from experience import surveys_selectors as selectors
from experience.models import (
    FeedbackItem,
    ImprovementAction,
    Survey,
    SurveyInvitation,
    SurveyQuestion,
    SurveyResponse,
)
from finance.api.base import KehuViewSet
from finance.api.fields import ScopedPrimaryKeyRelatedField
from finance.api.filters import IdFilter, IsoDateTimeFilter
from finance.api.representation import ModelSerializer
from finance.models import Language, Membership, User


def _surveys(actor: Any) -> QuerySet[Survey]:
    return selectors.surveys_visible_to(actor)


def _feedback(actor: Any) -> QuerySet[FeedbackItem]:
    return selectors.feedback_visible_to(actor)


def _members(actor: Any) -> QuerySet[User]:
    return User.objects.filter(pk__in=Membership.objects.values("user_id"))


class TextsField(serializers.DictField):
    """Text per language code: {"en": "...", "zh-hans": "..."}."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.CharField(allow_blank=True, max_length=1000), **kwargs)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        value = super().to_internal_value(data)
        unknown = sorted(set(value) - set(Language.values))
        if unknown:
            raise serializers.ValidationError(
                _("Unknown language: %(codes)s.") % {"codes": ", ".join(unknown)}
            )
        return value


# --- Surveys ----------------------------------------


class QuestionSerializer(ModelSerializer):
    text = TextsField()
    choices = serializers.ListField(child=TextsField(), required=False, max_length=20)

    class Meta:
        model = SurveyQuestion
        fields = ["id", "kind", "text", "choices", "required"]
        read_only_fields = ["id"]


class SurveySerializer(ModelSerializer):
    question = TextsField(required=False)
    intro = TextsField(required=False)
    questions = QuestionSerializer(many=True, required=False)

    class Meta:
        model = Survey
        fields = [
            "id",
            "name",
            "kind",
            "trigger",
            "question",
            "intro",
            "is_active",
            "expiry_days",
            "quiet_days",
            "questions",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]
        # Uniqueness is the service's (a validator here would query outside the request's scope).
        validators: list[Any] = []


class SurveyViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    KehuViewSet,
):
    """Surveys with their custom questions. Everyone reads; survey.manage creates and changes them;
    a survey that has sent invitations cannot be deleted (pause it instead)."""

    queryset = Survey.unscoped.none()
    serializer_class = SurveySerializer
    ordering_fields = ["id", "name", "created_at"]
    search_fields = ["name"]
    action_permissions = {
        "list": "experience.view",
        "retrieve": "experience.view",
        "create": "survey.manage",
        "partial_update": "survey.manage",
        "destroy": "survey.manage",
    }

    def scoped_queryset(self) -> QuerySet[Survey]:
        return selectors.surveys_visible_to(self.actor).prefetch_related(
            Prefetch("questions", queryset=SurveyQuestion.objects.order_by("position", "id"))
        )

    def _values(self, serializer: SurveySerializer) -> dict[str, Any]:
        values = dict(serializer.validated_data)
        if "questions" in values:
            values["questions"] = [dict(question) for question in values["questions"]]
        return values

    def create(self, request: Request) -> Response:
        serializer = SurveySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        survey = surveys.survey_create(actor=self.actor, **self._values(serializer))
        return Response(
            self.get_serializer(self.get_queryset().get(pk=survey.pk)).data, status=status.HTTP_201_CREATED
        )

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        survey = self.get_object()
        serializer = SurveySerializer(survey, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        survey = surveys.survey_update(actor=self.actor, survey=survey, **self._values(serializer))
        return Response(self.get_serializer(self.get_queryset().get(pk=survey.pk)).data)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        surveys.survey_delete(actor=self.actor, survey=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Invitations ----------------------------------------


class InvitationSerializer(ModelSerializer):
    class Meta:
        model = SurveyInvitation
        fields = [
            "id",
            "survey",
            "customer",
            "contact",
            "email",
            "language",
            "source",
            "status",
            "error",
            "sent_at",
            "expires_at",
            "responded_at",
            "created_at",
        ]
        read_only_fields = fields


class SegmentSerializer(serializers.Serializer):
    """Send `survey` to every active customer matching all the criteria given."""

    survey = ScopedPrimaryKeyRelatedField(_surveys)
    abc_class = serializers.ChoiceField(choices=["A", "B", "C"], required=False, allow_blank=True)
    lifecycle_stage = serializers.ChoiceField(
        choices=LifecycleStage.choices, required=False, allow_blank=True
    )
    customer_group = serializers.CharField(max_length=100, required=False, allow_blank=True)
    owner = ScopedPrimaryKeyRelatedField(_members, required=False, allow_null=True)
    risk_class = serializers.ChoiceField(choices=list("ABCDE"), required=False, allow_blank=True)


class SegmentResultSerializer(serializers.Serializer):
    invited = serializers.IntegerField()
    skipped_quiet = serializers.IntegerField()
    skipped_duplicate = serializers.IntegerField()
    skipped_no_email = serializers.IntegerField()
    invitations = InvitationSerializer(many=True)


class InvitationFilter(django_filters.FilterSet):
    survey = IdFilter(field_name="survey_id")
    customer = IdFilter(field_name="customer_id")
    status = django_filters.ChoiceFilter(choices=SurveyInvitation.Status.choices)
    source = django_filters.CharFilter()


class InvitationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, KehuViewSet):
    """Invitations (never their tokens). POST sends a survey to a segment: 201 with what was sent."""

    queryset = SurveyInvitation.unscoped.none()
    serializer_class = InvitationSerializer
    filterset_class = InvitationFilter
    ordering_fields = ["id", "created_at"]
    action_permissions = {"list": "experience.view", "retrieve": "experience.view", "create": "survey.send"}

    def scoped_queryset(self) -> QuerySet[SurveyInvitation]:
        return selectors.invitations_visible_to(self.actor)

    @extend_schema(request=SegmentSerializer, responses={201: SegmentResultSerializer})
    def create(self, request: Request) -> Response:
        serializer = SegmentSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        result = surveys.survey_send_to_segment(actor=self.actor, survey=values.pop("survey"), **values)
        body = {
            "invited": len(result.created),
            "skipped_quiet": result.skipped_quiet,
            "skipped_duplicate": result.skipped_duplicate,
            "skipped_no_email": result.skipped_no_email,
            "invitations": result.created,
        }
        return Response(SegmentResultSerializer(body).data, status=status.HTTP_201_CREATED)


# --- Responses ----------------------------------------


class ResponseSerializer(ModelSerializer):
    class Meta:
        model = SurveyResponse
        fields = [
            "id",
            "invitation",
            "survey",
            "customer",
            "contact",
            "score",
            "category",
            "comment",
            "answers",
            "language",
            "responded_at",
        ]
        read_only_fields = fields


class ResponseFilter(django_filters.FilterSet):
    survey = IdFilter(field_name="survey_id")
    customer = IdFilter(field_name="customer_id")
    category = django_filters.ChoiceFilter(choices=SurveyResponse.Category.choices)
    responded_after = IsoDateTimeFilter(field_name="responded_at", lookup_expr="gte")
    responded_before = IsoDateTimeFilter(field_name="responded_at", lookup_expr="lt")


class ResponseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, KehuViewSet):
    """Answers, latest first: filter by survey, customer, category and time."""

    queryset = SurveyResponse.unscoped.none()
    serializer_class = ResponseSerializer
    filterset_class = ResponseFilter
    ordering_fields = ["id", "responded_at", "score"]
    action_permissions = {"list": "experience.view", "retrieve": "experience.view"}

    def scoped_queryset(self) -> QuerySet[SurveyResponse]:
        return selectors.responses_visible_to(self.actor)


# --- Results ----------------------------------------


class ScoresSerializer(serializers.Serializer):
    key = serializers.CharField(allow_null=True)
    label = serializers.CharField(allow_blank=True)
    answers = serializers.IntegerField()
    nps = serializers.FloatField(allow_null=True)
    csat = serializers.FloatField(allow_null=True)
    promoter = serializers.IntegerField()
    passive = serializers.IntegerField()
    detractor = serializers.IntegerField()
    satisfied = serializers.IntegerField()
    neutral = serializers.IntegerField()
    dissatisfied = serializers.IntegerField()


@extend_schema_serializer(many=False)  # one object from a `list` action, not an array
class ResultsSerializer(serializers.Serializer):
    """NPS (% promoters − % detractors), CSAT (% satisfied), response rate (answered of sent, %),
    by month and by customer group, ABC class and owner rep."""

    overall = ScoresSerializer()
    sent = serializers.IntegerField()
    responded = serializers.IntegerField()
    response_rate = serializers.FloatField(allow_null=True)
    months = ScoresSerializer(many=True)
    by_group = ScoresSerializer(many=True)
    by_abc = ScoresSerializer(many=True)
    by_owner = ScoresSerializer(many=True)


class ResultsQuerySerializer(serializers.Serializer):
    survey = ScopedPrimaryKeyRelatedField(_surveys, required=False)
    since = serializers.DateField(required=False)
    until = serializers.DateField(required=False)


class ResultsViewSet(KehuViewSet):
    """`GET /api/v1/experience/survey-results/`: the summary over the caller's customers."""

    queryset = SurveyResponse.unscoped.none()
    pagination_class = None
    filter_backends: list = []
    action_permissions = {"list": "experience.view"}

    @extend_schema(
        parameters=[
            OpenApiParameter("survey", int, required=False),
            OpenApiParameter("since", str, required=False, description="YYYY-MM-DD"),
            OpenApiParameter("until", str, required=False, description="YYYY-MM-DD"),
        ],
        responses=ResultsSerializer,
    )
    def list(self, request: Request) -> Response:
        query = ResultsQuerySerializer(data=request.query_params, context=self.get_serializer_context())
        query.is_valid(raise_exception=True)
        results = selectors.survey_results(actor=self.actor, **query.validated_data)
        body = {
            "overall": results.overall.as_dict(),
            "sent": results.sent,
            "responded": results.responded,
            "response_rate": results.response_rate,
            "months": [m.as_dict() for m in results.months],
            "by_group": [row.as_dict() for row in results.by_group],
            "by_abc": [row.as_dict() for row in results.by_abc],
            "by_owner": [row.as_dict() for row in results.by_owner],
        }
        return Response(ResultsSerializer(body).data)


# --- Feedback and improvement actions ----------------------------------------


class FeedbackSerializer(ModelSerializer):
    customer = ScopedPrimaryKeyRelatedField(customers_visible_to)
    interaction = ScopedPrimaryKeyRelatedField(interactions_visible_to, required=False, allow_null=True)

    class Meta:
        model = FeedbackItem
        fields = [
            "id",
            "customer",
            "source",
            "response",
            "interaction",
            "category",
            "sentiment",
            "status",
            "summary",
            "detail",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "source", "response", "status", "created_at", "updated_at"]
        extra_kwargs = {"sentiment": {"required": True}}


class FeedbackUpdateSerializer(ModelSerializer):
    class Meta:
        model = FeedbackItem
        fields = ["category", "sentiment", "status", "summary", "detail"]


class FeedbackFilter(django_filters.FilterSet):
    customer = IdFilter(field_name="customer_id")
    status = django_filters.ChoiceFilter(choices=FeedbackItem.Status.choices)
    category = django_filters.ChoiceFilter(choices=FeedbackItem.Category.choices)
    sentiment = django_filters.ChoiceFilter(choices=FeedbackItem.Sentiment.choices)
    source = django_filters.ChoiceFilter(choices=FeedbackItem.Source.choices)


class FeedbackViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, KehuViewSet):
    """Feedback items: by hand or from an interaction (POST); PATCH moves the status
    new → planned → done/declined. Survey comments arrive on their own (source "survey")."""

    queryset = FeedbackItem.unscoped.none()
    serializer_class = FeedbackSerializer
    filterset_class = FeedbackFilter
    search_fields = ["summary", "customer__name"]
    ordering_fields = ["id", "created_at", "updated_at"]
    action_permissions = {
        "list": "experience.view",
        "retrieve": "experience.view",
        "create": "feedback.change",
        "partial_update": "feedback.change",
    }

    def scoped_queryset(self) -> QuerySet[FeedbackItem]:
        return selectors.feedback_visible_to(self.actor)

    def create(self, request: Request) -> Response:
        serializer = FeedbackSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        item = feedback_services.feedback_create(actor=self.actor, **serializer.validated_data)
        return Response(FeedbackSerializer(item).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=FeedbackUpdateSerializer, responses=FeedbackSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        item = self.get_object()
        serializer = FeedbackUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        item = feedback_services.feedback_update(actor=self.actor, feedback=item, **serializer.validated_data)
        return Response(FeedbackSerializer(item).data)


class ActionSerializer(ModelSerializer):
    feedback = ScopedPrimaryKeyRelatedField(_feedback)
    owner = ScopedPrimaryKeyRelatedField(_members, required=False, allow_null=True)

    class Meta:
        model = ImprovementAction
        fields = [
            "id",
            "feedback",
            "title",
            "owner",
            "due_date",
            "status",
            "outcome",
            "completed_on",
            "created_at",
        ]
        read_only_fields = ["id", "status", "outcome", "completed_on", "created_at"]


class ActionUpdateSerializer(ModelSerializer):
    owner = ScopedPrimaryKeyRelatedField(_members, required=False, allow_null=True)

    class Meta:
        model = ImprovementAction
        fields = ["title", "owner", "due_date", "status", "outcome"]


class ActionFilter(django_filters.FilterSet):
    feedback = IdFilter(field_name="feedback_id")
    customer = IdFilter(field_name="feedback__customer_id")
    owner = IdFilter(field_name="owner_id")
    status = django_filters.ChoiceFilter(choices=ImprovementAction.Status.choices)
    due_before = django_filters.DateFilter(field_name="due_date", lookup_expr="lte")


class ActionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, KehuViewSet):
    """Improvement actions on feedback: owner, due date; PATCH status "done" needs the outcome."""

    queryset = ImprovementAction.unscoped.none()
    serializer_class = ActionSerializer
    filterset_class = ActionFilter
    ordering_fields = ["id", "due_date", "created_at"]
    action_permissions = {
        "list": "experience.view",
        "retrieve": "experience.view",
        "create": "feedback.change",
        "partial_update": "feedback.change",
    }

    def scoped_queryset(self) -> QuerySet[ImprovementAction]:
        return selectors.actions_visible_to(self.actor)

    def create(self, request: Request) -> Response:
        serializer = ActionSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        action = feedback_services.action_create(actor=self.actor, **serializer.validated_data)
        return Response(ActionSerializer(action).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ActionUpdateSerializer, responses=ActionSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        action = self.get_object()
        serializer = ActionUpdateSerializer(
            data=request.data, partial=True, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        action = feedback_services.action_update(actor=self.actor, action=action, **serializer.validated_data)
        return Response(ActionSerializer(action).data)
