"""Session policy (SECURITY.md items 1, 4, 5): idle and absolute timeout, forced password
change, and TOTP for the three administrator roles."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from pbqms.core import scope
from pbqms.core.changelog import log_security_event
from pbqms.core.roles import ADMIN_ROLES

SESSION_LOGIN_AT = "pbqms_login_at"
SESSION_SEEN_AT = "pbqms_seen_at"

# paths a signed-in user may reach while a required step (password, 2FA) is pending
_EXEMPT_PREFIXES = ("/static/", "/healthz", "/i18n/", "/accounts/")


def needs_otp(user) -> bool:
    return settings.PBQMS_TOTP_REQUIRED_FOR_ADMINS and bool(scope.roles_of(user) & ADMIN_ROLES)


class SessionPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            expired = self._expired(request)
            if expired:
                log_security_event("session_expired", user=user, details={"kind": expired})
                logout(request)
                messages.info(request, _("Your session has expired. Please sign in again."))
                if request.path.startswith("/api/"):
                    return self.get_response(request)
                return redirect(f"{reverse(settings.LOGIN_URL)}?next={request.path}")
            pending = self._pending_step(request, user)
            if pending and not request.path.startswith(_EXEMPT_PREFIXES):
                if request.path.startswith("/api/"):
                    from django.http import JsonResponse

                    return JsonResponse(
                        {"error": {"code": "account_setup_required", "message": pending[1]}},
                        status=403,
                    )
                return redirect(pending[0])
        return self.get_response(request)

    def _expired(self, request) -> str | None:
        now = time.time()
        session = request.session
        login_at = session.get(SESSION_LOGIN_AT)
        seen_at = session.get(SESSION_SEEN_AT)
        if login_at is None:
            session[SESSION_LOGIN_AT] = now
            login_at = now
        if seen_at is not None and now - seen_at > settings.PBQMS_SESSION_IDLE_MINUTES * 60:
            return "idle"
        if now - login_at > settings.PBQMS_SESSION_ABSOLUTE_HOURS * 3600:
            return "absolute"
        # refresh at most once a minute to avoid a session write on every request
        if seen_at is None or now - seen_at > 60:
            session[SESSION_SEEN_AT] = now
        return None

    def _pending_step(self, request, user) -> tuple[str, str] | None:
        if user.must_change_password or user.password_expired():
            return reverse("accounts:password_change"), _("You must change your password.")
        if needs_otp(user) and not user.is_verified():
            return reverse("accounts:otp"), _("Two-factor authentication is required.")
        return None
