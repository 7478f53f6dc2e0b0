"""What the loyalty part of experience plugs in at start-up: the receiver that awards points when
receivables settles an invoice, the customer-page panel, the two daily jobs and the demo seeder.
Called from `ExperienceConfig.ready()`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy

from crm.models import Customer
from crm.registry import Panel, registry

PANEL_ENTRIES = 5


def _panel(request: HttpRequest, customer: Customer) -> dict[str, Any]:
    from experience import loyalty_selectors as selectors
    from experience.models import PointsEntry

    actor = getattr(request, "actor", None)
    today = actor.organization.local_today() if actor else None
    account = selectors.accounts([customer], today)[0]
    program = selectors.program_for()
    return {
        "account": account,
        "program": program,
        "balance_value": (Decimal(account.balance) * program.point_value).quantize(Decimal("0.01")),
        "entries": list(
            PointsEntry.objects.filter(customer=customer).order_by("-date", "-id")[:PANEL_ENTRIES]
        ),
        "currency": actor.organization.base_currency if actor else "",
        "can_redeem": actor is not None and actor.can("loyalty.redeem"),
        "can_adjust": actor is not None and actor.can("loyalty.adjust"),
    }


def connect() -> None:
    from experience import loyalty, loyalty_seed
    from finance.jobs import Job, register_job
    from finance.seeding import Seeder, register_seeder
    from receivables import signals

    signals.invoice_settled.connect(loyalty.on_invoice_settled, dispatch_uid="loyalty_invoice_settled")
    registry.add_customer_panel(
        Panel("loyalty", gettext_lazy("Loyalty"), "experience/loyalty/panel.html", _panel, order=18)
    )
    register_job(
        Job(
            name="loyalty_points_expire",
            run=loyalty.points_expire,
            local_hour=1,
            description="Expire loyalty points past their last valid day (oldest points are used first).",
        )
    )
    register_job(
        Job(
            name="loyalty_tiers",
            # After the credit scores (3) and the analytics run (4): tiers read a settled night.
            run=loyalty.loyalty_tiers,
            local_hour=5,
            description="Set each customer's loyalty tier from 12 months' paid revenue and on-time payment.",
        )
    )
    register_seeder(Seeder(order=37, name="loyalty", seed=loyalty_seed.seed))
