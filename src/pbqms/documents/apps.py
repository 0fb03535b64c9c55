from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DocumentsConfig(AppConfig):
    name = "pbqms.documents"
    label = "documents"
    verbose_name = _("Controlled documents")

    def ready(self) -> None:
        from pbqms.documents import reminders as _reminders  # noqa: F401
