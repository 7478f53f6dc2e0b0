"""Personal information rights: consents with history, export of everything Kehu holds about a
customer or contact, erasure that keeps the accounting records and says why, retention, the register."""

from __future__ import annotations

import datetime
import io
import json
import zipfile
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from analytics.models import CustomerAnalytics
from credit.models import CreditProfile, LimitRequest
from crm import privacy
from crm import services as crm_services
from crm.models import (
    Contact,
    ContactConsent,
    Customer,
    ErasureRequest,
    Interaction,
    ProcessingActivity,
    RetentionPolicy,
)
from experience.models import (
    FeedbackItem,
    PointsEntry,
    ServiceRequest,
    Survey,
    SurveyInvitation,
    SurveyResponse,
)
from finance import tenancy
from finance.actors import Actor
from finance.jobs import JOBS, job_run
from finance.models import AuditEvent
from receivables.models import Dispute, DunningLevel, DunningMessage, DunningPolicy, Invoice, Payment
from tests.conftest import actor_for, login
from tests.factories import ContactFactory, CustomerFactory, InteractionFactory

TODAY = datetime.date(2026, 3, 31)


def build_customer(org: Any, owner: Any = None, numbers: str = "INV") -> dict[str, Any]:
    """A customer with rows in every app: ledger, collections, credit, experience, analytics."""
    with tenancy.tenant(org):
        customer = CustomerFactory(
            organization=org,
            name="Wang Fang Trading",
            legal_name="王芳商行",
            email="fang@wang.test",
            phone="+86 21 5555 0101",
            notes="Fang prefers calls after 3pm",
            owner=owner,
        )
        contact = ContactFactory(
            organization=org,
            customer=customer,
            name="Wang Fang",
            email="fang@wang.test",
            phone="+86 138 0000 0001",
        )
        other = ContactFactory(organization=org, customer=customer, name="Li Lei", email="li@wang.test")
        InteractionFactory(
            organization=org, customer=customer, contact=contact, summary="Called Wang Fang about invoice"
        )
        invoices = [
            Invoice.objects.create(
                organization=org,
                customer=customer,
                number=f"{numbers}-{n}",
                currency="CNY",
                issue_date=datetime.date(2026, 3, n),
                due_date=datetime.date(2026, 4, n),
                total=Decimal("100.00"),
                description="Goods for Wang Fang",
            )
            for n in (1, 2)
        ]
        Payment.objects.create(
            organization=org,
            customer=customer,
            currency="CNY",
            received_on=datetime.date(2026, 3, 20),
            amount=Decimal("50.00"),
            reference="Transfer from Wang Fang",
        )
        Dispute.objects.create(
            organization=org,
            invoice=invoices[0],
            customer=customer,
            reason="pricing",
            description="Wang Fang says the price is wrong",
            opened_on=datetime.date(2026, 3, 5),
        )
        policy = DunningPolicy.objects.create(organization=org, name=f"Standard {numbers}")
        level = DunningLevel.objects.create(organization=org, policy=policy, sequence=1, name="First", days=1)
        DunningMessage.objects.create(
            organization=org,
            customer=customer,
            level=level,
            run_date=datetime.date(2026, 3, 10),
            channel="email",
            recipient="fang@wang.test",
            subject="Reminder",
            body="Dear Wang Fang, please pay.",
            totals={},
        )
        CreditProfile.objects.create(organization=org, customer=customer, notes="Wang Fang owns the firm")
        LimitRequest.objects.create(
            organization=org, customer=customer, requested_limit=Decimal("1000.00"), reason="Wang Fang asked"
        )
        survey = Survey.objects.create(organization=org, name=f"NPS {numbers}", kind="nps", trigger="manual")
        invitation = SurveyInvitation.objects.create(
            organization=org,
            survey=survey,
            customer=customer,
            contact=contact,
            email="fang@wang.test",
            token_hash=("x" if numbers == "INV" else "y") * 64,
            expires_at=timezone.now() + datetime.timedelta(days=5),
        )
        SurveyResponse.objects.create(
            organization=org,
            invitation=invitation,
            survey=survey,
            customer=customer,
            contact=contact,
            score=9,
            category="promoter",
            comment="Wang Fang here: great service",
        )
        FeedbackItem.objects.create(
            organization=org, customer=customer, summary="Fang likes delivery", detail="Wang Fang said so"
        )
        ServiceRequest.objects.create(
            organization=org,
            customer=customer,
            contact=contact,
            number="SR-1" if numbers == "INV" else f"SR-{numbers}",
            subject="Wang Fang's login",
            description="Call Wang Fang back",
        )
        PointsEntry.objects.create(
            organization=org,
            customer=customer,
            kind="earned",
            points=10,
            date=TODAY,
            reference=f"{numbers}-1",
        )
        CustomerAnalytics.objects.create(
            organization=org,
            customer=customer,
            run_date=TODAY,
            revenue_12m=Decimal("200.00"),
            cash_12m=Decimal("50.00"),
            overdue=Decimal("0"),
            action_value=Decimal("0"),
        )
    return {"customer": customer, "contact": contact, "other": other, "invoices": invoices}


