"""Statements: the balance arithmetic, the HTML page and PDF, the API, and the monthly email
delivered to a real local SMTP server."""

import datetime
import socket
from decimal import Decimal

import pytest
from aiosmtpd.controller import Controller

from finance import jobs, tenancy
from finance.actors import Actor
from receivables import services
from receivables.models import CustomerTerms, PaymentTerms, StatementSend
from receivables.statements import build_statement
from tests.conftest import login
from tests.factories import ContactFactory, CustomerFactory

pytestmark = pytest.mark.django_db
D = datetime.date


@pytest.fixture
def ledger(org):
    """Before the period: invoice 100. In October: invoice 200, payment 150, credit note 20."""
    customer = CustomerFactory(organization=org, name="华东机电", billing_address="上海市浦东新区")
    actor = Actor.system(org)
    with tenancy.tenant(org):
        services.invoice_create(
            actor=actor,
            customer=customer,
            number="I-1",
            currency="CNY",
            issue_date=D(2026, 9, 10),
            total="100.00",
        )
        services.invoice_create(
            actor=actor,
            customer=customer,
            number="I-2",
            currency="CNY",
            issue_date=D(2026, 10, 5),
            total="200.00",
        )
        services.payment_record(
            actor=actor,
            customer=customer,
            currency="CNY",
            received_on=D(2026, 10, 20),
            amount="150.00",
            reference="BANK-9",
        )
        services.credit_note_create(
            actor=actor,
            customer=customer,
            number="CN-1",
            currency="CNY",
            issue_date=D(2026, 10, 25),
            total="20.00",
        )
    return customer


def test_statement_balances_roll_forward(org, ledger):
    with tenancy.tenant(org):
        statement = build_statement(customer=ledger, date_from=D(2026, 10, 1), date_to=D(2026, 10, 31))
    (section,) = statement.sections
    assert section.opening == Decimal("100.00")
    assert [(line.reference, line.debit, line.credit, line.balance) for line in section.lines] == [
        ("I-2", Decimal("200.00"), 0, Decimal("300.00")),
        ("BANK-9", 0, Decimal("150.00"), Decimal("150.00")),
        ("CN-1", 0, Decimal("20.00"), Decimal("130.00")),
    ]
    assert section.closing == Decimal("130.00")
    # Open items as of the period end: I-1 paid by the auto-allocated payment, I-2 has 150 left.
    assert [(i.number, i.outstanding_as_of) for i in section.open_items] == [("I-2", Decimal("150.00"))]


def test_statement_page_pdf_and_api(client, api, org, members, ledger, outsider_api):
    login(client, members["ar_clerk"])
    page = client.get(f"/customers/{ledger.pk}/statement/", {"from": "2026-10-01", "to": "2026-10-31"})
    assert (
        page.status_code == 200 and "华东机电" in page.content.decode() and "130.00" in page.content.decode()
    )
    pdf = client.get(
        f"/customers/{ledger.pk}/statement/", {"from": "2026-10-01", "to": "2026-10-31", "format": "pdf"}
    )
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    api_pdf = api.get(
        f"/api/v1/customers/{ledger.pk}/statement.pdf", {"from": "2026-10-01", "to": "2026-10-31"}
    )
    assert api_pdf.status_code == 200 and api_pdf.content.startswith(b"%PDF")
    assert (
        api.get(
            f"/api/v1/customers/{ledger.pk}/statement.pdf", {"from": "2026-11-01", "to": "2026-10-01"}
        ).status_code
        == 400
    )
    assert api.get(f"/api/v1/customers/{ledger.pk}/statement.pdf", {"from": "junk"}).status_code == 400
    assert outsider_api.get(f"/api/v1/customers/{ledger.pk}/statement.pdf").status_code == 404


class _Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append(envelope)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield inbox
    controller.stop()


def test_monthly_statements_are_emailed_once_over_real_smtp(org, ledger, smtp_server):
    ContactFactory(customer=ledger, email="ap@huadong.example", is_billing=True, preferred_language="zh-hans")
    with tenancy.tenant(org):
        terms = PaymentTerms.objects.create(name="Net 30", days=30)
        CustomerTerms.objects.create(customer=ledger, terms=terms, statement_opt_in=True)
    assert jobs.job_run(organization=org, job_name="statements", run_date=D(2026, 11, 2)).result["skipped"]
    run = jobs.job_run(organization=org, job_name="statements", run_date=D(2026, 11, 1))
    assert run.result == {"sent": 1, "period": ["2026-10-01", "2026-10-31"]}
    jobs.job_run(organization=org, job_name="statements", run_date=D(2026, 11, 1), force=True)
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message.rcpt_tos == ["ap@huadong.example"]
    assert b"application/pdf" in message.content and b"statement-2026-10.pdf" in message.content
    with tenancy.tenant(org):
        assert StatementSend.objects.get().sent_at is not None
        assert ledger.interactions.filter(kind="email", summary__contains="2026-10-01").exists()


def test_a_failed_send_is_recorded_and_retried(org, ledger, settings):
    ContactFactory(customer=ledger, email="ap@huadong.example", is_billing=True)
    with tenancy.tenant(org):
        terms = PaymentTerms.objects.create(name="Net 30", days=30)
        CustomerTerms.objects.create(customer=ledger, terms=terms, statement_opt_in=True)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", _free_port(), 2
    with pytest.raises(RuntimeError):
        jobs.job_run(organization=org, job_name="statements", run_date=D(2026, 11, 1))
    with tenancy.tenant(org):
        record = StatementSend.objects.get()
    assert record.sent_at is None and record.error
