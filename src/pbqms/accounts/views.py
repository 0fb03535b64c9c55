"""Sign-in, two-factor step, password change and sign-out."""

from __future__ import annotations

import base64
import io

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render, resolve_url
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import i18n as i18n_views
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from pbqms.accounts import services
from pbqms.accounts.forms import LoginForm, OTPTokenForm, PasswordChangeForm, ProfileForm
from pbqms.accounts.middleware import SESSION_OTP_ENROLLED, needs_otp


def lockout_response(request, credentials=None, *args, **kwargs):
    """AXES_LOCKOUT_CALLABLE: the sign-in page with the lockout message (HTTP 429)."""
    form = LoginForm(request)
    return render(
        request,
        "accounts/login.html",
        {"form": form, "locked_out": True, "lockout_minutes": services.lockout_minutes()},
        status=429,
    )


def _set_language_cookie(response, language: str) -> None:
    if language in dict(settings.LANGUAGES):
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
            secure=settings.LANGUAGE_COOKIE_SECURE,
            httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        # the user's language preference applies from the first page after sign-in
        user = form.get_user()
        _set_language_cookie(response, user.language)
        translation.activate(user.language)
        return response


@require_POST
def logout_view(request):
    logout(request)  # flushes the server-side session (the row is deleted)
    messages.success(request, _("You have signed out."))
    return redirect(settings.LOGOUT_REDIRECT_URL)


def _safe_next(request) -> str:
    nxt = request.GET.get("next") or request.POST.get("next") or ""
    if nxt and url_has_allowed_host_and_scheme(nxt, {request.get_host()}, request.is_secure()):
        return nxt
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _qr_svg(uri: str) -> str:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


@login_required
@sensitive_post_parameters("token")
def otp_view(request):
    """Two-factor authentication for the signed-in user.

    - no confirmed device (or ``?setup=1`` once verified): set up a device (QR code and key),
      confirmed with a code it produced;
    - a confirmed device and a session not yet verified: enter a code;
    - verified: the status, with a way to move to a new phone.
    """
    user = request.user
    device = services.totp_device(user, confirmed=True)
    verified = user.is_verified()
    setup = device is None or (verified and request.GET.get("setup") == "1")
    if device is not None and verified and not setup:
        return render(
            request,
            "accounts/otp.html",
            {"status": True, "required": needs_otp(user), "device": device},
        )
    if setup:
        device = services.start_totp_setup(user)
    form = OTPTokenForm(request.POST or None)
    wait = services.totp_wait_seconds(device) if request.method == "POST" else 0
    if wait:
        form.is_valid()
        form.add_error(
            "token",
            _("Too many wrong codes. Wait %(n)d seconds, then enter the newest code.")
            % {"n": wait},
        )
    elif request.method == "POST" and form.is_valid():
        token = form.cleaned_data["token"]
        ok = (
            services.confirm_totp(user, device, token)
            if setup
            else services.verify_totp(user, device, token)
        )
        if ok:
            otp_login(request, device)
            request.session[SESSION_OTP_ENROLLED] = True
            if setup:
                messages.success(request, _("Two-factor authentication is now on."))
            return redirect(_safe_next(request))
        form.add_error("token", _("The code is wrong or has expired. Try the newest code."))
    context = {
        "status": False,
        "wait": wait,
        "form": form,
        "setup": setup,
        "required": needs_otp(user),
        "next": _safe_next(request),
        "replacing": setup and verified,
    }
    if setup:
        context["qr"] = _qr_svg(device.config_url)
        context["secret"] = base64.b32encode(device.bin_key).decode()
    return render(request, "accounts/otp.html", context)


@login_required
@sensitive_post_parameters("old_password", "new_password1", "new_password2")
def password_change(request):
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.change_password(user=request.user, new_password=form.cleaned_data["new_password1"])
        update_session_auth_hash(request, request.user)
        messages.success(request, _("Your password has been changed."))
        return redirect(settings.LOGIN_REDIRECT_URL)
    forced = request.user.must_change_password or request.user.password_expired()
    return render(
        request,
        "accounts/password_change.html",
        {"form": form, "forced": forced, "expired": request.user.password_expired()},
    )


@login_required
def profile(request):
    """The user's own account: language preference (applied at every sign-in), and links to
    password and two-factor settings."""
    user = request.user
    form = ProfileForm(request.POST or None, initial={"language": user.language})
    if request.method == "POST" and form.is_valid():
        language = form.cleaned_data["language"]
        if language != user.language:
            user.language = language
            user.save(update_fields=["language"])
        translation.activate(language)
        messages.success(request, _("Your settings have been saved."))
        response = redirect("accounts:profile")
        _set_language_cookie(response, language)
        return response
    context = {
        "form": form,
        "otp_device": services.totp_device(user, confirmed=True),
        "otp_required": needs_otp(user),
    }
    return render(request, "accounts/profile.html", context)


@require_POST
def set_language(request):
    """The language switch of the top bar: Django's ``set_language`` that also saves the
    choice on the signed-in user's account."""
    response = i18n_views.set_language(request)
    language = request.POST.get("language")
    user = request.user
    if user.is_authenticated and language in dict(settings.LANGUAGES) and language != user.language:
        user.language = language
        user.save(update_fields=["language"])
    return response
