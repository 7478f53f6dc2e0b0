"""Reports read from a read replica through the database router; writes and other reads stay on
the primary; a replica connection runs as the application role inside the tenant (row-level
security applies there too)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, connections

from crm.models import Customer
from finance import audit, routers, tenancy
from finance.actors import Actor
from finance.models import AuditEvent
from receivables.selectors import aging_report
from tests.conftest import login
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def replica(settings: Any) -> Any:
    """A second database alias, `replica`. In a test it shares the primary's connection (the data
    of the test's transaction is visible through it, as a replica's would be after replication)."""
    settings.DATABASES = {**settings.DATABASES, routers.REPLICA: {**settings.DATABASES["default"]}}
    connections.settings[routers.REPLICA] = connections.settings["default"]
    connections[routers.REPLICA] = connections["default"]
    used: list[str] = []
    real = routers.ReplicaRouter.db_for_read

    def spy(self: Any, model: Any, **hints: Any) -> str | None:
        alias = real(self, model, **hints)
        used.append(alias)
        return alias

    routers.ReplicaRouter.db_for_read = spy  # type: ignore[method-assign]
    try:
        yield used
    finally:
        routers.ReplicaRouter.db_for_read = real  # type: ignore[method-assign]
        del connections.settings[routers.REPLICA]
        delattr(connections._connections, routers.REPLICA)


def test_the_router_is_installed() -> None:
    from django.conf import settings

    assert settings.DATABASE_ROUTERS == ["finance.routers.ReplicaRouter"]


def test_reads_inside_reporting_go_to_the_replica_and_writes_to_the_primary(in_org, replica) -> None:
    assert Customer.objects.all().db == "default"
    with routers.reporting():
        assert Customer.objects.all().db == "replica"
        assert Customer.objects.db_manager().all().db == "replica"
        customer = CustomerFactory(organization=in_org)  # a write inside a report still goes to the primary
        assert customer._state.db == "default"
    assert Customer.objects.all().db == "default"


def test_without_a_replica_reporting_changes_nothing(in_org) -> None:
    assert not routers.replica_configured()
    with routers.reporting():
        assert Customer.objects.all().db == "default"


def test_migrations_run_on_the_primary_only() -> None:
    router = routers.ReplicaRouter()
    assert router.allow_migrate("default", "crm") is True
    assert router.allow_migrate("replica", "crm") is False


def test_the_aging_report_reads_from_the_replica_with_the_same_figures(
    in_org, ledger_customer, replica
) -> None:
    expected = aging_report(organization=in_org, as_of=datetime.date(2026, 6, 30))
    replica.clear()
    with routers.reporting():
        report = aging_report(organization=in_org, as_of=datetime.date(2026, 6, 30))
    assert "replica" in replica and "default" not in replica
    assert report.totals == expected.totals and report.totals["total"] == Decimal("700.00")


def test_the_aging_api_and_page_read_from_the_replica(client, org, members, ledger_customer, replica) -> None:
    login(client, members["owner"])
    response = client.get("/api/v1/reports/aging/", {"as_of": "2026-06-30"})
    assert response.status_code == 200 and response.json()["totals"]["total"] == "700.00"
    assert "replica" in replica
    replica.clear()
    assert client.get("/receivables/aging/", {"as_of": "2026-06-30"}).status_code == 200
    assert "replica" in replica


def test_an_export_inside_reporting_records_its_audit_event_on_the_primary(in_org, replica) -> None:
    with routers.reporting():
        event = audit.record(
            actor=Actor.system(in_org), action="report.exported", instance=in_org, changes={}
        )
    assert event._state.db == "default"
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.postgres
def test_a_replica_connection_runs_as_the_app_role_inside_the_tenant(org, settings) -> None:
    if connection.vendor != "postgresql" or not settings.DATABASE_APP_ROLE:
        pytest.skip("needs PostgreSQL with DATABASE_APP_ROLE")
    wrapper = connections.create_connection("default")
    wrapper.alias = routers.REPLICA
    try:
        with tenancy.tenant(org):
            with wrapper.cursor() as cursor:  # opens: role switch and tenant settings (finance/db.py)
                cursor.execute("SELECT current_user, current_setting('kehu.org_id', true)")
                role, org_id = cursor.fetchone()
        assert role == settings.DATABASE_APP_ROLE and org_id == str(org.pk)
    finally:
        wrapper.close()


@pytest.fixture
def ledger_customer(org: Any) -> Customer:
    from receivables import services

    with tenancy.tenant(org):
        customer = CustomerFactory(organization=org, name="Replica Reader Ltd")
        for number, total in (("R-1", "500.00"), ("R-2", "200.00")):
            services.invoice_create(
                actor=Actor.system(org),
                customer=customer,
                number=number,
                currency=org.base_currency,
                issue_date=datetime.date(2026, 4, 1),
                due_date=datetime.date(2026, 5, 1),
                total=total,
            )
    return customer
