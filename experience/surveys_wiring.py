"""What the surveys part of experience plugs in at start-up: the receivers of receivables' signals
and of `service_request_closed`, the customer-page panel, the quarterly job and the demo seeder.
Called from `ExperienceConfig.ready()`."""

from __future__ import annotations


def connect() -> None:
    from django.utils.translation import gettext_lazy

    from crm.registry import Panel, registry
    from experience import surveys, surveys_seed
    from experience.surveys_views import satisfaction_panel
    from finance.jobs import Job, register_job
    from finance.seeding import Seeder, register_seeder
    from receivables import signals

    signals.invoice_settled.connect(surveys.on_invoice_settled, dispatch_uid="experience_survey_invoice_paid")
    signals.dispute_resolved.connect(
        surveys.on_dispute_resolved, dispatch_uid="experience_survey_dispute_resolved"
    )
    surveys.service_request_closed.connect(
        surveys._on_service_request_closed_signal, dispatch_uid="experience_survey_service_closed"
    )
    registry.add_customer_panel(
        Panel(
            "satisfaction",
            gettext_lazy("Satisfaction"),
            "experience/surveys/panels/customer.html",
            satisfaction_panel,
            order=18,
        )
    )
    register_job(
        Job(
            name="survey_quarterly",
            run=surveys.survey_quarterly,
            local_hour=9,
            description="On the first day of each quarter, send the quarterly relationship surveys.",
        )
    )
    register_seeder(Seeder(order=35, name="surveys", seed=surveys_seed.seed))
