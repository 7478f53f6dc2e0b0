"""Kehu's Celery app: broker from settings (Redis, or the embedded filesystem broker)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finance.settings")

app = Celery("kehu")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["finance", "crm", "receivables"])


@app.on_after_finalize.connect
def _install_schedule(sender: Celery, **kwargs: object) -> None:
    from finance.schedule import BEAT_SCHEDULE

    sender.conf.beat_schedule = BEAT_SCHEDULE
