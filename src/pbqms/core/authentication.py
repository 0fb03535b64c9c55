"""API token authentication (kept apart from ``core.api``: DRF loads it from settings)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from pbqms.core import scope
from pbqms.core.roles import ADMIN_ROLES


def token_refusal(user) -> tuple[str, str] | None:
    """Why ``user`` may not use an API token, as (code, message), or None.

    The three administrator roles must pass two-factor authentication, which a token cannot
    carry: they use session authentication (sign in through the web page, then call the API
    from that session). A pending password change must be done on the web page first."""
    if scope.roles_of(user) & ADMIN_ROLES:
        return (
            "session_auth_required",
            _(
                "Administrator accounts must sign in with two-factor authentication and use "
                "the API through their signed-in session; API tokens are not issued to them."
            ),
        )
    if user.must_change_password or user.password_expired():
        return (
            "password_change_required",
            _("Change your password by signing in to the web interface first."),
        )
    return None


class PbqmsTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``. Refuses the token of an account that must not use one
    (administrator roles, pending password change), even if a token exists."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        refusal = token_refusal(user)
        if refusal is not None:
            raise exceptions.AuthenticationFailed(refusal[1], code=refusal[0])
        return user, token
