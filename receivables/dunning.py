"""Dunning: which customer gets which reminder, once.

The run plans, records, then delivers:
1. **Plan** (`dunning_plan`, also the dry-run preview): every open invoice whose days past due reach a
   level of the customer's policy, except invoices under an open dispute or an active promise to pay,
   customers snoozed or inside the grace period after a payment, and currencies whose balance is
   below the level's minimum. An invoice's level is the last level its days past due reach (levels
   after a `stop` level never apply). A customer is reminded when at least one invoice reached a level
   it was not yet reminded at; the message, at the highest such level, lists every invoice that has
   reached a level (partly-paid ones with what is left), so the customer sees the whole picture once.
   In per-invoice mode each such invoice gets a message of its own.
2. **Record**: each message and its reminders are written in one transaction. A reminder's key
   (invoice, level) is unique in the database, so a second run, a retry or a concurrent run cannot
   record it twice; the loser's transaction rolls back.
3. **Deliver** (Celery workers, in batches the run queues): a message is claimed (pending →
   sending, a conditional update only one worker wins), sent, and marked. A worker killed after
   recording leaves a pending message, and one killed while sending leaves a claim that expires:
   the next run or retry sends it. Send errors are retried
   with exponential backoff, then flagged for the collector with a follow-up; a refused recipient
   (bounce) is flagged at once.
"""

from __future__ import annotations

import datetime
import html
import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Prefetch, Q
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from crm.models import Contact, Customer
from crm.services import FollowUpEntry, TimelineEntry, follow_ups_create_many, interactions_log_many
from finance import audit, webhooks
from finance.actors import Actor
from finance.models import AuditEvent, Organization
from finance.money import format_amount, quantize
from receivables import channels, signals
from receivables.models import (
    ZERO,
    CollectionProfile,
    DunningLevel,
    DunningMessage,
    DunningPolicy,
    Invoice,
    LateFee,
    Payment,
    Reminder,
)
from receivables.selectors import open_invoices

logger = logging.getLogger("kehu.dunning")

MAX_ATTEMPTS = 5
SEND_LEASE = datetime.timedelta(minutes=10)
CHUNK = 250
STATEMENT_DAYS = 90

# --- Templates --------------------------------------------------------------------------------

TEMPLATE_VARIABLES = (
    "customer_name",
    "contact_name",
    "organization",
    "invoice_table",
    "total",
    "pay_by",
    "statement_link",
    "level",
    "days_overdue",
)
_VARIABLE = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


def default_template(language: str, *, friendly: bool) -> dict[str, str]:
    """The built-in wording for a level without its own template in `language`."""
    with translation.override(language):
        if friendly:
            subject = _("Upcoming payment: {{ total }} due to {{ organization }}")
            body = _(
                "Dear {{ contact_name }},\n\nThis is a friendly reminder that the following invoices of "
                "{{ customer_name }} fall due soon:\n\n{{ invoice_table }}\n\nTotal: {{ total }}\n\n"
                "Your statement of account: {{ statement_link }}\n\nThank you,\n{{ organization }}"
            )
        else:
            subject = _("Payment reminder: {{ total }} overdue to {{ organization }}")
            body = _(
                "Dear {{ contact_name }},\n\nAccording to our records the following invoices of "
                "{{ customer_name }} are overdue:\n\n{{ invoice_table }}\n\nTotal: {{ total }}\n\n"
                "Please pay by {{ pay_by }}. If you have already paid, please disregard this message.\n\n"
                "Your statement of account: {{ statement_link }}\n\nThank you,\n{{ organization }}"
            )
    return {"subject": subject, "body": body}


def validate_template(text: str, field_name: str) -> None:
    """Refuse variables the renderer does not know (a typo would reach the customer verbatim)."""
    unknown = sorted({name for name in _VARIABLE.findall(text) if name not in TEMPLATE_VARIABLES})
    if unknown:
        raise ValidationError(
            {
                field_name: [
                    _("Unknown variables: %(names)s. Use: %(known)s.")
                    % {"names": ", ".join(unknown), "known": ", ".join(TEMPLATE_VARIABLES)}
                ]
            }
        )