@pytest.fixture
def subject(org: Any, members: dict[str, Any]) -> dict[str, Any]:
    return build_customer(org, owner=members["sales_rep"])


def _zip(content: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: json.loads(archive.read(name)) for name in archive.namelist()}


# --- Consents ---------------------------------------------------------------------------------------


def test_consent_history_is_kept_and_the_latest_decision_is_current(in_org, subject, owner_actor):
    contact = subject["contact"]
    privacy.consent_record(
        actor=owner_actor,
        contact=contact,
        purpose="marketing_email",
        lawful_basis="consent",
        granted=True,
        source="form",
    )
    privacy.consent_record(
        actor=owner_actor,
        contact=contact,
        purpose="marketing_email",
        lawful_basis="consent",
        granted=False,
        source="email",
        note="Unsubscribed",
    )
    privacy.consent_record(
        actor=owner_actor,
        contact=contact,
        purpose="surveys",
        lawful_basis="legitimate_interests",
        granted=True,
        source="phone",
    )
    current = {c.purpose: c.granted for c in privacy.consents_current(contact)}
    assert current == {"marketing_email": False, "surveys": True}
    assert privacy.consent_history(contact).count() == 3
    assert AuditEvent.objects.filter(action="privacy.consent_recorded").count() == 3


def test_consent_with_a_bad_purpose_is_refused_and_nothing_is_written(in_org, subject, owner_actor):
    with pytest.raises(ValidationError):
        privacy.consent_record(
            actor=owner_actor,
            contact=subject["contact"],
            purpose="spam",
            lawful_basis="consent",
            granted=True,
            source="form",
        )
    assert ContactConsent.objects.count() == 0


def test_an_auditor_cannot_record_a_consent(in_org, subject, members, org):
    auditor = actor_for(org, members["auditor"], "auditor")
    with pytest.raises(PermissionDenied):
        privacy.consent_record(
            actor=auditor,
            contact=subject["contact"],
            purpose="surveys",
            lawful_basis="consent",
            granted=True,
            source="form",
        )


# --- Export -----------------------------------------------------------------------------------------


