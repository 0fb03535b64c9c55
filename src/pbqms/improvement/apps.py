from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ImprovementConfig(AppConfig):
    name = "pbqms.improvement"
    label = "improvement"
    verbose_name = _("Nonconformities and corrective actions")

    def ready(self):
        from pbqms.improvement import reminders as _reminders  # noqa: F401
