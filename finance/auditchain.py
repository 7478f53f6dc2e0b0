"""The tamper-evident audit chain: sealing new events and verifying the whole chain.

Events are written by every service inside its own transaction. Sealing them there would make
each write wait for the organization's chain, and a service that locks business rows after its
first audit event could deadlock with another one. So events are sealed right after their
transaction commits, in a short transaction of their own that takes only the organization's chain
lock: `seal_pending()` appends one `AuditSeal` per unsealed event, in id order, each hashing the
previous seal's hash with the event's canonical form.

`verify()` walks the seals in order and recomputes everything: a changed event, a deleted event, a
deleted or reordered seal, or a forged link is a break, reported with the sequence where it is.
It seals what is pending first, so the check covers every committed event.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from finance import tenancy
from finance.bulk import insert_values
from finance.models import AuditEvent, AuditSeal, AuditVerification, Membership, Organization, Role

logger = logging.getLogger("kehu.audit")

GENESIS = "0" * 64
BATCH = 2000
# pg_advisory_xact_lock(class, key): the class number keeps Kehu's chain locks apart from others.
LOCK_CLASS = 0x4B48  # "KH"

# The fields of an event that the chain covers, in a fixed order.
CHAINED_FIELDS = (
    "id",
    "organization_id",
    "actor_user_id",
    "actor_api_key_id",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "customer_id",
    "changes",
    "request_id",
    "created_at",
)


def canonical(event: dict[str, Any]) -> bytes:
    """The bytes hashed for one event: its chained fields as sorted, compact JSON (UTF-8)."""
    values = {name: event[name] for name in CHAINED_FIELDS}
    created_at = values["created_at"]
    if isinstance(created_at, datetime.datetime):
        values["created_at"] = created_at.astimezone(datetime.UTC).isoformat()
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def event_hash(event: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(event)).hexdigest()


def link(previous_hash: str, this_event_hash: str) -> str:
    return hashlib.sha256(f"{previous_hash}:{this_event_hash}".encode()).hexdigest()


def _lock_chain(organization_id: int) -> None:
    """Serialise sealing per organization (PostgreSQL; SQLite serialises writers anyway)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_CLASS, organization_id])


# After a commit only the events above the chain's head, less a margin for transactions that
# committed out of id order, are looked at: a primary-key range, so each commit's sealing costs the
# same however many events the day already holds (looking at the whole day's events made a
# dunning run of 20k reminders quadratic: minutes). An event that commits more than the margin
# behind the head (a transaction open while a thousand other events committed) is sealed by the
# next `verify` (the nightly `audit_verify` job, "Verify now", `verify_audit`), which seals every
# pending event before it checks the chain.
RECENT_IDS = 1000


def seal_pending(organization: Organization, *, everything: bool = True) -> int:
    """Seal the organization's committed, unsealed events; returns how many were sealed.

    `everything=False` looks only at events above the chain's head less `RECENT_IDS` (the
    after-commit path).
    Safe to call at any time and from several processes: the chain lock and the unique
    (organization, sequence) and event keys make a concurrent or repeated call seal nothing twice.
    """
    sealed = 0
    with tenancy.tenant(organization):
        for _attempt in range(3):
            try:
                with transaction.atomic():
                    _lock_chain(organization.pk)
                    sealed += _seal_batchwise(recent_only=not everything)
                return sealed
            except IntegrityError:  # another sealer won a race that the lock could not prevent
                logger.info("Audit sealing raced for organization %s; retrying", organization.pk)
    return sealed


def _unsealed() -> Any:
    return AuditEvent.objects.filter(~Exists(AuditSeal.objects.filter(event_id=OuterRef("id"))))


def _seal_above(floor: int, sequence: int, previous: str) -> int:
    """Seal the unsealed events above `floor`: two range reads on the (organization, id) indexes
    of events and seals, and the difference taken here, so that no plan can turn them into a scan
    of the organization's whole log (the planner cannot know the tenant setting's value, so its
    guesses about an anti-join with the seals were off by hundreds of times)."""
    sealed = 0
    while True:
        events = list(AuditEvent.objects.filter(id__gt=floor).order_by("id").values(*CHAINED_FIELDS)[:BATCH])
        if not events:
            return sealed
        done = set(
            AuditSeal.objects.filter(event_id__gt=floor, event_id__lte=events[-1]["id"]).values_list(
                "event_id", flat=True
            )
        )
        pending = [event for event in events if event["id"] not in done]
        if pending:
            sequence, previous = _seal(pending, sequence, previous)
            sealed += len(pending)
        if len(events) < BATCH:
            return sealed
        floor = events[-1]["id"]


SEAL_COLUMNS = ["organization", "event_id", "sequence", "event_hash", "chain_hash", "sealed_at"]


def _seal(events: list[dict[str, Any]], sequence: int, previous: str) -> tuple[int, str]:
    """Append one seal per event (in the order given) after `sequence` / `previous`, in one
    insert; returns the new head's sequence and hash."""
    rows = []
    now = timezone.now()
    for event in events:
        sequence += 1
        this_hash = event_hash(event)
        previous = link(previous, this_hash)
        rows.append((event["organization_id"], event["id"], sequence, this_hash, previous, now))
    insert_values(AuditSeal, SEAL_COLUMNS, rows)  # COPY from a night's classifications
    return sequence, previous


