from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReviewsConfig(AppConfig):
    name = "pbqms.reviews"
    label = "reviews"
    verbose_name = _("Management review")

    def ready(self) -> None:
        try:
            from pbqms.core import reminders  # noqa: F401
        except ImportError:  # the reminder registry has not landed yet
            return
        from pbqms.reviews import reminders as _reminders  # noqa: F401
