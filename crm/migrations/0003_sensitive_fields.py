"""Tax ids encrypted (with their blind index), new encrypted bank account and identity number.

The data step encrypts the plaintext tax ids already stored and fills their blind index. It works
in raw SQL (the historical field would try to decrypt the plaintext) and per organization with
`kehu.org_id` set, because FORCE row-level security hides tenant rows even from the owner.
"""

from typing import Any

from django.db import migrations, models

import finance.crypto

BATCH = 500


def _organization_ids(cursor: Any) -> list[int]:
    cursor.execute("SELECT id FROM finance_organization ORDER BY id")
    return [row[0] for row in cursor.fetchall()]


def _enter(cursor: Any, vendor: str, org_id: int | None) -> None:
    if vendor == "postgresql":
        cursor.execute("SELECT set_config('kehu.org_id', %s, true)", [str(org_id or "")])


def encrypt_tax_ids(apps: Any, schema_editor: Any) -> None:
    from finance.crypto import blind_index, encrypt, is_encrypted

    connection = schema_editor.connection
    with connection.cursor() as cursor:
        for org_id in _organization_ids(cursor):
            _enter(cursor, connection.vendor, org_id)
            cursor.execute(
                "SELECT id, tax_id FROM crm_customer WHERE organization_id = %s AND tax_id <> ''",
                [org_id],
            )
            rows = [(pk, value) for pk, value in cursor.fetchall() if not is_encrypted(value)]
            for start in range(0, len(rows), BATCH):
                cursor.executemany(
                    "UPDATE crm_customer SET tax_id = %s, tax_id_index = %s WHERE id = %s",
                    [(encrypt(value), blind_index(value), pk) for pk, value in rows[start : start + BATCH]],
                )
        _enter(cursor, connection.vendor, None)


def decrypt_tax_ids(apps: Any, schema_editor: Any) -> None:
    from finance.crypto import decrypt, is_encrypted

    connection = schema_editor.connection
    with connection.cursor() as cursor:
        for org_id in _organization_ids(cursor):
            _enter(cursor, connection.vendor, org_id)
            cursor.execute(
                "SELECT id, tax_id FROM crm_customer WHERE organization_id = %s AND tax_id <> ''",
                [org_id],
            )
            rows = [(decrypt(value)[:50], pk) for pk, value in cursor.fetchall() if is_encrypted(value)]
            cursor.executemany("UPDATE crm_customer SET tax_id = %s WHERE id = %s", rows)
        _enter(cursor, connection.vendor, None)


class Migration(migrations.Migration):
    dependencies = [("crm", "0002_initial"), ("finance", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="contact",
            name="identity_number",
            field=finance.crypto.EncryptedTextField(
                blank=True, max_length=50, verbose_name="personal identity number"
            ),
        ),
        migrations.AddField(
            model_name="customer",
            name="bank_account",
            field=finance.crypto.EncryptedTextField(
                blank=True, max_length=50, verbose_name="bank account number"
            ),
        ),
        migrations.AddField(
            model_name="customer",
            name="tax_id_index",
            field=finance.crypto.BlindIndexField(
                blank=True, editable=False, max_length=64, verbose_name="tax id blind index"
            ),
        ),
        migrations.AlterField(
            model_name="customer",
            name="tax_id",
            field=finance.crypto.EncryptedTextField(blank=True, max_length=50, verbose_name="tax id"),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(fields=["organization", "tax_id_index"], name="customer_org_tax_index"),
        ),
        migrations.RunPython(encrypt_tax_ids, decrypt_tax_ids),
    ]
