"""Sign-in, two-factor step, password change and sign-out."""

from __future__ import annotations

import base64
import io

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from pbqms.accounts import services
from pbqms.accounts.forms import LoginForm, OTPTokenForm, PasswordChangeForm
from pbqms.accounts.middleware import needs_otp
from pbqms.core.changelog import log_security_event


def lockout_response(request, credentials=None, *args, **kwargs):
    minutes = int(settings.AXES_COOLOFF_TIME * 60)
    form = LoginForm(request)
    return render(
        request,
        "accounts/login.html",
        {
            "form": form,
            "locked_out": True,
            "lockout_minutes": minutes,
        },
        status=429,
    )


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


@require_POST
def logout_view(request):
    from django.contrib.auth import logout

    logout(request)  # flushes the server-side session
    messages.success(request, _("You have signed out."))
    return redirect(settings.LOGOUT_REDIRECT_URL)


def _safe_next(request) -> str:
    nxt = request.GET.get("next") or request.POST.get("next") or ""
    if nxt and url_has_allowed_host_and_scheme(nxt, {request.get_host()}, request.is_secure()):
        return nxt
    return settings.LOGIN_REDIRECT_URL


def _qr_svg(uri: str) -> str:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


@login_required
def otp_view(request):
    """Verify a TOTP code; with no confirmed device yet, set one up first."""
    user = request.user
    device = services.totp_device(user, confirmed=True)
    setup = device is None
    if setup:
        device = services.start_totp_setup(user)
    form = OTPTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token = form.cleaned_data["token"]
        ok = services.confirm_totp(user, device, token) if setup else device.verify_token(token)
        if ok:
            otp_login(request, device)
            if not setup:
                log_security_event("login", user=user, details={"factor": "totp"})
            return redirect(_safe_next(request))
        if not setup:
            log_security_event("otp_failed", user=user, outcome="failure")
        form.add_error("token", _("The code is wrong or has expired. Try the newest code."))
    context = {"form": form, "setup": setup, "required": needs_otp(user)}
    if setup:
        context["qr"] = _qr_svg(device.config_url)
        context["secret"] = base64.b32encode(device.bin_key).decode()
    return render(request, "accounts/otp.html", context)


@login_required
def password_change(request):
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.change_password(user=request.user, new_password=form.cleaned_data["new_password1"])
        from django.contrib.auth import update_session_auth_hash

        update_session_auth_hash(request, request.user)
        messages.success(request, _("Your password has been changed."))
        return redirect(settings.LOGIN_REDIRECT_URL)
    forced = request.user.must_change_password or request.user.password_expired()
    return render(request, "accounts/password_change.html", {"form": form, "forced": forced})
