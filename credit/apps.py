from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CreditConfig(AppConfig):
    name = "credit"
    verbose_name = _("Credit")

    def ready(self) -> None:
        from credit import limits, panels, receivers, scoring, seed, services
        from finance import webhooks
        from finance.jobs import Job, register_job
        from finance.seeding import Seeder, register_seeder

        receivers.connect()
        panels.register()
        webhooks.register_events("credit.hold", "credit.released", "credit.limit_changed")
        register_job(
            Job(
                name="credit_limits_expire",
                run=limits.credit_limits_expire,
                local_hour=0,
                description="Clear temporary credit limits whose last day has passed.",
            )
        )
        register_job(
            Job(
                name="credit_scores",
                # After the aging snapshot (1) and overdue events (2), before promises (5) and dunning (7).
                run=scoring.credit_scores,
                local_hour=3,
                description="Rescore every customer, suggest limits, place and release automatic holds.",
            )
        )
        register_job(
            Job(
                name="credit_reviews",
                run=services.credit_reviews,
                local_hour=8,
                description="Open the credit reviews that fall due, with a task for the credit officer.",
            )
        )
        register_seeder(Seeder(order=30, name="credit", seed=seed.seed))
        from credit import privacy as credit_privacy

        credit_privacy.register()  # its sections of crm's privacy export and erasure
