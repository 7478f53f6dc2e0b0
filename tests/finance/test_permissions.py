"""The role table as a full matrix, and its enforcement in the API and the browser."""

import pytest

from finance.permissions import ACTIONS, PERMISSIONS, role_can
from tests.conftest import login
from tests.factories import CustomerFactory, MembershipFactory

# The expected matrix, written out independently of finance/permissions.py. Y = allowed.
# fmt: off
EXPECTED = {
    #                        owner admin fm  clerk rep  auditor api_read api_write
    "organization.view":      "Y     Y    Y   Y     Y    Y       Y        Y",
    "customer.view":          "Y     Y    Y   Y     Y    Y       Y        Y",
    "contact.view":           "Y     Y    Y   Y     Y    Y       Y        Y",
    "interaction.view":       "Y     Y    Y   Y     Y    Y       Y        Y",
    "followup.view":          "Y     Y    Y   Y     Y    Y       Y        Y",
    "customer.create":        "Y     Y    Y   Y     Y    -       -        Y",
    "customer.change":        "Y     Y    Y   Y     Y    -       -        Y",
    "contact.change":         "Y     Y    Y   Y     Y    -       -        Y",
    "interaction.log":        "Y     Y    Y   Y     Y    -       -        Y",
    "followup.change":        "Y     Y    Y   Y     Y    -       -        Y",
    "customer.archive":       "Y     Y    Y   -     -    -       -        Y",
    "customer.assign_owner":  "Y     Y    Y   -     -    -       -        Y",
    "customer.delete":        "Y     Y    -   -     -    -       -        -",
    "audit.view":             "Y     Y    -   -     -    Y       -        -",
    "apikey.manage":          "Y     Y    -   -     -    -       -        -",
    "jobs.run":               "Y     Y    Y   -     -    -       -        -",
    "receivables.view":       "Y     Y    Y   Y     Y    Y       Y        Y",
    "invoice.create":         "Y     Y    Y   Y     -    -       -        Y",
    "invoice.void":           "Y     Y    Y   Y     -    -       -        Y",
    "credit_note.create":     "Y     Y    Y   Y     -    -       -        Y",
    "payment.post":           "Y     Y    Y   Y     -    -       -        Y",
    "writeoff.request":       "Y     Y    Y   Y     -    -       -        Y",
    "writeoff.approve":       "Y     Y    Y   -     -    -       -        -",
    "exchange_rate.change":   "Y     Y    Y   Y     -    -       -        Y",
    "webhook.manage":         "Y     Y    -   -     -    -       -        Y",
    "collections.view":       "Y     Y    Y   Y     Y    Y       Y        Y",
    "dunning_policy.change":  "Y     Y    -   -     -    -       -        -",
    "promise.record":         "Y     Y    Y   Y     -    -       -        Y",
    "dispute.open":           "Y     Y    Y   Y     Y    -       -        Y",
    "dispute.resolve":        "Y     Y    Y   Y     -    -       -        Y",
    "collections.assign":     "Y     Y    Y   -     -    -       -        -",
    "collections.work":       "Y     Y    Y   Y     -    -       -        -",
    "credit.view":            "Y     Y    Y   Y     Y    Y       Y        Y",
    "credit.request":         "Y     Y    Y   Y     -    -       -        Y",
    "credit.approve":         "Y     Y    Y   -     -    -       -        -",
    "credit.manage":          "Y     Y    Y   -     -    -       -        -",
    "credit.policy":          "Y     Y    -   -     -    -       -        -",
    "credit.statement":       "Y     Y    Y   Y     -    -       -        Y",
    "credit.order":           "Y     Y    Y   Y     -    -       -        Y",
    "analytics.view":         "Y     Y    Y   Y     Y    Y       Y        Y",
    "analytics.portfolio":    "Y     Y    Y   Y     -    Y       Y        Y",
    "analytics.run":          "Y     Y    Y   -     -    -       -        -",
    "analytics.policy":       "Y     Y    Y   -     -    -       -        -",
    "experience.view":        "Y     Y    Y   Y     Y    Y       Y        Y",
    "survey.manage":          "Y     Y    Y   -     -    -       -        -",
    "survey.send":            "Y     Y    Y   Y     -    -       -        -",
    "feedback.change":        "Y     Y    Y   Y     Y    -       -        Y",
    "service.work":           "Y     Y    Y   Y     Y    -       -        Y",
    "service.policy":         "Y     Y    -   -     -    -       -        -",
    "loyalty.manage":         "Y     Y    Y   -     -    -       -        -",
    "loyalty.redeem":         "Y     Y    Y   Y     -    -       -        Y",
    "loyalty.adjust":         "Y     Y    Y   -     -    -       -        -",
    "education.change":       "Y     Y    Y   Y     Y    -       -        Y",
    "sensitive.view":         "Y     Y    Y   -     -    -       -        Y",
    "privacy.view":           "Y     Y    Y   -     -    Y       Y        Y",
    "privacy.export":         "Y     Y    Y   -     -    -       -        Y",
    "privacy.erase":          "Y     Y    -   -     -    -       -        -",
    "privacy.manage":         "Y     Y    -   -     -    -       -        -",
}
# fmt: on
ROLES = ["owner", "admin", "finance_manager", "ar_clerk", "sales_rep", "auditor", "api_read", "api_write"]


