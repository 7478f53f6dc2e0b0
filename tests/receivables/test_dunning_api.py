"""`/api/v1/dunning-policies/` and `/api/v1/reminders/` (with `preview/`), as an ERP client, an admin
in the browser and an outsider use them."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from finance import tenancy
from finance.actors import Actor
from receivables import dunning, dunning_policies
from receivables.models import DunningLevel, DunningPolicy, Reminder
from tests.conftest import login
from tests.factories import CustomerFactory
from tests.receivables.test_dunning import RUN, customer_with_contact, invoice

pytestmark = pytest.mark.django_db

LEVELS = [
    {"name": "Nudge", "days": -2},
    {
        "name": "Late",
        "days": 10,
        "minimum_amount": "50.00",
        "create_task": True,
        "templates": {"en": {"subject": "{{ total }} overdue", "body": "{{ invoice_table }}"}},
    },
]


@pytest.fixture
def admin_api(org, members):
    return login(APIClient(), members["admin"])


def make_policy(org, name="Standard", **fields):
    with tenancy.tenant(org):
        return dunning_policies.policy_save(
            actor=Actor.system(org), name=name, levels=[{"name": "Late", "days": 5}], **fields
        )


def test_an_admin_creates_a_policy_with_levels_in_the_order_of_days(admin_api, org):
    response = admin_api.post(
        "/api/v1/dunning-policies/",
        {"name": "Key accounts", "customer_groups": ["Key"], "levels": list(reversed(LEVELS))},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert [(level["sequence"], level["name"]) for level in body["levels"]] == [(1, "Nudge"), (2, "Late")]
    assert body["levels"][1]["minimum_amount"] == "50.00"
    assert body["levels"][1]["templates"]["en"]["subject"] == "{{ total }} overdue"


def test_levels_keep_their_identity_when_edited(admin_api, org):
    policy = make_policy(org, is_default=True)
    with tenancy.tenant(org):
        level_id = policy.levels.get().pk
        customer = customer_with_contact(org)
        invoice(org, customer, "INV-1", RUN - datetime.timedelta(days=7))
        dunning.dunning_run(actor=Actor.system(org), run_date=RUN)
        assert Reminder.objects.filter(level_id=level_id).count() == 1
    response = admin_api.patch(
        f"/api/v1/dunning-policies/{policy.pk}/",
        {
            "levels": [
                {"id": level_id, "name": "Renamed", "days": 6},
                {"name": "Final", "days": 30, "stop": True},
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert [level["id"] for level in response.json()["levels"]][0] == level_id
    # A level used by reminders cannot be dropped.
    response = admin_api.patch(
        f"/api/v1/dunning-policies/{policy.pk}/", {"levels": [{"name": "Other", "days": 9}]}, format="json"
    )
    assert response.status_code == 400 and "levels" in response.json()
    with tenancy.tenant(org):
        assert DunningLevel.objects.filter(policy=policy).count() == 2
    assert admin_api.delete(f"/api/v1/dunning-policies/{policy.pk}/").status_code == 400


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "No levels"},
        {"name": "Empty levels", "levels": []},
        {"name": "Same days", "levels": [{"name": "A", "days": 5}, {"name": "B", "days": 5}]},
        {"name": "Bad channel", "levels": [{"name": "A", "days": 5, "channel": "pigeon"}]},
        {"name": "Bad days", "levels": [{"name": "A", "days": "soon"}]},
        {"name": "Too early", "levels": [{"name": "A", "days": -400}]},
        {
            "name": "Typo",
            "levels": [{"name": "A", "days": 5, "templates": {"en": {"subject": "x", "body": "{{ totl }}"}}}],
        },
        {
            "name": "Bad language",
            "levels": [{"name": "A", "days": 5, "templates": {"xx": {"subject": "x", "body": "y"}}}],
        },
        {"name": "Negative minimum", "levels": [{"name": "A", "days": 5, "minimum_amount": "-1"}]},
        {"name": "Fee without amount", "late_fee": "fixed", "levels": [{"name": "A", "days": 5}]},
        {"name": "Groups not a list", "customer_groups": "Key", "levels": [{"name": "A", "days": 5}]},
        {"name": "", "levels": [{"name": "A", "days": 5}]},
        {"name": "Standard", "levels": [{"name": "A", "days": 5}]},
    ],
)
def test_bad_policies_are_a_400_and_write_nothing(admin_api, org, payload):
    make_policy(org)
    response = admin_api.post("/api/v1/dunning-policies/", payload, format="json")
    assert response.status_code == 400, response.content
    assert isinstance(response.json(), dict)
    with tenancy.tenant(org):
        assert DunningPolicy.objects.count() == 1 and DunningLevel.objects.count() == 1


def test_integrators_read_policies_but_only_admins_write(api, read_api, org, members):
    policy = make_policy(org)
    assert read_api.get("/api/v1/dunning-policies/").json()["results"][0]["id"] == policy.pk
    assert (
        api.post("/api/v1/dunning-policies/", {"name": "X", "levels": LEVELS}, format="json").status_code
        == 403
    )
    manager = login(APIClient(), members["finance_manager"])
    assert (
        manager.patch(f"/api/v1/dunning-policies/{policy.pk}/", {"name": "Y"}, format="json").status_code
        == 403
    )


def test_another_organizations_policy_and_reminders_are_404(api, outsider_org, org):
    theirs = make_policy(outsider_org, is_default=True)
    customer = customer_with_contact(outsider_org)
    invoice(outsider_org, customer, "INV-1", RUN - datetime.timedelta(days=7))
    with tenancy.tenant(outsider_org):
        dunning.dunning_run(actor=Actor.system(outsider_org), run_date=RUN)
        reminder = Reminder.objects.get()
    assert api.get(f"/api/v1/dunning-policies/{theirs.pk}/").status_code == 404
    assert api.get(f"/api/v1/reminders/{reminder.pk}/").status_code == 404
    assert api.get("/api/v1/reminders/").json()["results"] == []
    assert api.get("/api/v1/reminders/preview/", {"date": RUN.isoformat()}).json()["messages"] == []


def test_reminders_list_filters_and_constant_queries(api, org):
    make_policy(org, is_default=True)
    for n in range(8):
        customer = customer_with_contact(org, name=f"C{n}", email=f"c{n}@x.example")
        invoice(org, customer, f"INV-{n}", RUN - datetime.timedelta(days=7))
    with tenancy.tenant(org):
        dunning.dunning_run(actor=Actor.system(org), run_date=RUN)
    body = api.get("/api/v1/reminders/", {"run_date": RUN.isoformat()}).json()
    assert len(body["results"]) == 8
    first = body["results"][0]
    assert first["status"] == "sent" and first["level_name"] == "Late" and first["outstanding"] == "500.00"
    assert api.get("/api/v1/reminders/", {"status": "failed"}).json()["results"] == []
    assert api.get("/api/v1/reminders/", {"customer": "junk"}).status_code == 400
    counts = []
    for size in (2, 8):
        with CaptureQueriesContext(connection) as queries:
            assert len(api.get("/api/v1/reminders/", {"page_size": size}).json()["results"]) == size
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_the_preview_api_is_a_dry_run(api, org, members):
    make_policy(org, is_default=True)
    mine = customer_with_contact(org, name="Mine", email="m@x.example", owner=members["sales_rep"])
    other = customer_with_contact(org, name="Other", email="o@x.example")
    invoice(org, mine, "INV-M", RUN - datetime.timedelta(days=7))
    invoice(org, other, "INV-O", RUN - datetime.timedelta(days=7))
    response = api.get("/api/v1/reminders/preview/", {"date": RUN.isoformat()})
    assert response.status_code == 200
    messages = response.json()["messages"]
    assert {m["customer_name"] for m in messages} == {"Mine", "Other"}
    assert messages[0]["invoices"][0]["outstanding"] == "500.00" and messages[0]["totals"] == {
        "CNY": "500.00"
    }
    with tenancy.tenant(org):
        assert Reminder.objects.count() == 0
    rep = login(APIClient(), members["sales_rep"])
    assert [
        m["customer_name"]
        for m in rep.get("/api/v1/reminders/preview/", {"date": RUN.isoformat()}).json()["messages"]
    ] == ["Mine"]
    assert api.get("/api/v1/reminders/preview/", {"date": "tomorrow"}).status_code == 400
    assert api.get("/api/v1/reminders/preview/").json()["run_date"]


def test_the_schema_lists_the_new_routes(api):
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    for path in ("/api/v1/dunning-policies/", "/api/v1/reminders/", "/api/v1/reminders/preview/"):
        assert path in schema["paths"]


def test_customers_without_policy_are_not_dunned(org):
    customer = CustomerFactory(organization=org, email="x@x.example")
    invoice(org, customer, "INV-1", RUN - datetime.timedelta(days=70))
    with tenancy.tenant(org):
        assert dunning.dunning_run(actor=Actor.system(org), run_date=RUN)["recorded"] == 0
