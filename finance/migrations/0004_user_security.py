"""Users get a security stamp, part of their session hash: rotating it ends their other sessions."""

import secrets

from django.db import migrations, models


def fill_security_stamps(apps, schema_editor):  # noqa: ANN001, ANN201
    """AddField gave every existing row the same default; give each its own random stamp."""
    User = apps.get_model("finance", "User")
    for user in User.objects.only("pk").iterator():
        User.objects.filter(pk=user.pk).update(security_stamp=secrets.token_hex())


class Migration(migrations.Migration):
    dependencies = [("finance", "0003_audit_seal")]

    operations = [
        migrations.AddField(
            model_name="user",
            name="security_stamp",
            field=models.CharField(
                default=secrets.token_hex, editable=False, max_length=64, verbose_name="security stamp"
            ),
        ),
        migrations.RunPython(fill_security_stamps, migrations.RunPython.noop),
    ]
