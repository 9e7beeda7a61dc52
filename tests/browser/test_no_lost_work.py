"""In Chromium: a stale draft is evaluated again and a changed result is
never finalised unseen; no answer typed is lost (partial saves, autosave,
an ended session); one line of amendments; the summary shows the
patient's values; phone width and print. Screenshots under test-artifacts/."""

import re
import time

import pytest
from django.contrib.sessions.models import Session
from playwright.sync_api import expect

from screening import services
from screening.models import Screening
from tests.answers import TRD_ELIGIBLE as TRD_ANSWERS
from tests.browser.test_screening_flow import (
    TRD_ELIGIBLE,
    answer,
    serious_accessibility_problems,
    sign_in,
    start_trd_screening,
)
from tests.conftest import TEST_PASSWORD
from tests.knowledge import add_trd_question, raise_trd_threshold

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def latest_screening():
    return Screening.objects.latest("id")


def saved_in_background(page):
    expect(page.get_by_test_id("autosave-status")).to_have_text(re.compile(r"^Saved at \d{2}:\d{2}\."))


def test_a_stale_draft_is_evaluated_again_and_a_changed_result_is_not_finalised(clinician_page, artifacts_dir):
    page = clinician_page
    sign_in(page)
    start_trd_screening(page)
    answer(page, TRD_ELIGIBLE)
    page.get_by_role("button", name="Show summary").click()
    card = page.locator("[data-condition=trd]")
    expect(card.locator(".ks-status-badge")).to_have_text("Meets screening criteria")
    old_version = latest_screening().rulebook_version

    # A clinical lead raises the threshold while the summary is open.
    raise_trd_threshold()
    page.get_by_label("I have reviewed this summary").check()
    page.get_by_role("button", name="Finalise").click()
    expect(page.get_by_role("alert").filter(has_text="the result changed")).to_contain_text(
        f"from Rules version 1 ({old_version[:7]}) to Rules version 2"
    )
    expect(card.locator(".ks-status-badge")).to_have_text("Criteria not met")
    expect(page.get_by_test_id("rules-changed")).to_contain_text(f"saved under Rules version 1 ({old_version[:7]})")
    assert latest_screening().status == "draft"
    assert serious_accessibility_problems(page) == []
    page.screenshot(path=str(artifacts_dir / "stale-draft-refused.png"), full_page=True)

    # What the clinician now reads can be finalised.
    page.get_by_label("I have reviewed this summary").check()
    page.get_by_role("button", name="Finalise").click()
    expect(page.get_by_role("alert").filter(has_text="Screening finalised")).to_be_visible()
    assert page.problems == []


def test_a_stale_draft_shows_the_new_question_on_its_questionnaire(clinician_page):
    page = clinician_page
    sign_in(page)
    start_trd_screening(page)
    answer(page, TRD_ELIGIBLE)
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("alert").filter(has_text="Draft saved")).to_be_visible()
    old_version = latest_screening().rulebook_version
    add_trd_question()
    page.reload()
    expect(page.get_by_test_id("rules-changed")).to_contain_text(f"saved under Rules version 1 ({old_version[:7]})")
    new = page.locator("#question-ect_considered")
    expect(new).to_be_visible()
    expect(new.get_by_label("Yes")).not_to_be_checked()
    expect(page.locator('input[name="age"]')).to_have_value("45")


def test_save_draft_keeps_the_valid_answers_when_one_is_out_of_range(clinician_page):
    page = clinician_page
    sign_in(page)
    start_trd_screening(page)
    answer(page, {**TRD_ELIGIBLE, "systolic_bp": "400"})
    page.get_by_role("button", name="Save draft").click()
    summary = page.get_by_test_id("error-summary")
    expect(summary).to_contain_text("Your other answers were saved at")
    expect(page.get_by_test_id("not-saved")).to_have_text("Resting systolic blood pressure")
    expect(page.locator('input[name="systolic_bp"]')).to_have_value("400")
    assert serious_accessibility_problems(page) == []

    page.goto(page.url)
    expect(page.locator('input[name="age"]')).to_have_value("45")
    expect(page.locator('input[name="phq9_total"]')).to_have_value("15")
    expect(page.locator("#question-mdd_current").get_by_label("Yes")).to_be_checked()
    stored = latest_screening().answers
    assert stored["age"] == 45 and "systolic_bp" not in stored
    assert page.problems == []