def test_the_matrix_covers_every_action_and_role():
    assert set(EXPECTED) == set(ACTIONS)
    assert set(PERMISSIONS) == set(ROLES)


@pytest.mark.parametrize("action", sorted(EXPECTED))
@pytest.mark.parametrize("role", ROLES)
def test_role_action(role, action):
    allowed = EXPECTED[action].split()[ROLES.index(role)] == "Y"
    assert role_can(role, action) is allowed


def test_unknown_roles_and_actions_are_denied():
    assert not role_can("owner", "customer.teleport")
    assert not role_can("superhero", "customer.view")


@pytest.mark.django_db
class TestEnforcement:
    def test_sales_rep_sees_only_own_customers_in_api_and_browser(self, client, org, members):
        rep = members["sales_rep"]
        mine = CustomerFactory(organization=org, owner=rep, name="Rep's own")
        other = CustomerFactory(organization=org, owner=members["owner"], name="Someone else's")
        login(client, rep)
        ids = {c["id"] for c in client.get("/api/v1/customers/").json()["results"]}
        assert ids == {mine.pk}
        assert client.get(f"/api/v1/customers/{other.pk}/").status_code == 404
        assert client.get(f"/customers/{other.pk}/").status_code == 404
        page = client.get("/customers/").content.decode()
        assert "Rep&#x27;s own" in page and "Someone else" not in page

    def test_auditor_reads_but_cannot_write(self, client, org, members):
        login(client, members["auditor"])
        assert client.get("/api/v1/customers/").status_code == 200
        response = client.post("/api/v1/customers/", {"name": "No"}, content_type="application/json")
        assert response.status_code == 403
        assert client.get("/customers/new/").status_code == 403
        assert client.get("/audit/").status_code == 200

    @pytest.mark.parametrize("role", ["finance_manager", "ar_clerk", "sales_rep"])
    def test_only_owner_and_admin_manage_api_keys(self, client, org, members, role):
        login(client, members[role])
        assert client.get("/settings/api-keys/").status_code == 403
        assert client.post("/settings/api-keys/", {"name": "x", "scopes": ["read"]}).status_code == 403

    def test_sales_rep_cannot_archive_or_read_the_audit_log(self, client, org, members):
        rep = members["sales_rep"]
        mine = CustomerFactory(organization=org, owner=rep)
        login(client, rep)
        assert client.post(f"/api/v1/customers/{mine.pk}/archive/").status_code == 403
        assert client.get("/api/v1/audit-events/").status_code == 403
        assert client.get("/audit/").status_code == 403

    def test_a_user_without_membership_sees_no_organization(self, client, db):
        from tests.factories import UserFactory

        login(client, UserFactory())
        assert client.get("/customers/").status_code == 403
        assert client.get("/api/v1/customers/").status_code == 403

    def test_anonymous_is_sent_to_login(self, client, db):
        response = client.get("/customers/")
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]

    def test_org_switcher_only_switches_to_own_memberships(self, client, org, members, outsider_org):
        owner = members["owner"]
        MembershipFactory(organization=outsider_org, user=owner, role="auditor")
        theirs = CustomerFactory(organization=outsider_org, name="Outsider customer")
        login(client, owner)
        assert client.get(f"/customers/{theirs.pk}/").status_code == 404
        client.post("/organization/switch/", {"organization": outsider_org.pk, "next": "/customers/"})
        assert client.get(f"/customers/{theirs.pk}/").status_code == 200
        assert client.get("/api/v1/organization/").json()["slug"] == "outsider"
        from tests.factories import OrganizationFactory

        foreign = OrganizationFactory()
        assert client.post("/organization/switch/", {"organization": foreign.pk}).status_code == 404
        assert client.post("/organization/switch/", {"organization": "x"}).status_code == 404
