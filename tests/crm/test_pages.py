"""Browser pages through Django's test client: what a rep and a finance user do, bad input,
the outsider's 404, and list pages whose query count does not grow with their rows."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import Customer, FollowUp, Interaction
from finance import tenancy
from tests.conftest import login
from tests.factories import ContactFactory, CustomerFactory, FollowUpFactory, InteractionFactory

pytestmark = pytest.mark.django_db


def test_create_customer_validates_the_chinese_tax_id(client, org, members):
    login(client, members["finance_manager"])
    bad = client.post(
        "/customers/new/",
        {
            "name": "坏税号",
            "country": "CN",
            "currency": "CNY",
            "tax_id": "91310000775785551L",
            "lifecycle_stage": "prospect",
        },
    )
    assert bad.status_code == 400
    assert "tax_id" in bad.context["form"].errors
    with tenancy.tenant(org):
        assert not Customer.objects.exists()
    good = client.post(
        "/customers/new/",
        {
            "name": "好税号",
            "country": "CN",
            "currency": "CNY",
            "tax_id": "91310000775785552l",
            "lifecycle_stage": "prospect",
            "tags": "vip, 重点",
            "owner": members["finance_manager"].pk,
        },
    )
    assert good.status_code == 302
    with tenancy.tenant(org):
        customer = Customer.objects.get()
    assert customer.tax_id == "91310000775785552L"
    assert customer.tags == ["vip", "重点"]
    assert customer.owner == members["finance_manager"]


def test_rep_logs_an_interaction_with_a_next_action_which_becomes_a_follow_up(client, org, members):
    rep = members["sales_rep"]
    customer = CustomerFactory(organization=org, owner=rep)
    login(client, rep)
    page = client.get(f"/customers/{customer.pk}/")
    assert f'href="/customers/{customer.pk}/log/"'.encode() in page.content
    response = client.post(
        f"/customers/{customer.pk}/log/",
        {
            "kind": "visit",
            "summary": "Met the buyer",
            "next_action": "Send samples",
            "next_action_due": "2026-12-02",
        },
    )
    assert response.status_code == 302
    with tenancy.tenant(org):
        interaction = Interaction.objects.get()
        follow_up = FollowUp.objects.get()
    assert interaction.user == rep and interaction.kind == "visit"
    assert follow_up.assignee == rep and follow_up.due_date == datetime.date(2026, 12, 2)
    assert b"Met the buyer" in client.get(f"/customers/{customer.pk}/").content


def test_interaction_form_errors_write_nothing(client, org, members):
    customer = CustomerFactory(organization=org)
    login(client, members["owner"])
    response = client.post(f"/customers/{customer.pk}/log/", {"kind": "shout", "summary": ""})
    assert response.status_code == 400
    response = client.post(
        f"/customers/{customer.pk}/log/", {"kind": "call", "summary": "x", "next_action": "later"}
    )
    assert response.status_code == 400
    with tenancy.tenant(org):
        assert not Interaction.objects.exists()


def test_another_organizations_customer_pages_are_404(client, org, members, outsider_customer):
    login(client, members["owner"])
    for suffix in ["", "edit/", "log/", "contacts/new/", "follow-ups/new/", "audit/"]:
        assert client.get(f"/customers/{outsider_customer.pk}/{suffix}").status_code == 404, suffix
    assert client.post(f"/customers/{outsider_customer.pk}/archive/").status_code == 404
    assert client.get("/customers/99999999999999999999999999/").status_code == 404


def test_another_organizations_follow_up_cannot_be_completed(client, org, members, outsider_org):
    theirs = FollowUpFactory(customer=CustomerFactory(organization=outsider_org))
    login(client, members["owner"])
    assert client.post(f"/follow-ups/{theirs.pk}/done/").status_code == 404
    with tenancy.tenant(outsider_org):
        assert not FollowUp.objects.get().done


def test_follow_up_done_with_htmx_returns_the_row(client, org, members):
    rep = members["sales_rep"]
    follow_up = FollowUpFactory(customer=CustomerFactory(organization=org, owner=rep), assignee=rep)
    login(client, rep)
    response = client.post(f"/follow-ups/{follow_up.pk}/done/", {"done": "1"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert b"<s>" in response.content and b"<html" not in response.content
    with tenancy.tenant(org):
        assert FollowUp.objects.get().done


def test_follow_up_worklist_splits_overdue_today_upcoming(client, org, members):
    rep = members["sales_rep"]
    customer = CustomerFactory(organization=org, owner=rep)
    today = org.local_today()
    for delta, title in [(-2, "Late one"), (0, "Today one"), (3, "Soon one")]:
        FollowUpFactory(
            customer=customer, assignee=rep, title=title, due_date=today + datetime.timedelta(days=delta)
        )
    login(client, rep)
    buckets = client.get("/follow-ups/").context["buckets"]
    assert [f.title for f in buckets.overdue] == ["Late one"]
    assert [f.title for f in buckets.today] == ["Today one"]
    assert [f.title for f in buckets.upcoming] == ["Soon one"]


def test_customer_list_filters_and_searches(client, org, members):
    CustomerFactory(organization=org, name="上海华东机电", customer_group="Key", lifecycle_stage="loyal")
    CustomerFactory(organization=org, name="Northwind", customer_group="Export")
    login(client, members["owner"])
    names = lambda r: [c.name for c in r.context["page"]]  # noqa: E731
    assert names(client.get("/customers/", {"q": "华东"})) == ["上海华东机电"]
    assert names(client.get("/customers/", {"group": "Export"})) == ["Northwind"]
    assert names(client.get("/customers/", {"stage": "loyal"})) == ["上海华东机电"]
    partial = client.get("/customers/", {"q": "North"}, HTTP_HX_REQUEST="true")
    assert b"<html" not in partial.content and b"Northwind" in partial.content


def test_archive_and_restore(client, org, members):
    customer = CustomerFactory(organization=org)
    login(client, members["finance_manager"])
    client.post(f"/customers/{customer.pk}/archive/")
    with tenancy.tenant(org):
        assert Customer.objects.get().status == "archived"
    client.post(f"/customers/{customer.pk}/archive/", {"restore": "1"})
    with tenancy.tenant(org):
        assert Customer.objects.get().status == "active"


def _queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize(
    "url", ["/customers/", "/follow-ups/?scope=all", "/audit/", "/", "/settings/api-keys/"]
)
def test_list_pages_make_a_constant_number_of_queries(client, org, members, url):
    login(client, members["owner"])

    def add(n):
        for _ in range(n):
            customer = CustomerFactory(organization=org, owner=members["sales_rep"])
            ContactFactory(customer=customer)
            InteractionFactory(customer=customer, user=members["sales_rep"])
            FollowUpFactory(customer=customer, assignee=members["owner"])

    add(2)
    client.get(url)
    few = _queries(client, url)
    add(10)
    many = _queries(client, url)
    assert few == many, (url, few, many)


def test_customer_page_makes_a_constant_number_of_queries(client, org, members):
    customer = CustomerFactory(organization=org)
    login(client, members["owner"])
    url = f"/customers/{customer.pk}/"
    client.get(url)
    few = _queries(client, url)
    for _ in range(8):
        ContactFactory(customer=customer)
        InteractionFactory(customer=customer, user=members["owner"], contact=None)
        FollowUpFactory(customer=customer, assignee=members["owner"])
    assert _queries(client, url) == few
