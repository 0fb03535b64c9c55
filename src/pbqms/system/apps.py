from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SystemConfig(AppConfig):
    name = "pbqms.system"
    label = "system"
    verbose_name = _("Quality system")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from pbqms.system import signals  # noqa: F401
