from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditsConfig(AppConfig):
    name = "pbqms.audits"
    label = "audits"
    verbose_name = _("Internal audits")

    def ready(self):
        from pbqms.audits import reminders as _reminders  # noqa: F401
