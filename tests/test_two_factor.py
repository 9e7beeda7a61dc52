"""Two-factor sign-in through HTTP: who must use it, setting up an
authenticator, codes and recovery codes, the lockout, `next`, the admin and
the setting for clinicians."""

import base64
import string
import time

import django.test
import pytest
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from screening.models import AuditAction, AuditEvent
from tests.conftest import TEST_PASSWORD, user_in_role
from tests.markup import parse
from tests.two_factor import device_key, totp, totp_now

pytestmark = pytest.mark.django_db

ADDRESS = "10.0.0.7"


def password_step(client, username, password=TEST_PASSWORD, next_url=None):
    data = {"username": username, "password": password}
    if next_url is not None:
        data["next"] = next_url
    return client.post("/accounts/login/", data, REMOTE_ADDR=ADDRESS)


def code_step(client, code):
    return client.post("/accounts/two-factor/", {"code": code}, REMOTE_ADDR=ADDRESS)


def signed_in(client):
    return client.get("/screenings/").status_code == 200


def enrolled(user):
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


def actions():
    return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


@pytest.fixture
def plain_client():
    """Django's own test client: force_login leaves an unverified session."""
    return django.test.Client()


@pytest.fixture
def lead_with_phone(lead):
    return lead, enrolled(lead)


# --- who must use it ----------------------------------------------------------------


def test_a_clinician_signs_in_with_the_password_alone(client, clinician):
    response = password_step(client, "clinician")
    assert response["Location"] == "/screenings/"
    assert signed_in(client)


@pytest.mark.parametrize("make_user", [
    lambda: user_in_role("lead", "Clinical leads", is_staff=True),
    lambda: user_in_role("lead-not-staff", "Clinical leads"),
    lambda: user_in_role("staff-member", "Clinicians", is_staff=True),
    lambda: user_in_role("superuser", "Clinicians", is_superuser=True),
], ids=["clinical lead", "clinical lead without staff status", "staff", "superuser"])
def test_those_who_must_use_two_factors_are_not_signed_in_by_the_password_alone(client, make_user):
    user = make_user()
    response = password_step(client, user.username)
    assert response["Location"] == "/accounts/two-factor/set-up/"
    assert not signed_in(client)


def test_the_setting_makes_clinicians_use_two_factors_too(client, clinician, settings):
    settings.TWO_FACTOR_FOR_CLINICIANS = True
    assert password_step(client, "clinician")["Location"] == "/accounts/two-factor/set-up/"
    assert not signed_in(client)


def test_turning_the_setting_on_signs_out_clinicians_signed_in_with_a_password_alone(
    plain_client, clinician, settings
):
    plain_client.force_login(clinician)
    assert signed_in(plain_client)
    settings.TWO_FACTOR_FOR_CLINICIANS = True
    response = plain_client.get("/screenings/")
    assert response["Location"] == "/accounts/login/?next=/screenings/"


# --- setting up an authenticator ----------------------------------------------------


def shown_key(page_html):
    """The set-up key as the page shows it (base32 in groups), decoded."""
    key = parse(page_html).select_one("[data-testid=setup-key]").text()
    return base64.b32decode(key.replace(" ", ""))


def shown_codes(page_html):
    """The recovery codes a page lists, each eight letters and digits of base32, in lower case."""
    codes = [item.text() for item in parse(page_html).select("[data-testid=recovery-codes] li")]
    assert all(len(code) == 8 and set(code) <= set(string.ascii_lowercase + "234567") for code in codes)
    return codes


def test_a_lead_sets_up_an_authenticator_after_the_password_and_gets_recovery_codes(client, lead):
    password_step(client, "lead")
    page = client.get("/accounts/two-factor/set-up/")
    html = page.content.decode()
    assert parse(html).select_one('img[src^="data:image/svg+xml;base64,"]')  # the QR code, drawn by the server
    key = shown_key(html)
    assert shown_key(client.get("/accounts/two-factor/set-up/").content.decode()) == key  # the same until confirmed

    wrong = client.post("/accounts/two-factor/set-up/", {"code": "000000" if totp_now(key) != "000000" else "111111"},
                        REMOTE_ADDR=ADDRESS)
    assert "That code is not right" in wrong.content.decode()
    assert not signed_in(client)

    confirmed = client.post("/accounts/two-factor/set-up/", {"code": totp_now(key)}, REMOTE_ADDR=ADDRESS)
    assert confirmed["Location"] == "/accounts/two-factor/recovery-codes/"
    codes_page = client.get("/accounts/two-factor/recovery-codes/").content.decode()
    codes = shown_codes(codes_page)
    assert len(codes) == 10
    download = client.get("/accounts/two-factor/recovery-codes/download/")
    assert download["Content-Disposition"].startswith("attachment")
    assert all(code in download.content.decode() for code in codes)

    moved_on = client.post("/accounts/two-factor/recovery-codes/")
    assert moved_on["Location"] == "/screenings/"
    # shown once: neither the page nor the download gives them again
    assert not any(code in client.get("/accounts/two-factor/recovery-codes/").content.decode() for code in codes)
    assert client.get("/accounts/two-factor/recovery-codes/download/").status_code == 404
    assert client.get("/admin/").status_code == 200
    assert actions() == [
        AuditAction.SECOND_FACTOR_FAILED, AuditAction.TWO_FACTOR_ENROLLED, AuditAction.RECOVERY_CODES_ISSUED,
        AuditAction.SECOND_FACTOR_PASSED, AuditAction.SIGN_IN,
    ]


