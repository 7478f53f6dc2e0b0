"""What experience holds about a customer or contact, for crm's privacy export, erasure and retention.

Erasure anonymises survey emails, comments and free-text answers (the scores stay, anonymous),
feedback text, service request text and notes, and education feedback. The loyalty points ledger
is kept: append-only, and points carry value that the customer's account still owes or earned.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.models import Contact, Customer, RetentionDocumentType
from crm.privacy import (
    ERASED,
    Entry,
    PrivacySection,
    RetentionRule,
    anonymise,
    anonymise_count,
    kept,
    register_retention_rule,
    register_section,
    rows,
)
from experience.models import (
    Attendance,
    FeedbackItem,
    PointsEntry,
    ServiceNote,
    ServiceRequest,
    SurveyInvitation,
    SurveyResponse,
)
from finance.actors import Actor
from finance.models import Organization


def _by_subject(model: Any, customer: Customer | None, contact: Contact | None) -> QuerySet:
    if contact is not None:
        return model.objects.filter(contact=contact)
    return model.objects.filter(customer=customer)


def _feedback(customer: Customer | None, contact: Contact | None) -> QuerySet[FeedbackItem]:
    if contact is not None:
        return FeedbackItem.objects.filter(Q(response__contact=contact) | Q(interaction__contact=contact))
    return FeedbackItem.objects.filter(customer=customer)


def export_surveys(*, customer: Customer | None = None, contact: Contact | None = None) -> dict[str, Any]:
    return {
        "invitations": rows(_by_subject(SurveyInvitation, customer, contact), exclude=["token_hash"]),
        "responses": rows(_by_subject(SurveyResponse, customer, contact)),
        "feedback": rows(_feedback(customer, contact)),
    }


def export_service(*, customer: Customer | None = None, contact: Contact | None = None) -> dict[str, Any]:
    requests = _by_subject(ServiceRequest, customer, contact)
    return {
        "service_requests": rows(requests),
        "service_notes": rows(ServiceNote.objects.filter(request__in=requests)),
        "education_attendance": rows(_by_subject(Attendance, customer, contact)),
    }


def export_loyalty(*, customer: Customer | None = None, contact: Contact | None = None) -> dict[str, Any]:
    if customer is None:
        return {}
    return {"points_ledger": rows(PointsEntry.objects.filter(customer=customer))}


def erase_surveys(
    *, customer: Customer | None = None, contact: Contact | None = None, actor: Actor
) -> list[Entry]:
    section = "experience.surveys"
    entries = [
        anonymise(
            _by_subject(SurveyInvitation, customer, contact),
            section=section,
            label=_("survey invitations"),
            values={"email": "", "error": ""},
        ),
        anonymise(
            _by_subject(SurveyResponse, customer, contact),
            section=section,
            label=_("survey responses (scores kept)"),
            values={"comment": "", "answers": {}},
        ),
        anonymise(
            _feedback(customer, contact),
            section=section,
            label=_("feedback items"),
            values={"summary": ERASED, "detail": ""},
        ),
    ]
    return [e for e in entries if e]


def erase_service(
    *, customer: Customer | None = None, contact: Contact | None = None, actor: Actor
) -> list[Entry]:
    section = "experience.service"
    requests = _by_subject(ServiceRequest, customer, contact)
    entries = [
        anonymise(
            ServiceNote.objects.filter(request__in=requests),
            section=section,
            label=_("service notes"),
            values={"body": ERASED},
        ),
        anonymise(
            requests,
            section=section,
            label=_("service requests"),
            values={"subject": ERASED, "description": ""},
        ),
        anonymise(
            _by_subject(Attendance, customer, contact),
            section=section,
            label=_("education attendance feedback"),
            values={"feedback": ""},
        ),
    ]
    return [e for e in entries if e]


def erase_loyalty(
    *, customer: Customer | None = None, contact: Contact | None = None, actor: Actor
) -> list[Entry]:
    if customer is None:
        return []
    count = PointsEntry.objects.filter(customer=customer).count()
    if not count:
        return []
    return [
        kept(
            section="experience.loyalty",
            label=_("loyalty points entries"),
            count=count,
            reason=_("append-only points ledger tied to the retained invoices; no personal identifiers"),
        )
    ]


def _start_of(day: datetime.date, organization: Organization) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=organization.tzinfo)


def _retain_surveys(
    *, organization: Organization, cutoff: datetime.date, erased_customer_ids: set[int]
) -> int:
    start = _start_of(cutoff, organization)
    return anonymise_count(
        SurveyResponse.objects.filter(responded_at__lt=start), {"comment": "", "answers": {}, "contact": None}
    ) + anonymise_count(SurveyInvitation.objects.filter(created_at__lt=start), {"email": "", "error": ""})


def _retain_feedback(
    *, organization: Organization, cutoff: datetime.date, erased_customer_ids: set[int]
) -> int:
    return anonymise_count(
        FeedbackItem.objects.filter(created_at__lt=_start_of(cutoff, organization)), {"detail": ""}
    )


def _retain_service(
    *, organization: Organization, cutoff: datetime.date, erased_customer_ids: set[int]
) -> int:
    old = ServiceRequest.objects.filter(
        opened_at__lt=_start_of(cutoff, organization),
        status__in=[ServiceRequest.Status.RESOLVED, ServiceRequest.Status.CLOSED],
    )
    return anonymise_count(ServiceNote.objects.filter(request__in=old), {"body": ERASED}) + anonymise_count(
        old, {"description": ""}
    )


def register() -> None:
    register_section(
        PrivacySection(name="experience.surveys", export=export_surveys, erase=erase_surveys, order=40)
    )
    register_section(
        PrivacySection(name="experience.service", export=export_service, erase=erase_service, order=41)
    )
    register_section(
        PrivacySection(name="experience.loyalty", export=export_loyalty, erase=erase_loyalty, order=42)
    )
    for name, document_type, apply, description in [
        (
            "experience.survey_responses",
            RetentionDocumentType.SURVEY_RESPONSE,
            _retain_surveys,
            gettext_lazy("Survey responses past the retention lose their comment, answers and contact."),
        ),
        (
            "experience.feedback",
            RetentionDocumentType.FEEDBACK,
            _retain_feedback,
            gettext_lazy("Feedback past the retention loses its detail text."),
        ),
        (
            "experience.service_requests",
            RetentionDocumentType.SERVICE_REQUEST,
            _retain_service,
            gettext_lazy("Resolved service requests past the retention lose their description and notes."),
        ),
    ]:
        register_retention_rule(
            RetentionRule(name=name, document_type=document_type, apply=apply, description=description)
        )
