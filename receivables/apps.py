from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReceivablesConfig(AppConfig):
    name = "receivables"
    verbose_name = _("Receivables")

    def ready(self) -> None:
        from crm.registry import registry
        from receivables import panels, selectors

        registry.add_financial_history_check(selectors.customer_has_documents)
        panels.register()
