from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = _("Analytics")

    def ready(self) -> None:
        from analytics import alerts, panels, runs, seed
        from finance import webhooks
        from finance.jobs import Job, register_job
        from finance.seeding import Seeder, register_seeder

        panels.register()
        webhooks.register_events("customer.churn_risk")
        register_job(
            Job(
                name="analytics_nightly",
                # After the credit scores (3): the churn risk reads the payment behaviour they use.
                run=runs.analytics_nightly,
                local_hour=4,
                description="Recompute ABC classes, RFM, lifetime value, churn risk and lifecycle stages.",
            )
        )
        register_job(
            Job(
                name="churn_alerts",
                # After the nightly recompute (4), before the working day.
                run=alerts.churn_alerts,
                local_hour=6,
                description="Raise weekly churn alerts with retention follow-ups; record alert outcomes.",
            )
        )
        register_seeder(Seeder(order=40, name="analytics", seed=seed.seed))
        from analytics import privacy as analytics_privacy

        analytics_privacy.register()  # its sections of crm's privacy export and erasure
