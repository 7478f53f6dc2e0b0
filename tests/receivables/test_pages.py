"""Receivables pages through Django's test client: who may see and do what, recording a payment
with allocations, the aging report and its CSV, write-offs, and list pages whose query count does
not grow with their rows."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from finance import tenancy
from finance.actors import Actor
from finance.permissions import PERMISSIONS
from receivables import charts, services
from receivables.models import Allocation, Invoice, Payment, WriteOff
from tests.conftest import login
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

FINANCE_ROLES = ["owner", "admin", "finance_manager", "ar_clerk"]


def days(org, n):
    """The organization's today shifted by n days (negative: in the past)."""
    return org.local_today() + datetime.timedelta(days=n)


def make_invoice(org, customer, number, total, *, issued=-60, due=-30, currency="CNY"):
    with tenancy.tenant(org):
        return services.invoice_create(
            actor=Actor.system(org),
            customer=customer,
            number=number,
            currency=currency,
            issue_date=days(org, issued),
            due_date=days(org, due),
            total=total,
        )


def make_payment(org, customer, amount, *, received=-1, currency="CNY", **extra):
    with tenancy.tenant(org):
        return services.payment_record(
            actor=Actor.system(org),
            customer=customer,
            currency=currency,
            received_on=days(org, received),
            amount=amount,
            **extra,
        )


@pytest.fixture
def customer(org):
    return CustomerFactory(organization=org, name="上海华东机电", external_id="C-100", customer_group="Key")


@pytest.fixture
def invoices(org, customer):
    """An invoice 45 days late, one 5 days late and one not yet due."""
    return {
        "old": make_invoice(org, customer, "INV-OLD", "100.00", issued=-75, due=-45),
        "late": make_invoice(org, customer, "INV-LATE", "200.00", issued=-35, due=-5),
        "new": make_invoice(org, customer, "INV-NEW", "300.00", issued=-5, due=25),
    }


def pages(invoices, customer):
    return [
        "/receivables/",
        "/receivables/aging/",
        "/receivables/aging/?format=csv",
        f"/receivables/aging/customers/{customer.pk}/",
        "/receivables/invoices/",
        f"/receivables/invoices/{invoices['old'].pk}/",
        "/receivables/payments/",
    ]


# --- Who may see what ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", FINANCE_ROLES)
def test_every_page_opens_for_the_finance_roles(client, org, members, customer, invoices, role):
    login(client, members[role])
    for url in [
        *pages(invoices, customer),
        "/receivables/payments/new/",
        f"/receivables/payments/new/?customer={customer.pk}",
    ]:
        assert client.get(url).status_code == 200, (role, url)


def test_the_nav_links_to_the_receivables_dashboard(client, org, members):
    login(client, members["sales_rep"])
    page = client.get("/").content.decode()
    assert 'href="/receivables/"' in page and "/modules/receivables/" not in page


def test_roles_that_may_not_post_payments_get_403(client, org, members, customer, invoices):
    for role in ["sales_rep", "auditor"]:
        login(client, members[role])
        assert client.get(f"/receivables/invoices/{invoices['old'].pk}/").status_code in (200, 404)
        assert client.get("/receivables/payments/new/").status_code == 403, role
        assert client.get(f"/receivables/payments/new/allocations/?customer={customer.pk}").status_code == 403
        post = {"customer": customer.pk, "currency": "CNY", "received_on": "2026-01-01", "amount": "5"}
        assert client.post("/receivables/payments/new/", post).status_code == 403
        write_off = {"amount": "1", "reason": "x"}
        assert (
            client.post(f"/receivables/invoices/{invoices['old'].pk}/write-off/", write_off).status_code
            == 403
        )
        assert client.post(f"/receivables/invoices/{invoices['new'].pk}/void/").status_code == 403
    with tenancy.tenant(org):
        assert not Payment.objects.exists() and not WriteOff.objects.exists()
        assert not Invoice.objects.filter(voided_on__isnull=False).exists()