def test_someone_with_an_authenticator_is_asked_for_a_code_not_to_set_up_again(client, lead_with_phone):
    assert password_step(client, "lead")["Location"] == "/accounts/two-factor/"
    assert client.get("/accounts/two-factor/set-up/")["Location"] == "/accounts/two-factor/"


def test_the_code_pages_need_the_password_first(client, lead_with_phone):
    for page in ("/accounts/two-factor/", "/accounts/two-factor/set-up/"):
        assert client.get(page)["Location"].startswith("/accounts/login/")
        assert client.post(page, {"code": "123456"})["Location"].startswith("/accounts/login/")


# --- the code ------------------------------------------------------------------------


def test_the_right_code_signs_in_and_is_audited(client, lead_with_phone):
    lead, device = lead_with_phone
    password_step(client, "lead")
    assert actions() == []  # the password alone is not a sign-in
    response = code_step(client, totp_now(device_key(device)))
    assert response["Location"] == "/screenings/"
    assert signed_in(client)
    passed, sign_in = AuditEvent.objects.order_by("id")
    assert (passed.action, passed.user, passed.ip_address, passed.object_key) == (
        AuditAction.SECOND_FACTOR_PASSED, lead, ADDRESS, "authenticator app")
    assert (sign_in.action, sign_in.user) == (AuditAction.SIGN_IN, lead)


def test_a_wrong_code_is_refused_and_audited(client, lead_with_phone):
    _lead, device = lead_with_phone
    password_step(client, "lead")
    right = totp_now(device_key(device))
    response = code_step(client, "123456" if right != "123456" else "654321")
    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    assert not signed_in(client)
    failed = AuditEvent.objects.get()
    assert (failed.action, failed.username, failed.user, failed.ip_address) == (
        AuditAction.SECOND_FACTOR_FAILED, "lead", None, ADDRESS)
    # the form keeps what was typed, and the right code still works
    assert code_step(client, right)["Location"] == "/screenings/"


def test_a_code_used_once_is_refused_the_second_time(client, lead_with_phone):
    _lead, device = lead_with_phone
    code = totp_now(device_key(device))
    password_step(client, "lead")
    assert code_step(client, code)["Location"] == "/screenings/"
    client.post("/accounts/logout/")
    password_step(client, "lead")
    assert "That code is not right" in code_step(client, code).content.decode()


def test_a_recovery_code_signs_in_once(client, lead_with_phone):
    lead, _device = lead_with_phone
    codes = ["abcd2345", "efgh6723"]
    static = lead.staticdevice_set.create(name="Recovery codes", confirmed=True)
    for code in codes:
        StaticToken.objects.create(device=static, token=code)

    password_step(client, "lead")
    response = code_step(client, "ABCD 2345")  # as printed, typed in capitals with a space
    assert response["Location"] == "/screenings/"
    assert "recovery code" in parse(client.get("/screenings/").content).text()
    assert AuditEvent.objects.get(action=AuditAction.SECOND_FACTOR_PASSED).object_key == "recovery code"
    client.post("/accounts/logout/")

    password_step(client, "lead")
    assert "That code is not right" in code_step(client, "abcd2345").content.decode()
    assert code_step(client, "efgh6723")["Location"] == "/screenings/"


def test_a_signed_in_lead_can_replace_the_recovery_codes(client, lead_with_phone):
    lead, device = lead_with_phone
    password_step(client, "lead")
    code_step(client, totp_now(device_key(device)))
    assert client.post("/accounts/two-factor/recovery-codes/new/")["Location"] == "/accounts/two-factor/recovery-codes/"
    codes = shown_codes(client.get("/accounts/two-factor/recovery-codes/").content.decode())
    assert len(codes) == 10
    assert set(StaticToken.objects.filter(device__user=lead).values_list("token", flat=True)) == set(codes)


# --- lockout -------------------------------------------------------------------------


def wrong_code(device):
    right = {totp(device_key(device), time.time() + step * 30) for step in (-1, 0, 1)}
    return next(code for code in ("123456", "234567", "345678", "456789") if code not in right)


