from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlansConfig(AppConfig):
    name = "pbqms.plans"
    label = "plans"
    verbose_name = _("Work plans and tasks")

    def ready(self) -> None:
        from pbqms.plans import reminders as _reminders  # noqa: F401