def render_text(template: str, values: dict[str, str]) -> str:
    return _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def render_html(template: str, values: dict[str, str], html_values: dict[str, str]) -> str:
    """The template as HTML: its own text escaped, variables escaped except the prepared
    (already safe) HTML ones such as the invoice table."""
    parts: list[str] = []
    position = 0
    for match in _VARIABLE.finditer(template):
        parts.append(html.escape(template[position : match.start()]).replace("\n", "<br>\n"))
        name = match.group(1)
        if name in html_values:
            parts.append(html_values[name])
        else:
            parts.append(html.escape(values.get(name, match.group(0))))
        position = match.end()
    parts.append(html.escape(template[position:]).replace("\n", "<br>\n"))
    return "".join(parts)


# --- Planning ---------------------------------------------------------------------------------


@dataclass
class PlannedInvoice:
    invoice_id: int
    number: str
    currency: str
    issue_date: datetime.date
    due_date: datetime.date
    total: Decimal
    outstanding: Decimal
    days_past_due: int
    level: DunningLevel
    new: bool


@dataclass
class PlannedMessage:
    customer_id: int
    customer_name: str
    policy: DunningPolicy
    level: DunningLevel
    invoices: list[PlannedInvoice]
    recipient: str
    contact_name: str
    language: str
    collector_id: int | None
    owner_id: int | None
    subject: str = ""
    body: str = ""
    html: str = ""

    @property
    def new_invoices(self) -> list[PlannedInvoice]:
        return [i for i in self.invoices if i.new]

    @property
    def totals(self) -> dict[str, Decimal]:
        sums: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for item in self.invoices:
            sums[item.currency] += item.outstanding
        return dict(sorted(sums.items()))


@dataclass
class _CustomerFacts:
    pk: int
    name: str
    customer_group: str
    abc_class: str
    risk_class: str
    email: str
    phone: str
    owner_id: int | None
    policy_id: int | None = None
    collector_id: int | None = None
    snoozed_until: datetime.date | None = None


@dataclass
class Plan:
    run_date: datetime.date
    messages: list[PlannedMessage] = field(default_factory=list)


def active_policies() -> list[DunningPolicy]:
    levels = Prefetch("levels", queryset=DunningLevel.objects.order_by("days", "sequence"))
    return list(DunningPolicy.objects.filter(is_active=True).prefetch_related(levels))


def applicable_levels(policy: DunningPolicy) -> list[DunningLevel]:
    """The policy's levels by days, up to and including the first `stop` level."""
    levels: list[DunningLevel] = []
    for level in policy.levels.all():
        levels.append(level)
        if level.stop:
            break
    return levels


def policy_for(
    customer: Any, policies: list[DunningPolicy], chosen_policy_id: int | None = None
) -> DunningPolicy | None:
    """The policy chosen for the customer by hand, else the first (by priority) whose rules match
    its group, ABC class and risk class, else the organization's default."""
    if chosen_policy_id is not None:
        for policy in policies:
            if policy.pk == chosen_policy_id:
                return policy
    for policy in policies:
        if policy.matches(customer):
            return policy
    return next((p for p in policies if p.is_default), None)


def _level_reached(levels: list[DunningLevel], days_past_due: int) -> DunningLevel | None:
    reached = None
    for level in levels:
        if level.days <= days_past_due:
            reached = level
    return reached


def paused_invoice_ids(run_date: datetime.date) -> set[int]:
    """Invoices dunning must leave alone today: under an open or in-review dispute, or covered by an
    open promise to pay whose date plus grace has not passed."""
    from receivables.disputes import active_dispute_invoice_ids
    from receivables.promises import invoices_under_promise

    return active_dispute_invoice_ids() | invoices_under_promise(run_date)


def _customer_facts(customer_ids: Any) -> dict[int, _CustomerFacts]:
    facts = {
        row[0]: _CustomerFacts(*row)
        for row in Customer.objects.filter(pk__in=customer_ids).values_list(
            "pk", "name", "customer_group", "abc_class", "risk_class", "email", "phone", "owner_id"
        )
    }
    for customer_id, policy_id, collector_id, snoozed_until in CollectionProfile.objects.filter(
        customer_id__in=customer_ids
    ).values_list("customer_id", "policy_id", "collector_id", "snoozed_until"):
        if customer_id in facts:
            facts[customer_id].policy_id = policy_id
            facts[customer_id].collector_id = collector_id
            facts[customer_id].snoozed_until = snoozed_until
    return facts


