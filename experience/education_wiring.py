"""What the education part of experience plugs in at start-up: its customer-page panel and its
part of the demo seed. Called from `ExperienceConfig.ready()`."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy

from crm.models import Customer
from crm.registry import Panel, registry


def _education_panel(request: HttpRequest, customer: Customer) -> dict[str, Any]:
    """What the customer was invited to, attended and completed, with dates and ratings."""
    from experience.education import customer_education

    actor = getattr(request, "actor", None)
    return {
        "education": customer_education(customer),
        "can_invite": actor is not None and actor.can("education.change"),
    }


def connect() -> None:
    from experience import education_seed
    from finance.seeding import Seeder, register_seeder

    registry.add_customer_panel(
        Panel(
            "education",
            gettext_lazy("Education"),
            "experience/education/panels/customer.html",
            _education_panel,
            order=60,
        )
    )
    register_seeder(Seeder(order=38, name="education", seed=education_seed.seed))
