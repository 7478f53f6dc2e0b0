"""receivables' nightly job: the day's aging totals and KPIs, stored so dashboards show trends."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction

from finance.actors import Actor
from receivables.kpis import kpis, kpis_as_json
from receivables.models import ReceivablesSnapshot
from receivables.selectors import aging_report

KPI_PERIOD_DAYS = 90


def aging_snapshot(*, actor: Actor, run_date: datetime.date) -> dict[str, Any]:
    """Store the aging totals as of `run_date` (due-date basis, base currency) and the KPIs of the
    90 days ending on it: one snapshot per organization and date, replaced by a rerun.

    Everything is computed before anything is written, so a MissingExchangeRates (or any other
    failure) stores nothing and the job run is recorded as failed.
    """
    organization = actor.organization
    report = aging_report(organization=organization, as_of=run_date)
    figures = kpis(
        organization=organization,
        date_from=run_date - datetime.timedelta(days=KPI_PERIOD_DAYS - 1),
        date_to=run_date,
    )
    totals = {key: f"{amount:.2f}" for key, amount in report.totals.items()}
    with transaction.atomic():
        _snapshot, created = ReceivablesSnapshot.objects.update_or_create(
            date=run_date, defaults={"totals": totals, "kpis": kpis_as_json(figures)}
        )
    return {"date": run_date.isoformat(), "created": created, "total": totals["total"]}
