"""Extension points that later apps fill in from their `AppConfig.ready()`.

`crm` never imports the apps after it; they register here instead:
- customer page panels (each app contributes its panel to the customer page and dashboard),
- financial-history checks (a customer with any financial history is archived, never deleted).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest

    from crm.models import Customer


@dataclass(frozen=True)
class Panel:
    """A block of the customer page: a template and a function giving its context."""

    key: str
    title: Any
    template: str
    context: Callable[[HttpRequest, Customer], dict[str, Any]]
    order: int = 100
    wide: bool = False


@dataclass
class Registry:
    customer_panels: dict[str, Panel] = field(default_factory=dict)
    dashboard_panels: dict[str, Panel] = field(default_factory=dict)
    financial_history_checks: list[Callable[[Customer], bool]] = field(default_factory=list)

    def add_customer_panel(self, panel: Panel) -> None:
        self.customer_panels[panel.key] = panel

    def add_dashboard_panel(self, panel: Panel) -> None:
        self.dashboard_panels[panel.key] = panel

    def add_financial_history_check(self, check: Callable[[Customer], bool]) -> None:
        if check not in self.financial_history_checks:
            self.financial_history_checks.append(check)

    def panels_for_customer(self) -> list[Panel]:
        return sorted(self.customer_panels.values(), key=lambda p: (p.order, p.key))


registry = Registry()