def test_only_approvers_may_decide_write_offs(client, org, members, invoices):
    org.settings = {"write_off_approval_threshold": "0"}
    org.save()
    with tenancy.tenant(org):
        pending = services.invoice_write_off(
            actor=Actor(organization=org, role="finance_manager", user=members["finance_manager"]),
            invoice=invoices["new"],
            amount="300.00",
            reason="Customer went bankrupt",
        )
    assert pending.status == "pending"
    login(client, members["ar_clerk"])
    assert client.post(f"/receivables/write-offs/{pending.pk}/decide/", {"approve": "1"}).status_code == 403
    with tenancy.tenant(org):
        assert WriteOff.objects.get().status == "pending"


def test_every_page_needs_its_action(client, org, members, customer, invoices, monkeypatch):
    """An auditor stripped of receivables.view sees none of the pages (the views name their action)."""
    monkeypatch.setitem(PERMISSIONS, "auditor", PERMISSIONS["auditor"] - {"receivables.view"})
    login(client, members["auditor"])
    for url in pages(invoices, customer):
        assert client.get(url).status_code == 403, url


def test_a_user_with_no_organization_is_refused(client, org, customer, invoices):
    login(client, UserFactory(email="nobody@example.com"))
    for url in [*pages(invoices, customer), "/receivables/payments/new/"]:
        assert client.get(url).status_code == 403, url


