"""The surveys part of the demo: an NPS relationship survey (quarterly) and a CSAT survey after
payment, about forty invitations over the last six months with answers spread over promoters,
passives and some detractors whose comments became feedback, one improvement action, and a few
links still open. Runs inside the demo tenant, after the crm, receivables and credit seeds."""

from __future__ import annotations

import datetime
import random
import secrets

from django.utils import timezone

from crm.models import Customer, CustomerStatus
from experience import feedback, surveys
from experience.models import FeedbackItem, Survey, SurveyInvitation, SurveyResponse
from finance.actors import Actor
from finance.models import Organization

COMMENTS = {
    "detractor": [
        ("Invoices often arrive with the wrong PO number.", FeedbackItem.Category.BILLING),
        ("Deliveries were late twice this quarter.", FeedbackItem.Category.DELIVERY),
        ("交货时间太长了，希望改进。", FeedbackItem.Category.DELIVERY),
    ],
    "passive": [("Good products, but prices went up.", FeedbackItem.Category.PRICE)],
    "promoter": [
        ("Very responsive account manager, thank you!", FeedbackItem.Category.SERVICE),
        ("服务很好，对账清楚。", FeedbackItem.Category.BILLING),
    ],
}


def _score(rng: random.Random, kind: str) -> int:
    roll = rng.random()
    if kind == Survey.Kind.NPS:
        return rng.choice([9, 10]) if roll < 0.5 else rng.choice([7, 8]) if roll < 0.8 else rng.randint(2, 6)
    return rng.choice([4, 5]) if roll < 0.7 else 3 if roll < 0.85 else rng.choice([1, 2])


def seed(org: Organization) -> None:
    if Survey.objects.exists():
        return
    rng = random.Random(35)
    actor = Actor.system(org)
    nps = surveys.survey_create(
        actor=actor,
        name="Relationship survey (NPS)",
        kind=Survey.Kind.NPS,
        trigger=Survey.Trigger.QUARTERLY,
        intro={"en": "Thank you for working with us.", "zh-hans": "感谢您与我们的合作。"},
        questions=[
            {
                "kind": "choice",
                "text": {"en": "What matters most to you?", "zh-hans": "您最看重什么？"},
                "choices": [
                    {"en": "Price", "zh-hans": "价格"},
                    {"en": "Quality", "zh-hans": "质量"},
                    {"en": "Delivery", "zh-hans": "交货"},
                ],
            }
        ],
    )
    csat = surveys.survey_create(
        actor=actor,
        name="After payment (CSAT)",
        kind=Survey.Kind.CSAT,
        trigger=Survey.Trigger.INVOICE_PAID,
        quiet_days=60,
    )
    customers = list(Customer.objects.filter(status=CustomerStatus.ACTIVE).order_by("pk")[:40])
    recipients = surveys.recipients_for(customers, organization=org)
    now = timezone.now()
    first_feedback = None
    for number, customer in enumerate(c for c in customers if c.pk in recipients):
        recipient = recipients[customer.pk]
        survey = nps if number % 3 else csat
        sent = now - datetime.timedelta(days=rng.randint(3, 180), hours=rng.randint(0, 12))
        invitation = SurveyInvitation.objects.create(
            survey=survey,
            customer=customer,
            contact=recipient.contact,
            email=recipient.email,
            language=recipient.language,
            token_hash=surveys.hash_token(secrets.token_urlsafe(32)),
            source=f"seed:{number}",
            status=SurveyInvitation.Status.SENT,
            sent_at=sent,
            created_at=sent,
            expires_at=now + datetime.timedelta(days=survey.expiry_days),
        )
        if number % 8 == 7:  # a few never answered; their links stay open until they expire
            SurveyInvitation.objects.filter(pk=invitation.pk).update(
                expires_at=sent + datetime.timedelta(days=survey.expiry_days)
            )
            continue
        score = _score(rng, survey.kind)
        category = surveys.category_for(survey.kind, score)
        bucket = (
            "detractor"
            if category in surveys.UNHAPPY
            else "promoter"
            if category
            in (
                SurveyResponse.Category.PROMOTER,
                SurveyResponse.Category.SATISFIED,
            )
            else "passive"
        )
        comment, topic = (
            rng.choice(COMMENTS[bucket]) if rng.random() < 0.5 or bucket == "detractor" else ("", None)
        )
        response = surveys.response_submit(invitation=invitation, score=score, comment=comment)
        answered = sent + datetime.timedelta(hours=rng.randint(2, 72))
        SurveyResponse.objects.filter(pk=response.pk).update(responded_at=answered)
        SurveyInvitation.objects.filter(pk=invitation.pk).update(
            responded_at=answered, expires_at=sent + datetime.timedelta(days=survey.expiry_days)
        )
        item = FeedbackItem.objects.filter(response=response).first()
        if item is not None and topic:
            FeedbackItem.objects.filter(pk=item.pk).update(category=topic, created_at=answered)
            if bucket == "detractor" and first_feedback is None:
                first_feedback = item
    if first_feedback is not None:
        feedback.action_create(
            actor=actor,
            feedback=first_feedback,
            title="Check PO numbers against the order before invoicing",
            due_date=org.local_today() + datetime.timedelta(days=14),
            owner=first_feedback.customer.owner,
        )