def _contacts(customer_ids: Any) -> dict[int, tuple[str, str, str, str]]:
    """Per customer the contact reminders go to: the billing contact, else the primary one."""
    best: dict[int, tuple[int, tuple[str, str, str, str]]] = {}
    for customer_id, name, email, phone, language, is_billing in Contact.objects.filter(
        Q(is_billing=True) | Q(is_primary=True), customer_id__in=customer_ids
    ).values_list("customer_id", "name", "email", "phone", "preferred_language", "is_billing"):
        rank = 0 if is_billing and (email or phone) else 1 if (email or phone) else 2
        if customer_id not in best or rank < best[customer_id][0]:
            best[customer_id] = (rank, (name, email, phone, language))
    return {customer_id: value for customer_id, (_rank, value) in best.items()}


def dunning_plan(
    *, organization: Organization, run_date: datetime.date, customer_ids: Iterable[int] | None = None
) -> Plan:
    """What a run on `run_date` would send, computed with a fixed number of queries and no writes."""
    plan = Plan(run_date)
    policies = active_policies()
    levels_by_policy = {p.pk: applicable_levels(p) for p in policies}
    all_days = [level.days for levels in levels_by_policy.values() for level in levels]
    if not all_days:
        return plan
    invoices = open_invoices().filter(due_date__lte=run_date - datetime.timedelta(days=min(all_days)))
    if customer_ids is not None:
        invoices = invoices.filter(customer_id__in=list(customer_ids))
    rows = list(
        invoices.order_by("customer_id", "due_date", "pk").values_list(
            "pk",
            "customer_id",
            "number",
            "currency",
            "issue_date",
            "due_date",
            "total",
            "allocated_total",
            "written_off_total",
        )
    )
    if not rows:
        return plan
    candidate_customers = invoices.values("customer_id")
    paused = paused_invoice_ids(run_date)
    customers = _customer_facts(candidate_customers)
    contacts = _contacts(candidate_customers)
    max_grace = max(p.grace_days_after_payment for p in policies)
    last_payment = dict(
        Payment.objects.filter(
            received_on__gt=run_date - datetime.timedelta(days=max_grace), received_on__lte=run_date
        )
        .values("customer_id")
        .annotate(last=Max("received_on"))
        .values_list("customer_id", "last")
    )
    reminded = set(
        Reminder.objects.filter(invoice__in=invoices.values("pk")).values_list("invoice_id", "level_id")
    )
    by_customer: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        if row[0] not in paused:
            by_customer[row[1]].append(row)
    for customer_id, customer_rows in by_customer.items():
        customer = customers.get(customer_id)
        if customer is None or (customer.snoozed_until and customer.snoozed_until > run_date):
            continue
        policy = policy_for(customer, policies, customer.policy_id)
        if policy is None:
            continue
        paid_on = last_payment.get(customer_id)
        if paid_on and (run_date - paid_on).days < policy.grace_days_after_payment:
            continue
        levels = levels_by_policy[policy.pk]
        planned: list[PlannedInvoice] = []
        for pk, _c, number, currency, issue_date, due_date, total, allocated, written_off in customer_rows:
            days_past_due = (run_date - due_date).days
            level = _level_reached(levels, days_past_due)
            if level is None:
                continue
            planned.append(
                PlannedInvoice(
                    pk,
                    number,
                    currency,
                    issue_date,
                    due_date,
                    total,
                    total - allocated - written_off,
                    days_past_due,
                    level,
                    (pk, level.pk) not in reminded,
                )
            )
        contact = contacts.get(customer_id, ("", customer.email, customer.phone, ""))
        language = contact[3] or organization.language
        for group in _message_groups(policy, planned):
            channel = channels.channel_for(group[0].level.channel)
            message = PlannedMessage(
                customer_id=customer_id,
                customer_name=customer.name,
                policy=policy,
                level=group[0].level,
                invoices=group[1],
                recipient=channel.recipient_for(
                    email=contact[1] or customer.email, phone=contact[2] or customer.phone
                ),
                contact_name=contact[0] or customer.name,
                language=language,
                collector_id=customer.collector_id,
                owner_id=customer.owner_id,
            )
            plan.messages.append(message)
    return plan