def test_signed_out_visitors_are_sent_to_log_in(client, org, customer, invoices):
    response = client.get("/receivables/aging/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_another_organizations_ids_are_404(client, org, members, outsider_org, outsider_customer):
    theirs = make_invoice(outsider_org, outsider_customer, "SECRET-1", "50.00")
    with tenancy.tenant(outsider_org):
        write_off = services.invoice_write_off(
            actor=Actor.system(outsider_org), invoice=theirs, amount="50.00", reason="x"
        )
    login(client, members["owner"])
    for url in [
        f"/receivables/invoices/{theirs.pk}/",
        f"/receivables/aging/customers/{outsider_customer.pk}/",
        f"/receivables/payments/new/?customer={outsider_customer.pk}",
        f"/receivables/payments/new/allocations/?customer={outsider_customer.pk}&currency=CNY",
        "/receivables/invoices/99999999999999999999/",
    ]:
        assert client.get(url).status_code == 404, url
    assert (
        client.post(
            f"/receivables/invoices/{theirs.pk}/write-off/", {"amount": "1", "reason": "x"}
        ).status_code
        == 404
    )
    assert client.post(f"/receivables/invoices/{theirs.pk}/void/").status_code == 404
    assert client.post(f"/receivables/write-offs/{write_off.pk}/decide/", {"approve": "0"}).status_code == 404
    listing = client.get("/receivables/invoices/").content.decode()
    assert "SECRET-1" not in listing
    # Their customer is not even a choice on the payment form.
    response = client.post(
        "/receivables/payments/new/",
        {"customer": outsider_customer.pk, "currency": "CNY", "received_on": "2026-01-01", "amount": "5"},
    )
    assert response.status_code == 400 and "customer" in response.context["form"].errors
    with tenancy.tenant(outsider_org):
        assert not Payment.objects.exists()
        assert Invoice.objects.get().voided_on is None


def test_a_sales_rep_sees_only_their_own_customers_receivables(client, org, members):
    rep = members["sales_rep"]
    mine = CustomerFactory(organization=org, name="Rep's own customer", owner=rep)
    other = CustomerFactory(organization=org, name="Someone else's customer", owner=members["owner"])
    own_invoice = make_invoice(org, mine, "MINE-1", "100.00")
    other_invoice = make_invoice(org, other, "OTHER-1", "900.00")
    cash_only = CustomerFactory(
        organization=org, name="Another rep's cash-only customer", owner=members["owner"]
    )
    make_payment(org, cash_only, "70.00")  # nothing to pay: all of it stays unapplied
    login(client, rep)
    assert client.get(f"/receivables/invoices/{own_invoice.pk}/").status_code == 200
    assert client.get(f"/receivables/invoices/{other_invoice.pk}/").status_code == 404
    assert client.get(f"/receivables/aging/customers/{other.pk}/").status_code == 404
    listing = client.get("/receivables/invoices/").content.decode()
    assert "MINE-1" in listing and "OTHER-1" not in listing
    aging = client.get("/receivables/aging/")
    assert [row.name for row in aging.context["report"].rows] == ["Rep's own customer"]
    assert "owner" not in aging.context["form"].fields
    dashboard = client.get("/receivables/")
    assert dashboard.context["outstanding"] == Decimal("100.00")
    assert dashboard.context["unapplied"] == Decimal("0.00")
    csv_text = client.get("/receivables/aging/?format=csv").content.decode("utf-8-sig")
    assert "Someone else" not in csv_text and "cash-only" not in csv_text


# --- Recording a payment ------------------------------------------------------------------------


def payment_post(customer, amount, allocations=None, **extra):
    data = {
        "customer": customer.pk,
        "currency": "CNY",
        "received_on": extra.pop("received_on", None) or datetime.date.today().isoformat(),
        "amount": amount,
        "method": "bank_transfer",
        "reference": "BANK-REF-1",
        **extra,
    }
    for invoice, value in (allocations or {}).items():
        data[f"allocate-{invoice.pk}"] = value
    return data


def test_the_form_suggests_allocations_oldest_due_first(client, org, members, customer, invoices):
    login(client, members["ar_clerk"])
    page = client.get(f"/receivables/payments/new/?customer={customer.pk}")
    form = page.context["form"]
    assert form.initial["customer"] == customer and form.initial["currency"] == "CNY"
    assert [row.invoice.number for row in page.context["table"].rows] == ["INV-OLD", "INV-LATE", "INV-NEW"]
    partial = client.get(
        "/receivables/payments/new/allocations/",
        {"customer": customer.pk, "currency": "CNY", "amount": "250"},
        HTTP_HX_REQUEST="true",
    )
    assert b"<html" not in partial.content
    values = {row.invoice.number: row.value for row in partial.context["table"].rows}
    assert values == {"INV-OLD": "100.00", "INV-LATE": "150.00", "INV-NEW": ""}
    # Without JavaScript, the "Suggest" button does the same and saves nothing.
    suggest = client.post("/receivables/payments/new/", {**payment_post(customer, "120"), "suggest": "1"})
    assert suggest.status_code == 200
    assert [row.value for row in suggest.context["table"].rows] == ["100.00", "20.00", ""]
    with tenancy.tenant(org):
        assert not Payment.objects.exists()


def test_recording_a_payment_writes_the_allocations_given(client, org, members, customer, invoices):
    login(client, members["ar_clerk"])
    data = payment_post(customer, "250.00", {invoices["late"]: "200.00", invoices["old"]: "50.00"})
    response = client.post("/receivables/payments/new/", data)
    assert response.status_code == 302 and response["Location"] == "/receivables/payments/"
    with tenancy.tenant(org):
        payment = Payment.objects.get()
        allocations = {a.invoice.number: a.amount for a in Allocation.objects.select_related("invoice")}
        assert allocations == {"INV-LATE": Decimal("200.00"), "INV-OLD": Decimal("50.00")}
        assert (payment.amount, payment.unapplied, payment.reference) == (Decimal("250.00"), 0, "BANK-REF-1")
        assert all(a.created_by == members["ar_clerk"] for a in Allocation.objects.all())
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["Payment of 250.00 CNY recorded."]


def test_an_over_payment_stays_unapplied_with_a_warning(client, org, members, customer, invoices):
    login(client, members["finance_manager"])
    url = f"/receivables/payments/new/?next=/customers/{customer.pk}/"
    data = payment_post(customer, "1,000.00".replace(",", ""), {invoices["old"]: "100.00"})
    data["next"] = f"/customers/{customer.pk}/"
    response = client.post(url, data, follow=True)
    assert response.redirect_chain == [(f"/customers/{customer.pk}/", 302)]
    with tenancy.tenant(org):
        payment = Payment.objects.get()
        assert payment.unapplied == Decimal("900.00")
        assert Allocation.objects.get().amount == Decimal("100.00")
    page = response.content.decode()
    assert "900.00 CNY was not allocated" in page and 'class="warning"' in page


def test_no_allocations_means_none_not_automatic(client, org, members, customer, invoices):
    login(client, members["owner"])
    assert client.post("/receivables/payments/new/", payment_post(customer, "50")).status_code == 302
    with tenancy.tenant(org):
        assert Payment.objects.get().unapplied == Decimal("50.00")
        assert not Allocation.objects.exists()


@pytest.mark.parametrize(
    "case",
    [
        "more_than_outstanding",
        "more_than_the_payment",
        "not_a_number",
        "negative_allocation",
        "zero_amount",
        "jpy_cents",
        "stale_invoice",
        "missing_customer",
        "bad_date",
    ],
)
def test_bad_input_is_a_400_and_writes_nothing(client, org, members, customer, invoices, case):
    login(client, members["ar_clerk"])
    old, late = invoices["old"], invoices["late"]
    usd_invoice = make_invoice(org, customer, "INV-USD", "10.00", currency="USD")
    data = {
        "more_than_outstanding": payment_post(customer, "500", {old: "100.01"}),
        "more_than_the_payment": payment_post(customer, "150", {old: "100.00", late: "200.00"}),
        "not_a_number": payment_post(customer, "150", {old: "abc"}),
        "negative_allocation": payment_post(customer, "150", {old: "-5"}),
        "zero_amount": payment_post(customer, "0", {old: "10"}),
        "jpy_cents": payment_post(customer, "10.50", currency="JPY"),
        # An amount typed for an invoice that is not among this currency's open invoices.
        "stale_invoice": payment_post(customer, "150", {usd_invoice: "10.00"}),
        "missing_customer": {**payment_post(customer, "150"), "customer": ""},
        "bad_date": payment_post(customer, "150", received_on="2026-02-30"),
    }[case]
    response = client.post("/receivables/payments/new/", data)
    assert response.status_code == 400, case
    form, table = response.context["form"], response.context["table"]
    assert form.errors or (table and table.has_errors), case
    with tenancy.tenant(org):
        assert not Payment.objects.exists()
        assert not Allocation.objects.exists()
        assert Invoice.objects.filter(allocated_total__gt=0).count() == 0
    if case == "more_than_the_payment":
        # The service refused the second allocation; its message is shown above the table.
        assert any("left to allocate" in e for e in table.errors)
        assert [row.value for row in table.rows[:2]] == ["100.00", "200.00"]  # what was typed is kept


# --- Aging report -------------------------------------------------------------------------------


def test_aging_report_buckets_totals_and_summaries(client, org, members, customer, invoices):
    other = CustomerFactory(organization=org, name="Northwind", owner=members["sales_rep"], customer_group="")
    make_invoice(org, other, "NW-1", "1000.00", issued=-130, due=-100)
    make_payment(org, customer, "30.00", allocations=[], auto_allocate=False)
    login(client, members["finance_manager"])
    response = client.get("/receivables/aging/")
    report = response.context["report"]
    rows = {row.name: row for row in report.rows}
    assert rows["上海华东机电"].buckets == {
        "current": Decimal("300.00"),
        "1_30": Decimal("200.00"),
        "31_60": Decimal("100.00"),
        "61_90": Decimal("0.00"),
        "over_90": Decimal("0.00"),
    }
    assert rows["上海华东机电"].unapplied == Decimal("30.00")
    assert rows["Northwind"].buckets["over_90"] == Decimal("1000.00")
    assert report.totals["total"] == Decimal("1600.00")
    page = response.content.decode()
    assert "1,600.00" in page and "Over 90 days" in page and "1–30 days" in page
    by_group = {row["name"]: row["total"] for row in response.context["by_group"]}
    assert by_group == {"Key": Decimal("600.00"), "No group": Decimal("1000.00")}
    by_owner = {row["name"]: row["total"] for row in response.context["by_owner"]}
    assert by_owner[str(members["sales_rep"])] == Decimal("1000.00")
    assert by_owner["No owner"] == Decimal("600.00")


def test_aging_filters(client, org, members, customer, invoices):
    other = CustomerFactory(organization=org, name="Northwind", owner=members["sales_rep"])
    make_invoice(org, other, "NW-1", "1000.00", issued=-130, due=-100)
    make_invoice(org, other, "NW-USD", "10.00", currency="USD")
    with tenancy.tenant(org):
        services.exchange_rate_set(actor=Actor.system(org), currency="USD", date=days(org, -400), rate="7.0")
    login(client, members["owner"])
    names = lambda response: [row.name for row in response.context["report"].rows]  # noqa: E731
    assert names(client.get("/receivables/aging/", {"owner": members["sales_rep"].pk})) == ["Northwind"]
    assert names(client.get("/receivables/aging/", {"group": "Key"})) == ["上海华东机电"]
    assert names(client.get("/receivables/aging/", {"currency": "USD"})) == ["Northwind"]
    assert names(client.get("/receivables/aging/", {"min_balance": "700"})) == ["Northwind"]
    by_issue = client.get("/receivables/aging/", {"basis": "issue_date"}).context["report"]
    assert by_issue.bucket_keys == ["0_30", "31_60", "61_90", "over_90"]
    past = client.get("/receivables/aging/", {"as_of": days(org, -50).isoformat()}).context["report"]
    # 50 days ago: INV-OLD, NW-1 and NW-USD (10 USD at 7.0) existed; the others were not issued yet.
    assert past.totals["total"] == Decimal("1170.00")
    assert client.get("/receivables/aging/", {"as_of": "not-a-date"}).status_code == 400
    assert client.get("/receivables/aging/", {"basis": "weekday"}).status_code == 400


def test_aging_drill_down_lists_the_customers_open_invoices(client, org, members, customer, invoices):
    make_payment(org, customer, "100.00", allocations=[{"invoice": invoices["old"], "amount": "100.00"}])
    login(client, members["owner"])
    page = client.get("/receivables/aging/").content.decode()
    drill_url = f"/receivables/aging/customers/{customer.pk}/"
    assert f'hx-get="{drill_url}"' in page
    partial = client.get(drill_url, HTTP_HX_REQUEST="true")
    assert b"<html" not in partial.content
    assert [i.number for i in partial.context["invoices"]] == ["INV-LATE", "INV-NEW"]
    assert partial.context["invoices"][0].days_past_due == 5
    as_of_past = client.get(drill_url, {"as_of": days(org, -2).isoformat()}, HTTP_HX_REQUEST="true")
    assert [i.number for i in as_of_past.context["invoices"]] == ["INV-OLD", "INV-LATE", "INV-NEW"]
    assert b"<html" in client.get(drill_url).content  # without htmx, a page of its own


def test_aging_csv_export(client, org, members, customer, invoices):
    make_invoice(org, CustomerFactory(organization=org, name="Alpha"), "A-1", "1234.5", issued=-10, due=-1)
    login(client, members["ar_clerk"])
    response = client.get("/receivables/aging/", {"format": "csv", "group": ""})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="aging-{org.local_today().isoformat()}-CNY.csv"'
    )
    assert response.content.startswith("\ufeff".encode())
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines == [
        "External id,Customer,Current,1–30 days,31–60 days,61–90 days,Over 90 days,Total,Unapplied",
        lines[1],
        "C-100,上海华东机电,300.00,200.00,100.00,0.00,0.00,600.00,0.00",
        ",Total,300.00,1434.50,100.00,0.00,0.00,1834.50,0.00",
    ]
    assert lines[1].endswith(",Alpha,0.00,1234.50,0.00,0.00,0.00,1234.50,0.00")


