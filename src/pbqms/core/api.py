"""Shared API pieces: structured errors, scope-aware permissions, the scoped viewset base,
token authentication and the read-only change-log endpoint.

The rules every endpoint follows (the same as the UI):

* A caller who holds the endpoint's permission nowhere gets 403.
* Lists and lookups go through ``visible_to(user, perm)``; an object outside the caller's
  scope does not exist for them (404, and absent from lists).
* Inside the scope but without the right for the action: 403.
* Writes go through the app's services; their ``ValidationError`` becomes a 400 with field
  errors, a stale ``version`` a 409. Nothing is saved on an error (one transaction).
"""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters
from django_otp.plugins.otp_totp.models import TOTPDevice
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import exceptions, permissions, serializers, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from pbqms.core import scope
from pbqms.core.authentication import PbqmsTokenAuthentication, token_refusal
from pbqms.core.changelog import log_security_event
from pbqms.core.changelog_filters import MAX_ID, ChangeLogFilter
from pbqms.core.locking import StaleObjectError
from pbqms.core.models import ChangeLogEntry
from pbqms.core.roles import CHANGELOG_VIEW

# ---------------------------------------------------------------- errors


def _django_validation_detail(exc: DjangoValidationError):
    if hasattr(exc, "error_dict"):
        return {
            (field if field != "__all__" else "non_field_errors"): [str(m) for e in errs for m in e]
            for field, errs in exc.error_dict.items()
        }
    return {"non_field_errors": [str(m) for m in exc.messages]}


def error_response(exc: DjangoValidationError) -> Response:
    """A refused write or workflow step as a response in the API's error format: 400 with the
    fields (code ``transition_not_allowed`` for a step not allowed now), or 409 for a stale
    version. Returned rather than raised where the request's transaction must be kept (a
    refused e-signature stays in the change log)."""
    if isinstance(exc, StaleObjectError):
        return Response(
            {"error": {"code": "stale", "message": str(exc.messages[0])}},
            status=status.HTTP_409_CONFLICT,
        )
    from pbqms.core.workflow import TransitionNotAllowed

    fields = _django_validation_detail(exc)
    code = "transition_not_allowed" if isinstance(exc, TransitionNotAllowed) else "invalid"
    body = {"error": {"code": code, "message": _("Invalid input."), "fields": fields}, **fields}
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


def exception_handler(exc, ctx):
    """Errors as ``{"error": {"code", "message", "fields"}}`` plus DRF's field map.

    ``fields`` (and the top-level copy of it) maps each field to a list of messages;
    errors that concern no single field are under ``non_field_errors``."""
    if isinstance(exc, StaleObjectError):
        from rest_framework.views import set_rollback

        set_rollback()
        return Response(
            {"error": {"code": "stale", "message": str(exc.messages[0])}},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, RequestDataTooBig):
        exc = exceptions.APIException(_("The request is too large."), code="too_large")
        exc.status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    elif isinstance(exc, SuspiciousOperation):
        # e.g. too many form fields: a malformed request, answered in JSON like the rest
        exc = exceptions.ParseError(_("The request could not be read."))
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
            "error": {"code": "invalid", "message": _("Invalid input."), "fields": fields},
            **fields,
        }
    else:
        detail = data.get("detail", "") if isinstance(data, dict) else data
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        response.data = {"error": {"code": code, "message": str(detail)}, "detail": str(detail)}
    return response


# ---------------------------------------------------------------- fields


class BoundedPrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """A reference by id; a malformed or out-of-range id is a field error (never a database
    overflow)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("incorrect_type", data_type=type(data).__name__)
        try:
            pk = int(data)
        except (TypeError, ValueError):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if not 0 < pk <= MAX_ID:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(pk)


class ScopedPrimaryKeyField(BoundedPrimaryKeyField):
    """A reference by id to an object the caller may see (``visible_to(user, perm)``).
    An id outside the scope gets the same answer as an id that does not exist."""

    def __init__(self, *, model=None, perm: str | None = None, **kwargs):
        self.model = model
        self.perm = perm
        if not kwargs.get("read_only"):
            kwargs.setdefault("queryset", model._default_manager.none())
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return self.model._default_manager.visible_to(user, self.perm)


class VersionField(serializers.IntegerField):
    """The ``version`` an edit is based on (optimistic locking): required; a stale one is
    answered with 409."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**31 - 1)
        kwargs.setdefault(
            "help_text",
            gettext_lazy(
                "The version of the record the change is based on, as last read. A stale "
                "version is refused with 409."
            ),
        )
        super().__init__(**kwargs)


