"""Rules of the customer record: ownership, deletion versus archiving, the tax id."""

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from crm import services
from crm.models import Customer
from crm.registry import registry
from crm.validators import normalize_tax_id
from finance import tenancy
from tests.conftest import login
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("country", "tax_id", "expected"),
    [
        ("CN", "91310000775785552L", "91310000775785552L"),
        ("CN", "9131 0000 7757 8555 2L", "91310000775785552L"),
        ("DE", "DE 136,695 976", "136695976"),
        ("ZZ", "anything", "anything"),
        ("CN", "", ""),
    ],
)
def test_valid_tax_ids_are_normalised(country, tax_id, expected):
    assert normalize_tax_id(country, tax_id) == expected


@pytest.mark.parametrize(
    ("country", "tax_id"), [("CN", "91310000775785551L"), ("CN", "123"), ("DE", "DE123")]
)
def test_invalid_tax_ids_are_refused(country, tax_id):
    with pytest.raises(ValidationError):
        normalize_tax_id(country, tax_id)


def test_customer_without_history_can_be_deleted_one_with_history_only_archived(api, client, org, members):
    plain = CustomerFactory(organization=org, name="No history")
    kept = CustomerFactory(organization=org, name="Has invoices")

    def has_history(customer):
        return customer.name == "Has invoices"

    registry.add_financial_history_check(has_history)
    try:
        assert api.delete(f"/api/v1/customers/{plain.pk}/").status_code in (204, 403)
        response = api.delete(f"/api/v1/customers/{kept.pk}/")
        assert response.status_code in (400, 403)
    finally:
        registry.financial_history_checks.remove(has_history)


def test_owner_deletes_and_history_blocks_deletion(org, owner_actor):
    plain = CustomerFactory(organization=org, name="No history")
    kept = CustomerFactory(organization=org, name="Has invoices")

    def has_history(customer):
        return customer.name == "Has invoices"

    registry.add_financial_history_check(has_history)
    try:
        with tenancy.tenant(org):
            services.customer_delete(actor=owner_actor, customer=plain)
            with pytest.raises(ValidationError):
                services.customer_delete(actor=owner_actor, customer=kept)
            assert list(Customer.objects.values_list("name", flat=True)) == ["Has invoices"]
    finally:
        registry.financial_history_checks.remove(has_history)


def test_sales_rep_owns_what_they_create_and_cannot_give_it_away(client, org, members):
    rep = members["sales_rep"]
    login(client, rep)
    created = client.post("/api/v1/customers/", {"name": "Mine"}, content_type="application/json")
    assert created.status_code == 201 and created.json()["owner"] == rep.pk
    response = client.patch(
        f"/api/v1/customers/{created.json()['id']}/",
        {"owner": members["owner"].pk},
        content_type="application/json",
    )
    assert response.status_code == 403
    with tenancy.tenant(org):
        assert Customer.objects.get().owner == rep


def test_owner_must_be_a_member_of_the_organization(api, org, outsider):
    response = api.post("/api/v1/customers/", {"name": "x", "owner": outsider.pk}, format="json")
    assert response.status_code == 400 and "owner" in response.json()


def test_password_reset_by_email(client, org, members):
    user = members["sales_rep"]
    response = client.post("/accounts/password-reset/", {"email": user.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = next(line for line in mail.outbox[0].body.splitlines() if "/accounts/reset/" in line)
    path = link.split("://", 1)[1].split("/", 1)[1]
    form_page = client.get("/" + path, follow=True)
    assert form_page.status_code == 200
    response = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "A-much-better-pass-9", "new_password2": "A-much-better-pass-9"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("A-much-better-pass-9")


def test_language_switch_to_chinese(client, org, members):
    login(client, members["owner"])
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/customers/"})
    page = client.get("/customers/").content.decode()
    assert "仪表盘" in page and "跟进" in page and "Dashboard" not in page


def test_organization_language_is_the_default(client, org, members):
    org.language = "zh-hans"
    org.save()
    login(client, members["owner"])
    assert '<html lang="zh-hans">' in client.get("/customers/").content.decode()


def test_sales_rep_cannot_create_an_unowned_customer(client, org, members):
    rep = members["sales_rep"]
    login(client, rep)
    created = client.post(
        "/api/v1/customers/", {"name": "Sneaky", "owner": None}, content_type="application/json"
    )
    assert created.status_code == 201 and created.json()["owner"] == rep.pk


def test_created_event_lists_only_fields_that_have_a_value(api, org):
    from finance.models import AuditEvent

    customer_id = api.post("/api/v1/customers/", {"name": "Lean", "industry": "Food"}, format="json").json()[
        "id"
    ]
    with tenancy.tenant(org):
        event = AuditEvent.objects.get(action="customer.created", customer_id=customer_id)
    assert event.changes["name"] == [None, "Lean"]
    assert "abc_class" not in event.changes and "email" not in event.changes