def test_autosave_keeps_answers_through_a_reload(clinician_page):
    page = clinician_page
    sign_in(page)
    start_trd_screening(page)
    answer(page, {"age": "52", "bipolar_history": "no", "suicidal_ideation": "none"})
    saved_in_background(page)
    page.reload()
    expect(page.locator('input[name="age"]')).to_have_value("52")
    expect(page.locator("#question-bipolar_history").get_by_label("No")).to_be_checked()
    assert latest_screening().answers == {"age": 52, "bipolar_history": False, "suicidal_ideation": "none"}
    assert page.problems == []


def test_answers_typed_when_the_session_ended_come_back_after_signing_in(clinician_page):
    page = clinician_page
    sign_in(page)
    start_trd_screening(page)
    answer(page, {"age": "61"})
    saved_in_background(page)

    page.context.clear_cookies(name="sessionid")  # signed out elsewhere, or idle too long
    answer(page, {"systolic_bp": "133", "mdd_current": "yes"})
    problem = page.get_by_test_id("session-problem")
    expect(problem).to_contain_text("Your session has ended, so this was not saved.")
    assert "systolic_bp" not in latest_screening().answers

    problem.get_by_role("link", name="Sign in again").click()
    page.get_by_label("Username").fill("clinician")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Questionnaire")).to_be_visible()
    expect(page.locator('input[name="systolic_bp"]')).to_have_value("133")
    expect(page.locator("#question-mdd_current").get_by_label("Yes")).to_be_checked()
    saved_in_background(page)
    assert latest_screening().answers == {"age": 61, "systolic_bp": 133, "mdd_current": True}
    # Browsers log the refused background save (401) as a console error; nothing else may go wrong.
    assert [message for message in page.problems if "401" not in message] == []


def test_stay_signed_in_is_offered_a_minute_before_the_session_would_end(clinician_page, settings):
    settings.SESSION_COOKIE_AGE = 180  # the dialog comes after a minute (180 - 60 - 60 seconds)
    page = clinician_page
    page.clock.install()
    sign_in(page)
    # The page's scripts set the timer when they run; the clock moves only after that.
    page.wait_for_load_state("load")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_hidden()
    page.clock.fast_forward("01:01")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Stay signed in").click()
    expect(dialog).to_be_hidden()
    assert page.problems == []


