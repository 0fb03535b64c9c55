from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ObjectivesConfig(AppConfig):
    name = "pbqms.objectives"
    label = "objectives"
    verbose_name = _("Policy and objectives")

    def ready(self) -> None:
        from pbqms.objectives import reminders as _reminders  # noqa: F401