def test_customer_export_holds_rows_from_every_app(in_org, subject, owner_actor):
    files = _zip(privacy.privacy_export(actor=owner_actor, customer=subject["customer"]))
    manifest = files["manifest.json"]
    assert manifest["subject"] == {
        "type": "customer",
        "id": subject["customer"].pk,
        "customer_id": subject["customer"].pk,
    }
    assert {s["file"] for s in manifest["sections"]} | {"manifest.json"} == set(files)
    assert files["crm.customer.json"]["email"] == "fang@wang.test"
    assert {c["name"] for c in files["crm.contacts.json"]} == {"Wang Fang", "Li Lei"}
    assert files["crm.interactions.json"][0]["summary"] == "Called Wang Fang about invoice"
    ledger = files["receivables.ledger.json"]
    assert {i["number"] for i in ledger["invoices"]} == {"INV-1", "INV-2"}
    assert ledger["invoices"][0]["total"] == "100.00"  # Decimals as strings
    assert ledger["invoices"][0]["issue_date"] == "2026-03-01"  # dates ISO
    assert ledger["payments"][0]["reference"] == "Transfer from Wang Fang"
    assert files["receivables.collections.json"]["disputes"][0]["description"].startswith("Wang Fang")
    assert (
        files["receivables.collections.json"]["dunning_letters"][0]["body"] == "Dear Wang Fang, please pay."
    )
    assert files["credit.assessment.json"]["profile"][0]["notes"] == "Wang Fang owns the firm"
    assert files["credit.assessment.json"]["limit_requests"][0]["requested_limit"] == "1000.00"
    assert files["experience.surveys.json"]["responses"][0]["comment"] == "Wang Fang here: great service"
    assert "token_hash" not in files["experience.surveys.json"]["invitations"][0]
    assert files["experience.surveys.json"]["feedback"][0]["detail"] == "Wang Fang said so"
    assert files["experience.service.json"]["service_requests"][0]["number"] == "SR-1"
    assert files["experience.loyalty.json"]["points_ledger"][0]["points"] == 10
    assert files["analytics.figures.json"]["customer_analytics"][0]["revenue_12m"] == "200.00"
    assert files["finance.audit_events.json"] == []  # none yet: the export itself is recorded after
    assert (
        AuditEvent.objects.filter(action="privacy.exported", customer_id=subject["customer"].pk).count() == 1
    )


def test_contact_export_holds_only_that_contacts_data(in_org, subject, owner_actor):
    files = _zip(privacy.privacy_export(actor=owner_actor, contact=subject["other"]))
    assert [c["name"] for c in files["crm.contacts.json"]] == ["Li Lei"]
    assert files["crm.interactions.json"] == []
    assert files["receivables.ledger.json"] == {}
    files = _zip(privacy.privacy_export(actor=owner_actor, contact=subject["contact"]))
    assert files["experience.surveys.json"]["responses"][0]["comment"].startswith("Wang Fang")
    assert files["receivables.collections.json"]["dunning_letters"][0]["recipient"] == "fang@wang.test"


def test_a_sales_rep_cannot_export(in_org, subject, rep_actor):
    with pytest.raises(PermissionDenied):
        privacy.privacy_export(actor=rep_actor, customer=subject["customer"])


# --- Erasure ----------------------------------------------------------------------------------------


def test_erasing_a_customer_anonymises_everywhere_and_keeps_the_ledger_saying_why(
    in_org, subject, owner_actor
):
    customer = subject["customer"]
    crm_services.customer_update(actor=owner_actor, customer=customer, notes="Fang prefers calls after 4pm")
    erasure = privacy.privacy_erase(actor=owner_actor, customer=customer, reason="Email of 2026-03-30")
    customer.refresh_from_db()
    assert customer.name == f"Erased customer #{customer.pk}"
    assert (customer.email, customer.phone, customer.notes) == ("", "", "")
    assert customer.status == "archived"
    assert customer.legal_name == "王芳商行"  # the counterparty of the retained invoices
    for contact in Contact.objects.filter(customer=customer):
        assert contact.name.startswith("Erased contact #")
        assert (contact.email, contact.phone) == ("", "")
    assert Interaction.objects.get().summary == privacy.ERASED
    assert Dispute.objects.get().description == ""
    assert DunningMessage.objects.get().body == ""
    assert CreditProfile.objects.get().notes == ""
    assert LimitRequest.objects.get().reason == privacy.ERASED
    response = SurveyResponse.objects.get()
    assert (response.comment, response.score) == ("", 9)
    assert SurveyInvitation.objects.get().email == ""
    assert FeedbackItem.objects.get().detail == ""
    assert ServiceRequest.objects.get().description == ""
    # The ledger is kept, untouched.
    assert Invoice.objects.filter(customer=customer).count() == 2
    assert Invoice.objects.get(number="INV-1").description == "Goods for Wang Fang"
    assert Payment.objects.get().amount == Decimal("50.00")
    assert PointsEntry.objects.count() == 1
    kept = {entry["label"]: entry for entry in erasure.result["kept"]}
    assert kept["invoices"]["count"] == 2
    assert kept["invoices"]["kept_until"] == "2036-03-02"
    assert (
        kept["invoices"]["text"] == "2 invoices kept until 2036-03-02: accounting records, retention 10 years"
    )
    assert kept["payments"]["kept_until"] == "2036-03-20"
    assert "audit events" in kept and "tamper-evident" in kept["audit events"]["reason"]
    assert "loyalty points entries" in kept and "analytics figures" in kept
    assert erasure.status == "completed" and erasure.reason == "Email of 2026-03-30"
    assert AuditEvent.objects.filter(action="privacy.erased").count() == 1


