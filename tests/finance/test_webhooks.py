"""Webhooks: registration rules, events after commit, HMAC signatures checked by a real local
HTTP receiver, retries when the receiver fails, idempotent overdue events."""

import datetime
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from finance import jobs, tenancy
from finance.models import WebhookDelivery
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


class Receiver:
    def __init__(self, fail_first: int = 0):
        self.requests = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                status = 500 if len(receiver.requests) <= receiver.fail_first else 204
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _register(api, url, events):
    response = api.post("/api/v1/webhooks/", {"url": url, "events": events}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_registration_rules(api, read_api):
    assert (
        api.post(
            "/api/v1/webhooks/", {"url": "http://example.com/x", "events": ["invoice.created"]}, format="json"
        ).status_code
        == 400
    )
    assert (
        api.post(
            "/api/v1/webhooks/", {"url": "https://example.com/x", "events": ["nope"]}, format="json"
        ).status_code
        == 400
    )
    assert (
        api.post(
            "/api/v1/webhooks/", {"url": "https://example.com/x", "events": []}, format="json"
        ).status_code
        == 400
    )
    assert read_api.get("/api/v1/webhooks/").status_code == 403
    created = _register(api, "https://erp.example.com/kehu", ["invoice.created", "invoice.paid"])
    assert len(created["secret"]) == 64
    listed = api.get("/api/v1/webhooks/").json()["results"]
    assert "secret" not in listed[0]


@pytest.mark.django_db(transaction=True)
def test_signed_events_after_commit(api, org, receiver):
    hook = _register(api, receiver.url, ["invoice.created", "invoice.paid", "payment.recorded"])
    customer = CustomerFactory(organization=org)
    invoice = api.post(
        "/api/v1/invoices/",
        {
            "customer": customer.pk,
            "number": "W-1",
            "currency": "CNY",
            "issue_date": "2026-01-01",
            "total": "10.00",
        },
        format="json",
    ).json()
    api.post(
        "/api/v1/payments/",
        {"customer": customer.pk, "currency": "CNY", "received_on": "2026-01-05", "amount": "10.00"},
        format="json",
    )
    events = [json.loads(body)["event"] for _headers, body in receiver.requests]
    assert events == ["invoice.created", "invoice.paid", "payment.recorded"]
    headers, body = receiver.requests[0]
    timestamp, signature = (part.split("=", 1)[1] for part in headers["Kehu-Signature"].split(","))
    expected = hmac.new(hook["secret"].encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(signature, expected)
    assert json.loads(body)["data"]["id"] == invoice["id"]
    deliveries = api.get(f"/api/v1/webhooks/{hook['id']}/deliveries/").json()["results"]
    assert {d["status"] for d in deliveries} == {"delivered"}


@pytest.mark.django_db(transaction=True)
def test_nothing_is_sent_for_a_rolled_back_request(api, org, receiver):
    _register(api, receiver.url, ["invoice.created"])
    customer = CustomerFactory(organization=org)
    response = api.post(
        "/api/v1/invoices/bulk/",
        {
            "items": [
                {
                    "external_id": "A",
                    "number": "A",
                    "customer": customer.pk,
                    "currency": "CNY",
                    "issue_date": "2026-01-01",
                    "total": "5",
                },
                {
                    "external_id": "B",
                    "number": "B",
                    "customer": customer.pk,
                    "currency": "CNY",
                    "issue_date": "2026-01-01",
                    "total": "-5",
                },
            ]
        },
        format="json",
    )
    assert response.status_code == 400
    assert receiver.requests == []
    with tenancy.tenant(org):
        assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_failed_delivery_is_retried_then_logged(api, org):
    failing = Receiver(fail_first=2)
    try:
        _register(api, failing.url, ["invoice.created"])
        customer = CustomerFactory(organization=org)
        from finance.celery import app

        app.conf.task_eager_propagates = False
        try:
            api.post(
                "/api/v1/invoices/",
                {
                    "customer": customer.pk,
                    "number": "R-1",
                    "currency": "CNY",
                    "issue_date": "2026-01-01",
                    "total": "1",
                },
                format="json",
            )
        finally:
            app.conf.task_eager_propagates = True
        assert len(failing.requests) == 3  # two 500s, then delivered by the retries
        with tenancy.tenant(org):
            delivery = WebhookDelivery.objects.get()
        assert delivery.status == "delivered" and delivery.attempts == 3
    finally:
        failing.close()


@pytest.mark.django_db(transaction=True)
def test_overdue_events_once_per_invoice(api, org, receiver):
    _register(api, receiver.url, ["invoice.overdue"])
    customer = CustomerFactory(organization=org)
    api.post(
        "/api/v1/invoices/",
        {
            "customer": customer.pk,
            "number": "O-1",
            "currency": "CNY",
            "issue_date": "2026-11-01",
            "due_date": "2026-11-20",
            "total": "9",
        },
        format="json",
    )
    day = datetime.date(2026, 11, 24)
    jobs.job_run(organization=org, job_name="overdue_events", run_date=day)
    jobs.job_run(organization=org, job_name="overdue_events", run_date=day + datetime.timedelta(days=1))
    assert [json.loads(b)["event"] for _h, b in receiver.requests] == ["invoice.overdue"]


def test_another_organizations_endpoints_are_invisible(api, outsider_api):
    hook = _register(api, "https://erp.example.com/kehu", ["invoice.created"])
    assert outsider_api.get(f"/api/v1/webhooks/{hook['id']}/").status_code == 404
    assert outsider_api.delete(f"/api/v1/webhooks/{hook['id']}/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_events_committed_after_the_tenant_block_still_reach_their_organization(api, org, receiver):
    from django.db import transaction

    from finance.actors import Actor
    from receivables.services import invoice_create

    _register(api, receiver.url, ["invoice.created"])
    customer = CustomerFactory(organization=org)
    with transaction.atomic():
        with tenancy.tenant(org):
            invoice_create(
                actor=Actor.system(org),
                customer=customer,
                number="T-1",
                currency="CNY",
                issue_date=datetime.date(2026, 1, 1),
                total="1.00",
            )
    assert [json.loads(b)["event"] for _h, b in receiver.requests] == ["invoice.created"]


# --- No calls into the worker's own network (SSRF) -------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.5/hook",
        "https://192.168.1.10/hook",
        "https://169.254.169.254/latest/meta-data/",  # cloud metadata
        "https://[::1]/hook",
        "https://[fd00::1]/hook",
        "https://0.0.0.0/hook",
    ],
)
def test_private_and_metadata_addresses_are_refused(api, url, settings):
    settings.WEBHOOKS_ALLOW_HTTP_LOCALHOST = False
    response = api.post("/api/v1/webhooks/", {"url": url, "events": ["invoice.created"]}, format="json")
    assert response.status_code == 400 and "url" in response.json()


def test_loopback_is_refused_in_production_mode(api, settings):
    settings.WEBHOOKS_ALLOW_HTTP_LOCALHOST = False
    for url in ("http://127.0.0.1:9/hook", "https://localhost/hook"):
        response = api.post("/api/v1/webhooks/", {"url": url, "events": ["invoice.created"]}, format="json")
        assert response.status_code == 400


def test_a_name_that_resolves_inside_is_refused_at_delivery_and_nothing_is_sent(monkeypatch, settings):
    from finance import webhooks

    settings.WEBHOOKS_ALLOW_HTTP_LOCALHOST = False
    monkeypatch.setattr(
        webhooks.socket, "getaddrinfo", lambda host, port, **kw: [(2, 1, 6, "", ("10.1.2.3", port))]
    )
    assert "non-public" in webhooks._refused_address("https://erp.example.com/hook")
    monkeypatch.setattr(
        webhooks.socket, "getaddrinfo", lambda host, port, **kw: [(2, 1, 6, "", ("93.184.215.14", port))]
    )
    assert webhooks._refused_address("https://erp.example.com/hook") is None


def test_redirects_are_not_followed(org, settings):
    from finance import webhooks
    from finance.actors import Actor

    class Redirecting(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Redirecting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with tenancy.tenant(org):
            endpoint = webhooks.endpoint_create(
                actor=Actor.system(org),
                url=f"http://127.0.0.1:{server.server_port}/hook",
                events=["invoice.created"],
            )
            delivery = WebhookDelivery.objects.create(
                organization=org, endpoint=endpoint, event="invoice.created", event_id="e-1", payload={}
            )
            assert webhooks.deliver(delivery) is False
            delivery.refresh_from_db()
        assert delivery.response_status == 302 and delivery.status != "delivered"
    finally:
        server.shutdown()
