"""The second wall: PostgreSQL row-level security, tested as the application role."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.utils import ProgrammingError
from rest_framework.test import APIClient

from finance import db as kehu_db
from finance import tenancy
from tests.factories import CustomerFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row-level security needs PostgreSQL"),
]


def _count(sql: str, params: list | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()[0]


def test_the_application_runs_as_a_role_that_is_neither_superuser_nor_owner(org):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, r.rolsuper, r.rolbypassrls FROM pg_roles r WHERE r.rolname = current_user"
        )
        user, is_superuser, bypasses = cursor.fetchone()
        cursor.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'crm_customer'")
        (owner,) = cursor.fetchone()
    assert not is_superuser and not bypasses
    assert user != owner


def test_raw_sql_with_no_tenant_setting_sees_nothing(org, outsider_org):
    CustomerFactory(organization=org)
    CustomerFactory(organization=outsider_org)
    assert tenancy.current_organization_or_none() is None
    assert _count("SELECT count(*) FROM crm_customer") == 0


def test_raw_sql_with_the_wrong_setting_sees_only_that_tenant(org, outsider_org):
    CustomerFactory(organization=org, name="Mine")
    CustomerFactory(organization=outsider_org, name="Theirs")
    with tenancy.tenant(outsider_org):
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM crm_customer")
            assert [r[0] for r in cursor.fetchall()] == ["Theirs"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('kehu.org_id', %s, false)", [str(outsider_org.pk + 1000)])
        cursor.execute("SELECT count(*) FROM crm_customer")
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT set_config('kehu.org_id', '', false)")


def test_raw_sql_cannot_insert_a_row_for_another_tenant(org, outsider_org):
    with tenancy.tenant(org):
        with pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO crm_customer (organization_id, name, legal_name, tax_id, country, currency,"
                    " email, phone, billing_address, industry, customer_group, lifecycle_stage, status, tags,"
                    " notes, abc_class, risk_class, loyalty_tier, created_at, updated_at) VALUES"
                    " (%s, 'Intruder', '', '', 'CN', 'CNY', '', '', '', '', '', 'prospect', 'active', '[]',"
                    " '', '', '', '', now(), now())",
                    [outsider_org.pk],
                )


def test_raw_sql_cannot_move_a_row_to_another_tenant(org, outsider_org):
    customer = CustomerFactory(organization=org)
    with tenancy.tenant(org):
        with pytest.raises((ProgrammingError, IntegrityError)), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE crm_customer SET organization_id = %s WHERE id = %s",
                    [outsider_org.pk, customer.pk],
                )


def test_every_table_with_organization_id_has_rls_enabled_and_forced(db):
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                   EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid)
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'organization_id' AND NOT a.attisdropped
            WHERE n.nspname = 'public' AND c.relkind = 'r'
            """
        )
        rows = cursor.fetchall()
    assert rows, "no tenant tables found"
    unprotected = [
        name for name, enabled, forced, has_policy in rows if not (enabled and forced and has_policy)
    ]
    assert unprotected == []
    assert {name for name, *_ in rows} >= {table for table, _lookup in kehu_db.tenant_tables()}


def test_memberships_are_visible_before_the_tenant_only_for_their_own_user(members, outsider):
    from finance.models import Membership

    with tenancy.lookup_context(user_id=outsider.pk):
        rows = list(Membership.unscoped.values_list("user_id", flat=True))
    assert rows == [outsider.pk]


def _settings() -> tuple[str, str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('kehu.org_id', true), current_setting('kehu.user_id', true),"
            " current_setting('kehu.key_prefix', true)"
        )
        return tuple(value or "" for value in cursor.fetchone())


def test_a_kept_connection_carries_no_tenant_from_one_request_to_the_next(
    api, client, members, org, outsider_org
):
    """Connections are kept between requests (CONN_MAX_AGE): every request leaves the connection's
    tenant settings empty, whether it succeeded, failed or was refused, so the next request on the
    same connection starts with nothing until it authenticates."""
    from tests.conftest import login

    CustomerFactory(organization=org, name="Mine")
    assert api.get("/api/v1/customers/").status_code == 200
    assert _settings() == ("", "", "")
    assert api.get("/api/v1/customers/999999/").status_code == 404
    assert _settings() == ("", "", "")
    assert api.post("/api/v1/customers/", {"name": ""}, format="json").status_code == 400
    assert _settings() == ("", "", "")
    raw = api._credentials["HTTP_AUTHORIZATION"].split()[1]
    refused = APIClient(HTTP_AUTHORIZATION=f"Bearer {raw.partition('.')[0]}.not-the-secret")
    assert refused.get("/api/v1/customers/").status_code == 401
    assert _settings() == ("", "", "")
    login(client, members["sales_rep"])
    assert client.get("/customers/").status_code == 200
    assert _settings() == ("", "", "")
    assert _count("SELECT count(*) FROM crm_customer") == 0
