"""Two-factor sign-in in Chromium: a clinical lead sets up an authenticator
(reading the key off the page, as from the QR code), keeps the recovery
codes, and later signs in with a code the test computes from that key; with
axe-core on the set-up, recovery-codes and code pages."""

import base64
import time

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import AXE, AXE_URL
from tests.conftest import TEST_PASSWORD
from tests.two_factor import device_key, totp

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def new_page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, reduced_motion="reduce")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.route(f"**{AXE_URL}", lambda route: route.fulfill(path=str(AXE), content_type="application/javascript"))
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.problems = problems
    return page


def serious_accessibility_problems(page):
    page.add_script_tag(url=AXE_URL)
    result = page.evaluate("axe.run()")
    return [
        (violation["id"], violation["help"], [node["target"] for node in violation["nodes"]])
        for violation in result["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def password_step(page, username, start="/admin/"):
    page.goto(start)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def sign_in_with_code(page, username, key, at=None, start="/admin/"):
    """Both steps, with the code an authenticator app shows at `at` (now)."""
    password_step(page, username, start)
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    page.get_by_label("Code").fill(totp(key, time.time() if at is None else at))
    page.get_by_role("button", name="Sign in").click()


def sign_in_to_the_admin(page, lead):
    """A clinical lead with an authenticator signs in to the admin."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=lead, confirmed=True).first() or TOTPDevice.objects.create(
        user=lead, name="Authenticator app", confirmed=True
    )
    sign_in_with_code(page, lead.username, device_key(device))
    expect(page.locator("#site-name")).to_have_text("KetaScreen knowledge base")


def test_a_lead_sets_up_two_factor_sign_in_then_signs_in_with_a_code(browser, live_server, lead, artifacts_dir):
    page = new_page(browser, live_server)
    password_step(page, "lead")

    expect(page.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()
    qr = page.get_by_role("img", name="QR code that adds KetaScreen for lead to an authenticator app")
    expect(qr).to_be_visible()
    assert qr.evaluate("image => image.naturalWidth") > 0  # drawn by the server, nothing fetched
    assert serious_accessibility_problems(page) == []
    page.screenshot(path=str(artifacts_dir / "two-factor-set-up.png"), full_page=True)

    key = base64.b32decode(page.get_by_test_id("setup-key").inner_text().replace(" ", ""))
    page.get_by_label("Code").fill("000000" if totp(key, time.time()) != "000000" else "111111")
    page.get_by_role("button", name="Confirm and sign in").click()
    expect(page.locator("#id_code_error, .invalid-feedback")).to_contain_text("That code is not right")
    page.get_by_label("Code").fill(totp(key, time.time()))
    page.get_by_role("button", name="Confirm and sign in").click()

    expect(page.get_by_role("heading", name="Recovery codes")).to_be_visible()
    codes = page.get_by_test_id("recovery-codes").locator("li")
    expect(codes).to_have_count(10)
    expect(page.get_by_role("link", name="Download the codes")).to_be_visible()
    expect(page.get_by_role("button", name="Print the codes")).to_be_visible()
    assert serious_accessibility_problems(page) == []
    page.get_by_role("button", name="I have kept my codes: continue").click()
    expect(page.locator("#site-name")).to_have_text("KetaScreen knowledge base")
    assert page.problems == []
    page.context.close()

    # Another day, another browser: the password, then the app's code (the
    # next one: a code is accepted only once).
    page = new_page(browser, live_server)
    password_step(page, "lead", start="/screenings/")
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    assert serious_accessibility_problems(page) == []
    page.screenshot(path=str(artifacts_dir / "two-factor-code.png"), full_page=True)
    page.get_by_label("Code").fill(totp(key, time.time() + 30))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Screenings")).to_be_visible()
    expect(page.get_by_test_id("signed-in-user")).to_contain_text("Signed in as lead")
    assert page.problems == []
    page.context.close()


def test_a_wrong_code_is_refused_on_the_page(browser, live_server, lead):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=lead, name="Authenticator app", confirmed=True)
    key = device_key(device)
    page = new_page(browser, live_server)
    password_step(page, "lead")
    right = {totp(key, time.time() + step * 30) for step in (-1, 0, 1)}
    page.get_by_label("Code").fill(next(code for code in ("123456", "234567", "345678", "456789") if code not in right))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("That code is not right")).to_be_visible()
    assert serious_accessibility_problems(page) == []
    page.get_by_label("Code").fill(totp(key, time.time()))
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#site-name")).to_have_text("KetaScreen knowledge base")
    page.context.close()