def test_five_wrong_codes_lock_the_account_like_wrong_passwords(client, lead_with_phone):
    _lead, device = lead_with_phone
    password_step(client, "lead")
    for _ in range(4):
        assert code_step(client, wrong_code(device)).status_code == 200
    fifth = code_step(client, wrong_code(device))
    assert fifth.status_code == 429
    assert "refused for 15 minutes" in fifth.content.decode()
    # the pending sign-in is gone, and the password is refused as after five wrong passwords
    assert code_step(client, totp_now(device_key(device))).status_code == 302
    assert not signed_in(client)
    locked = password_step(client, "lead")
    assert locked.status_code == 429
    assert "refused for 15 minutes" in locked.content.decode()
    assert actions().count(AuditAction.LOCKED_OUT) == 1
    assert actions().count(AuditAction.SECOND_FACTOR_FAILED) == 5


def test_wrong_passwords_and_wrong_codes_count_together(client, lead_with_phone):
    """The right password does not wipe earlier failures: only a full sign-in does."""
    _lead, device = lead_with_phone
    for _ in range(3):
        password_step(client, "lead", password="wrong-password")
    password_step(client, "lead")
    assert code_step(client, wrong_code(device)).status_code == 200
    assert code_step(client, wrong_code(device)).status_code == 429


def test_a_right_code_during_a_lockout_is_refused(client, lead_with_phone):
    _lead, device = lead_with_phone
    password_step(client, "lead")  # the password is right; then another tab fails five times
    for _ in range(5):
        django.test.Client().post("/accounts/login/", {"username": "lead", "password": "wrong"}, REMOTE_ADDR=ADDRESS)
    response = code_step(client, totp_now(device_key(device)))
    assert response.status_code == 429
    assert not signed_in(client)


# --- next ----------------------------------------------------------------------------


def test_next_is_honoured_through_both_steps(client, lead_with_phone):
    _lead, device = lead_with_phone
    assert password_step(client, "lead", next_url="/admin/conditions/criterion/")["Location"] == "/accounts/two-factor/"
    assert code_step(client, totp_now(device_key(device)))["Location"] == "/admin/conditions/criterion/"


def test_next_is_honoured_through_setting_up(client, lead):
    password_step(client, "lead", next_url="/admin/")
    key = shown_key(client.get("/accounts/two-factor/set-up/").content.decode())
    client.post("/accounts/two-factor/set-up/", {"code": totp_now(key)}, REMOTE_ADDR=ADDRESS)
    assert client.post("/accounts/two-factor/recovery-codes/")["Location"] == "/admin/"


@pytest.mark.parametrize("unsafe", ["https://elsewhere.example/", "//elsewhere.example/", "javascript:alert(1)"])
def test_an_unsafe_next_is_ignored(client, lead_with_phone, unsafe):
    _lead, device = lead_with_phone
    password_step(client, "lead", next_url=unsafe)
    assert code_step(client, totp_now(device_key(device)))["Location"] == "/screenings/"


# --- the admin -----------------------------------------------------------------------


def test_the_admin_needs_a_session_that_passed_the_second_factor(plain_client, lead):
    plain_client.force_login(lead)  # a password-only session, as a test or an older release could make
    response = plain_client.get("/admin/conditions/criterion/")
    assert response.status_code == 302
    assert not plain_client.get("/admin/").status_code == 200
    assert plain_client.get("/admin/login/")["Location"] == "/accounts/login/?next=/admin/"


def test_a_password_only_session_of_a_lead_is_signed_out_on_any_page(plain_client, lead):
    plain_client.force_login(lead)
    assert plain_client.get("/screenings/")["Location"] == "/accounts/login/?next=/screenings/"
    assert AuditEvent.objects.filter(action=AuditAction.SIGN_OUT, user=lead).exists()


def test_the_admins_own_sign_in_form_cannot_skip_the_second_factor(plain_client, lead_with_phone):
    response = plain_client.post("/admin/login/", {"username": "lead", "password": TEST_PASSWORD})
    assert response["Location"].startswith("/accounts/login/")
    assert plain_client.get("/admin/").status_code == 302


def test_a_verified_lead_uses_the_admin(lead_client):
    assert lead_client.get("/admin/conditions/criterion/").status_code == 200


# --- a lost phone ---------------------------------------------------------------------


def test_an_administrator_resets_a_lost_phone_and_it_is_audited(admin_client, admin_user, client, lead_with_phone):
    lead, _device = lead_with_phone
    response = admin_client.post("/admin/auth/user/", {
        "action": "reset_two_factor", "_selected_action": [lead.pk],
    })
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=lead).exists()
    reset = AuditEvent.objects.get(action=AuditAction.TWO_FACTOR_RESET)
    assert (reset.user, reset.object_type, reset.object_key) == (admin_user, "user", "lead")
    assert password_step(client, "lead")["Location"] == "/accounts/two-factor/set-up/"


def test_a_clinical_lead_cannot_reset_anyones_two_factor_sign_in(lead_client, lead_with_phone):
    lead, _device = lead_with_phone
    lead_client.post("/admin/auth/user/", {"action": "reset_two_factor", "_selected_action": [lead.pk]})
    assert TOTPDevice.objects.filter(user=lead).exists()
