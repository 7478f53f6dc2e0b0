from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExperienceConfig(AppConfig):
    name = "experience"
    verbose_name = _("Customer experience")

    def ready(self) -> None:
        from experience import education_wiring, loyalty_wiring, service_wiring, surveys_wiring

        for part in (surveys_wiring, service_wiring, loyalty_wiring, education_wiring):
            part.connect()
        from experience import privacy as experience_privacy

        experience_privacy.register()  # its sections of crm's privacy export and erasure