def _message_groups(
    policy: DunningPolicy, planned: list[PlannedInvoice]
) -> list[tuple[PlannedInvoice, list[PlannedInvoice]]]:
    """(the invoice that sets the message's level, the invoices listed) for each message to send."""
    new = [item for item in planned if item.new]
    if not new:
        return []
    if policy.per_invoice:
        return [(item, [item]) for item in new if item.outstanding >= item.level.minimum_amount]
    leader = max(new, key=lambda item: (item.level.days, item.days_past_due))
    minimum = leader.level.minimum_amount
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for item in planned:
        totals[item.currency] += item.outstanding
    listed = [item for item in planned if totals[item.currency] >= minimum]
    if not any(item.new for item in listed):
        return []
    if leader not in listed:
        leader = max((i for i in listed if i.new), key=lambda item: (item.level.days, item.days_past_due))
    return [(leader, listed)]


# --- Rendering --------------------------------------------------------------------------------


def render_message(
    message: PlannedMessage,
    *,
    organization: Organization,
    run_date: datetime.date,
    template: dict[str, str] | None = None,
) -> PlannedMessage:
    """Fill subject, text and HTML from the level's template in the contact's language."""
    from receivables.statements import statement_link

    level = message.level
    language = message.language or organization.language
    if template is None:
        templates = level.templates or {}
        template = templates.get(language) or templates.get(organization.language) or templates.get("en")
        if not template:
            template = default_template(language, friendly=level.days < 0)
    with translation.override(language):
        headers = [_("Invoice"), _("Issued"), _("Due"), _("Days overdue"), _("Outstanding")]
        lines = [
            (
                item.number,
                date_format(item.issue_date, "SHORT_DATE_FORMAT"),
                date_format(item.due_date, "SHORT_DATE_FORMAT"),
                str(max(0, item.days_past_due)),
                format_amount(item.outstanding, item.currency),
            )
            for item in message.invoices
        ]
        widths = [max(len(str(row[i])) for row in [headers, *lines]) for i in range(len(headers))]
        text_table = "\n".join(
            "  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)) for row in [headers, *lines]
        )
        html_table = (
            '<table cellpadding="4" style="border-collapse:collapse"><thead><tr>'
            + "".join(f'<th align="left">{html.escape(h)}</th>' for h in headers)
            + "</tr></thead><tbody>"
            + "".join(
                "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>"
                for row in lines
            )
            + "</tbody></table>"
        )
        total = "; ".join(format_amount(amount, currency) for currency, amount in message.totals.items())
        link = statement_link(organization_id=organization.pk, customer_id=message.customer_id)
        values = {
            "customer_name": message.customer_name,
            "contact_name": message.contact_name,
            "organization": organization.name,
            "invoice_table": text_table,
            "total": total,
            "pay_by": date_format(run_date + datetime.timedelta(days=level.pay_within_days), "DATE_FORMAT"),
            "statement_link": link,
            "level": level.name,
            "days_overdue": str(max(0, max(item.days_past_due for item in message.invoices))),
        }
        html_values = {
            "invoice_table": html_table,
            "statement_link": f'<a href="{html.escape(link)}">{html.escape(link)}</a>',
        }
        message.subject = render_text(template.get("subject", ""), values).replace("\n", " ")[:300]
        message.body = render_text(template.get("body", ""), values)
        message.html = render_html(template.get("body", ""), values, html_values)
    return message


# --- Recording --------------------------------------------------------------------------------


@dataclass
class RunResult:
    run_date: datetime.date
    recorded: int = 0
    skipped_existing: int = 0
    queued: int = 0
    flagged: int = 0
    late_fees: int = 0  # posted on the run date (by this run or an earlier one that day)

    def as_dict(self) -> dict[str, Any]:
        return {
            key: (value.isoformat() if key == "run_date" else value) for key, value in self.__dict__.items()
        }