def test_erasure_follows_the_organizations_retention_policy(in_org, subject, owner_actor):
    privacy.retention_policy_set(
        actor=owner_actor, document_type="invoice", years=30, note="会计档案管理办法"
    )
    erasure = privacy.privacy_erase(actor=owner_actor, customer=subject["customer"])
    invoices = next(e for e in erasure.result["kept"] if e["label"] == "invoices")
    assert invoices["kept_until"] == "2056-03-02"
    assert invoices["reason"] == "accounting records, retention 30 years"


def test_erasure_is_idempotent(in_org, subject, owner_actor):
    first = privacy.privacy_erase(actor=owner_actor, customer=subject["customer"])
    audit_count = AuditEvent.objects.count()
    second = privacy.privacy_erase(actor=owner_actor, customer=subject["customer"])
    assert second.pk == first.pk
    assert ErasureRequest.objects.count() == 1
    assert all(entry["changed"] == 0 for entry in second.result["anonymised"])
    assert AuditEvent.objects.count() == audit_count


def test_erasure_never_changes_audit_events(in_org, subject, owner_actor):
    privacy.consent_record(
        actor=owner_actor,
        contact=subject["contact"],
        purpose="surveys",
        lawful_basis="consent",
        granted=True,
        source="form",
    )
    before = list(AuditEvent.objects.order_by("pk").values())
    privacy.privacy_erase(actor=owner_actor, customer=subject["customer"])
    after = list(AuditEvent.objects.order_by("pk").values())
    assert after[: len(before)] == before


def test_erasing_one_contact_leaves_the_others_and_the_customer(in_org, subject, owner_actor):
    erasure = privacy.privacy_erase(actor=owner_actor, contact=subject["contact"])
    subject["contact"].refresh_from_db()
    subject["other"].refresh_from_db()
    subject["customer"].refresh_from_db()
    assert subject["contact"].email == ""
    assert subject["other"].name == "Li Lei"
    assert subject["customer"].name == "Wang Fang Trading"
    assert DunningMessage.objects.get().recipient == ""  # sent to the contact's address
    assert SurveyResponse.objects.get().comment == ""
    assert Invoice.objects.get(number="INV-1").description == "Goods for Wang Fang"
    assert erasure.result["subject"] == "contact"
    assert privacy.is_erased(contact=subject["contact"]) and not privacy.is_erased(contact=subject["other"])


def test_the_erasure_preview_changes_nothing(in_org, subject, owner_actor):
    entries = privacy.privacy_erase_preview(actor=owner_actor, customer=subject["customer"])
    assert any(e["status"] == "kept" and e["label"] == "invoices" for e in entries)
    assert Customer.objects.get().name == "Wang Fang Trading"
    assert ErasureRequest.objects.count() == 0


def test_only_owners_and_admins_erase(in_org, subject, org, members):
    for role in ("finance_manager", "ar_clerk", "sales_rep", "auditor"):
        with pytest.raises(PermissionDenied):
            privacy.privacy_erase(actor=actor_for(org, members[role], role), customer=subject["customer"])


def test_erasure_needs_exactly_one_subject(in_org, subject, owner_actor):
    with pytest.raises(ValidationError):
        privacy.privacy_erase(actor=owner_actor)
    with pytest.raises(ValidationError):
        privacy.privacy_erase(actor=owner_actor, customer=subject["customer"], contact=subject["contact"])


# --- Retention --------------------------------------------------------------------------------------