def stored_answers(until, seconds=10):
    """The screening's stored answers once `until` holds for them (a request
    sent as a page closes arrives when it arrives), or after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        answers = latest_screening().answers
        if until(answers) or time.monotonic() > deadline:
            return answers
        time.sleep(0.1)


def test_an_answer_typed_just_before_the_tab_is_closed_is_saved(clinician_page):
    page = clinician_page
    sign_in(page)
    start_trd_screening(page)
    answer(page, {"age": "58", "mdd_current": "yes"})
    page.wait_for_timeout(300)  # well within the background save's delay
    page.close(run_before_unload=False)
    assert stored_answers(lambda answers: answers) == {"age": 58, "mdd_current": True}


def test_leaving_asks_first_while_a_save_is_pending_and_not_otherwise(clinician_page):
    page = clinician_page
    sign_in(page)
    start_trd_screening(page)
    asked = []

    def answer_dialog(dialog):
        asked.append(dialog.type)
        dialog.dismiss()  # stay on the page

    page.on("dialog", answer_dialog)
    answer(page, {"age": "58"})
    page.close(run_before_unload=True)
    expect(page.get_by_test_id("autosave-status")).to_have_text(re.compile(r"^Saved at \d{2}:\d{2}\.$"))
    assert asked == ["beforeunload"] and not page.is_closed()

    # After "Save draft", however quick, nothing is asked.
    answer(page, {"systolic_bp": "133"})
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("alert").filter(has_text="Draft saved")).to_be_visible()
    assert asked == ["beforeunload"]
    assert latest_screening().answers == {"age": 58, "systolic_bp": 133}

    # Everything saved: the page closes without asking.
    with page.expect_event("close"):
        page.close(run_before_unload=True)
    assert asked == ["beforeunload"]
    assert page.problems == []


def test_an_answer_the_background_save_refused_is_named_at_its_question(clinician_page):
    page = clinician_page
    sign_in(page)
    start_trd_screening(page)
    age = page.locator('input[name="age"]')
    answer(page, {"age": "300", "phq9_total": "15"})
    status = page.get_by_test_id("autosave-status")
    expect(status).to_have_text(re.compile(r"^Saved at \d{2}:\d{2}\. Not saved, please check: Age\.$"))
    message = page.locator("#question-age .invalid-feedback")
    expect(message).to_have_text("300 is above the maximum of 120 years.")
    expect(age).to_have_attribute("aria-invalid", "true")
    expect(age).to_have_accessible_description("300 is above the maximum of 120 years.")
    expect(page.locator('input[name="phq9_total"]')).not_to_have_attribute("aria-invalid", "true")
    assert serious_accessibility_problems(page) == []

    age.fill("45")
    expect(status).to_have_text(re.compile(r"^Saved at \d{2}:\d{2}\.$"))
    expect(message).to_have_count(0)
    expect(age).not_to_have_attribute("aria-invalid", "true")
    expect(age).to_have_accessible_description("")
    assert latest_screening().answers == {"age": 45, "phq9_total": 15}
    assert page.problems == []


def test_an_unattended_questionnaire_signs_out_and_what_was_typed_comes_back(clinician_page, settings):
    settings.SESSION_COOKIE_AGE = 180  # "Still there?" after a minute without activity, signed out a minute later
    page = clinician_page
    page.clock.install()
    sign_in(page)
    start_trd_screening(page)
    answer(page, {"age": "61"})
    saved_in_background(page)
    session_key = next(cookie["value"] for cookie in page.context.cookies() if cookie["name"] == "sessionid")

    # The server cannot be reached for a while: the next answer stays in this tab.
    page.route("**/answers/", lambda route: route.abort())
    answer(page, {"systolic_bp": "133"})  # and the focus stays in the field
    status = page.get_by_test_id("autosave-status")
    expect(status).to_contain_text("the server could not be reached")

    # From here nobody touches anything. The dialog takes the focus from the
    # field, which sends a change in the background: that keeps nothing alive.
    dialog = page.get_by_role("dialog")
    requests = []
    page.on("request", lambda request: requests.append(request))
    with page.expect_request("**/answers/"):
        page.clock.fast_forward("01:01")
        expect(dialog).to_be_visible()
    background = [
        request.headers.get("x-ketascreen-background") for request in requests
        if "/answers/" in request.url or "/questions/" in request.url
    ]
    assert background and set(background) == {"1"}

    page.clock.fast_forward("01:00")
    expect(page.get_by_test_id("signed-out-idle")).to_be_visible()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert not Session.objects.filter(session_key=session_key).exists()
    assert "systolic_bp" not in latest_screening().answers

    page.unroute("**/answers/")
    page.get_by_label("Username").fill("clinician")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Questionnaire")).to_be_visible()
    expect(page.locator('input[name="age"]')).to_have_value("61")
    expect(page.locator('input[name="systolic_bp"]')).to_have_value("133")
    saved_in_background(page)
    assert latest_screening().answers == {"age": 61, "systolic_bp": 133}
    # The saves refused while the server could not be reached are logged by the browser; nothing else.
    assert [message for message in page.problems if "ERR_FAILED" not in message] == []


def test_a_second_amend_of_one_record_is_refused(clinician_page, clinician):
    page = clinician_page
    draft = services.screening_create(
        owner=clinician, patient_reference="AM-1", year_of_birth=None, conditions=["trd"], answers=TRD_ANSWERS,
    )
    final = services.screening_finalise(screening=draft, user=clinician)
    sign_in(page)
    other_tab = page.context.new_page()
    for tab in (page, other_tab):
        tab.goto(f"/screenings/{final.pk}/")
    page.get_by_label("Why amend it?").fill("Blood pressure re-measured.")
    page.get_by_role("button", name="Amend").click()
    expect(page.get_by_role("heading", name="Questionnaire")).to_be_visible()
    amendment = Screening.objects.get(amends=final)

    other_tab.get_by_label("Why amend it?").fill("Blood pressure re-measured.")
    other_tab.get_by_role("button", name="Amend").click()
    expect(other_tab.get_by_role("alert").filter(has_text="already been amended")).to_contain_text(f"#{amendment.pk}")
    expect(other_tab.get_by_test_id("replaced-by")).to_contain_text(f"Replaced by #{amendment.pk}")
    expect(other_tab.get_by_role("button", name="Amend")).to_have_count(0)
    assert Screening.objects.filter(amends=final).count() == 1


def test_the_summary_shows_the_patients_own_values(clinician_page, clinician):
    page = clinician_page
    draft = services.screening_create(
        owner=clinician, patient_reference="BP-148", year_of_birth=None, conditions=["trd", "chronic-pain"],
        answers={**TRD_ANSWERS, "systolic_bp": 148},
    )
    sign_in(page)
    page.goto(f"/screenings/{draft.pk}/")
    shared = page.get_by_test_id("shared-cautions")
    expect(shared).to_contain_text("Systolic pressure above 140 mmHg")
    expect(shared).to_contain_text("Patient's answer: 148 mmHg")
    expect(page.locator("[data-condition=trd]")).to_contain_text("1 caution for every condition screened")
    assert serious_accessibility_problems(page) == []


def test_at_phone_width_the_navigation_collapses_and_the_list_reads_whole(clinician_page, clinician, artifacts_dir):
    page = clinician_page
    for number in range(3):
        services.screening_create(
            owner=clinician, patient_reference=f"PH-{number}", year_of_birth=None,
            conditions=["trd", "chronic-pain"], answers=TRD_ANSWERS,
        )
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page)
    sign_out = page.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_hidden()
    menu = page.locator("#main-navigation")
    page.get_by_role("button", name="Show or hide the menu").click()
    expect(sign_out).to_be_visible()
    # Bootstrap ignores a toggle while the menu is still opening.
    expect(menu).to_have_class(re.compile(r"(^|\s)show(\s|$)"))
    assert sign_out.bounding_box()["x"] + sign_out.bounding_box()["width"] <= 390
    page.screenshot(path=str(artifacts_dir / "phone-navigation-open.png"), full_page=True)
    page.get_by_role("button", name="Show or hide the menu").click()
    expect(sign_out).to_be_hidden()

    row = page.get_by_test_id("screenings").locator("tbody tr").first
    for label in ("Result", "Record"):
        cell = row.locator(f'td[data-label="{label}"]')
        expect(cell).to_be_visible()
        box = cell.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (label, box)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(artifacts_dir / "phone-list.png"), full_page=True)
    assert serious_accessibility_problems(page) == []


def test_printing_a_summary_leaves_out_navigation_and_buttons(clinician_page, clinician, artifacts_dir):
    page = clinician_page
    draft = services.screening_create(
        owner=clinician, patient_reference="PR-1", year_of_birth=None, conditions=["trd"], answers=TRD_ANSWERS,
    )
    sign_in(page)
    page.goto(f"/screenings/{draft.pk}/")
    page.emulate_media(media="print")
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    expect(page.get_by_role("button", name="Finalise")).to_be_hidden()
    expect(page.get_by_role("link", name="Download PDF")).to_be_hidden()
    expect(page.get_by_role("link", name="Edit answers")).to_be_hidden()
    expect(page.locator("[data-condition=trd]")).to_be_visible()
    expect(page.get_by_test_id("disclaimer")).to_be_visible()
    page.pdf(path=str(artifacts_dir / "summary-printed.pdf"))
