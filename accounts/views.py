"""Two-step sign-in: the password at /accounts/login/ (Django's LoginView),
then, for those who must use two factors, a code at /accounts/two-factor/,
or setting up an authenticator at /accounts/two-factor/set-up/ for those
who have none yet. Wrong codes count towards the same django-axes lockout
as wrong passwords."""

import base64

import qrcode
import qrcode.image.svg
from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.signals import user_login_failed
from django.contrib.auth.views import LoginView, redirect_to_login
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_otp.plugins.otp_static.models import StaticDevice

from accounts import two_factor
from accounts.forms import CodeForm
from screening.audit import audit
from screening.models import AuditAction


class SignInView(LoginView):
    """The password step. Those who need no second factor are signed in at
    once; the others go on to the second step with a pending sign-in."""

    redirect_authenticated_user = True

    def dispatch(self, request, *args, **kwargs):
        # A session that has not passed a second factor its user now needs
        # is no reason to skip the form (and would loop back from the admin).
        if request.user.is_authenticated and not two_factor.second_factor_satisfied(request):
            auth_logout(request)
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form):
        user = form.get_user()
        if not two_factor.two_factor_required(user):
            return super().form_valid(form)
        two_factor.start_pending(self.request, user, self.get_redirect_url())
        if two_factor.authenticator_for(user) is None:
            return redirect("two_factor_setup")
        return redirect("two_factor")


def _back_to_password_step(request):
    """No pending sign-in (or a stale one): the password step again, with
    where the user was going."""
    next_url = two_factor.pending_next(request)
    two_factor.end_pending(request)
    return redirect_to_login(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))


def _code_refused(request, user):
    """A wrong code is a failed sign-in for django-axes (counted towards the
    same lockout as wrong passwords) and for the audit trail."""
    user_login_failed.send(
        sender=__name__, credentials={"username": user.get_username()}, request=request, second_factor=True,
    )


def _locked_out(request, user) -> bool:
    """True when the username is locked out from this address: the attempt
    is refused like a password during a lockout (counted, audited) and the
    pending sign-in ends; AxesMiddleware answers with the lockout page."""
    if AxesProxyHandler.is_allowed(request, {"username": user.get_username()}):
        return False
    _code_refused(request, user)
    request.axes_locked_out = True
    two_factor.end_pending(request)
    return True


def _complete_sign_in(request, user, device) -> str:
    """Signs the user in with the device that passed (django-otp keeps it in
    the session: verified) and returns where to go next."""
    next_url = two_factor.pending_next(request)
    two_factor.end_pending(request)
    kind = "recovery code" if isinstance(device, StaticDevice) else "authenticator app"
    audit(AuditAction.SECOND_FACTOR_PASSED, request=request, user=user, object_type="second_factor", object_key=kind)
    user.otp_device = device
    auth_login(request, user, backend=user.backend)
    safe = url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return next_url if next_url and safe else resolve_url(settings.LOGIN_REDIRECT_URL)


def _after_code_failure(request, form, user):
    form.add_error("code", "That code is not right. Check it and try again.")
    _code_refused(request, user)
    if getattr(request, "axes_locked_out", False):
        two_factor.end_pending(request)


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def second_step(request):
    user = two_factor.pending_user(request)
    if user is None:
        return _back_to_password_step(request)
    if two_factor.authenticator_for(user) is None:
        return redirect("two_factor_setup")
    form = CodeForm(
        request.POST or None,
        help_text="The six digits your authenticator app shows for KetaScreen, or one of your recovery codes.",
    )
    if request.method == "POST" and form.is_valid():
        if _locked_out(request, user):
            return render(request, "registration/two_factor.html", {"form": form}, status=429)
        device = two_factor.verify_code(user, form.cleaned_data["code"])
        if device is not None:
            next_url = _complete_sign_in(request, user, device)
            if isinstance(device, StaticDevice):
                left = two_factor.recovery_codes_left(user)
                messages.warning(
                    request,
                    f"You signed in with a recovery code, which cannot be used again; {left} left. "
                    "If your phone is lost, ask your clinic's administrator to reset two-factor sign-in.",
                )
            return redirect(next_url)
        _after_code_failure(request, form, user)
    return render(request, "registration/two_factor.html", {"form": form})


def _qr_code(device) -> str:
    """The enrolment QR code as an SVG data URI, drawn here (no network)."""
    svg = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, border=2).to_string()
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode()


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def setup(request):
    """Setting up an authenticator app after the password step, for someone
    who must use two factors and has none: QR code or key, then a code to
    confirm; then recovery codes."""
    user = two_factor.pending_user(request)
    if user is None:
        return _back_to_password_step(request)
    if two_factor.authenticator_for(user) is not None:
        return redirect("two_factor")
    device = two_factor.enrolment_device(user)
    form = CodeForm(request.POST or None, help_text="The six digits the app shows for KetaScreen once it is added.")
    if request.method == "POST" and form.is_valid():
        if _locked_out(request, user):
            return render(request, "registration/two_factor_setup.html", {"form": form}, status=429)
        if two_factor.confirm_enrolment(device, form.cleaned_data["code"], request=request):
            device.refresh_from_db()
            codes = two_factor.new_recovery_codes(user, request=request)
            next_url = _complete_sign_in(request, user, device)
            request.session[two_factor.NEW_CODES_SESSION_KEY] = {"codes": codes, "next": next_url}
            return redirect("two_factor_recovery_codes")
        _after_code_failure(request, form, user)
    return render(request, "registration/two_factor_setup.html", {
        "form": form, "qr_code": _qr_code(device), "key": two_factor.key_as_text(device), "username": user.get_username(),
    })


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def recovery_codes(request):
    """New recovery codes, shown once: kept in the session only until the
    user moves on (POST)."""
    fresh = request.session.get(two_factor.NEW_CODES_SESSION_KEY)
    if request.method == "POST":
        request.session.pop(two_factor.NEW_CODES_SESSION_KEY, None)
        return redirect((fresh or {}).get("next") or settings.LOGIN_REDIRECT_URL)
    return render(request, "registration/recovery_codes.html", {
        "codes": (fresh or {}).get("codes"),
        "verified": two_factor.session_verified(request.session),
        "left": two_factor.recovery_codes_left(request.user),
    })


@never_cache
@login_required
@require_safe
def recovery_codes_download(request):
    fresh = request.session.get(two_factor.NEW_CODES_SESSION_KEY)
    if not fresh:
        raise Http404("Recovery codes are shown only once, just after they are made.")
    text = (
        f"KetaScreen recovery codes for {request.user.get_username()}\n"
        "Each code signs you in once instead of a code from your authenticator app.\n\n"
        + "\n".join(fresh["codes"]) + "\n"
    )
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="ketascreen-recovery-codes.txt"'
    return response


@never_cache
@login_required
@require_POST
def recovery_codes_new(request):
    """Replaces the recovery codes; only from a session that passed a second factor."""
    if not two_factor.session_verified(request.session):
        raise Http404("Only a session signed in with two factors can make recovery codes.")
    codes = two_factor.new_recovery_codes(request.user, request=request)
    request.session[two_factor.NEW_CODES_SESSION_KEY] = {"codes": codes, "next": ""}
    return redirect("two_factor_recovery_codes")
