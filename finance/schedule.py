"""Every periodic schedule of Kehu, in one place (Celery beat reads `BEAT_SCHEDULE`).

Beat triggers only dispatchers; a dispatcher enqueues one task per organization, at the
organization's local hour for each job (see `finance.jobs`), so each tenant runs in its timezone.
"""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Every 15 minutes: enqueue the daily jobs that are due in each organization's local time
    # and not done yet today (follow-up reminders, key purges, and later aging snapshots, dunning,
    # statements, churn alerts, credit reviews). Catches up after downtime; runs are idempotent.
    "dispatch-daily-jobs": {
        "task": "finance.dispatch_jobs",
        "schedule": crontab(minute="*/15"),
        "options": {"expires": 14 * 60},
    },
    # Every 5 minutes: one SLA check per organization (experience/tasks_service.py): warns about
    # service requests nearly due and flags breaches, once per request and kind of alert.
    "dispatch-sla-checks": {
        "task": "experience.dispatch_sla_checks",
        "schedule": crontab(minute="*/5"),
        "options": {"expires": 4 * 60},
    },
}