def test_csv_text_cells_cannot_run_as_formulas(client, org, members):
    evil = CustomerFactory(organization=org, name='=HYPERLINK("http://x")', external_id="+1")
    make_invoice(org, evil, "E-1", "10.00")
    login(client, members["owner"])
    text = client.get("/receivables/aging/?format=csv").content.decode("utf-8-sig")
    assert '\'+1,"\'=HYPERLINK(""http://x"")"' in text


def test_aging_xlsx_export(client, org, members, customer, invoices):
    openpyxl = pytest.importorskip("openpyxl")
    evil = CustomerFactory(organization=org, name='=HYPERLINK("http://x")', external_id="=1+1")
    make_invoice(org, evil, "E-1", "10.00", issued=-10, due=20)
    make_payment(org, customer, "5.00", auto_allocate=False)
    login(client, members["owner"])
    page = client.get("/receivables/aging/").content.decode()
    assert 'data-testid="export-xlsx"' in page
    response = client.get("/receivables/aging/", {"format": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0][:3] == ["External id", "Customer", "Current"]
    assert rows[1] == ["=1+1", '=HYPERLINK("http://x")', 10, 0, 0, 0, 0, 10, 0]
    assert [sheet["A2"].data_type, sheet["B2"].data_type] == ["s", "s"]  # text, not formulas
    assert rows[2] == ["C-100", "上海华东机电", 300, 200, 100, 0, 0, 600, 5]
    assert rows[-1][1:] == ["Total", 310, 200, 100, 0, 0, 610, 5]
    assert sheet["C2"].number_format == "#,##0.00"


def test_missing_exchange_rates_are_listed(client, org, members, customer):
    make_invoice(org, customer, "USD-1", "10.00", currency="USD", issued=-20, due=10)
    login(client, members["owner"])
    for url in ["/receivables/", "/receivables/aging/"]:
        response = client.get(url)
        assert response.status_code == 200
        page = response.content.decode()
        assert "Exchange rates are missing" in page
        assert f"USD: a rate dated on or before {days(org, -20).isoformat()}" in page


# --- Dashboard ----------------------------------------------------------------------------------


def test_dashboard_totals_chart_and_most_overdue(client, org, members, customer, invoices):
    small = CustomerFactory(organization=org, name="Small Late Co")
    make_invoice(org, small, "S-1", "10.00", issued=-20, due=-2)
    make_payment(org, small, "5.00", allocations=[], auto_allocate=False)
    login(client, members["ar_clerk"])
    response = client.get("/receivables/")
    assert response.context["outstanding"] == Decimal("610.00")
    assert response.context["overdue"] == Decimal("310.00")
    assert response.context["unapplied"] == Decimal("5.00")
    top = [(item["row"].name, item["amount"]) for item in response.context["top_overdue"]]
    assert top == [("上海华东机电", Decimal("300.00")), ("Small Late Co", Decimal("10.00"))]
    page = response.content.decode()
    assert "<svg" in page and page.count('<g class="bar">') == 5
    for link in ["/receivables/aging/", "/receivables/invoices/", "/receivables/payments/"]:
        assert f'href="{link}"' in page


def test_bar_chart_is_proportional_escaped_and_survives_zeros():
    svg = str(
        charts.bar_chart(
            [
                charts.Bar("<b>a</b>", Decimal("50")),
                charts.Bar("b c", Decimal("100")),
                charts.Bar("d", Decimal(0)),
            ],
            title="T & <x>",
        )
    )
    assert svg.startswith("<svg") and "<b>" not in svg and "&lt;b&gt;" in svg and "T &amp; &lt;x&gt;" in svg
    heights = [float(part.split('"')[0]) for part in svg.split('height="')[1:]]
    assert heights == [89.0, 178.0, 0.0]
    empty = str(charts.bar_chart([charts.Bar("x", Decimal(0))], title="none"))
    assert 'height="0.0"' in empty


# --- Invoices -----------------------------------------------------------------------------------


def test_invoice_list_filters(client, org, members, customer, invoices):
    other = CustomerFactory(organization=org, name="Northwind")
    make_invoice(org, other, "NW-9", "10.00")
    make_payment(org, customer, "100.00", allocations=[{"invoice": invoices["old"], "amount": "100.00"}])
    login(client, members["owner"])
    numbers = lambda params: [i.number for i in client.get("/receivables/invoices/", params).context["page"]]  # noqa: E731
    assert numbers({"q": "nw-"}) == ["NW-9"]
    assert numbers({"customer": customer.pk}) == ["INV-NEW", "INV-LATE", "INV-OLD"]
    assert numbers({"status": "paid"}) == ["INV-OLD"]
    assert numbers({"status": "overdue"}) == ["INV-LATE", "NW-9"]
    assert numbers({"status": "open"}) == ["INV-NEW", "INV-LATE", "NW-9"]
    partial = client.get("/receivables/invoices/", {"q": "INV"}, HTTP_HX_REQUEST="true")
    assert b"<html" not in partial.content and b"INV-NEW" in partial.content


def test_invoice_detail_shows_lines_allocations_and_status(client, org, members, customer):
    with tenancy.tenant(org):
        invoice = services.invoice_create(
            actor=Actor.system(org),
            customer=customer,
            number="INV-L",
            currency="CNY",
            issue_date=days(org, -40),
            due_date=days(org, -10),
            lines=[services.LineInput("Widget 小部件", Decimal("2"), Decimal("50"))],
        )
    make_payment(
        org, customer, "30.00", reference="WIRE-77", allocations=[{"invoice": invoice, "amount": "30.00"}]
    )
    login(client, members["finance_manager"])
    page = client.get(f"/receivables/invoices/{invoice.pk}/").content.decode()
    assert "Widget 小部件" in page and "WIRE-77" in page and "30.00 CNY" in page
    assert "70.00 CNY" in page and "10 days late" in page and "Overdue" in page


def test_write_off_request_and_maker_checker_approval(client, org, members, customer, invoices):
    org.settings = {"write_off_approval_threshold": "50"}
    org.save()
    login(client, members["ar_clerk"])
    url = f"/receivables/invoices/{invoices['late'].pk}/"
    small = client.post(url + "write-off/", {"amount": "20", "reason": "Rounding difference"})
    assert small.status_code == 302
    large = client.post(url + "write-off/", {"amount": "150", "reason": "Disputed delivery"})
    assert large.status_code == 302
    with tenancy.tenant(org):
        statuses = dict(WriteOff.objects.values_list("reason", "status"))
        pending = WriteOff.objects.get(status="pending")
    assert statuses == {"Rounding difference": "approved", "Disputed delivery": "pending"}
    assert client.post(url + "write-off/", {"amount": "500", "reason": "x"}).status_code == 400
    assert client.post(url + "write-off/", {"amount": "5", "reason": ""}).status_code == 400

    # The requester, even with approval rights, sees no buttons and cannot decide.
    login(client, members["ar_clerk"])
    assert 'name="approve"' not in client.get(url).content.decode()
    requester_manager = members["finance_manager"]
    login(client, requester_manager)
    client.post(url + "write-off/", {"amount": "10", "reason": "Own request"})  # below threshold: approved
    with tenancy.tenant(org):
        own = services.invoice_write_off(
            actor=Actor(organization=org, role="finance_manager", user=requester_manager),
            invoice=invoices["new"],
            amount="100",
            reason="Mine to approve?",
        )
    refused = client.post(f"/receivables/write-offs/{own.pk}/decide/", {"approve": "1"})
    assert refused.status_code == 400
    assert "Someone other than the requester" in refused.content.decode()

    page = client.get(url).content.decode()
    assert page.count('name="approve" value="1"') == 1
    assert client.post(f"/receivables/write-offs/{pending.pk}/decide/", {"approve": "1"}).status_code == 302
    with tenancy.tenant(org):
        assert WriteOff.objects.get(pk=pending.pk).status == "approved"
        assert WriteOff.objects.get(pk=own.pk).status == "pending"
        assert Invoice.objects.get(pk=invoices["late"].pk).outstanding == Decimal("20.00")
    login(client, members["owner"])
    client.post(f"/receivables/write-offs/{own.pk}/decide/", {"approve": "0"})
    with tenancy.tenant(org):
        assert WriteOff.objects.get(pk=own.pk).status == "rejected"


def test_void_only_an_invoice_without_activity(client, org, members, customer, invoices):
    make_payment(org, customer, "10.00", allocations=[{"invoice": invoices["old"], "amount": "10.00"}])
    login(client, members["finance_manager"])
    assert (
        'data-testid="void-form"'
        not in client.get(f"/receivables/invoices/{invoices['old'].pk}/").content.decode()
    )
    refused = client.post(f"/receivables/invoices/{invoices['old'].pk}/void/")
    assert refused.status_code == 400
    assert client.post(f"/receivables/invoices/{invoices['new'].pk}/void/").status_code == 302
    with tenancy.tenant(org):
        assert Invoice.objects.get(pk=invoices["new"].pk).voided_on == org.local_today()
        assert Invoice.objects.get(pk=invoices["old"].pk).voided_on is None


# --- The customer page's panel ------------------------------------------------------------------


def test_customer_panel_shows_balance_and_a_record_payment_button(client, org, members, invoices, customer):
    customer.owner = members["sales_rep"]
    with tenancy.tenant(org):
        customer.save()
    login(client, members["ar_clerk"])
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert 'data-testid="receivables-panel"' in page
    assert "600.00" in page and "300.00" in page  # outstanding and overdue
    assert f"/receivables/payments/new/?customer={customer.pk}" in page
    assert f'href="/receivables/invoices/{invoices["old"].pk}/"' in page
    login(client, members["sales_rep"])
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert "600.00" in page and "/receivables/payments/new/" not in page


# --- Query counts -------------------------------------------------------------------------------


def _queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


@pytest.mark.parametrize(
    "url",
    [
        "/receivables/",
        "/receivables/aging/",
        "/receivables/aging/?format=csv",
        "/receivables/invoices/",
        "/receivables/invoices/?status=overdue",
        "/receivables/payments/",
    ],
)
def test_list_pages_make_a_constant_number_of_queries(client, org, members, url):
    login(client, members["owner"])

    def add(n):
        for _ in range(n):
            customer = CustomerFactory(organization=org, owner=members["sales_rep"], customer_group="G")
            make_invoice(org, customer, f"Q-{customer.pk}", "100.00")
            make_payment(org, customer, "150.00")

    add(2)
    client.get(url)
    few = _queries(client, url)
    add(10)
    many = _queries(client, url)
    assert few == many, (url, few, many)


def test_invoice_page_makes_a_constant_number_of_queries(client, org, members, customer):
    invoice = make_invoice(org, customer, "INV-Q", "1000.00")
    login(client, members["owner"])
    url = f"/receivables/invoices/{invoice.pk}/"
    make_payment(org, customer, "1.00", allocations=[{"invoice": invoice, "amount": "1.00"}])
    client.get(url)
    few = _queries(client, url)
    for n in range(8):
        make_payment(org, customer, "1.00", allocations=[{"invoice": invoice, "amount": "1.00"}])
        with tenancy.tenant(org):
            services.invoice_write_off(actor=Actor.system(org), invoice=invoice, amount="1", reason=f"r{n}")
    assert _queries(client, url) == few


def test_dashboard_shows_kpis_and_the_snapshot_trend(client, org, members):
    import datetime as _dt

    from finance.actors import Actor
    from receivables import services as _services
    from receivables.jobs import aging_snapshot

    customer = CustomerFactory(organization=org)
    actor = Actor.system(org)
    today = org.local_today()
    with tenancy.tenant(org):
        _services.invoice_create(
            actor=actor,
            customer=customer,
            number="K-1",
            currency="CNY",
            issue_date=today - _dt.timedelta(days=40),
            due_date=today - _dt.timedelta(days=10),
            total="1000.00",
        )
        for days_ago in (14, 7, 0):
            aging_snapshot(actor=actor, run_date=today - _dt.timedelta(days=days_ago))
    login(client, members["finance_manager"])
    page = client.get("/receivables/")
    assert page.status_code == 200
    assert page.context["kpis"]["dso_simple"] is not None
    assert b'data-testid="kpi-trend"' in page.content and b"<polyline" in page.content
    login(client, members["sales_rep"])
    assert client.get("/receivables/").context["trend"] is None  # org-wide trend is not a rep's


def test_aging_exports_a_pdf(client, org, members):
    customer = CustomerFactory(organization=org, name="华东机电")
    with tenancy.tenant(org):
        from receivables import services as _services

        _services.invoice_create(
            actor=Actor.system(org),
            customer=customer,
            number="P-1",
            currency="CNY",
            issue_date=datetime.date(2026, 1, 1),
            total="123.45",
        )
    login(client, members["finance_manager"])
    response = client.get("/receivables/aging/", {"as_of": "2026-06-30", "format": "pdf"})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
