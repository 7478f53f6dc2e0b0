"""The audit log is tamper-evident: events are sealed into a hash chain per organization after
their transaction commits; any change, removal or reordering outside Kehu is found by
`verify_audit`, the nightly job and the auditor's "Verify now", and the admins are told."""

from __future__ import annotations

import json
import threading

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import ProgrammingError, connection, connections, transaction

from finance import audit, auditchain, bulk, tenancy
from finance.actors import Actor
from finance.db import owner_mode
from finance.jobs import job_run
from finance.models import AuditEvent, AuditSeal, AuditVerification
from tests.conftest import login
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL privileges")


def record_events(org, count: int, action: str = "customer.updated") -> list[AuditEvent]:
    customer = CustomerFactory(organization=org)
    with tenancy.tenant(org):
        return [
            audit.record(
                actor=Actor.system(org),
                action=action,
                instance=customer,
                changes={"credit_limit": [str(n), str(n + 1)], "note": ["", "你好 ✓"]},
                customer_id=customer.pk,
            )
            for n in range(count)
        ]


def tamper(org, sql: str, params: list) -> None:
    """What a database administrator could do behind Kehu's back (as the table owner)."""
    with tenancy.tenant(org), owner_mode(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_events_are_sealed_in_order_after_their_transaction_commits(org, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            events = record_events(org, 3)
            with tenancy.tenant(org):
                assert not AuditSeal.objects.exists()  # nothing sealed before the commit
    with tenancy.tenant(org):
        seals = list(AuditSeal.objects.order_by("sequence"))
    assert [s.sequence for s in seals] == [1, 2, 3]
    assert [s.event_id for s in seals] == [e.pk for e in events]
    previous = auditchain.GENESIS
    for seal, event in zip(seals, events, strict=True):
        with tenancy.tenant(org):
            values = AuditEvent.objects.filter(pk=event.pk).values(*auditchain.CHAINED_FIELDS).get()
        assert seal.event_hash == auditchain.event_hash(values)
        assert seal.chain_hash == auditchain.link(previous, seal.event_hash)
        previous = seal.chain_hash


def test_bulk_written_events_are_sealed_too(org, django_capture_on_commit_callbacks):
    customer = CustomerFactory(organization=org)
    with django_capture_on_commit_callbacks(execute=True), tenancy.tenant(org):
        AuditEvent.objects.bulk_create(
            [audit.build(actor=Actor.system(org), action="bulk", instance=customer) for _ in range(5)]
        )
    with tenancy.tenant(org):
        assert AuditSeal.objects.count() == 5


def test_a_rolled_back_write_does_not_stop_later_events_from_being_sealed(
    org, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            record_events(org, 1)
            raise RuntimeError
        with transaction.atomic():
            record_events(org, 2)
    with tenancy.tenant(org):
        assert AuditSeal.objects.count() == 2 and AuditEvent.objects.count() == 2


def test_an_untouched_log_verifies_intact(org):
    record_events(org, 4)
    report = auditchain.verify(org)
    assert report.intact and report.events_checked == 4 and report.sealed_through == 4
    assert report.breaks == [] and report.unsealed == 0
    assert report.head_hash != auditchain.GENESIS


def test_each_organization_has_its_own_chain(org, outsider_org):
    record_events(org, 2)
    record_events(outsider_org, 3)
    assert auditchain.verify(org).events_checked == 2
    assert auditchain.verify(outsider_org).events_checked == 3
    with tenancy.tenant(outsider_org):
        assert sorted(AuditSeal.objects.values_list("sequence", flat=True)) == [1, 2, 3]


def test_sealing_twice_seals_nothing_new(org):
    record_events(org, 2)
    assert auditchain.seal_pending(org) == 2
    assert auditchain.seal_pending(org) == 0
    record_events(org, 1)
    assert auditchain.seal_pending(org) == 1
    with tenancy.tenant(org):
        assert sorted(AuditSeal.objects.values_list("sequence", flat=True)) == [1, 2, 3]


def test_a_changed_event_is_a_break_at_its_place(org):
    events = record_events(org, 4)
    auditchain.seal_pending(org)
    tamper(org, "UPDATE finance_auditevent SET object_repr = %s WHERE id = %s", ["forged", events[2].pk])
    report = auditchain.verify(org)
    assert not report.intact
    assert [(b.sequence, b.kind, b.event_id) for b in report.breaks] == [(3, "changed", events[2].pk)]


def test_a_changed_amount_inside_the_changes_is_a_break(org):
    events = record_events(org, 2)
    auditchain.seal_pending(org)
    with tenancy.tenant(org):
        changes = AuditEvent.objects.values_list("changes", flat=True).get(pk=events[0].pk)
    changes["credit_limit"][1] = "999999"
    tamper(
        org, "UPDATE finance_auditevent SET changes = %s WHERE id = %s", [json.dumps(changes), events[0].pk]
    )
    assert [b.kind for b in auditchain.verify(org).breaks] == ["changed"]


def test_a_deleted_event_is_a_break(org):
    events = record_events(org, 3)
    auditchain.seal_pending(org)
    tamper(org, "DELETE FROM finance_auditevent WHERE id = %s", [events[1].pk])
    report = auditchain.verify(org)
    assert [(b.sequence, b.kind) for b in report.breaks] == [(2, "deleted")]


def test_a_deleted_seal_is_a_break(org):
    record_events(org, 3)
    auditchain.seal_pending(org)
    with tenancy.tenant(org):
        seal = AuditSeal.objects.get(sequence=2)
    tamper(org, "DELETE FROM finance_auditseal WHERE id = %s", [seal.pk])
    kinds = {(b.sequence, b.kind) for b in auditchain.verify(org).breaks}
    assert (2, "missing_seal") in kinds and (3, "bad_link") in kinds


def test_a_rewritten_event_with_a_recomputed_seal_still_breaks_the_next_link(org):
    events = record_events(org, 3)
    auditchain.seal_pending(org)
    tamper(org, "UPDATE finance_auditevent SET action = %s WHERE id = %s", ["forged", events[0].pk])
    with tenancy.tenant(org):
        values = AuditEvent.objects.filter(pk=events[0].pk).values(*auditchain.CHAINED_FIELDS).get()
    forged_hash = auditchain.event_hash(values)
    tamper(
        org,
        "UPDATE finance_auditseal SET event_hash = %s, chain_hash = %s WHERE event_id = %s",
        [forged_hash, auditchain.link(auditchain.GENESIS, forged_hash), events[0].pk],
    )
    assert [(b.sequence, b.kind) for b in auditchain.verify(org).breaks] == [(2, "bad_link")]


def test_audit_events_cannot_be_saved_again_through_the_orm(org):
    event = record_events(org, 1)[0]
    event.action = "forged"
    with pytest.raises(ValueError), tenancy.tenant(org):
        event.save()


def test_the_nightly_job_records_the_check_and_emails_admins_only_on_a_break(org, members):
    events = record_events(org, 2)
    run = job_run(organization=org, job_name="audit_verify", run_date=org.local_today())
    assert run.result == {"intact": True, "events": 2, "head": run.result["head"], "breaks": 0}
    assert mail.outbox == []

    tamper(org, "UPDATE finance_auditevent SET object_id = %s WHERE id = %s", ["forged", events[1].pk])
    run = job_run(organization=org, job_name="audit_verify", run_date=org.local_today(), force=True)
    assert run.result["intact"] is False and run.result["breaks"] == 1
    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == ["admin@acme.test", "owner@acme.test"]
    assert "2" in mail.outbox[0].body and "verify_audit" in mail.outbox[0].body
    with tenancy.tenant(org):
        latest = AuditVerification.objects.first()
    assert latest.intact is False and latest.source == "job"
    assert latest.breaks == [{"sequence": 2, "kind": "changed", "event_id": events[1].pk}]


def test_verify_audit_command_reports_and_fails_on_a_break(org, outsider_org, capsys):
    events = record_events(org, 2)
    record_events(outsider_org, 1)
    call_command("verify_audit")
    out = capsys.readouterr().out
    assert "acme: intact, 2 events" in out and "outsider: intact, 1 events" in out

    tamper(org, "DELETE FROM finance_auditevent WHERE id = %s", [events[0].pk])
    with pytest.raises(CommandError) as raised:
        call_command("verify_audit", "--org", "acme")
    assert raised.value.returncode == 1
    assert "sequence 1: deleted" in capsys.readouterr().out
    with pytest.raises(CommandError):
        call_command("verify_audit", "--org", "nobody")


def test_auditors_see_the_chain_state_and_verify_on_demand(client, org, members):
    record_events(org, 3)
    login(client, members["auditor"])
    page = client.get("/audit/")
    assert "has not been verified yet" in page.content.decode()
    response = client.post("/audit/verify/", follow=True)
    body = response.content.decode()
    assert response.status_code == 200 and "The audit log is intact" in body
    assert "Intact" in body
    with tenancy.tenant(org):
        assert AuditVerification.objects.get().source == "manual"


def test_a_sales_rep_cannot_run_the_check(client, org, members):
    login(client, members["sales_rep"])
    assert client.post("/audit/verify/").status_code in (403, 404)
    with tenancy.tenant(org):
        assert not AuditVerification.objects.exists()


@postgres_only
def test_the_application_role_cannot_update_or_delete_audit_rows(org):
    event = record_events(org, 1)[0]
    auditchain.seal_pending(org)
    for statement in (
        "UPDATE finance_auditevent SET action = 'x' WHERE id = %s",
        "DELETE FROM finance_auditevent WHERE id = %s",
        "UPDATE finance_auditseal SET chain_hash = 'x' WHERE event_id = %s",
        "DELETE FROM finance_auditseal WHERE event_id = %s",
    ):
        with tenancy.tenant(org), pytest.raises(ProgrammingError, match="permission denied"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement, [event.pk])
    assert auditchain.verify(org).intact


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_sealers_never_fork_or_duplicate_the_chain(org):
    record_events(org, 30)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def seal() -> None:
        try:
            barrier.wait()
            auditchain.seal_pending(org)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=seal) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with tenancy.tenant(org):
        assert sorted(AuditSeal.objects.values_list("sequence", flat=True)) == list(range(1, 31))
    assert auditchain.verify(org).intact


def test_sealing_after_a_commit_looks_only_above_the_head_and_verify_seals_the_rest(org, monkeypatch):
    """The after-commit path reads a bounded range of ids (the head less RECENT_IDS), so its cost
    does not grow with the day's events; an event that committed further behind (a long
    transaction) is left to `verify`, which seals every pending event before checking the chain."""
    monkeypatch.setattr(auditchain, "RECENT_IDS", 10)
    first = record_events(org, 1)[0]
    assert auditchain.seal_pending(org, everything=False) == 1  # the head: `first`

    def at(offset: int) -> AuditEvent:
        """A copy of `first` under the id `first.pk + offset`, as a commit would leave it."""
        fields = {f.attname: getattr(first, f.attname) for f in AuditEvent._meta.concrete_fields}
        with tenancy.tenant(org):
            return AuditEvent.objects.create(**{**fields, "id": first.pk + offset})

    newer = [at(100 + n) for n in range(6)]
    assert auditchain.seal_pending(org, everything=False) == 6  # the head: first + 105
    late = at(50)  # committed after them, 55 ids behind the head
    fresh = [at(200), at(201)]
    assert auditchain.seal_pending(org, everything=False) == 2
    with tenancy.tenant(org):
        sealed = set(AuditSeal.objects.values_list("event_id", flat=True))
    assert {e.pk for e in [first, *newer, *fresh]} == sealed
    report = auditchain.verify(org)  # seals `late` first, then checks the whole chain
    assert report.intact and report.events_checked == 10
    with tenancy.tenant(org):
        assert AuditSeal.objects.get(event_id=late.pk).sequence == 10


def test_classifications_written_in_bulk_are_sealed_after_their_commit(
    org, django_capture_on_commit_callbacks
):
    """The nightly analytics writes one `customer.classified` event per changed customer with
    `insert_values`, past the model's manager: its events are sealed after the commit all the same,
    not left for the next night's verify."""
    from crm.services import customers_classify_many

    customers = [CustomerFactory(organization=org) for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True), tenancy.tenant(org), transaction.atomic():
        changed = customers_classify_many(
            actor=Actor.system(org), values={customer.pk: {"abc_class": "A"} for customer in customers}
        )
    assert changed == 3
    with tenancy.tenant(org):
        classified = set(AuditEvent.objects.filter(action="customer.classified").values_list("pk", flat=True))
        assert len(classified) == 3
        assert classified <= set(AuditSeal.objects.values_list("event_id", flat=True))


def test_a_large_batch_is_sealed_through_copy_and_verifies(org, django_capture_on_commit_callbacks):
    """From `bulk.COPY_FROM` events at once the seals go in through COPY: the same chain as one by one."""
    customer = CustomerFactory(organization=org)
    count = bulk.COPY_FROM + 7
    with django_capture_on_commit_callbacks(execute=True), tenancy.tenant(org):
        AuditEvent.objects.bulk_create(
            [
                audit.build(
                    actor=Actor.system(org), action="bulk", instance=customer, changes={"n": [None, n]}
                )
                for n in range(count)
            ]
        )
    with tenancy.tenant(org):
        assert list(AuditSeal.objects.order_by("sequence").values_list("sequence", flat=True)) == list(
            range(1, count + 1)
        )
    report = auditchain.verify(org)
    assert report.intact and report.events_checked == count
