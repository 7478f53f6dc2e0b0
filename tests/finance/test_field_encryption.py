"""Field-level encryption of tax ids, bank accounts, identity numbers and statement figures: what
is stored, what a wrong or missing key does, key rotation, the blind index, and masking with its
audit trail in the API and the browser."""

from __future__ import annotations

import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from credit.models import FinancialStatement
from credit.services import statement_create
from crm.models import Contact, Customer
from crm.services import customer_create
from finance import crypto, tenancy
from finance.crypto import SensitiveDataUnavailable
from finance.models import AuditEvent
from tests.conftest import login
from tests.factories import ContactFactory, CustomerFactory

pytestmark = pytest.mark.django_db

TAX_ID = "91310000775785552L"
SPACED_TAX_ID = "9131 0000 7757 8555 2l"
BANK = "6222 0212 3456 7890"
IDENTITY = "110101199003074477"


def raw_column(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608 - test-only names
        return cursor.fetchone()[0]


@pytest.fixture
def customer(in_org, owner_actor) -> Customer:
    created = customer_create(
        actor=owner_actor, name="Sensitive Co", country="CN", tax_id=TAX_ID, bank_account=BANK
    )
    ContactFactory(organization=in_org, customer=created, name="Zhang Wei", identity_number=IDENTITY)
    return created


# --- Storage ------------------------------------------------------------------------------------


def test_values_are_stored_encrypted_and_read_back_in_plaintext(customer):
    contact = customer.contacts.get()
    for table, column, pk, plain in [
        ("crm_customer", "tax_id", customer.pk, TAX_ID),
        ("crm_customer", "bank_account", customer.pk, BANK),
        ("crm_contact", "identity_number", contact.pk, IDENTITY),
    ]:
        stored = raw_column(table, column, pk)
        assert stored.startswith("v1:") and plain not in stored
    fresh = Customer.objects.get(pk=customer.pk)
    assert (fresh.tax_id, fresh.bank_account) == (TAX_ID, BANK)
    assert Contact.objects.get(pk=contact.pk).identity_number == IDENTITY


def test_two_encryptions_of_the_same_value_differ():
    assert crypto.encrypt(TAX_ID) != crypto.encrypt(TAX_ID)
    assert crypto.decrypt(crypto.encrypt(TAX_ID)) == TAX_ID


def test_a_blank_stays_blank_and_is_never_encrypted(in_org, owner_actor):
    created = customer_create(actor=owner_actor, name="No tax id")
    assert raw_column("crm_customer", "tax_id", created.pk) == ""
    assert Customer.objects.get(pk=created.pk).tax_id == ""


def test_statement_figures_are_stored_encrypted(customer, owner_actor):
    statement = statement_create(actor=owner_actor, customer=customer, **statement_figures())
    stored = raw_column("credit_financialstatement", "total_assets", statement.pk)
    assert stored.startswith("v1:") and "5000000" not in stored
    assert FinancialStatement.objects.get(pk=statement.pk).total_assets == Decimal("5000000.00")


def statement_figures() -> dict:
    return {
        "fiscal_year": 2025,
        "period_end": datetime.date(2025, 12, 31),
        "currency": "CNY",
        "cash": Decimal("200000"),
        "current_assets": Decimal("1500000"),
        "inventory": Decimal("300000"),
        "total_assets": Decimal("5000000"),
        "current_liabilities": Decimal("800000"),
        "total_liabilities": Decimal("2500000"),
        "equity": Decimal("2500000"),
        "retained_earnings": Decimal("900000"),
        "revenue": Decimal("7000000"),
        "ebit": Decimal("600000"),
        "interest_expense": Decimal("50000"),
        "net_income": Decimal("400000"),
    }


# --- Wrong and missing keys ---------------------------------------------------------------------


def test_a_wrong_key_raises_and_never_shows_ciphertext_or_blank(customer, settings):
    settings.FIELD_ENCRYPTION_KEYS = [f"1:{crypto.derived_key('another secret', 'field-encryption')}"]
    with pytest.raises(SensitiveDataUnavailable):
        Customer.objects.get(pk=customer.pk)


def test_a_missing_key_version_raises(customer, settings):
    settings.FIELD_ENCRYPTION_KEYS = [f"2:{crypto.derived_key('new secret', 'field-encryption')}"]
    with pytest.raises(SensitiveDataUnavailable, match="v1"):
        Customer.objects.get(pk=customer.pk)


def test_a_plaintext_value_in_an_encrypted_column_raises():
    with pytest.raises(SensitiveDataUnavailable):
        crypto.decrypt(TAX_ID)


def test_bad_key_configuration_is_refused():
    from django.core.exceptions import ImproperlyConfigured

    for spec in [
        "",
        "1:not-a-key",
        "x:" + crypto.derived_key("s", "p"),
        "1:{k},1:{k}".format(k=crypto.derived_key("s", "p")),
    ]:
        with pytest.raises(ImproperlyConfigured):
            crypto.parse_keys(spec)


# --- Rotation -----------------------------------------------------------------------------------


def test_rotate_keys_reencrypts_every_row_and_the_old_key_can_then_go(
    customer, owner_actor, settings, outsider_org
):
    statement = statement_create(actor=owner_actor, customer=customer, **statement_figures())
    with tenancy.tenant(outsider_org):
        other = CustomerFactory(organization=outsider_org, name="Other", tax_id=TAX_ID)
    old = settings.FIELD_ENCRYPTION_KEYS[0]
    fresh = f"2:{crypto.derived_key('rotation secret', 'field-encryption')}"
    settings.FIELD_ENCRYPTION_KEYS = [fresh, old]

    with pytest.raises(CommandError, match="not on the newest key v2"):
        call_command("rotate_keys", "--check", stdout=StringIO())
    out = StringIO()
    call_command("rotate_keys", stdout=out)
    assert "crm.Customer" in out.getvalue()
    call_command("rotate_keys", "--check", stdout=StringIO())  # nothing left on v1

    assert raw_column("crm_customer", "tax_id", customer.pk).startswith("v2:")
    with tenancy.tenant(outsider_org):  # row-level security shows its rows only inside it
        assert raw_column("crm_customer", "tax_id", other.pk).startswith("v2:")
    assert raw_column("crm_contact", "identity_number", customer.contacts.get().pk).startswith("v2:")
    assert raw_column("credit_financialstatement", "equity", statement.pk).startswith("v2:")

    settings.FIELD_ENCRYPTION_KEYS = [fresh]  # the old key is dropped
    assert Customer.objects.get(pk=customer.pk).bank_account == BANK
    assert FinancialStatement.objects.get(pk=statement.pk).equity == Decimal("2500000.00")
    again = StringIO()
    call_command("rotate_keys", stdout=again)
    assert "0 re-encrypted" in again.getvalue()


def test_rotate_keys_reindex_follows_a_new_blind_index_key(customer, settings):
    before = Customer.objects.get(pk=customer.pk).tax_id_index
    settings.BLIND_INDEX_KEY = "a brand new blind index key of enough length"
    call_command("rotate_keys", "--reindex", stdout=StringIO())
    after = Customer.objects.get(pk=customer.pk).tax_id_index
    assert after != before and after == crypto.blind_index(TAX_ID)


# --- Blind index: search and duplicates ---------------------------------------------------------


def test_the_blind_index_is_a_keyed_hash_of_the_normalized_value(customer):
    stored = Customer.objects.get(pk=customer.pk).tax_id_index
    assert stored == crypto.blind_index(TAX_ID) == crypto.blind_index(SPACED_TAX_ID)
    assert TAX_ID not in stored and len(stored) == 64


def test_exact_tax_id_search_finds_the_customer_through_the_api(customer, api):
    for query in (TAX_ID, SPACED_TAX_ID):
        found = api.get("/api/v1/customers/", {"search": query}).json()["results"]
        assert [c["id"] for c in found] == [customer.pk]
    # Never a partial match on a tax id.
    assert api.get("/api/v1/customers/", {"search": TAX_ID[:10]}).json()["results"] == []


def test_exact_tax_id_search_in_the_browser(customer, client, members):
    login(client, members["owner"])
    page = client.get("/customers/", {"q": SPACED_TAX_ID}).content.decode()
    assert "Sensitive Co" in page


def test_a_duplicate_tax_id_is_a_400_in_the_same_organization_only(customer, api, outsider_api):
    response = api.post(
        "/api/v1/customers/", {"name": "Copy", "country": "CN", "tax_id": SPACED_TAX_ID}, format="json"
    )
    assert response.status_code == 400 and "tax_id" in response.json()
    assert "Sensitive Co" in response.json()["tax_id"][0]
    # Another organization may hold the same tax id, and learns nothing of the first one.
    response = outsider_api.post(
        "/api/v1/customers/", {"name": "Theirs", "country": "CN", "tax_id": TAX_ID}, format="json"
    )
    assert response.status_code == 201


# --- Masking and the audit of unmasked views ----------------------------------------------------


def test_a_read_key_sees_masked_values_and_no_view_is_recorded(customer, read_api, org):
    body = read_api.get(f"/api/v1/customers/{customer.pk}/").json()
    assert body["tax_id"] == "••••••••••••••552L"
    assert body["bank_account"].endswith("7890") and BANK not in body["bank_account"]
    with tenancy.tenant(org):
        assert not AuditEvent.objects.filter(action="sensitive.viewed").exists()


def test_a_write_key_sees_the_values_and_each_view_is_an_audit_event_without_the_value(customer, api, org):
    body = api.get(f"/api/v1/customers/{customer.pk}/").json()
    assert (body["tax_id"], body["bank_account"]) == (TAX_ID, BANK)
    api.get("/api/v1/customers/")
    with tenancy.tenant(org):
        events = list(AuditEvent.objects.filter(action="sensitive.viewed", customer_id=customer.pk))
    assert len(events) == 2
    assert events[0].changes == {"fields": ["bank_account", "tax_id"]}
    assert TAX_ID not in str(events[0].changes) and BANK not in str(events[0].changes)


def test_contact_identity_numbers_are_masked_for_a_read_key(customer, read_api, api):
    contact = customer.contacts.get()
    assert read_api.get(f"/api/v1/contacts/{contact.pk}/").json()["identity_number"] == "••••••••••••••4477"
    assert api.get(f"/api/v1/contacts/{contact.pk}/").json()["identity_number"] == IDENTITY


def test_statement_figures_are_hidden_from_roles_that_may_not_see_them(
    customer, owner_actor, client, members
):
    statement_create(actor=owner_actor, customer=customer, **statement_figures())
    Customer.objects.filter(pk=customer.pk).update(owner=members["sales_rep"])
    login(client, members["sales_rep"])
    body = client.get("/api/v1/credit/statements/").json()["results"][0]
    assert body["total_assets"] is None and body["ratios"]["working_capital"] is None
    assert body["ratios"]["current_ratio"] is not None  # ratios stay: they reveal no amount
    client.logout()
    login(client, members["finance_manager"])
    body = client.get("/api/v1/credit/statements/").json()["results"][0]
    assert body["total_assets"] == "5000000.00"


def test_the_audit_diff_of_a_change_keeps_markers_never_values(customer, owner_actor):
    from crm.services import customer_update

    customer_update(actor=owner_actor, customer=customer, bank_account="6222 0000 1111 2222")
    event = AuditEvent.objects.filter(action="customer.updated").latest("id")
    assert event.changes["bank_account"] == ["••••7890", "••••2222"]
    assert "6222" not in str(event.changes)


def test_the_browser_masks_and_reveals_on_post_with_an_audit_event(customer, client, members, org):
    login(client, members["owner"])
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert TAX_ID not in page and BANK not in page and IDENTITY not in page
    assert "552L" in page and 'data-testid="show-tax_id"' in page

    url = f"/customers/{customer.pk}/sensitive/"
    assert client.get(url, {"field": "tax_id"}).status_code == 405  # never through a URL
    response = client.post(url, {"field": "tax_id"})
    assert response.status_code == 200 and TAX_ID in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    contact = customer.contacts.get()
    assert IDENTITY in client.post(url, {"field": "identity_number", "contact": contact.pk}).content.decode()
    assert client.post(url, {"field": "name"}).status_code == 400
    with tenancy.tenant(org):
        fields = [
            e.changes["fields"] for e in AuditEvent.objects.filter(action="sensitive.viewed").order_by("id")
        ]
    assert fields == [["tax_id"], ["identity_number"]]


def test_the_edit_form_never_holds_the_saved_value(customer, client, members):
    login(client, members["owner"])
    page = client.get(f"/customers/{customer.pk}/edit/").content.decode()
    assert TAX_ID not in page and BANK not in page and "552L" in page


def test_roles_without_the_right_see_masks_and_cannot_reveal(customer, client, members, org):
    Customer.objects.filter(pk=customer.pk).update(owner=members["sales_rep"])
    for role in ("sales_rep", "ar_clerk", "auditor"):
        client.logout()
        login(client, members[role])
        page = client.get(f"/customers/{customer.pk}/").content.decode()
        assert "552L" in page and TAX_ID not in page and 'data-testid="show-tax_id"' not in page
        response = client.post(f"/customers/{customer.pk}/sensitive/", {"field": "tax_id"})
        assert response.status_code == 403 and TAX_ID not in response.content.decode()
    with tenancy.tenant(org):
        assert not AuditEvent.objects.filter(action="sensitive.viewed").exists()


def test_an_outsider_cannot_reveal(customer, client, outsider):
    login(client, outsider)
    assert client.post(f"/customers/{customer.pk}/sensitive/", {"field": "tax_id"}).status_code == 404


# --- Who may set or change a sensitive value ----------------------------------------------------


def test_a_role_that_cannot_see_a_bank_account_cannot_change_it_either(customer, client, members):
    Customer.objects.filter(pk=customer.pk).update(owner=members["sales_rep"])
    login(client, members["sales_rep"])
    response = client.patch(
        f"/api/v1/customers/{customer.pk}/",
        {"bank_account": "9999 0000 1111 6666"},
        content_type="application/json",
    )
    assert response.status_code == 400 and "bank_account" in response.json()
    page = client.get(f"/customers/{customer.pk}/edit/").content.decode()
    assert 'name="bank_account"' not in page
    assert 'name="tax_id"' in page and "disabled" in page.split('name="tax_id"')[1].split(">")[0]
    client.post(f"/customers/{customer.pk}/edit/", {"name": "Sensitive Co", "bank_account": "9999 6666"})
    fresh = Customer.objects.get(pk=customer.pk)
    assert (fresh.bank_account, fresh.tax_id) == (BANK, TAX_ID)


def test_a_clerk_may_not_change_a_saved_tax_id_but_a_rep_may_enter_one_on_a_new_customer(
    customer, in_org, members
):
    from django.core.exceptions import ValidationError

    from crm.services import customer_update
    from tests.conftest import actor_for

    clerk = actor_for(in_org, members["ar_clerk"], "ar_clerk")
    with pytest.raises(ValidationError) as refused:
        customer_update(actor=clerk, customer=customer, tax_id="91310000775785561J")
    assert "tax_id" in refused.value.message_dict
    assert Customer.objects.get(pk=customer.pk).tax_id == TAX_ID
    rep = actor_for(in_org, members["sales_rep"], "sales_rep")
    created = customer_create(actor=rep, name="Rep's New Co", country="CN", tax_id="91310000775785561J")
    assert created.tax_id == "91310000775785561J"
    with pytest.raises(ValidationError):
        customer_create(actor=rep, name="Rep's Payee", bank_account="6222 1234")


def test_owners_and_write_keys_change_them(customer, api, owner_actor):
    from crm.services import customer_update

    customer_update(actor=owner_actor, customer=customer, bank_account="6222 0000 1111 2223")
    response = api.patch(f"/api/v1/customers/{customer.pk}/", {"bank_account": "6222 3333"}, format="json")
    assert response.status_code == 200 and response.json()["bank_account"] == "6222 3333"


def test_saving_the_form_unchanged_records_no_change(customer, client, members, owner_actor):
    from crm.services import customer_update

    customer_update(actor=owner_actor, customer=customer, billing_address="1 Bund Road\nShanghai")
    login(client, members["owner"])
    before = AuditEvent.objects.filter(action="customer.updated").count()
    page = client.get(f"/customers/{customer.pk}/edit/")
    assert page.status_code == 200
    form = {
        "name": "Sensitive Co",
        "country": "CN",
        "currency": "CNY",
        "billing_address": "1 Bund Road\r\nShanghai",
        "status": customer.status,
        "lifecycle_stage": customer.lifecycle_stage,
        "owner": members["owner"].pk,
    }
    response = client.post(f"/customers/{customer.pk}/edit/", form)
    assert response.status_code == 302, response.context["form"].errors
    assert Customer.objects.get(pk=customer.pk).billing_address == "1 Bund Road\nShanghai"
    assert AuditEvent.objects.filter(action="customer.updated").count() == before
