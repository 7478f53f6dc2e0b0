"""The ORM wall: tenant managers are scoped and fail closed."""

import pytest
from django.db import connection

from crm.models import Customer
from finance import tenancy
from finance.tenancy import NoTenantError
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_default_manager_raises_without_a_current_organization(org):
    CustomerFactory(organization=org)
    with pytest.raises(NoTenantError):
        list(Customer.objects.all())


def test_default_manager_sees_only_the_current_organization(org, outsider_org):
    mine = CustomerFactory(organization=org)
    CustomerFactory(organization=outsider_org)
    with tenancy.tenant(org):
        assert list(Customer.objects.all()) == [mine]
    with tenancy.tenant(outsider_org):
        assert Customer.objects.count() == 1
        assert not Customer.objects.filter(pk=mine.pk).exists()


def test_unscoped_manager_skips_the_orm_filter_but_not_row_level_security(org, outsider_org):
    CustomerFactory(organization=org)
    CustomerFactory(organization=outsider_org)
    with tenancy.tenant(org):
        visible = Customer.unscoped.count()
    # SQLite has only the ORM wall; on PostgreSQL the RLS policy still hides the other tenant.
    assert visible == (1 if connection.vendor == "postgresql" else 2)


def test_new_rows_take_the_current_organization(org):
    with tenancy.tenant(org):
        customer = Customer.objects.create(name="Fresh")
    assert customer.organization == org


def test_tenant_context_is_restored_after_a_block(org, outsider_org):
    with tenancy.tenant(org):
        with tenancy.tenant(outsider_org):
            assert tenancy.current_organization() == outsider_org
        assert tenancy.current_organization() == org
    assert tenancy.current_organization_or_none() is None
