from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrgsConfig(AppConfig):
    name = "pbqms.orgs"
    label = "orgs"
    verbose_name = _("Organisation and people")

    def ready(self):
        from pbqms.orgs import jobs  # noqa: F401  (registers the import job)
