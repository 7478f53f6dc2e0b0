from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class FinanceConfig(AppConfig):
    name = "finance"
    verbose_name = _("Platform")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from finance import db, middleware, receivers, security_events

        post_migrate.connect(db.on_post_migrate, sender=self, dispatch_uid="kehu_rls")
        user_logged_in.connect(middleware.on_user_logged_in, dispatch_uid="kehu_session_clock")
        security_events.connect_signals()
        receivers.connect()
