"""Request-wide middleware: the action context (actor, IP, request id) and security headers."""

from __future__ import annotations

import uuid

from django.conf import settings

from pbqms.core import context


def client_ip(request) -> str | None:
    """The client's address: ``REMOTE_ADDR``, or — behind a reverse proxy that sets it and
    overwrites any client-supplied value — the header named by PBQMS_CLIENT_IP_HEADER
    (e.g. ``HTTP_X_REAL_IP``). X-Forwarded-For chains are never trusted."""
    header = settings.PBQMS_CLIENT_IP_HEADER
    value = request.META.get(header) if header else None
    return (value or request.META.get("REMOTE_ADDR") or "").strip() or None


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = uuid.uuid4().hex
        path = request.path
        source = (
            "api" if path.startswith("/api/") else "admin" if path.startswith("/admin/") else "ui"
        )
        token = context.set_context(
            context.ActionContext(
                request=request, ip=client_ip(request), request_id=request.request_id, source=source
            )
        )
        try:
            response = self.get_response(request)
        finally:
            context.reset_context(token)
        response["X-Request-ID"] = request.request_id
        return response


CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'"
)


class SecurityHeadersMiddleware:
    """CSP, referrer policy and no-store on pages for signed-in users (personal data)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # every page, the API docs included (they load their start-up script as a file)
        response.setdefault("Content-Security-Policy", CSP)
        response.setdefault("Referrer-Policy", "same-origin")
        response.setdefault("X-Content-Type-Options", "nosniff")
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith(settings.STATIC_URL)
        ):
            response["Cache-Control"] = "no-store"
        return response
