"""Session policy (SECURITY.md items 1, 4, 5): idle and absolute timeout, forced password
change, and TOTP for the three administrator roles (and for everyone who enrolled a device)."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from pbqms.core import scope
from pbqms.core.changelog import log_security_event
from pbqms.core.roles import ADMIN_ROLES

SESSION_LOGIN_AT = "pbqms_login_at"
SESSION_SEEN_AT = "pbqms_seen_at"
SESSION_OTP_ENROLLED = "pbqms_otp_enrolled"

# paths every signed-in user may reach while a required step (password, 2FA) is pending
_ALWAYS_OPEN_PREFIXES = ("/static/", "/healthz", "/i18n/")
# url names of the sign-in pages that stay open during a pending step
_ALWAYS_OPEN_NAMES = ("accounts:login", "accounts:logout", "accounts:language")


def has_admin_role(user) -> bool:
    return bool(scope.roles_of(user) & ADMIN_ROLES)


def needs_otp(user) -> bool:
    """Is a TOTP code required of ``user`` by policy (the three administrator roles)?"""
    return settings.PBQMS_TOTP_REQUIRED_FOR_ADMINS and has_admin_role(user)


def otp_enrolled(request) -> bool:
    """Has the signed-in user a confirmed TOTP device? Cached in the session, so the check
    costs no query per request; the TOTP views refresh it."""
    session = request.session
    if SESSION_OTP_ENROLLED not in session:
        from django_otp.plugins.otp_totp.models import TOTPDevice

        session[SESSION_OTP_ENROLLED] = TOTPDevice.objects.filter(
            user_id=request.user.pk, confirmed=True
        ).exists()
    return bool(session[SESSION_OTP_ENROLLED])


def mark_login(request) -> None:
    """Start the absolute-timeout clock; called when a user signs in."""
    now = time.time()
    request.session[SESSION_LOGIN_AT] = now
    request.session[SESSION_SEEN_AT] = now
    request.session.pop(SESSION_OTP_ENROLLED, None)


class SessionPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self._open_paths: tuple[str, ...] | None = None

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            expired = self._expired(request)
            if expired:
                log_security_event("session_expired", user=user, details={"kind": expired})
                logout(request)  # flushes the server-side session
                if request.path.startswith("/api/"):
                    return self.get_response(request)
                messages.info(request, _("Your session has expired. Please sign in again."))
                query = urlencode({"next": request.get_full_path()})
                return redirect(f"{reverse(settings.LOGIN_URL)}?{query}")
            pending = self.pending_step(request, user)
            if pending and not self._open(request, pending[0]):
                if request.path.startswith("/api/"):
                    return JsonResponse(
                        {"error": {"code": "account_setup_required", "message": pending[1]}},
                        status=403,
                    )
                return redirect(pending[0])
        return self.get_response(request)

    def _open(self, request, step_url: str) -> bool:
        if self._open_paths is None:
            self._open_paths = tuple(reverse(name) for name in _ALWAYS_OPEN_NAMES)
        path = request.path
        return (
            path == step_url or path in self._open_paths or path.startswith(_ALWAYS_OPEN_PREFIXES)
        )

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
        # refresh at most once a minute to avoid a session write on every request (the
        # write also renews the session's expiry in the database and the cookie)
        if seen_at is None or now - seen_at > 60:
            session[SESSION_SEEN_AT] = now
        return None

    @staticmethod
    def pending_step(request, user) -> tuple[str, str] | None:
        """The step the user must finish before using pbqms: (its URL, why)."""
        if user.must_change_password or user.password_expired():
            return reverse("accounts:password_change"), _("You must change your password.")
        if not user.is_verified() and (needs_otp(user) or otp_enrolled(request)):
            return reverse("accounts:otp"), _("Two-factor authentication is required.")
        return None
