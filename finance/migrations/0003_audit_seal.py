import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("finance", "0002_webhooks")]

    operations = [
        migrations.CreateModel(
            name="AuditVerification",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "checked_at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="checked"),
                ),
                ("intact", models.BooleanField(verbose_name="intact")),
                ("events_checked", models.PositiveBigIntegerField(default=0, verbose_name="events checked")),
                ("sealed_through", models.PositiveBigIntegerField(default=0, verbose_name="sealed through")),
                ("head_hash", models.CharField(blank=True, max_length=64, verbose_name="head hash")),
                ("breaks", models.JSONField(blank=True, default=list, verbose_name="breaks")),
                ("source", models.CharField(max_length=20, verbose_name="source")),
                (
                    "organization",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="finance.organization",
                        verbose_name="organization",
                    ),
                ),
            ],
            options={
                "verbose_name": "audit verification",
                "verbose_name_plural": "audit verifications",
                "ordering": ["-checked_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="AuditSeal",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("event_id", models.BigIntegerField(unique=True)),
                ("sequence", models.PositiveBigIntegerField()),
                ("event_hash", models.CharField(max_length=64)),
                ("chain_hash", models.CharField(max_length=64)),
                ("sealed_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "organization",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="finance.organization",
                        verbose_name="organization",
                    ),
                ),
            ],
            options={
                "ordering": ["sequence"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("organization", "sequence"), name="audit_seal_unique_sequence"
                    )
                ],
            },
        ),
    ]