def _seal_batchwise(*, recent_only: bool) -> int:
    head = AuditSeal.objects.order_by("-sequence").values("sequence", "chain_hash", "event_id").first()
    sequence = head["sequence"] if head else 0
    previous = head["chain_hash"] if head else GENESIS
    if head is None:  # nothing sealed yet: every event is pending, read as one id range
        return _seal_above(0, sequence, previous)
    if recent_only:
        return _seal_above(head["event_id"] - RECENT_IDS, sequence, previous)
    candidates = _unsealed()
    sealed = 0
    while True:
        events = list(candidates.order_by("id").values(*CHAINED_FIELDS)[:BATCH])
        if not events:
            return sealed
        sequence, previous = _seal(events, sequence, previous)
        sealed += len(events)


def seal_after_commit(organization_ids: set[int]) -> None:
    """Seal the organizations' new events once the current transaction commits.

    One callback per transaction: a callback already queued takes the new organizations too. A
    rolled-back transaction drops its callback with it, so nothing is remembered across them.
    """
    if connection.in_atomic_block:
        for _savepoints, queued, _robust in connection.run_on_commit:
            waiting = getattr(queued, "kehu_audit_organizations", None)
            if waiting is not None:
                waiting |= organization_ids
                return
    waiting = set(organization_ids)

    def seal() -> None:
        for organization in Organization.objects.filter(pk__in=waiting):
            try:
                seal_pending(organization, everything=False)
            except Exception:  # the write has committed; the nightly check seals what is left
                logger.exception("Could not seal the audit events of organization %s", organization.pk)

    seal.kehu_audit_organizations = waiting  # type: ignore[attr-defined]
    transaction.on_commit(seal, robust=True)


@dataclass
class ChainBreak:
    sequence: int
    kind: str  # changed | deleted | missing_seal | bad_link
    event_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"sequence": self.sequence, "kind": self.kind, "event_id": self.event_id}


@dataclass
class ChainReport:
    intact: bool = True
    events_checked: int = 0
    sealed_through: int = 0
    head_hash: str = GENESIS
    breaks: list[ChainBreak] = field(default_factory=list)
    unsealed: int = 0


MAX_BREAKS_REPORTED = 100


def verify(organization: Organization) -> ChainReport:
    """Recompute the organization's whole chain (after sealing what is pending).

    Reads the seals in sequence order, a batch at a time, with their events; memory stays flat
    whatever the length of the log.
    """
    seal_pending(organization)
    report = ChainReport()
    expected_sequence = 1
    previous = GENESIS
    with tenancy.tenant(organization):
        last_sequence = 0
        while True:
            seals = list(
                AuditSeal.objects.filter(sequence__gt=last_sequence)
                .order_by("sequence")
                .values("sequence", "event_id", "event_hash", "chain_hash")[:BATCH]
            )
            if not seals:
                break
            events = {
                event["id"]: event
                for event in AuditEvent.objects.filter(id__in=[s["event_id"] for s in seals]).values(
                    *CHAINED_FIELDS
                )
            }
            for seal in seals:
                if seal["sequence"] != expected_sequence:
                    report.breaks.append(ChainBreak(expected_sequence, "missing_seal"))
                event = events.get(seal["event_id"])
                if event is None:
                    report.breaks.append(ChainBreak(seal["sequence"], "deleted", seal["event_id"]))
                elif event_hash(event) != seal["event_hash"]:
                    report.breaks.append(ChainBreak(seal["sequence"], "changed", seal["event_id"]))
                if link(previous, seal["event_hash"]) != seal["chain_hash"]:
                    report.breaks.append(ChainBreak(seal["sequence"], "bad_link", seal["event_id"]))
                previous = seal["chain_hash"]
                expected_sequence = seal["sequence"] + 1
                report.events_checked += 1
            last_sequence = seals[-1]["sequence"]
        report.sealed_through = last_sequence
        report.head_hash = previous
        report.unsealed = _unsealed().count()
    report.intact = not report.breaks and report.unsealed == 0
    del report.breaks[MAX_BREAKS_REPORTED:]
    return report


def verify_and_record(organization: Organization, *, source: str) -> AuditVerification:
    """Verify the chain, keep the result, and on a break alert the organization's owners and admins."""
    report = verify(organization)
    with tenancy.tenant(organization):
        verification = AuditVerification.objects.create(
            intact=report.intact,
            events_checked=report.events_checked,
            sealed_through=report.sealed_through,
            head_hash=report.head_hash,
            breaks=[b.as_dict() for b in report.breaks],
            source=source,
        )
        if not report.intact:
            logger.error(
                "Audit chain of organization %s is broken: %s",
                organization.pk,
                [b.as_dict() for b in report.breaks[:10]],
            )
            _alert_admins(organization, verification)
    return verification


def _alert_admins(organization: Organization, verification: AuditVerification) -> None:
    recipients = sorted(
        {
            m.user.email
            for m in Membership.objects.select_related("user").filter(role__in=[Role.OWNER, Role.ADMIN])
            if m.user.email and m.user.is_active
        }
    )
    if not recipients:
        return
    first = verification.breaks[0] if verification.breaks else None
    subject = _("Audit log check failed: %(organization)s") % {"organization": organization.name}
    if first:
        detail = _("The first break is at event number %(sequence)s (%(kind)s).") % first
    else:
        detail = _("Some events could not be sealed.")
    body = "\n\n".join(
        [
            _(
                "The nightly check of the audit log found %(count)s break(s) in the chain of events: "
                "an event was changed or removed outside Kehu."
            )
            % {"count": len(verification.breaks)},
            detail,
            _("Run “manage.py verify_audit --org %(slug)s” for the full report.")
            % {"slug": organization.slug},
            settings.SITE_URL.rstrip("/") + "/audit/" if getattr(settings, "SITE_URL", "") else "",
        ]
    ).strip()
    try:
        send_mail(subject, body, None, recipients)
    except Exception:  # the failed check is recorded and logged either way
        logger.exception("Could not email the audit alert for organization %s", organization.pk)
