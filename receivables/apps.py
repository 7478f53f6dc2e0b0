from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReceivablesConfig(AppConfig):
    name = "receivables"
    verbose_name = _("Receivables")

    def ready(self) -> None:
        from crm.registry import registry
        from finance.jobs import Job, register_job
        from finance.seeding import Seeder, register_seeder
        from receivables import dunning, jobs, panels, seed, selectors, statements, webhooks

        registry.add_financial_history_check(selectors.customer_has_documents)
        panels.register()
        webhooks.connect()
        register_job(
            Job(
                name="overdue_events",
                run=webhooks.overdue_events,
                local_hour=2,
                description="Send invoice.overdue webhooks for invoices that fell due.",
            )
        )
        register_job(
            Job(
                name="aging_snapshot",
                run=jobs.aging_snapshot,
                local_hour=1,
                description="Store the day's aging totals and KPIs, for the dashboards' trends.",
            )
        )
        register_seeder(Seeder(order=20, name="receivables", seed=seed.seed))
        register_seeder(Seeder(order=25, name="collections", seed=seed.seed_collections))
        register_job(
            Job(
                name="dunning",
                run=dunning.dunning_run,
                local_hour=7,
                description="Send the day's reminders, once per invoice and level; retry failed ones.",
            )
        )
        register_job(
            Job(
                name="statements",
                run=statements.send_monthly_statements,
                local_hour=6,
                description="On the 1st, email last month's statement to customers who opted in.",
            )
        )
        self._ready_promises_and_disputes()
        from receivables import privacy as receivables_privacy

        receivables_privacy.register()  # its sections of crm's privacy export and erasure

    def _ready_promises_and_disputes(self) -> None:
        from finance import webhooks as finance_webhooks
        from finance.jobs import Job, register_job
        from receivables import promises

        finance_webhooks.register_events("promise.broken", "dispute.opened", "dispute.resolved")
        register_job(
            Job(
                name="promises",
                run=promises.promises_check,
                # Before dunning (7 o'clock), so it sees broken promises already resolved.
                local_hour=5,
                description="Mark open promises to pay kept or broken; alert the collector of broken ones.",
            )
        )