def _message_row(actor: Actor, planned: PlannedMessage, run_date: datetime.date) -> DunningMessage:
    level = planned.level
    status = DunningMessage.Status.PENDING
    error = ""
    if not level.send:
        status = DunningMessage.Status.SKIPPED
    elif not planned.recipient:
        status, error = DunningMessage.Status.FLAGGED, _("No address to send the reminder to.")
    return DunningMessage(
        organization=actor.organization,
        customer_id=planned.customer_id,
        level=level,
        run_date=run_date,
        channel=level.channel,
        recipient=planned.recipient,
        language=planned.language,
        totals={currency: str(amount) for currency, amount in planned.totals.items()},
        subject=planned.subject,
        body=planned.body,
        html=planned.html,
        status=status,
        last_error=error,
    )


def _reminder_rows(actor: Actor, message: DunningMessage, planned: PlannedMessage) -> list[Reminder]:
    return [
        Reminder(
            organization=actor.organization,
            invoice_id=item.invoice_id,
            level=item.level,
            message=message,
            customer_id=planned.customer_id,
            run_date=message.run_date,
            days_past_due=item.days_past_due,
            outstanding=item.outstanding,
        )
        for item in planned.new_invoices
    ]


def _timeline_summary(message: DunningMessage, planned: PlannedMessage) -> str:
    numbers = ", ".join(item.number for item in planned.invoices)
    if message.status == DunningMessage.Status.SKIPPED:
        return _("Dunning step “%(level)s” reached: %(invoices)s") % {
            "level": planned.level.name,
            "invoices": numbers,
        }
    return _("Reminder “%(level)s” (%(channel)s) to %(recipient)s: %(invoices)s") % {
        "level": planned.level.name,
        "channel": message.get_channel_display(),
        "recipient": message.recipient or "—",
        "invoices": numbers,
    }


def _record(actor: Actor, chunk: list[PlannedMessage], run_date: datetime.date) -> list[DunningMessage]:
    """Write a chunk of messages with their reminders, timeline entries and audit events in one
    transaction; raises IntegrityError if any reminder exists already (a concurrent run)."""
    customers = Customer.objects.in_bulk([planned.customer_id for planned in chunk])
    with transaction.atomic():
        messages = DunningMessage.objects.bulk_create([_message_row(actor, p, run_date) for p in chunk])
        for message in messages:
            message.customer = customers[message.customer_id]  # for the audit events' repr
        reminders: list[Reminder] = []
        for message, planned in zip(messages, chunk, strict=True):
            reminders.extend(_reminder_rows(actor, message, planned))
        Reminder.objects.bulk_create(reminders)
        interactions_log_many(
            actor=actor,
            entries=[
                TimelineEntry(
                    planned.customer_id,
                    "email" if message.channel == "email" else "message",
                    _timeline_summary(message, planned),
                )
                for message, planned in zip(messages, chunk, strict=True)
            ],
        )
        AuditEvent.objects.bulk_create(
            [
                audit.build(
                    actor=actor,
                    action="dunning.reminder_recorded",
                    instance=message,
                    changes={
                        "level": [None, planned.level.name],
                        "invoices": [None, [item.number for item in planned.new_invoices]],
                    },
                    customer_id=planned.customer_id,
                )
                for message, planned in zip(messages, chunk, strict=True)
            ]
        )
        _level_actions(actor, list(zip(messages, chunk, strict=True)), run_date)
    return messages


def _task_title(message: DunningMessage, customer_name: str) -> str:
    if message.status in (DunningMessage.Status.FLAGGED, DunningMessage.Status.BOUNCED):
        return _("Reminder “%(level)s” could not be delivered: %(error)s") % {
            "level": message.level.name,
            "error": message.last_error[:150],
        }
    return _("Dunning step “%(level)s”: contact %(customer)s") % {
        "level": message.level.name,
        "customer": customer_name,
    }


def _level_actions(
    actor: Actor, recorded: list[tuple[DunningMessage, PlannedMessage]], run_date: datetime.date
) -> None:
    """The recorded messages' level actions, in bulk: collector tasks (also for a message with no
    address), late fees, and the credit-hold signal after commit."""
    follow_ups_create_many(
        actor=actor,
        entries=[
            FollowUpEntry(
                planned.customer_id,
                _task_title(message, planned.customer_name),
                run_date,
                planned.collector_id or planned.owner_id,
            )
            for message, planned in recorded
            if planned.level.create_task or message.status == DunningMessage.Status.FLAGGED
        ],
    )
    for _message, planned in recorded:
        if planned.level.charge_late_fee:
            for item in planned.new_invoices:
                late_fee_charge(
                    actor=actor, policy=planned.policy, level=planned.level, item=item, run_date=run_date
                )
    holds = [(message, planned) for message, planned in recorded if planned.level.credit_hold]
    if holds:
        signals.emit_after_commit(
            signals.dunning_levels_reached,
            reached=[(message.customer, planned.level, message) for message, planned in holds],
        )


