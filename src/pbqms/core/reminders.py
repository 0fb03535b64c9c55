"""Computed reminders (ARCHITECTURE.md: "due-date reminders computed, not hand-entered").

Each area registers a provider in its ``reminders.py`` (imported from ``AppConfig.ready``)::

    from pbqms.core import reminders

    @reminders.provider("documents.acknowledgements")
    def acknowledgement_reminders(today):
        for ack in ...:
            yield reminders.Reminder(user, subject, body, url, dedupe_key)

``manage.py send_reminders`` (daily, by cron or the worker) runs every provider and
delivers through ``pbqms.core.notify.notify``; the dedupe key (include the date or the
period in it) keeps a reminder from arriving twice."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pbqms.core.context import action_context
from pbqms.core.notify import notify

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reminder:
    user: object
    subject: str
    body: str = ""
    url: str = ""
    dedupe_key: str = ""


Provider = Callable[[dt.date], Iterable[Reminder]]
_PROVIDERS: dict[str, Provider] = {}


def provider(name: str) -> Callable[[Provider], Provider]:
    def register(func: Provider) -> Provider:
        _PROVIDERS[name] = func
        return func

    return register


def providers() -> dict[str, Provider]:
    return dict(_PROVIDERS)


def run(today: dt.date, names: Iterable[str] | None = None) -> dict[str, int]:
    """Run the providers (all, or ``names``); returns messages delivered per provider.
    A provider that fails is logged and skipped so the others still run."""
    selected = {n: f for n, f in _PROVIDERS.items() if names is None or n in set(names)}
    delivered: dict[str, int] = {}
    with action_context(source="command", reason="send_reminders"):
        for name, func in sorted(selected.items()):
            count = 0
            try:
                for item in func(today):
                    count += notify(
                        [item.user],
                        subject=item.subject,
                        body=item.body,
                        url=item.url,
                        kind=name,
                        dedupe_key=item.dedupe_key,
                    )
            except Exception:
                logger.exception("reminder provider %s failed", name)
                delivered[name] = -1
                continue
            delivered[name] = count
    return delivered
