"""Reads of surveys, invitations, answers, feedback and improvement actions, narrowed to the
customers the actor sees (a sales rep: their own), and the results report: NPS, CSAT, response
rate, the monthly trend and breakdowns by customer group, ABC class and owner rep, in a fixed
number of queries whatever the number of answers."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone

from crm.models import Customer
from crm.selectors import customers_visible_to
from experience.models import FeedbackItem, ImprovementAction, Survey, SurveyInvitation, SurveyResponse
from finance.actors import Actor

C = SurveyResponse.Category
NPS_CATEGORIES = (C.PROMOTER, C.PASSIVE, C.DETRACTOR)
CSAT_CATEGORIES = (C.SATISFIED, C.NEUTRAL, C.DISSATISFIED)
DELIVERED = (SurveyInvitation.Status.SENT, SurveyInvitation.Status.RESPONDED)


def surveys_visible_to(actor: Actor) -> QuerySet[Survey]:
    actor.require("experience.view")
    return Survey.objects.all()


def invitations_visible_to(actor: Actor) -> QuerySet[SurveyInvitation]:
    return SurveyInvitation.objects.filter(customer__in=customers_visible_to(actor))


def responses_visible_to(actor: Actor) -> QuerySet[SurveyResponse]:
    return SurveyResponse.objects.filter(customer__in=customers_visible_to(actor))


def feedback_visible_to(actor: Actor) -> QuerySet[FeedbackItem]:
    return FeedbackItem.objects.filter(customer__in=customers_visible_to(actor))


def actions_visible_to(actor: Actor) -> QuerySet[ImprovementAction]:
    return ImprovementAction.objects.filter(feedback__customer__in=customers_visible_to(actor))


# --- Results ----------------------------------------


def _counts() -> dict[str, Any]:
    return {category: Count("id", filter=Q(category=category)) for category in C.values}


@dataclass
class Scores:
    """Answers counted by category, and the figures made of them (None without answers)."""

    label: str = ""
    key: Any = None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def nps_answers(self) -> int:
        return sum(self.counts.get(c, 0) for c in NPS_CATEGORIES)

    @property
    def csat_answers(self) -> int:
        return sum(self.counts.get(c, 0) for c in CSAT_CATEGORIES)

    @property
    def answers(self) -> int:
        return self.nps_answers + self.csat_answers

    @property
    def nps(self) -> float | None:
        """% promoters − % detractors, −100 to 100."""
        total = self.nps_answers
        if not total:
            return None
        return round((self.counts.get(C.PROMOTER, 0) - self.counts.get(C.DETRACTOR, 0)) * 100 / total, 1)

    @property
    def csat(self) -> float | None:
        """% satisfied (4-5) of the CSAT answers."""
        total = self.csat_answers
        if not total:
            return None
        return round(self.counts.get(C.SATISFIED, 0) * 100 / total, 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "answers": self.answers,
            "nps": self.nps,
            "csat": self.csat,
            **{category: self.counts.get(category, 0) for category in C.values},
        }


@dataclass
class SurveyResults:
    overall: Scores
    sent: int
    responded: int
    months: list[Scores]
    by_group: list[Scores]
    by_abc: list[Scores]
    by_owner: list[Scores]

    @property
    def response_rate(self) -> float | None:
        """Answered of delivered invitations, in %."""
        return round(self.responded * 100 / self.sent, 1) if self.sent else None


def _grouped(rows: QuerySet, key: str, label: Any = None) -> list[Scores]:
    out = []
    for row in rows.values(key).annotate(**_counts()).order_by(key):
        value = row[key]
        out.append(
            Scores(
                key=value, label=label(row) if label else (value or ""), counts={c: row[c] for c in C.values}
            )
        )
    return out


def survey_results(
    *,
    actor: Actor,
    survey: Survey | None = None,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
) -> SurveyResults:
    """The results of one survey (or all) over the actor's customers, answers from `since` to
    `until` (inclusive days, the organization's time). Six queries."""
    organization = actor.organization
    responses = responses_visible_to(actor)
    invitations = invitations_visible_to(actor)
    if survey is not None:
        responses = responses.filter(survey=survey)
        invitations = invitations.filter(survey=survey)
    tz = organization.tzinfo
    if since is not None:
        start = datetime.datetime.combine(since, datetime.time.min, tzinfo=tz)
        responses = responses.filter(responded_at__gte=start)
        invitations = invitations.filter(created_at__gte=start)
    if until is not None:
        end = datetime.datetime.combine(until + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz)
        responses = responses.filter(responded_at__lt=end)
        invitations = invitations.filter(created_at__lt=end)
    overall_counts = responses.aggregate(**_counts())
    sent = invitations.aggregate(
        sent=Count("id", filter=Q(status__in=DELIVERED)),
        responded=Count("id", filter=Q(status=SurveyInvitation.Status.RESPONDED)),
    )
    months = []
    for row in (
        responses.annotate(month=TruncMonth("responded_at", tzinfo=tz))
        .values("month")
        .annotate(**_counts())
        .order_by("month")
    ):
        month = row["month"]
        month = month.date() if isinstance(month, datetime.datetime) else month
        months.append(Scores(key=month, label=month.strftime("%Y-%m"), counts={c: row[c] for c in C.values}))

    def owner_label(row: dict[str, Any]) -> str:
        name = f"{row['customer__owner__first_name']} {row['customer__owner__last_name']}".strip()
        return name or row["customer__owner__email"] or ""

    by_owner = []
    for row in (
        responses.values(
            "customer__owner_id",
            "customer__owner__first_name",
            "customer__owner__last_name",
            "customer__owner__email",
        )
        .annotate(**_counts())
        .order_by("customer__owner__email")
    ):
        by_owner.append(
            Scores(
                key=row["customer__owner_id"], label=owner_label(row), counts={c: row[c] for c in C.values}
            )
        )
    return SurveyResults(
        overall=Scores(counts=overall_counts),
        sent=sent["sent"],
        responded=sent["responded"],
        months=months,
        by_group=_grouped(responses, "customer__customer_group"),
        by_abc=_grouped(responses, "customer__abc_class"),
        by_owner=by_owner,
    )


def last_months(count: int, today: datetime.date) -> list[datetime.date]:
    """The first days of the last `count` months, oldest first, ending with today's month."""
    months = []
    year, month = today.year, today.month
    for _step in range(count):
        months.append(datetime.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


# --- The customer's satisfaction ----------------------------------------


def customer_satisfaction(customer: Customer, *, limit: int = 5) -> dict[str, Any]:
    """The latest answers, open feedback and the improvement actions on it, for the customer panel.
    Three queries."""
    responses = list(SurveyResponse.objects.filter(customer=customer).select_related("survey")[:limit])
    feedback = list(
        FeedbackItem.objects.filter(
            customer=customer, status__in=(FeedbackItem.Status.NEW, FeedbackItem.Status.PLANNED)
        )[:limit]
    )
    actions = list(
        ImprovementAction.objects.filter(feedback__customer=customer, status=ImprovementAction.Status.OPEN)
        .select_related("owner", "feedback")
        .order_by("due_date", "id")[:limit]
    )
    return {
        "responses": responses,
        "feedback": feedback,
        "actions": actions,
        "today": timezone.localdate(),
    }
