"""Financial statement figures stored encrypted (text columns holding `v<key>:<token>`).

The check `total_assets > 0` cannot run on ciphertext: the service validates it instead. The data
step encrypts the figures already stored, in raw SQL and per organization with `kehu.org_id` set,
because FORCE row-level security hides tenant rows even from the owner.
"""

from decimal import Decimal
from typing import Any

from django.db import migrations

import finance.crypto

FIGURES = (
    "cash",
    "current_assets",
    "inventory",
    "total_assets",
    "current_liabilities",
    "total_liabilities",
    "equity",
    "retained_earnings",
    "revenue",
    "ebit",
    "interest_expense",
    "net_income",
)
DEFAULT_ZERO = {"cash", "inventory", "interest_expense"}
LABELS = {
    "cash": "cash and equivalents",
    "current_assets": "current assets",
    "inventory": "inventory",
    "total_assets": "total assets",
    "current_liabilities": "current liabilities",
    "total_liabilities": "total liabilities",
    "equity": "shareholders' equity (book)",
    "retained_earnings": "retained earnings",
    "revenue": "revenue",
    "ebit": "EBIT (operating profit)",
    "interest_expense": "interest expense",
    "net_income": "net income",
}
CENT = Decimal("0.01")


def _convert(apps: Any, schema_editor: Any, *, forward: bool) -> None:
    from finance.crypto import decrypt, encrypt, is_encrypted

    connection = schema_editor.connection
    columns = ", ".join(FIGURES)
    assignments = ", ".join(f"{name} = %s" for name in FIGURES)
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM finance_organization ORDER BY id")
        for (org_id,) in cursor.fetchall():
            if connection.vendor == "postgresql":
                cursor.execute("SELECT set_config('kehu.org_id', %s, true)", [str(org_id)])
            cursor.execute(
                f"SELECT id, {columns} FROM credit_financialstatement WHERE organization_id = %s", [org_id]
            )
            updates = []
            for pk, *values in cursor.fetchall():
                if forward:
                    new = [
                        v if is_encrypted(str(v)) else encrypt(str(Decimal(str(v)).quantize(CENT)))
                        for v in values
                    ]
                else:
                    new = [decrypt(v) if is_encrypted(str(v)) else v for v in values]
                updates.append((*new, pk))
            cursor.executemany(f"UPDATE credit_financialstatement SET {assignments} WHERE id = %s", updates)
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config('kehu.org_id', '', true)")


def encrypt_figures(apps: Any, schema_editor: Any) -> None:
    _convert(apps, schema_editor, forward=True)


def decrypt_figures(apps: Any, schema_editor: Any) -> None:
    _convert(apps, schema_editor, forward=False)


def _field(name: str) -> finance.crypto.EncryptedDecimalField:
    extra = {"default": Decimal("0")} if name in DEFAULT_ZERO else {}
    return finance.crypto.EncryptedDecimalField(
        decimal_places=2, max_digits=18, verbose_name=LABELS[name], **extra
    )


class Migration(migrations.Migration):
    dependencies = [("credit", "0001_initial"), ("finance", "0001_initial")]

    operations = [
        migrations.RemoveConstraint(model_name="financialstatement", name="credit_statement_assets_positive"),
        *[
            migrations.AlterField(model_name="financialstatement", name=name, field=_field(name))
            for name in FIGURES
        ],
        migrations.RunPython(encrypt_figures, decrypt_figures),
    ]