def test_retention_deletes_only_what_is_past_its_period_and_is_idempotent(org, subject, owner_actor):
    with tenancy.tenant(org):
        customer = subject["customer"]
        old = InteractionFactory(organization=org, customer=customer, summary="Old call")
        Interaction.objects.filter(pk=old.pk).update(
            occurred_at=timezone.now() - datetime.timedelta(days=365 * 3)
        )
        privacy.retention_policy_set(actor=owner_actor, document_type="interaction", years=2)
        first = privacy.retention_apply(organization=org, today=timezone.localdate())
        assert first["crm.interactions"] == 1
        assert list(Interaction.objects.values_list("summary", flat=True)) == [
            "Called Wang Fang about invoice"
        ]
        assert privacy.retention_apply(organization=org, today=timezone.localdate()) == dict.fromkeys(
            first, 0
        )


def test_retention_clears_free_text_of_erased_customers_past_the_period_only(org, subject, owner_actor):
    with tenancy.tenant(org):
        kept_customer = build_customer(org, numbers="KEPT")["customer"]
        privacy.privacy_erase(actor=owner_actor, customer=subject["customer"])
        counts = privacy.retention_apply(organization=org, today=datetime.date(2036, 3, 2))
        assert counts["receivables.invoices"] == 1  # INV-1 of 2026-03-01 is past; INV-2 is not
        assert Invoice.objects.get(customer=subject["customer"], number="INV-1").description == ""
        assert (
            Invoice.objects.get(customer=subject["customer"], number="INV-2").description
            == "Goods for Wang Fang"
        )
        assert all(i.description for i in Invoice.objects.filter(customer=kept_customer))
        assert Invoice.objects.count() == 4  # nothing deleted
        again = privacy.retention_apply(organization=org, today=datetime.date(2036, 3, 2))
        assert not any(again.values())


def test_retention_runs_as_a_daily_job(org, subject):
    assert "privacy_retention" in JOBS
    with tenancy.tenant(org):
        Interaction.objects.update(occurred_at=timezone.now() - datetime.timedelta(days=365 * 11))
    run = job_run(organization=org, job_name="privacy_retention", run_date=timezone.localdate())
    assert run.status == "done"
    assert run.result["crm.interactions"] == 1


# --- The register -----------------------------------------------------------------------------------


def test_the_demo_register_is_seeded_once(org):
    privacy.seed(org)
    privacy.seed(org)
    with tenancy.tenant(org):
        assert ProcessingActivity.objects.count() == len(privacy.DEFAULT_REGISTER)


def test_activity_names_are_unique_per_organization(in_org, owner_actor, outsider_org):
    fields = dict(privacy.DEFAULT_REGISTER[0])
    privacy.processing_activity_save(actor=owner_actor, **fields)
    with pytest.raises(ValidationError):
        privacy.processing_activity_save(actor=owner_actor, **fields)
    assert ProcessingActivity.objects.count() == 1
    with tenancy.tenant(outsider_org):
        privacy.processing_activity_save(actor=Actor.system(outsider_org), **fields)


def test_retention_years_must_be_sensible(in_org, owner_actor):
    with pytest.raises(ValidationError):
        privacy.retention_policy_set(actor=owner_actor, document_type="invoice", years=0)
    with pytest.raises(ValidationError):
        privacy.retention_policy_set(actor=owner_actor, document_type="nonsense", years=5)
    assert RetentionPolicy.objects.count() == 0
    assert privacy.retention_years("invoice") == 10


# --- Pages ------------------------------------------------------------------------------------------


def test_customer_page_shows_the_privacy_panel_and_consents(client, org, subject, members, owner_actor):
    with tenancy.tenant(org):
        privacy.consent_record(
            actor=owner_actor,
            contact=subject["contact"],
            purpose="surveys",
            lawful_basis="consent",
            granted=True,
            source="form",
        )
    login(client, members["sales_rep"])
    page = client.get(reverse("customer-detail", args=[subject["customer"].pk]))
    assert page.status_code == 200
    assert 'data-panel="privacy"' in page.content.decode()
    page = client.get(reverse("contact-privacy", args=[subject["customer"].pk, subject["contact"].pk]))
    assert "Satisfaction surveys" in page.content.decode()