def _collector_task(actor: Actor, message: DunningMessage) -> None:
    """A follow-up for the customer's collector (else its owner) about a message in trouble."""
    customer = Customer.objects.get(pk=message.customer_id)
    profile = CollectionProfile.objects.filter(customer_id=message.customer_id).first()
    assignee_id = (profile.collector_id if profile else None) or customer.owner_id
    follow_ups_create_many(
        actor=actor,
        entries=[
            FollowUpEntry(customer.pk, _task_title(message, customer.name), message.run_date, assignee_id)
        ],
    )


def late_fee_amount(policy: DunningPolicy, item: PlannedInvoice) -> Decimal:
    """The policy's fee for an overdue invoice: the fixed fee, or simple annual interest on what is
    outstanding from the due date to today; rounded to the currency."""
    if policy.late_fee == DunningPolicy.LateFee.FIXED:
        return quantize(policy.late_fee_amount, item.currency)
    if policy.late_fee == DunningPolicy.LateFee.INTEREST and item.days_past_due > 0:
        interest = (
            item.outstanding * policy.late_fee_annual_rate / Decimal(100) * item.days_past_due / Decimal(365)
        )
        return quantize(interest, item.currency)
    return ZERO


def late_fee_charge(
    *, actor: Actor, policy: DunningPolicy, level: DunningLevel, item: PlannedInvoice, run_date: datetime.date
) -> LateFee | None:
    """Post the fee as its own invoice, once per invoice and level; never a fee on a fee."""
    from receivables.services import invoice_create

    amount = late_fee_amount(policy, item)
    if amount <= 0 or LateFee.objects.filter(fee_invoice_id=item.invoice_id).exists():
        return None
    invoice = Invoice.objects.get(pk=item.invoice_id)
    fee_invoice = invoice_create(
        actor=actor,
        customer=invoice.customer,
        number=f"{invoice.number}-F{level.sequence}"[:50],
        currency=invoice.currency,
        issue_date=run_date,
        due_date=run_date + datetime.timedelta(days=level.pay_within_days),
        total=amount,
        description=(_("Late fee on invoice %(number)s") % {"number": invoice.number})[:500],
    )
    return LateFee.objects.create(
        organization=actor.organization, invoice=invoice, level=level, fee_invoice=fee_invoice, amount=amount
    )


# --- Delivery ---------------------------------------------------------------------------------


def _backoff(attempts: int) -> datetime.timedelta:
    return datetime.timedelta(minutes=min(5 * 2 ** max(attempts - 1, 0), 6 * 60))


def _claim(message_id: int) -> bool:
    """pending/failed (or a claim whose lease expired) → sending; True for the one caller that wins."""
    now = timezone.now()
    claimable = Q(status=DunningMessage.Status.PENDING) | Q(
        status__in=[DunningMessage.Status.FAILED, DunningMessage.Status.SENDING], next_attempt_at__lte=now
    )
    return bool(
        DunningMessage.objects.filter(claimable, pk=message_id).update(
            status=DunningMessage.Status.SENDING, next_attempt_at=now + SEND_LEASE, attempts=F("attempts") + 1
        )
    )


def _outgoing(message: DunningMessage, run_date: datetime.date) -> channels.Outgoing:
    outgoing = channels.Outgoing(message.recipient, message.subject, message.body, message.html)
    if message.level.attach_statement:
        from receivables.statements import build_statement, render_statement_pdf

        customer = Customer.objects.get(pk=message.customer_id)
        statement = build_statement(
            customer=customer, date_from=run_date - datetime.timedelta(days=STATEMENT_DAYS), date_to=run_date
        )
        outgoing.attachments.append(
            (f"statement-{run_date.isoformat()}.pdf", render_statement_pdf(statement), "application/pdf")
        )
    return outgoing


