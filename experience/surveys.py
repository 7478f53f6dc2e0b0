"""Satisfaction surveys: the surveys, the invitations that carry a one-time link, and the answers.

- An invitation's link holds a random token (`secrets.token_urlsafe(32)`); only its SHA-256 is
  stored, so the database never holds a working link. The link needs no login, works until it
  expires, and takes one answer: a one-to-one row per invitation, written under a row lock.
- Invitations are unique per (survey, email, source): the trigger that caused one ("invoice:12",
  "quarter:2026Q4") never causes a second. Emails go out after the commit, in the invitation's
  language; a failure marks the invitation FAILED with the error and never undoes anything.
- Triggers: an invoice settled and a dispute resolved (receivables' signals), a service request
  closed (`service_request_closed`, sent by the service part, or `on_service_request_closed`), the
  first day of each quarter (job "survey_quarterly"), and by hand to a segment of customers.
- An answer gets its category; a comment becomes a feedback item; a detractor (NPS 0-6) or a
  dissatisfied answer (CSAT 1-2) gives the owner rep a call-back task due in two days.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.models import Contact, Customer, CustomerStatus, InteractionKind
from crm.selectors import customers_visible_to
from crm.services import FollowUpEntry, TimelineEntry, follow_ups_create_many, interactions_log_many
from experience.models import Survey, SurveyInvitation, SurveyQuestion, SurveyResponse
from finance import audit, tenancy
from finance.actors import Actor
from finance.models import Language, Organization

logger = logging.getLogger("kehu.experience")

# Sent by the service part when a service request is closed: `request` (a ServiceRequest).
service_request_closed = Signal()

FOLLOW_UP_DAYS = 2
# "<organization id>.<random>": the link names its tenant, so the public page looks it up with one
# indexed query under that tenant's row-level security (the id reveals nothing; the random part,
# stored only as a hash, is the secret).
TOKEN_PATTERN = re.compile(r"^(\d{1,18})\.([A-Za-z0-9_-]{20,100})$")
SURVEY_FIELDS = ("name", "kind", "trigger", "question", "intro", "is_active", "expiry_days", "quiet_days")
Category = SurveyResponse.Category
SENTIMENT = {
    Category.PROMOTER: "positive",
    Category.SATISFIED: "positive",
    Category.PASSIVE: "neutral",
    Category.NEUTRAL: "neutral",
    Category.DETRACTOR: "negative",
    Category.DISSATISFIED: "negative",
}
UNHAPPY = (Category.DETRACTOR, Category.DISSATISFIED)


# --- Wording and scoring ----------------------------------------


def category_for(kind: str, score: int) -> str:
    """NPS: 9-10 promoter, 7-8 passive, 0-6 detractor. CSAT: 4-5 satisfied, 3 neutral, 1-2 dissatisfied."""
    if kind == Survey.Kind.NPS:
        return Category.PROMOTER if score >= 9 else Category.PASSIVE if score >= 7 else Category.DETRACTOR
    return Category.SATISFIED if score >= 4 else Category.NEUTRAL if score == 3 else Category.DISSATISFIED


def default_question(kind: str, language: str, organization: Organization) -> str:
    """Kehu's wording of the main question, in `language`."""
    with translation.override(language):
        if kind == Survey.Kind.NPS:
            return _("How likely are you to recommend %(organization)s to a friend or colleague?") % {
                "organization": organization.name
            }
        return _("How satisfied are you with %(organization)s?") % {"organization": organization.name}


def localized(texts: dict[str, str] | None, language: str) -> str:
    """The text in `language`, else in English, else in any language given."""
    texts = texts or {}
    return (texts.get(language) or texts.get("en") or next((t for t in texts.values() if t), "")).strip()


def question_for(survey: Survey, language: str, organization: Organization) -> str:
    return (survey.question or {}).get(language, "").strip() or default_question(
        survey.kind, language, organization
    )


# --- Surveys ----------------------------------------


def _clean_texts(value: Any, field: str) -> dict[str, str]:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict) or any(
        code not in Language.values or not isinstance(text, str) for code, text in value.items()
    ):
        raise ValidationError({field: [_("Give the text per language code (en, zh-hans).")]})
    return {code: text.strip()[:1000] for code, text in value.items() if text.strip()}


