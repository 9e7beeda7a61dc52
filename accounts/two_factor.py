"""Who must sign in with a second factor, and what a session holds about it.

Sign-in takes two steps for those who must use two factors: the password
(/accounts/login/), then a code (/accounts/two-factor/). Between them the
session holds only a *pending* sign-in: the user is not signed in until the
second step passes, so no page, and no lockout reset, sees them before.
Devices and codes are django-otp's (its TOTP and static devices).
"""

import base64
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from screening.audit import audit
from screening.models import AuditAction

CLINICAL_LEADS = "Clinical leads"
PENDING_SESSION_KEY = "_ketascreen_two_factor_pending"
NEW_CODES_SESSION_KEY = "_ketascreen_new_recovery_codes"
# A password accepted but no code given within this time: start again.
PENDING_SECONDS = 10 * 60
RECOVERY_CODE_COUNT = 10
AUTHENTICATOR_NAME = "Authenticator app"
RECOVERY_CODES_NAME = "Recovery codes"


def two_factor_required(user) -> bool:
    """Clinical leads, staff and superusers always; everyone else when
    TWO_FACTOR_FOR_CLINICIANS is on."""
    if getattr(settings, "TWO_FACTOR_FOR_CLINICIANS", False) or user.is_staff or user.is_superuser:
        return True
    return user.groups.filter(name=CLINICAL_LEADS).exists()


def session_verified(session) -> bool:
    """The session passed a second factor (django-otp keeps the device there)."""
    return bool(session.get(DEVICE_ID_SESSION_KEY))


def second_factor_satisfied(request) -> bool:
    """Signed in, and either verified or not someone who must be."""
    user = request.user
    if not user.is_authenticated:
        return False
    return session_verified(request.session) or not two_factor_required(user)


# --- the pending sign-in, between the two steps ---------------------------------------


def start_pending(request, user, next_url: str) -> None:
    """The password step passed for someone who needs a second factor."""
    request.session[PENDING_SESSION_KEY] = {
        "user": user.pk,
        "backend": user.backend,
        "hash": user.get_session_auth_hash(),
        "next": next_url,
        "at": int(time.time()),
    }


def pending_user(request):
    """The user whose password was accepted in this session, or None when
    there is none, it is stale, or the account changed since (password,
    deactivated). The user carries `.backend` for auth.login."""
    pending = request.session.get(PENDING_SESSION_KEY)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    user = get_user_model().objects.filter(pk=pending.get("user"), is_active=True).first()
    if user is None or user.get_session_auth_hash() != pending.get("hash"):
        return None
    user.backend = pending["backend"]
    return user


def pending_next(request) -> str:
    pending = request.session.get(PENDING_SESSION_KEY) or {}
    return pending.get("next") or ""


def end_pending(request) -> None:
    request.session.pop(PENDING_SESSION_KEY, None)


# --- devices ------------------------------------------------------------------------


def authenticator_for(user, confirmed=True):
    return TOTPDevice.objects.filter(user=user, confirmed=confirmed).order_by("pk").first()


def enrolment_device(user) -> TOTPDevice:
    """The unconfirmed authenticator being set up: the same key on every
    visit of the enrolment page until it is confirmed."""
    device = authenticator_for(user, confirmed=False)
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)
    return device


def key_as_text(device: TOTPDevice) -> str:
    """The key as authenticator apps take it typed in: base32, in groups of four."""
    key = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i:i + 4] for i in range(0, len(key), 4))


def normalised(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def verify_code(user, code: str):
    """The device that accepts `code`, or None: the authenticator's current
    code, or one of the recovery codes (which is used up). Devices are
    locked while checked, so a code is never accepted twice."""
    code = normalised(code)
    if not code:
        return None
    with transaction.atomic():
        if len(code) == 6 and code.isdigit():
            devices = TOTPDevice.objects.filter(user=user, confirmed=True)
        else:
            devices = StaticDevice.objects.filter(user=user, confirmed=True)
        for device in devices.select_for_update().order_by("pk"):
            if device.verify_token(code):
                return device
    return None


def confirm_enrolment(device: TOTPDevice, code: str, *, request) -> bool:
    """The first code from a newly set-up authenticator confirms it
    (audited); a wrong one changes nothing."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        if not device.verify_token(normalised(code)):
            return False
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=device.user, confirmed=False).delete()
        audit(AuditAction.TWO_FACTOR_ENROLLED, request=request, user=device.user)
    return True


def new_recovery_codes(user, *, request) -> list[str]:
    """Replaces the user's recovery codes with RECOVERY_CODE_COUNT new ones,
    each usable once, and returns them (they are shown once). Audited."""
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    with transaction.atomic():
        device, _created = StaticDevice.objects.get_or_create(
            user=user, name=RECOVERY_CODES_NAME, defaults={"confirmed": True}
        )
        device.token_set.all().delete()
        StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
        audit(AuditAction.RECOVERY_CODES_ISSUED, request=request, user=user)
    return codes


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def reset_two_factor(user, *, request) -> int:
    """Removes every device of `user` (a lost phone), audited as done by the
    request's user for `user`: their next sign-in sets up an authenticator
    again. Returns how many devices were removed."""
    with transaction.atomic():
        removed = 0
        for model in (TOTPDevice, StaticDevice):
            removed += model.objects.filter(user=user).delete()[1].get(model._meta.label, 0)
        audit(AuditAction.TWO_FACTOR_RESET, request=request, object_type="user", object_key=user.get_username())
    return removed