def test_recording_a_consent_in_the_browser(client, org, subject, members):
    login(client, members["sales_rep"])
    url = reverse("contact-privacy", args=[subject["customer"].pk, subject["contact"].pk])
    response = client.post(
        url,
        {
            "purpose": "phone_calls",
            "lawful_basis": "consent",
            "granted": "false",
            "source": "phone",
            "note": "No calls",
        },
    )
    assert response.status_code == 302
    bad = client.post(
        url, {"purpose": "phone_calls", "lawful_basis": "magic", "granted": "true", "source": "phone"}
    )
    assert bad.status_code == 400
    with tenancy.tenant(org):
        consent = ContactConsent.objects.get()
        assert (consent.purpose, consent.granted, consent.recorded_by) == (
            "phone_calls",
            False,
            members["sales_rep"],
        )


def test_export_button_downloads_a_zip(client, subject, members):
    login(client, members["finance_manager"])
    response = client.post(reverse("customer-privacy-export", args=[subject["customer"].pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "manifest.json" in _zip(response.content)


def test_erase_confirmation_shows_what_is_kept_then_erased_data_is_gone_from_pages(
    client, org, subject, members
):
    login(client, members["owner"])
    customer = subject["customer"]
    url = reverse("customer-privacy-erase", args=[customer.pk])
    page = client.get(url).content.decode()
    assert "2 invoices kept until 2036-03-02: accounting records, retention 10 years" in page
    assert client.post(url, {"reason": "request"}).status_code == 400  # not confirmed
    with tenancy.tenant(org):
        assert Customer.objects.get(pk=customer.pk).name == "Wang Fang Trading"
    response = client.post(url, {"reason": "request", "confirm": "on"})
    assert response.status_code == 302
    result = client.get(response["Location"]).content.decode()
    assert "accounting records" in result
    for page_url in (
        reverse("customer-detail", args=[customer.pk]),
        reverse("customers") + "?status=archived",
        reverse("customer-privacy", args=[customer.pk]),
    ):
        html = client.get(page_url).content.decode()
        for personal in ("Wang Fang", "fang@wang.test", "Li Lei", "5555 0101"):
            assert personal not in html, (page_url, personal)


def test_register_page_and_csv(client, org, members):
    privacy.seed(org)
    login(client, members["auditor"])
    page = client.get(reverse("privacy-register")).content.decode()
    assert (
        "Invoicing and receivables" in page and "Interactions older than the retention are deleted." in page
    )
    csv = client.get(reverse("privacy-register-csv"))
    assert csv.status_code == 200 and "Credit assessment" in csv.content.decode()
    assert client.get(reverse("privacy-activity-create")).status_code == 403  # auditors only read


def test_admin_edits_the_register_and_retention_in_the_browser(client, org, members):
    login(client, members["admin"])
    fields = dict(privacy.DEFAULT_REGISTER[0])
    assert client.post(reverse("privacy-activity-create"), fields).status_code == 302
    assert client.post(reverse("privacy-activity-create"), fields).status_code == 400  # duplicate name
    assert (
        client.post(reverse("privacy-retention"), {"document_type": "invoice", "years": "0"}).status_code
        == 400
    )
    assert (
        client.post(reverse("privacy-retention"), {"document_type": "invoice", "years": "15"}).status_code
        == 302
    )
    with tenancy.tenant(org):
        assert ProcessingActivity.objects.count() == 1
        assert privacy.retention_years("invoice") == 15


def test_an_outsider_gets_404_on_every_privacy_page(client, subject, outsider):
    login(client, outsider)
    customer, contact = subject["customer"], subject["contact"]
    for url in (
        reverse("customer-privacy", args=[customer.pk]),
        reverse("contact-privacy", args=[customer.pk, contact.pk]),
        reverse("customer-privacy-erase", args=[customer.pk]),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("customer-privacy-export", args=[customer.pk])).status_code == 404


def test_a_rep_cannot_see_another_reps_customer_privacy_page(client, org, members):
    other = build_customer(org, owner=members["owner"])
    login(client, members["sales_rep"])
    assert client.get(reverse("customer-privacy", args=[other["customer"].pk])).status_code == 404