class VersionRequiredMixin:
    """Serializer mixin: ``version`` is required even on partial updates (PATCH)."""

    def validate(self, attrs):
        if "version" not in attrs:
            raise serializers.ValidationError({"version": [_("This field is required.")]})
        return super().validate(attrs)


# ---------------------------------------------------------------- permissions


class ScopePermission(permissions.BasePermission):
    """403 for a caller who holds the view's permission for this action nowhere; per
    object, 403 when the object is visible (else it would already be 404) but the action's
    permission is not granted on its unit."""

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return view.may_use(user, view.perm_for_action())

    def has_object_permission(self, request, view, obj):
        perm = view.action_perms.get(view.action)
        if perm is None:
            return True
        return scope.has_perm(request.user, perm, view.scope_org(obj))


class ScopedViewSetMixin:
    """Restricts the queryset to the caller's scope.

    Subclasses set ``view_perm`` (reads) and ``action_perms`` (``{action: perm}`` for
    writes). The services re-check every write; the checks here only make sure a caller
    without the right hears 403 before any 400 about their input."""

    view_perm: str | None = None
    action_perms: dict[str, str] = {}
    permission_classes = [permissions.IsAuthenticated, ScopePermission]

    def perm_for_action(self) -> str | None:
        return self.action_perms.get(self.action) or self.view_perm

    def may_use(self, user, perm: str | None) -> bool:
        return perm is None or scope.has_perm(user, perm)

    def scope_org(self, obj):
        return getattr(obj, "org", obj)

    def get_queryset(self):
        qs = super().get_queryset()
        return qs.visible_to(self.request.user, self.view_perm)


class ScopedReadOnlyViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass


class ScopedModelViewSet(ScopedViewSetMixin, viewsets.ModelViewSet):
    pass


# ---------------------------------------------------------------- token authentication


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150, trim_whitespace=False)
    password = serializers.CharField(
        max_length=4096, trim_whitespace=False, style={"input_type": "password"}, write_only=True
    )
    otp = serializers.CharField(
        max_length=12,
        required=False,
        allow_blank=True,
        help_text=gettext_lazy(
            "The current code of the authenticator app; required when the account has "
            "two-factor authentication set up."
        ),
    )


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    username = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    error = inline_serializer(
        "ErrorBody",
        {
            "code": serializers.CharField(),
            "message": serializers.CharField(),
            # {field: [messages]}; a list or nested field has its errors nested the same way
            "fields": serializers.DictField(child=serializers.JSONField(), required=False),
        },
    )


# documented error answers of write endpoints (``responses={200: …, **ERROR_RESPONSES}``)
ERROR_RESPONSES = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input or step not allowed now."),
    403: OpenApiResponse(ErrorSerializer, description="Not allowed for your roles."),
    404: OpenApiResponse(ErrorSerializer, description="Not found (or outside your scope)."),
}
# … and of those that take the ``version`` an edit is based on
VERSIONED_ERROR_RESPONSES = {
    **ERROR_RESPONSES,
    409: OpenApiResponse(ErrorSerializer, description="Stale version: another edit came first."),
}


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class TokenView(APIView):
    """Exchange a username and password for an API token (``Authorization: Token <key>``).

    Failures count towards the account and IP lockout exactly like the sign-in page.
    Accounts holding an administrator role (system, security, audit administrator) must use
    two-factor authentication: they get no token and use the API through their signed-in
    browser session instead. ``DELETE`` revokes the caller's token."""

    authentication_classes = [PbqmsTokenAuthentication]
    permission_classes = [permissions.AllowAny]
    throttle_classes = []

    def get_permissions(self):
        if self.request.method == "DELETE":
            return [permissions.IsAuthenticated()]
        return super().get_permissions()

    def get_authenticators(self):
        # POST must not depend on a session cookie (and so needs no CSRF token)
        if getattr(self, "request", None) is not None and self.request.method == "POST":
            return []
        return super().get_authenticators()

    def _error(self, code: str, message: str, http_status: int, fields=None) -> Response:
        body = {"error": {"code": code, "message": message}}
        if fields:
            body["error"]["fields"] = fields
            body.update(fields)
        return Response(body, status=http_status)

    @extend_schema(
        operation_id="auth_token_create",
        summary="Get an API token (not for administrator roles)",
        request=TokenRequestSerializer,
        responses={
            200: TokenResponseSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Missing fields or wrong login."),
            403: OpenApiResponse(
                ErrorSerializer,
                description="Administrator account (use session authentication) or "
                "password change pending.",
            ),
            429: OpenApiResponse(ErrorSerializer, description="Account or IP locked out."),
        },
        auth=[],
    )
    def post(self, request, *args, **kwargs):
        serializer = TokenRequestSerializer(data=request.data)
        if not serializer.is_valid():
            return self._error(
                "invalid", _("Invalid input."), status.HTTP_400_BAD_REQUEST, serializer.errors
            )
        django_request = request._request
        user = authenticate(
            request=django_request,
            username=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
        )
        if getattr(django_request, "axes_locked_out", False):
            # answer here in JSON; the lockout middleware would answer with the sign-in page
            django_request.axes_locked_out = False
            return self._error(
                "locked_out",
                _("Too many failed sign-in attempts. Try again later."),
                status.HTTP_429_TOO_MANY_REQUESTS,
            )
        if user is None:
            return self._error(
                "invalid_credentials",
                _("The username or password is wrong."),
                status.HTTP_400_BAD_REQUEST,
                {"non_field_errors": [_("The username or password is wrong.")]},
            )
        refusal = token_refusal(user)
        if refusal is not None:
            log_security_event(
                "login_failed", user=user, outcome="failure", details={"via": "api_token"}
            )
            return self._error(refusal[0], refusal[1], status.HTTP_403_FORBIDDEN)
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is not None:
            code = (serializer.validated_data.get("otp") or "").strip()
            if not code or not device.verify_token(code):
                if code:
                    log_security_event("otp_failed", user=user, outcome="failure")
                message = (
                    _("The code is wrong or has expired. Try the newest code.")
                    if code
                    else _("Enter the code from your authenticator app.")
                )
                return self._error(
                    "otp_required" if not code else "otp_invalid",
                    message,
                    status.HTTP_400_BAD_REQUEST,
                    {"otp": [message]},
                )
        token, _created = Token.objects.get_or_create(user=user)
        # a successful sign-in: the change log records it (never the token), the lockout
        # counter is reset and last_login stamped, as for the sign-in page
        user_logged_in.send(sender=type(user), request=django_request, user=user)
        return Response({"token": token.key, "username": user.username})

    @extend_schema(
        operation_id="auth_token_destroy",
        summary="Revoke your API token",
        request=None,
        responses={204: None},
    )
    def delete(self, request, *args, **kwargs):
        Token.objects.filter(user=request.user).delete()
        log_security_event("logout", user=request.user, details={"via": "api_token"})
        return Response(status=status.HTTP_204_NO_CONTENT)


