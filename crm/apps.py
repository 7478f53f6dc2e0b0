from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from crm import jobs, panels, seed
        from finance.jobs import Job, register_job
        from finance.seeding import Seeder, register_seeder

        register_job(
            Job(
                name="follow_up_reminders",
                run=jobs.follow_up_reminders,
                local_hour=7,
                description="Morning digest of due and overdue follow-ups to each rep.",
            )
        )
        panels.register()
        register_seeder(Seeder(order=10, name="crm", seed=seed.seed))
        self._ready_privacy()

    def _ready_privacy(self) -> None:
        from crm import privacy, privacy_sections, privacy_views
        from finance.jobs import Job, register_job
        from finance.seeding import Seeder, register_seeder

        privacy_sections.register()
        privacy_views.register_panel()
        register_job(
            Job(
                name="privacy_retention",
                run=privacy.retention_job,
                local_hour=2,
                description="Delete or anonymise what is past its retention policy.",
            )
        )
        register_seeder(Seeder(order=11, name="privacy", seed=privacy.seed))
