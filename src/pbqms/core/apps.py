from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "pbqms.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from pbqms.core import changelog

        changelog.connect_signals()