def _clean_questions(questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Custom questions as [{kind, text: {lang: str}, choices: [{lang: str}], required}]."""
    cleaned = []
    errors = []
    for number, item in enumerate(questions, start=1):
        kind = item.get("kind", SurveyQuestion.Kind.TEXT)
        try:
            text = _clean_texts(item.get("text"), "questions")
        except ValidationError:
            text = {}
        choices = [c for c in (item.get("choices") or []) if isinstance(c, dict) and any(c.values())]
        if kind not in SurveyQuestion.Kind.values:
            errors.append(_("Question %(n)s: choose text, rating or choice.") % {"n": number})
        elif not text:
            errors.append(_("Question %(n)s: write the question.") % {"n": number})
        elif kind == SurveyQuestion.Kind.CHOICE and len(choices) < 2:
            errors.append(_("Question %(n)s: give at least two answers to choose from.") % {"n": number})
        else:
            cleaned.append(
                {
                    "kind": kind,
                    "text": text,
                    "choices": choices if kind == SurveyQuestion.Kind.CHOICE else [],
                    "required": bool(item.get("required")),
                }
            )
    if len(questions) > 10:
        errors.append(_("At most ten custom questions."))
    if errors:
        raise ValidationError({"questions": errors})
    return cleaned


def _save_questions(survey: Survey, questions: list[dict[str, Any]]) -> None:
    survey.questions.all().delete()
    SurveyQuestion.objects.bulk_create(
        [
            SurveyQuestion(organization=survey.organization, survey=survey, position=position, **item)
            for position, item in enumerate(questions)
        ]
    )


def _save_survey(survey: Survey) -> None:
    survey.question = _clean_texts(survey.question, "question")
    survey.intro = _clean_texts(survey.intro, "intro")
    survey.full_clean(exclude=["organization", "created_by", "question", "intro"], validate_unique=False)
    if Survey.objects.filter(name__iexact=survey.name).exclude(pk=survey.pk).exists():
        raise ValidationError({"name": [_("Another survey already has this name.")]})
    survey.save()


@transaction.atomic
def survey_create(*, actor: Actor, questions: list[dict[str, Any]] | None = None, **fields: Any) -> Survey:
    """A new survey; `question` and `intro` per language (empty: Kehu's wording), optional custom
    questions. Names are unique in the organization."""
    actor.require("survey.manage")
    unknown = set(fields) - set(SURVEY_FIELDS)
    if unknown:
        raise ValidationError({name: [_("Unknown field.")] for name in unknown})
    survey = Survey(organization=actor.organization, created_by=actor.user, **fields)
    cleaned = _clean_questions(questions or [])
    _save_survey(survey)
    _save_questions(survey, cleaned)
    audit.record(
        actor=actor,
        action="survey.created",
        instance=survey,
        changes={name: [None, audit.snapshot(survey).get(name)] for name in ("name", "kind", "trigger")},
    )
    return survey


@transaction.atomic
def survey_update(
    *, actor: Actor, survey: Survey, questions: list[dict[str, Any]] | None = None, **fields: Any
) -> Survey:
    """Change a survey; `questions` given replaces the custom questions. Its kind is fixed once it
    has answers (NPS and CSAT scores do not mix)."""
    actor.require("survey.manage")
    survey = Survey.objects.select_for_update().get(pk=survey.pk)
    before = audit.snapshot(survey)
    for name, value in fields.items():
        if name not in SURVEY_FIELDS:
            raise ValidationError({name: [_("Unknown field.")]})
        setattr(survey, name, value)
    if survey.kind != before["kind"] and survey.responses.exists():
        raise ValidationError({"kind": [_("This survey has answers: its kind can no longer change.")]})
    cleaned = _clean_questions(questions) if questions is not None else None
    _save_survey(survey)
    if cleaned is not None:
        _save_questions(survey, cleaned)
    changes = audit.diff(before, audit.snapshot(survey))
    if cleaned is not None:
        changes["questions"] = [None, len(cleaned)]
    if changes:
        audit.record(actor=actor, action="survey.updated", instance=survey, changes=changes)
    return survey


@transaction.atomic
def survey_delete(*, actor: Actor, survey: Survey) -> None:
    """Delete a survey that never sent an invitation; one with history is paused instead."""
    actor.require("survey.manage")
    if SurveyInvitation.objects.filter(survey=survey).exists():
        raise ValidationError({"survey": [_("This survey has sent invitations: pause it instead.")]})
    audit.record(actor=actor, action="survey.deleted", instance=survey, changes={"name": [survey.name, None]})
    survey.delete()


# --- Invitations ----------------------------------------


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def survey_link(token: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("survey-public:answer", args=[token])


@dataclass(frozen=True)
class Recipient:
    customer: Customer
    contact: Contact | None
    email: str
    language: str


def recipients_for(customers: list[Customer], *, organization: Organization) -> dict[int, Recipient]:
    """Whom to ask for each customer: the billing contact with an email, else the primary one,
    else any contact with an email, else the customer's own address. Two queries at most."""
    contacts: dict[int, list[Contact]] = {}
    ids = [customer.pk for customer in customers]
    for contact in Contact.objects.filter(customer_id__in=ids).exclude(email="").order_by("pk"):
        contacts.setdefault(contact.customer_id, []).append(contact)
    chosen: dict[int, Recipient] = {}
    for customer in customers:
        options = sorted(
            contacts.get(customer.pk, []), key=lambda c: (not c.is_billing, not c.is_primary, c.pk)
        )
        if options:
            contact = options[0]
            chosen[customer.pk] = Recipient(
                customer, contact, contact.email, contact.preferred_language or organization.language
            )
        elif customer.email:
            chosen[customer.pk] = Recipient(customer, None, customer.email, organization.language)
    return chosen


def _recently_invited(survey: Survey, emails: list[str], today: datetime.datetime) -> set[str]:
    if not survey.quiet_days or not emails:
        return set()
    since = today - datetime.timedelta(days=survey.quiet_days)
    return {
        email.lower()
        for email in SurveyInvitation.objects.filter(
            survey=survey, email__in=emails, created_at__gte=since
        ).values_list("email", flat=True)
    }


@dataclass
class InvitationResult:
    created: list[SurveyInvitation]
    skipped_quiet: int = 0
    skipped_duplicate: int = 0
    skipped_no_email: int = 0


@transaction.atomic
def invitations_create(
    *,
    actor: Actor,
    survey: Survey,
    recipients: list[Recipient],
    source: str,
    quiet: bool = True,
) -> InvitationResult:
    """Invite each recipient once for `source`, skipping (with `quiet`) a contact invited to this
    survey within its quiet days. The emails go out after the commit."""
    actor.require("survey.send")
    if not survey.is_active:
        raise ValidationError({"survey": [_("This survey is paused: activate it before sending.")]})
    now = timezone.now()
    recent = _recently_invited(survey, [r.email for r in recipients], now) if quiet else set()
    result = InvitationResult(created=[])
    tokens: dict[int, str] = {}
    seen: set[str] = set()
    for recipient in recipients:
        email = recipient.email.strip()
        if email.lower() in recent or email.lower() in seen:
            result.skipped_quiet += 1
            continue
        seen.add(email.lower())
        token = f"{actor.organization.pk}.{secrets.token_urlsafe(32)}"
        invitation = SurveyInvitation(
            organization=actor.organization,
            survey=survey,
            customer=recipient.customer,
            contact=recipient.contact,
            email=email,
            language=recipient.language if recipient.language in Language.values else "en",
            token_hash=hash_token(token),
            source=source[:100],
            expires_at=now + datetime.timedelta(days=survey.expiry_days),
        )
        try:
            with transaction.atomic():
                invitation.save()
        except IntegrityError:  # this trigger already invited this address
            result.skipped_duplicate += 1
            continue
        tokens[invitation.pk] = token
        result.created.append(invitation)
    for invitation in result.created:
        audit.record(
            actor=actor,
            action="survey.invited",
            instance=invitation,
            changes={"survey": [None, survey.name], "source": [None, invitation.source]},
            customer_id=invitation.customer_id,
        )
    if tokens:
        organization = actor.organization
        transaction.on_commit(lambda: _send_after_commit(organization, tokens))
    return result


def _send_after_commit(organization: Organization, tokens: dict[int, str]) -> None:
    # After the commit the caller may have left its tenant (a signal receiver, a management command).
    with tenancy.tenant(organization):
        invitations_send(tokens=tokens)


def invitations_send(*, tokens: dict[int, str]) -> dict[str, int]:
    """Email each invitation (id → its raw token) in its language; SENT on success, FAILED with
    the error otherwise. The raw token only ever lives in memory and in the email."""
    invitations = SurveyInvitation.objects.filter(
        pk__in=list(tokens), status=SurveyInvitation.Status.PENDING
    ).select_related("survey", "customer", "contact", "organization")
    counts = {"sent": 0, "failed": 0}
    for invitation in invitations:
        survey = invitation.survey
        organization = invitation.organization
        with translation.override(invitation.language):
            values = {
                "organization": organization.name,
                "name": invitation.contact.name if invitation.contact else invitation.customer.name,
                "question": question_for(survey, invitation.language, organization),
                "link": survey_link(tokens[invitation.pk]),
                "date": timezone.localtime(invitation.expires_at, organization.tzinfo).date().isoformat(),
            }
            subject = _("%(organization)s would like your opinion") % values
            intro = localized(survey.intro, invitation.language)
            body = (
                _("Dear %(name)s,\n\n") % values
                + (intro + "\n\n" if intro else "")
                + _(
                    "%(question)s\n\nAnswer in one click (no account needed): %(link)s\n\n"
                    "The link works once, until %(date)s.\n\n%(organization)s"
                )
                % values
            )
        try:
            send_mail(subject, body, None, [invitation.email])
        except Exception as exc:  # an unreachable mail server marks the invitation, never undoes it
            logger.exception("Could not email survey invitation %s", invitation.pk)
            SurveyInvitation.objects.filter(pk=invitation.pk).update(
                status=SurveyInvitation.Status.FAILED, error=repr(exc)[:2000]
            )
            counts["failed"] += 1
        else:
            SurveyInvitation.objects.filter(pk=invitation.pk).update(
                status=SurveyInvitation.Status.SENT, sent_at=timezone.now(), error=""
            )
            counts["sent"] += 1
    return counts


# --- Segments (by hand) ----------------------------------------


SEGMENT_FIELDS = ("abc_class", "lifecycle_stage", "customer_group", "owner", "risk_class")


def segment_customers(*, actor: Actor, **segment: Any) -> list[Customer]:
    """Active customers the actor sees matching every criterion given (empty ones ignored)."""
    customers = customers_visible_to(actor).filter(status=CustomerStatus.ACTIVE)
    for name in SEGMENT_FIELDS:
        value = segment.get(name)
        if value in (None, ""):
            continue
        customers = customers.filter(
            **{f"{name}_id" if name == "owner" else name: getattr(value, "pk", value)}
        )
    return list(customers.order_by("pk"))


@transaction.atomic
def survey_send_to_segment(*, actor: Actor, survey: Survey, **segment: Any) -> InvitationResult:
    """Invite one contact of every active customer in the segment (ABC class, lifecycle stage,
    customer group, owner, risk class), honouring the survey's quiet days."""
    actor.require("survey.send")
    customers = segment_customers(actor=actor, **segment)
    recipients = recipients_for(customers, organization=actor.organization)
    result = invitations_create(
        actor=actor,
        survey=survey,
        recipients=[recipients[c.pk] for c in customers if c.pk in recipients],
        source=f"manual:{uuid.uuid4().hex}",
    )
    result.skipped_no_email = len(customers) - len(recipients)
    return result


# --- Triggers ----------------------------------------


def _trigger(customer: Customer, trigger: str, source: str, contact: Contact | None = None) -> int:
    """Invite the customer's contact to every active survey with this trigger, once per source."""
    organization = customer.organization
    surveys = list(Survey.objects.filter(trigger=trigger, is_active=True))
    if not surveys or customer.status != CustomerStatus.ACTIVE:
        return 0
    if contact is not None and contact.email:
        recipient = Recipient(
            customer, contact, contact.email, contact.preferred_language or organization.language
        )
    else:
        recipient = recipients_for([customer], organization=organization).get(customer.pk)
    if recipient is None:
        return 0
    actor = Actor.system(organization)
    invited = 0
    for survey in surveys:
        result = invitations_create(actor=actor, survey=survey, recipients=[recipient], source=source)
        invited += len(result.created)
    return invited


def _safely(trigger: str, customer: Customer, source: str, contact: Contact | None = None) -> None:
    """A trigger fired after the business commit: a failure is logged, never raised at the payer."""
    try:
        with transaction.atomic():
            _trigger(customer, trigger, source, contact)
    except Exception:
        logger.exception("Could not invite %s to the %s survey (%s)", customer.pk, trigger, source)


def on_invoice_settled(sender: Any, invoice: Any, **kwargs: Any) -> None:
    """receivables' `invoice_settled`: the after-payment surveys, once per invoice."""
    _safely(Survey.Trigger.INVOICE_PAID, invoice.customer, f"invoice:{invoice.pk}")


def on_dispute_resolved(sender: Any, dispute: Any, **kwargs: Any) -> None:
    """receivables' `dispute_resolved`: the after-dispute surveys, once per dispute."""
    _safely(Survey.Trigger.DISPUTE_RESOLVED, dispute.customer, f"dispute:{dispute.pk}")


def on_service_request_closed(request: Any) -> None:
    """Called (or signalled through `service_request_closed`) when a service request is closed:
    the request's contact (else the customer's) is asked once per request."""
    _safely(Survey.Trigger.SERVICE_CLOSED, request.customer, f"service:{request.pk}", request.contact)


def _on_service_request_closed_signal(sender: Any, request: Any, **kwargs: Any) -> None:
    on_service_request_closed(request)


def quarter_of(day: datetime.date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def survey_quarterly(*, actor: Actor, run_date: datetime.date) -> dict[str, Any]:
    """Daily job: on the first day of a quarter, invite one contact of every active customer to each
    active quarterly survey (source "quarter:2026Q4", so a rerun invites nobody twice)."""
    if run_date.day != 1 or run_date.month not in (1, 4, 7, 10):
        return {"invited": 0, "skipped": "not the first day of a quarter"}
    surveys = list(Survey.objects.filter(trigger=Survey.Trigger.QUARTERLY, is_active=True))
    if not surveys:
        return {"invited": 0}
    customers = list(Customer.objects.filter(status=CustomerStatus.ACTIVE).order_by("pk"))
    recipients = list(recipients_for(customers, organization=actor.organization).values())
    invited = 0
    for survey in surveys:
        result = invitations_create(
            actor=actor,
            survey=survey,
            recipients=recipients,
            source=f"quarter:{quarter_of(run_date)}",
            quiet=False,
        )
        invited += len(result.created)
    return {"invited": invited, "quarter": quarter_of(run_date)}


# --- The public link ----------------------------------------


class InvitationUnavailable(Exception):
    """The link cannot take an answer: `reason` is "expired" or "answered"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def invitation_for_token(token: str) -> SurveyInvitation | None:
    """The invitation behind a link's token, or None for anything else (malformed, unknown). The
    caller enters `invitation.organization`'s tenant before touching its rows."""
    match = TOKEN_PATTERN.match(token) if isinstance(token, str) else None
    if match is None:
        return None
    token_hash = hash_token(token)
    organization = Organization.objects.filter(pk=int(match.group(1))).first()
    if organization is None:
        return None
    with tenancy.tenant(organization):
        return (
            SurveyInvitation.objects.select_related("survey", "customer", "contact", "organization")
            .filter(token_hash=token_hash)
            .first()
        )


def invitation_state(invitation: SurveyInvitation) -> str:
    """ "open", "answered" or "expired"."""
    if invitation.responded_at is not None or invitation.status == SurveyInvitation.Status.RESPONDED:
        return "answered"
    if invitation.expires_at <= timezone.now():
        return "expired"
    return "open"


def _clean_answers(survey: Survey, answers: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for question in survey.questions.all():
        key = str(question.pk)
        value = answers.get(key)
        if value in (None, ""):
            if question.required:
                errors[f"q{key}"] = [_("Please answer this question.")]
            continue
        if question.kind == SurveyQuestion.Kind.TEXT:
            cleaned[key] = str(value).strip()[:2000]
        else:
            try:
                number = int(value)
            except (TypeError, ValueError):
                number = -1
            limit = 5 if question.kind == SurveyQuestion.Kind.RATING else len(question.choices) - 1
            low = 1 if question.kind == SurveyQuestion.Kind.RATING else 0
            if not low <= number <= limit:
                errors[f"q{key}"] = [_("Choose one of the answers.")]
            else:
                cleaned[key] = number
    if errors:
        raise ValidationError(errors)
    return cleaned


@transaction.atomic
def response_submit(
    *, invitation: SurveyInvitation, score: int, comment: str = "", answers: dict[str, Any] | None = None
) -> SurveyResponse:
    """Record the one answer of an invitation, inside its organization's tenant. Locks the
    invitation, so of two submits at once one records and the other raises
    InvitationUnavailable("answered") (the one-to-one row is the last wall). Writes the category,
    the audit event and a timeline note; a comment becomes a feedback item; an unhappy answer
    gives the owner rep a call-back task."""
    invitation = (
        SurveyInvitation.objects.select_for_update()
        .select_related("survey", "customer", "organization")
        .get(pk=invitation.pk)
    )
    state = invitation_state(invitation)
    if state != "open":
        raise InvitationUnavailable(state)
    survey = invitation.survey
    low, high = survey.scale
    if isinstance(score, bool) or not isinstance(score, int) or not low <= score <= high:
        raise ValidationError(
            {"score": [_("Choose a score from %(low)s to %(high)s.") % {"low": low, "high": high}]}
        )
    comment = (comment or "").strip()[:5000]
    cleaned = _clean_answers(survey, answers or {})
    response = SurveyResponse(
        organization=invitation.organization,
        invitation=invitation,
        survey=survey,
        customer=invitation.customer,
        contact_id=invitation.contact_id,
        score=score,
        category=category_for(survey.kind, score),
        comment=comment,
        answers=cleaned,
        language=invitation.language,
    )
    try:
        with transaction.atomic():
            response.save()
    except IntegrityError:
        raise InvitationUnavailable("answered") from None
    invitation.status = SurveyInvitation.Status.RESPONDED
    invitation.responded_at = response.responded_at
    invitation.save(update_fields=["status", "responded_at"])
    _after_response(response)
    return response


def _after_response(response: SurveyResponse) -> None:
    from experience.feedback import feedback_from_response

    organization = response.organization
    actor = Actor.system(organization)
    customer = response.customer
    survey = response.survey
    audit.record(
        actor=actor,
        action="survey.responded",
        instance=response,
        changes={"score": [None, response.score], "category": [None, response.category]},
        customer_id=customer.pk,
    )
    with translation.override(organization.language):
        values = {
            "survey": survey.name,
            "score": response.score,
            "category": response.get_category_display(),
            "customer": customer.name,
        }
        summary = _("Survey “%(survey)s” answered: %(score)s (%(category)s)") % values
        if response.comment:
            summary += f": {response.comment}"
        interactions_log_many(
            actor=actor,
            entries=[
                TimelineEntry(customer_id=customer.pk, kind=InteractionKind.NOTE, summary=summary[:500])
            ],
        )
        if response.comment:
            feedback_from_response(actor=actor, response=response)
        if response.category in UNHAPPY:
            label = _("Detractor") if response.category == Category.DETRACTOR else _("Dissatisfied")
            # A follow-up for the owner rep (unassigned when the owner is no longer a member).
            follow_ups_create_many(
                actor=actor,
                entries=[
                    FollowUpEntry(
                        customer_id=customer.pk,
                        title=_("%(label)s: %(customer)s scored %(score)s — call back")
                        % {**values, "label": label},
                        due_date=organization.local_today() + datetime.timedelta(days=FOLLOW_UP_DAYS),
                        assignee_id=customer.owner_id,
                    )
                ],
            )
