"""Personal information rights: consent history, retention policies, the register of processing
activities and erasure requests."""

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0003_sensitive_fields"),
        ("finance", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ErasureRequest",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("reason", models.CharField(blank=True, max_length=500, verbose_name="reason")),
                (
                    "status",
                    models.CharField(
                        choices=[("completed", "Completed")],
                        default="completed",
                        max_length=20,
                        verbose_name="status",
                    ),
                ),
                ("result", models.JSONField(blank=True, default=dict, verbose_name="result")),
                (
                    "requested_at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="requested at"),
                ),
                ("completed_at", models.DateTimeField(blank=True, null=True, verbose_name="completed at")),
                (
                    "contact",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="erasure_requests",
                        to="crm.contact",
                        verbose_name="contact",
                    ),
                ),
                (
                    "customer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="erasure_requests",
                        to="crm.customer",
                        verbose_name="customer",
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="finance.organization",
                        verbose_name="organization",
                    ),
                ),
                (
                    "requested_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="requested by",
                    ),
                ),
            ],
            options={
                "verbose_name": "erasure request",
                "verbose_name_plural": "erasure requests",
                "ordering": ["-requested_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="ContactConsent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "purpose",
                    models.CharField(
                        choices=[
                            ("marketing_email", "Marketing email"),
                            ("surveys", "Satisfaction surveys"),
                            ("phone_calls", "Phone calls"),
                            ("credit_assessment", "Processing for credit assessment"),
                            ("cross_border", "Transfer outside the country"),
                        ],
                        max_length=30,
                        verbose_name="purpose",
                    ),
                ),
                (
                    "lawful_basis",
                    models.CharField(
                        choices=[
                            ("consent", "Consent"),
                            ("contract", "Performance of a contract"),
                            ("legal_obligation", "Legal obligation"),
                            ("vital_interests", "Vital interests"),
                            ("public_task", "Public task"),
                            ("legitimate_interests", "Legitimate interests"),
                            ("publicly_available", "Information already made public (PIPL)"),
                        ],
                        max_length=30,
                        verbose_name="lawful basis",
                    ),
                ),
                ("granted", models.BooleanField(verbose_name="granted")),
                (
                    "recorded_at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="recorded at"),
                ),
                (
                    "source",
                    models.CharField(
                        choices=[
                            ("form", "Web form"),
                            ("api", "API"),
                            ("email", "Email"),
                            ("phone", "Phone"),
                            ("in_person", "In person"),
                            ("contract", "Contract"),
                            ("other", "Other"),
                        ],
                        max_length=20,
                        verbose_name="source",
                    ),
                ),
                ("note", models.CharField(blank=True, max_length=500, verbose_name="note")),
                (
                    "contact",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="consents",
                        to="crm.contact",
                        verbose_name="contact",
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="finance.organization",
                        verbose_name="organization",
                    ),
                ),
                (
                    "recorded_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="recorded by",
                    ),
                ),
            ],
            options={
                "verbose_name": "consent",
                "verbose_name_plural": "consents",
                "ordering": ["-recorded_at", "-id"],
                "indexes": [
                    models.Index(
                        fields=["organization", "contact", "purpose", "-recorded_at"], name="consent_latest"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ProcessingActivity",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=200, verbose_name="name")),
                ("purpose", models.TextField(max_length=2000, verbose_name="purpose")),
                (
                    "data_subjects",
                    models.TextField(max_length=2000, verbose_name="categories of data subjects"),
                ),
                (
                    "personal_data",
                    models.TextField(max_length=2000, verbose_name="categories of personal data"),
                ),
                (
                    "lawful_basis",
                    models.CharField(
                        choices=[
                            ("consent", "Consent"),
                            ("contract", "Performance of a contract"),
                            ("legal_obligation", "Legal obligation"),
                            ("vital_interests", "Vital interests"),
                            ("public_task", "Public task"),
                            ("legitimate_interests", "Legitimate interests"),
                            ("publicly_available", "Information already made public (PIPL)"),
                        ],
                        max_length=30,
                        verbose_name="lawful basis",
                    ),
                ),
                ("recipients", models.TextField(blank=True, max_length=2000, verbose_name="recipients")),
                (
                    "cross_border_transfer",
                    models.TextField(blank=True, max_length=2000, verbose_name="cross-border transfer"),
                ),
                ("retention", models.TextField(max_length=2000, verbose_name="retention")),
                ("security_measures", models.TextField(max_length=2000, verbose_name="security measures")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
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
                "verbose_name": "processing activity",
                "verbose_name_plural": "processing activities",
                "ordering": ["name", "id"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("organization", "name"),
                        name="processing_activity_unique_name",
                        violation_error_message="A processing activity with this name already exists.",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="RetentionPolicy",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "document_type",
                    models.CharField(
                        choices=[
                            ("invoice", "Invoices"),
                            ("credit_note", "Credit notes"),
                            ("payment", "Payments and allocations"),
                            ("write_off", "Write-offs"),
                            ("dispute", "Disputes"),
                            ("promise", "Promises to pay"),
                            ("dunning_letter", "Dunning letters"),
                            ("interaction", "Interactions"),
                            ("survey_response", "Survey responses"),
                            ("feedback", "Feedback"),
                            ("service_request", "Service requests"),
                            ("credit_assessment", "Credit assessments"),
                        ],
                        max_length=30,
                        verbose_name="document type",
                    ),
                ),
                (
                    "years",
                    models.PositiveSmallIntegerField(
                        validators=[
                            django.core.validators.MinValueValidator(1),
                            django.core.validators.MaxValueValidator(100),
                        ],
                        verbose_name="years",
                    ),
                ),
                ("note", models.CharField(blank=True, max_length=300, verbose_name="legal basis or note")),
                ("updated_at", models.DateTimeField(auto_now=True)),
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
                "verbose_name": "retention policy",
                "verbose_name_plural": "retention policies",
                "ordering": ["document_type"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("organization", "document_type"),
                        name="retention_policy_unique_type",
                        violation_error_message="This document type already has a retention policy.",
                    )
                ],
            },
        ),
    ]