def message_deliver(*, actor: Actor, message_id: int) -> str:
    """Send one recorded message if this caller wins its claim; record the outcome. Returns the
    message's status. Never raises for a delivery problem: failures are recorded and retried."""
    if not _claim(message_id):
        return DunningMessage.objects.filter(pk=message_id).values_list("status", flat=True).first() or ""
    message = DunningMessage.objects.select_related("level").get(pk=message_id)
    channel = channels.channel_for(message.channel)
    try:
        channel.send(_outgoing(message, message.run_date))
    except channels.Bounced as exc:
        _flag(actor, message, _("Bounced: %(error)s") % {"error": exc}, status=DunningMessage.Status.BOUNCED)
        return message.status
    except Exception as exc:  # any transport error: retried with backoff, then flagged
        logger.warning("Dunning message %s not delivered: %r", message.pk, exc)
        if message.attempts >= MAX_ATTEMPTS:
            _flag(actor, message, repr(exc)[:1000])
            return message.status
        message.status = DunningMessage.Status.FAILED
        message.last_error = repr(exc)[:1000]
        message.next_attempt_at = timezone.now() + _backoff(message.attempts)
        message.save(update_fields=["status", "last_error", "next_attempt_at"])
        _schedule_retry(actor, message)
        return message.status
    message.status = DunningMessage.Status.SENT if channel.delivers else DunningMessage.Status.LOGGED
    message.sent_at, message.next_attempt_at, message.last_error = timezone.now(), None, ""
    message.save(update_fields=["status", "sent_at", "next_attempt_at", "last_error"])
    _reminder_sent_event(message)
    return message.status


def _flag(
    actor: Actor, message: DunningMessage, error: str, status: str = DunningMessage.Status.FLAGGED
) -> None:
    with transaction.atomic():
        message.status, message.last_error, message.next_attempt_at = status, error, None
        message.save(update_fields=["status", "last_error", "next_attempt_at"])
        _collector_task(actor, message)


def _schedule_retry(actor: Actor, message: DunningMessage) -> None:
    from receivables.tasks import deliver_dunning_message

    countdown = max(1, int((message.next_attempt_at - timezone.now()).total_seconds()))
    organization_id, message_id = actor.organization.pk, message.pk
    transaction.on_commit(
        lambda: deliver_dunning_message.apply_async(
            kwargs={"organization_id": organization_id, "message_id": message_id}, countdown=countdown
        )
    )


def _reminder_sent_event(message: DunningMessage) -> None:
    invoices = list(
        Reminder.objects.filter(message=message).values_list("invoice_id", "invoice__number", "days_past_due")
    )
    webhooks.emit(
        event="reminder.sent",
        event_id=f"reminder.sent:{message.pk}",
        payload={
            "id": message.pk,
            "customer": message.customer_id,
            "level": message.level.name,
            "level_id": message.level_id,
            "channel": message.channel,
            "recipient": message.recipient,
            "run_date": message.run_date.isoformat(),
            "totals": message.totals,
            "invoices": [{"id": i, "number": n, "days_past_due": d} for i, n, d in invoices],
        },
    )