# Failed sign-ins are answered with a returned response, not a raised exception, so the
# request's transaction commits and the failure (change log, lockout counter) is kept.
token_view = TokenView.as_view()


# ---------------------------------------------------------------- change log


class ChangeLogEntrySerializer(serializers.ModelSerializer):
    action_display = serializers.CharField(source="get_action_display", read_only=True)
    is_security_event = serializers.BooleanField(read_only=True)
    changes = serializers.JSONField(
        read_only=True,
        help_text=gettext_lazy(
            "For changes of an object: {field: [old, new]}. For security events: details."
        ),
    )

    class Meta:
        model = ChangeLogEntry
        fields = [
            "id",
            "timestamp",
            "actor",
            "actor_repr",
            "ip",
            "request_id",
            "source",
            "action",
            "action_display",
            "is_security_event",
            "outcome",
            "object_type",
            "object_id",
            "object_repr",
            "org_id",
            "changes",
            "reason",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(
        summary="List change-log entries (audit administrator only)",
        description="Every change of a domain object and every security event, newest "
        "first. Read-only: entries cannot be changed or deleted.",
    ),
    retrieve=extend_schema(summary="One change-log entry (audit administrator only)"),
)
class ChangeLogViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit trail. Only the audit administrator (``core.view_changelogentry``) may
    read it; everyone else gets 403."""

    queryset = ChangeLogEntry.objects.order_by("-id")
    serializer_class = ChangeLogEntrySerializer
    filterset_class = ChangeLogFilter
    ordering_fields = ["id", "timestamp"]
    ordering = ["-id"]
    permission_classes = [permissions.IsAuthenticated, ScopePermission]
    action_perms: dict[str, str] = {}

    def perm_for_action(self) -> str:
        return CHANGELOG_VIEW

    def may_use(self, user, perm) -> bool:
        return scope.has_perm(user, perm)

    def scope_org(self, obj):
        return None


class NotFoundView(APIView):
    """Any other path under /api/: a JSON 404 (not the HTML page)."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []
    schema = None  # not part of the documented API

    def dispatch(self, request, *args, **kwargs):
        # every method answers 404, before any method or authentication check
        self.args, self.kwargs = args, kwargs
        self.request = self.initialize_request(request, *args, **kwargs)
        self.headers = self.default_response_headers
        response = self.handle_exception(exceptions.NotFound())
        self.response = self.finalize_response(self.request, response, *args, **kwargs)
        return self.response


api_not_found = NotFoundView.as_view()
