"""What credit holds about a customer, for crm's privacy export, erasure and retention.

Erasure keeps the credit figures (limits, scores, financial statements: about the customer's
business, no personal identifiers) and anonymises the free text that may name people (notes,
request reasons, decision notes, hold details). Retention clears that free text past its period.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from credit.models import (
    CreditHold,
    CreditProfile,
    CreditReview,
    FinancialStatement,
    LimitRequest,
    OpenOrder,
    ScoreRecord,
)
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
from finance.actors import Actor
from finance.models import Organization

SECTION = "credit.assessment"


def export_credit(*, customer: Customer | None = None, contact: Contact | None = None) -> dict[str, Any]:
    if customer is None:
        return {}
    return {
        "profile": rows(CreditProfile.objects.filter(customer=customer)),
        "scores": rows(ScoreRecord.objects.filter(customer=customer)),
        "financial_statements": rows(FinancialStatement.objects.filter(customer=customer)),
        "limit_requests": rows(LimitRequest.objects.filter(customer=customer)),
        "holds": rows(CreditHold.objects.filter(customer=customer)),
        "reviews": rows(CreditReview.objects.filter(customer=customer)),
        "open_orders": rows(OpenOrder.objects.filter(customer=customer)),
    }


def erase_credit(
    *, customer: Customer | None = None, contact: Contact | None = None, actor: Actor
) -> list[Entry]:
    if customer is None:
        return []
    entries = [
        anonymise(
            CreditProfile.objects.filter(customer=customer),
            section=SECTION,
            label=_("credit profile notes"),
            values={"notes": ""},
        ),
        anonymise(
            LimitRequest.objects.filter(customer=customer),
            section=SECTION,
            label=_("credit limit requests"),
            values={"reason": ERASED, "decision_note": ""},
        ),
        anonymise(
            CreditHold.objects.filter(customer=customer),
            section=SECTION,
            label=_("credit holds"),
            values={"detail": "", "release_note": ""},
        ),
        anonymise(
            CreditReview.objects.filter(customer=customer),
            section=SECTION,
            label=_("credit reviews"),
            values={"notes": ""},
        ),
    ]
    figures = (
        ScoreRecord.objects.filter(customer=customer).count()
        + FinancialStatement.objects.filter(customer=customer).count()
        + CreditProfile.objects.filter(customer=customer).count()
    )
    if figures:
        entries.append(
            kept(
                section=SECTION,
                label=_("credit figures (profile, scores, financial statements)"),
                count=figures,
                reason=_(
                    "figures about the customer's business without personal identifiers, "
                    "needed to assess the credit risk of the retained receivables"
                ),
            )
        )
    return [e for e in entries if e]


def _retain_credit(
    *, organization: Organization, cutoff: datetime.date, erased_customer_ids: set[int]
) -> int:
    start = datetime.datetime.combine(cutoff, datetime.time.min, tzinfo=organization.tzinfo)
    return (
        anonymise_count(
            LimitRequest.objects.filter(requested_at__lt=start), {"reason": ERASED, "decision_note": ""}
        )
        + anonymise_count(CreditReview.objects.filter(due_on__lt=cutoff), {"notes": ""})
        + anonymise_count(
            CreditHold.objects.filter(placed_at__lt=start, released_at__isnull=False),
            {"detail": "", "release_note": ""},
        )
    )


def register() -> None:
    register_section(PrivacySection(name=SECTION, export=export_credit, erase=erase_credit, order=30))
    register_retention_rule(
        RetentionRule(
            name="credit.assessments",
            document_type=RetentionDocumentType.CREDIT_ASSESSMENT,
            apply=_retain_credit,
            description=gettext_lazy(
                "Limit requests, reviews and released holds past the retention lose their free text."
            ),
        )
    )
