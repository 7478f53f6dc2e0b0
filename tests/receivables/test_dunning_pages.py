"""The dunning pages: policies and past runs, the policy editor with its live template preview,
tomorrow's run preview and one run's messages."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from finance import tenancy
from finance.actors import Actor
from receivables import dunning, dunning_policies
from receivables.models import DunningLevel, DunningPolicy
from tests.conftest import login
from tests.receivables.test_dunning import RUN, customer_with_contact, invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def policy(org):
    with tenancy.tenant(org):
        return dunning_policies.policy_create_recommended(actor=Actor.system(org))


def editor_post(policy_fields, levels):
    data = {
        "levels-TOTAL_FORMS": str(len(levels)),
        "levels-INITIAL_FORMS": "0",
        "levels-MIN_NUM_FORMS": "0",
        "levels-MAX_NUM_FORMS": "20",
        "name": "Editor",
        "priority": "10",
        "grace_days_after_payment": "3",
        "promise_grace_days": "2",
        "late_fee": "none",
        "late_fee_amount": "0",
        "late_fee_annual_rate": "0",
        **policy_fields,
    }
    for n, level in enumerate(levels):
        defaults = {"channel": "email", "minimum_amount": "0", "pay_within_days": "7", "send": "on"}
        data.update({f"levels-{n}-{key}": value for key, value in {**defaults, **level}.items()})
    return data


@pytest.mark.parametrize("role", ["owner", "finance_manager", "ar_clerk", "sales_rep", "auditor"])
def test_every_viewer_sees_the_pages(client, org, members, policy, role):
    login(client, members[role])
    for url in (
        "/receivables/dunning/",
        "/receivables/dunning/preview/",
        f"/receivables/dunning/policies/{policy.pk}/",
        f"/receivables/dunning/runs/{RUN.isoformat()}/",
    ):
        assert client.get(url).status_code == 200, url


def test_only_admins_create_or_change_policies(client, org, members, policy):
    login(client, members["finance_manager"])
    assert client.get("/receivables/dunning/policies/new/").status_code == 403
    assert client.post(f"/receivables/dunning/policies/{policy.pk}/", {}).status_code == 403
    assert client.post("/receivables/dunning/policies/recommended/").status_code == 403


def test_an_admin_builds_a_policy_in_the_editor(client, org, members):
    login(client, members["admin"])
    response = client.get("/receivables/dunning/")
    assert b"create-recommended" in response.content
    data = editor_post(
        {"customer_groups": "Key, 重点客户", "is_default": "on"},
        [
            {
                "name": "Late",
                "days": "10",
                "subject_en": "{{ total }} overdue",
                "body_en": "{{ invoice_table }}",
            },
            {"name": "Nudge", "days": "-2"},
        ],
    )
    response = client.post("/receivables/dunning/policies/new/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    with tenancy.tenant(org):
        policy = DunningPolicy.objects.get(name="Editor")
        assert policy.customer_groups == ["Key", "重点客户"] and policy.is_default
        assert list(policy.levels.values_list("name", "days")) == [("Nudge", -2), ("Late", 10)]
        assert policy.levels.get(name="Late").templates == {
            "en": {"subject": "{{ total }} overdue", "body": "{{ invoice_table }}"}
        }
    page = client.get(f"/receivables/dunning/policies/{policy.pk}/")
    assert "{{ total }} overdue" in page.content.decode()


def test_editor_errors_rerender_with_messages_and_write_nothing(client, org, members):
    login(client, members["admin"])
    bad = editor_post({}, [{"name": "Late", "days": "10", "subject_en": "Hi", "body_en": "{{ totl }}"}])
    response = client.post("/receivables/dunning/policies/new/", bad)
    assert response.status_code == 400 and "totl" in response.content.decode()
    same_days = editor_post({}, [{"name": "A", "days": "5"}, {"name": "B", "days": "5"}])
    assert client.post("/receivables/dunning/policies/new/", same_days).status_code == 400
    junk = editor_post({"priority": "many"}, [{"name": "A", "days": "soon"}])
    assert client.post("/receivables/dunning/policies/new/", junk).status_code == 400
    with tenancy.tenant(org):
        assert DunningPolicy.objects.count() == 0 and DunningLevel.objects.count() == 0


def test_live_template_preview_over_a_real_customer(client, org, members, policy):
    customer = customer_with_contact(org, name="华东机电")
    invoice(org, customer, "INV-77", RUN - datetime.timedelta(days=10))
    login(client, members["ar_clerk"])
    response = client.post(
        "/receivables/dunning/template-preview/",
        {
            "prefix": "levels-0",
            "language": "en",
            "customer": customer.pk,
            "levels-0-name": "Late",
            "levels-0-days": "10",
            "levels-0-subject_en": "Hello {{ customer_name }}",
            "levels-0-body_en": "<b>{{ contact_name }}</b> {{ invoice_table }} {{ total }}",
        },
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "Hello 华东机电" in body and "INV-77" in body and "500.00 CNY" in body
    assert "&lt;b&gt;" in body  # the template's own markup is escaped
    typo = client.post(
        "/receivables/dunning/template-preview/",
        {"language": "en", "customer": customer.pk, "subject": "x", "body": "{{ nope }}"},
    )
    assert typo.status_code == 400 and "nope" in typo.content.decode()
    assert (
        client.post("/receivables/dunning/template-preview/", {"language": "en", "customer": "x"}).status_code
        == 400
    )


def test_another_organizations_customer_cannot_be_previewed(client, org, outsider_org, members, policy):
    theirs = customer_with_contact(outsider_org, name="Secret Co")
    login(client, members["admin"])
    response = client.post(
        "/receivables/dunning/template-preview/",
        {"language": "en", "customer": theirs.pk, "subject": "x", "body": "y"},
    )
    assert response.status_code == 400 and "Secret Co" not in response.content.decode()


def test_preview_and_run_pages_show_the_reminders(client, org, members, policy):
    customer = customer_with_contact(org)
    invoice(org, customer, "INV-1", RUN - datetime.timedelta(days=10))
    login(client, members["finance_manager"])
    preview = client.get("/receivables/dunning/preview/", {"date": RUN.isoformat()})
    assert 'data-invoice="INV-1"' in preview.content.decode()
    assert client.get("/receivables/dunning/preview/", {"date": "junk"}).status_code == 400
    with tenancy.tenant(org):
        dunning.dunning_run(actor=Actor.system(org), run_date=RUN)
    assert (
        'data-invoice="INV-1"'
        not in client.get("/receivables/dunning/preview/", {"date": RUN.isoformat()}).content.decode()
    )
    overview = client.get("/receivables/dunning/").content.decode()
    assert RUN.isoformat() in overview
    run_page = client.get(f"/receivables/dunning/runs/{RUN.isoformat()}/").content.decode()
    assert customer.name in run_page and "First reminder" in run_page
    assert client.get("/receivables/dunning/runs/not-a-date/").status_code == 404


def test_pages_make_a_constant_number_of_queries(client, org, members, policy):
    login(client, members["finance_manager"])

    def queries(url, params=None):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url, params or {}).status_code == 200
        return len(captured)

    counts = []
    for n in (2, 12):
        for k in range(n - (2 if n == 12 else 0)):
            customer = customer_with_contact(org, name=f"C{n}-{k}", email=f"c{n}{k}@x.example")
            invoice(org, customer, f"INV-{n}-{k}", RUN - datetime.timedelta(days=10))
        with tenancy.tenant(org):
            dunning.dunning_run(actor=Actor.system(org), run_date=RUN - datetime.timedelta(days=n))
        counts.append(
            (
                queries("/receivables/dunning/preview/", {"date": RUN.isoformat()}),
                queries("/receivables/dunning/"),
            )
        )
    assert counts[0] == counts[1], counts
