"""Shared API pieces: pagination, structured errors, and the scoped viewset base.

Every endpoint lists only what ``visible_to(user, perm)`` allows; an object outside the
scope is a 404. Writes go through the app's services; a stale ``version`` is a 409.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status, viewsets
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from pbqms.core.locking import StaleObjectError


def _django_validation_detail(exc: DjangoValidationError):
    if hasattr(exc, "error_dict"):
        return {
            (field if field != "__all__" else "non_field_errors"): [str(m) for e in errs for m in e]
            for field, errs in exc.error_dict.items()
        }
    return {"non_field_errors": [str(m) for m in exc.messages]}


def exception_handler(exc, ctx):
    """Errors as ``{"error": {"code", "message", "fields"}}`` plus DRF's field map."""
    if isinstance(exc, StaleObjectError):
        return Response(
            {"error": {"code": "stale", "message": str(exc.messages[0])}},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(_django_validation_detail(exc))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, ctx)
    if response is None:
        return None
    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        fields = data if isinstance(data, dict) else {"non_field_errors": data}
        response.data = {
            "error": {"code": "invalid", "message": "Invalid input.", "fields": fields},
            **fields,
        }
    else:
        detail = data.get("detail", "") if isinstance(data, dict) else data
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        response.data = {"error": {"code": code, "message": str(detail)}, "detail": str(detail)}
    return response


class ScopedViewSetMixin:
    """Restricts the queryset to the caller's scope. Subclasses set ``view_perm``."""

    view_perm: str | None = None

    def get_queryset(self):
        qs = super().get_queryset()
        return qs.visible_to(self.request.user, self.view_perm)


class ScopedReadOnlyViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass


class ScopedModelViewSet(ScopedViewSetMixin, viewsets.ModelViewSet):
    pass