def undelivered_message_ids() -> list[int]:
    """Messages a retry pass should (try to) send now: recorded but never claimed, failed and due
    for another attempt, or claimed by a worker whose lease expired."""
    now = timezone.now()
    return list(
        DunningMessage.objects.filter(
            Q(status=DunningMessage.Status.PENDING)
            | Q(
                status__in=[DunningMessage.Status.FAILED, DunningMessage.Status.SENDING],
                next_attempt_at__lte=now,
            )
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


# --- The run ----------------------------------------------------------------------------------


DELIVERY_BATCH = 100


def dunning_run(*, actor: Actor, run_date: datetime.date) -> dict[str, Any]:
    """The daily run: plan, record each message with its reminders (unique per invoice and level),
    then queue delivery in batches for the workers, together with whatever earlier runs left
    undelivered (pending, failed and due again, or claimed by a worker that died). Safe to run
    twice or after a crash; delivery itself is at most once per message (see `_claim`)."""
    organization = actor.organization
    result = RunResult(run_date)
    plan = dunning_plan(organization=organization, run_date=run_date)
    with webhooks.endpoints_memoized():
        for start in range(0, len(plan.messages), CHUNK):
            chunk = [
                render_message(m, organization=organization, run_date=run_date)
                for m in plan.messages[start : start + CHUNK]
            ]
            try:
                messages = _record(actor, chunk, run_date)
            except IntegrityError:
                # Another run recorded some of these meanwhile: record the rest one by one.
                messages = []
                for planned in chunk:
                    try:
                        messages.extend(_record(actor, [planned], run_date))
                    except IntegrityError:
                        result.skipped_existing += 1
            result.recorded += len(messages)
            result.flagged += sum(1 for m in messages if m.status == DunningMessage.Status.FLAGGED)
    result.late_fees = LateFee.objects.filter(fee_invoice__issue_date=run_date).count()
    result.queued = messages_queue(actor=actor, message_ids=undelivered_message_ids())
    return result.as_dict()


def messages_queue(*, actor: Actor, message_ids: list[int]) -> int:
    """Hand messages to the workers in batches (`receivables.deliver_dunning_messages`)."""
    from receivables.tasks import deliver_dunning_messages

    for start in range(0, len(message_ids), DELIVERY_BATCH):
        deliver_dunning_messages.apply_async(
            kwargs={
                "organization_id": actor.organization.pk,
                "message_ids": message_ids[start : start + DELIVERY_BATCH],
            }
        )
    return len(message_ids)


def messages_deliver(*, actor: Actor, message_ids: list[int]) -> dict[str, int]:
    """Deliver a batch; returns how many ended in each status."""
    outcome: dict[str, int] = defaultdict(int)
    with webhooks.endpoints_memoized():
        for message_id in message_ids:
            outcome[message_deliver(actor=actor, message_id=message_id)] += 1
    return dict(outcome)


def dunning_preview(*, organization: Organization, run_date: datetime.date) -> Plan:
    """The dry run: what `dunning_run` would record and send on `run_date`, rendered, nothing written."""
    plan = dunning_plan(organization=organization, run_date=run_date)
    for message in plan.messages:
        render_message(message, organization=organization, run_date=run_date)
    return plan


def template_preview(
    *,
    organization: Organization,
    customer: Customer,
    language: str,
    subject: str,
    body: str,
    run_date: datetime.date,
    level_name: str = "",
    days: int = 0,
    pay_within_days: int = 7,
) -> PlannedMessage:
    """A level's template, as typed and not yet saved, rendered over a real customer's open
    invoices (all of them, whatever their days past due, so the preview shows something for any
    customer with a balance). An empty subject or body previews the built-in wording."""
    level = DunningLevel(
        policy=DunningPolicy(organization=organization, name=""),
        name=level_name or _("Reminder"),
        days=days,
        pay_within_days=pay_within_days,
    )
    if not (subject and body):
        built_in = default_template(language, friendly=days < 0)
        subject, body = built_in["subject"], built_in["body"]
    validate_template(subject, "subject")
    validate_template(body, "body")
    contact = _contacts([customer.pk]).get(customer.pk, ("", customer.email, customer.phone, ""))
    items = [
        PlannedInvoice(
            invoice.pk,
            invoice.number,
            invoice.currency,
            invoice.issue_date,
            invoice.due_date,
            invoice.total,
            invoice.outstanding,
            (run_date - invoice.due_date).days,
            level,
            True,
        )
        for invoice in open_invoices().filter(customer=customer).order_by("due_date", "pk")[:50]
    ]
    message = PlannedMessage(
        customer_id=customer.pk,
        customer_name=customer.name,
        policy=level.policy,
        level=level,
        invoices=items,
        recipient=contact[1] or customer.email,
        contact_name=contact[0] or customer.name,
        language=language,
        collector_id=None,
        owner_id=customer.owner_id,
    )
    if not items:
        message.invoices = []
        message.subject = render_text(
            subject, {"customer_name": customer.name, "organization": organization.name}
        )
        message.body = _("This customer has no open invoices to show.")
        message.html = html.escape(message.body)
        return message
    return render_message(
        message, organization=organization, run_date=run_date, template={"subject": subject, "body": body}
    )
