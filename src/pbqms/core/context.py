"""Who is acting, from where, and why: one context per request, command or job.

The change log reads it when it writes an entry, so every write path (UI, API, admin,
import, management command) is attributed the same way.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class ActionContext:
    request: Any = None  # the current HttpRequest, if any (its user is read lazily)
    actor: Any = None  # an explicit actor (commands, jobs) overrides request.user
    ip: str | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    source: str = "system"  # ui, api, admin, import, command, system
    reason: str = ""

    def resolved_actor(self):
        if self.actor is not None:
            return self.actor
        user = getattr(self.request, "user", None)
        if user is not None and getattr(user, "is_authenticated", False):
            return user
        return None


_current: ContextVar[ActionContext | None] = ContextVar("pbqms_action_context", default=None)


def current() -> ActionContext:
    return _current.get() or ActionContext()


@contextlib.contextmanager
def action_context(**changes: Any) -> Iterator[ActionContext]:
    """Run a block with some context fields changed, e.g. ``action_context(reason="…")``."""
    ctx = replace(current(), **changes)
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


def set_context(ctx: ActionContext):
    return _current.set(ctx)


def reset_context(token) -> None:
    _current.reset(token)
