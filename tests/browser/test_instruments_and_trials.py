"""In Chromium: the PHQ-9 scored item by item with its band shown as it is
filled in, item 9 raising the safety alert; the trial table's rows added
and removed, deciding the TRD requirement; a patient's chart with its
table; axe-core on the questionnaire with instruments and trials.
Screenshots under test-artifacts/."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from screening import services
from screening.models import Screening
from tests.answers import TRD_ELIGIBLE as TRD_ANSWERS
from tests.browser.test_screening_flow import (
    TRD_ELIGIBLE,
    answer,
    serious_accessibility_problems,
    sign_in,
)
from tests.conftest import TEST_PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

PHQ9_ITEM_TEXT = {
    1: "Little interest or pleasure in doing things",
    9: "Thoughts that you would be better off dead",
}
# The rest of a TRD screening, the trials and the PHQ-9 given on the page.
# The table is declared complete: until it is, a count that falls short is unknown, not "not met".
WITHOUT_COUNT = {
    **{code: value for code, value in TRD_ELIGIBLE.items() if code != "failed_antidepressant_trials"},
    "antidepressant_trials_complete": "yes",
}
WITHOUT_SCORES = {code: value for code, value in WITHOUT_COUNT.items() if code != "phq9_total"}


def start_screening(page, *conditions, reference="A-1027"):
    page.get_by_role("link", name="New screening").first.click()
    page.get_by_label("Patient reference").fill(reference)
    for condition in conditions:
        page.get_by_label(condition).check()
    page.get_by_role("button", name="Start questionnaire").click()
    expect(page.get_by_role("heading", name="Questionnaire")).to_be_visible()
    # Its scripts (deferred) have run: what is typed from here on is saved in the background.
    page.wait_for_load_state("load")


def item(page, number):
    return page.locator(f"#question-phq9_{number}")


def add_trial(page, drug, dose, weeks, outcome):
    page.get_by_role("button", name="Add a trial").click()
    number = page.locator("[data-trial-row]").count()
    drug_field = page.get_by_label(f"Trial {number}: drug")
    expect(drug_field).to_be_focused()
    drug_field.select_option(label=drug)
    page.get_by_label(f"Trial {number}: daily dose (mg)").fill(str(dose))
    page.get_by_label(f"Trial {number}: weeks at that dose").fill(str(weeks))
    page.get_by_label(f"Trial {number}: outcome").select_option(label=outcome)


def trd_status(page):
    return page.locator("[data-condition=trd] .ks-status-badge")


def test_two_adequate_trials_meet_the_trd_requirement_and_removing_one_does_not(clinician_page, artifacts_dir):
    page = clinician_page
    sign_in(page)
    start_screening(page, "Treatment-resistant depression")
    # Without a script the page offers blank rows; with one, a button adds them.
    expect(page.locator("[data-trial-row]")).to_have_count(0)
    expect(page.get_by_text("No trials listed.")).to_be_visible()
    answer(page, WITHOUT_COUNT)

    add_trial(page, "Sertraline", 150, 8, "No response")
    # Third edition: a partial response no longer counts (Sforzini 2022, recommendation 3), so the
    # second trial is a non-response too.
    add_trial(page, "Citalopram", 40, 6, "No response")
    page.screenshot(path=str(artifacts_dir / "trials-table.png"), full_page=True)
    page.get_by_role("button", name="Show summary").click()
    expect(trd_status(page)).to_have_text("Meets screening criteria")
    trials = page.get_by_test_id("trials")
    expect(trials.locator("tbody tr")).to_have_count(2)
    expect(trials).to_contain_text("Counted: At least 50 mg a day")

    page.get_by_role("link", name="Edit answers").click()
    expect(page.locator("[data-trial-row]")).to_have_count(2)
    expect(page.get_by_label("Trial 2: drug")).to_have_value("citalopram")
    page.get_by_role("button", name="Remove trial 1").click()
    expect(page.locator("[data-trial-row]")).to_have_count(1)
    expect(page.get_by_label("Trial 1: drug")).to_have_value("citalopram")  # renumbered
    expect(page.get_by_role("button", name="Remove trial 1")).to_be_focused()
    page.get_by_role("button", name="Show summary").click()
    expect(trd_status(page)).to_have_text("Criteria not met")
    expect(page.get_by_test_id("trials").locator("tbody tr")).to_have_count(1)
    assert Screening.objects.get().answers["antidepressant_trials"] == [
        {"drug": "citalopram", "daily_dose_mg": 40, "weeks": 6, "outcome": "no_response"},
    ]
    assert page.problems == []


def test_a_trial_below_the_minimum_dose_says_why_it_did_not_count(clinician_page):
    page = clinician_page
    sign_in(page)
    start_screening(page, "Treatment-resistant depression")
    answer(page, WITHOUT_COUNT)
    add_trial(page, "Sertraline", 25, 8, "No response")
    add_trial(page, "Citalopram", 40, 2, "No response")
    page.get_by_role("button", name="Show summary").click()
    expect(trd_status(page)).to_have_text("Criteria not met")
    trials = page.get_by_test_id("trials")
    expect(trials).to_contain_text("Not counted: Below the 50 mg minimum for sertraline")
    expect(trials).to_contain_text("Not counted: 2 weeks, fewer than 4")
    assert page.problems == []


def test_phq9_items_are_scored_with_their_band_and_item_nine_raises_the_alert(clinician_page, artifacts_dir):
    page = clinician_page
    sign_in(page)
    start_screening(page, "Treatment-resistant depression")
    answer(page, {code: value for code, value in TRD_ELIGIBLE.items() if code != "phq9_total"})
    live = page.get_by_test_id("phq9-live-total")

    first = page.get_by_role("group", name=re.compile(PHQ9_ITEM_TEXT[1]))
    first.get_by_role("radio", name="Nearly every day (3)").check()
    expect(live).to_have_text(re.compile(r"^1 of 9 items answered"))
    # The keyboard moves through an item's options.
    first.get_by_role("radio", name="Nearly every day (3)").focus()
    page.keyboard.press("ArrowLeft")
    expect(first.get_by_role("radio", name="More than half the days (2)")).to_be_checked()
    for number, score in zip(range(2, 9), [3, 2, 2, 2, 2, 1, 2], strict=True):
        item(page, number).locator(f'input[value="{score}"]').check()
    expect(live).to_have_text(re.compile(r"^8 of 9 items answered"))
    ninth = page.get_by_role("group", name=re.compile(PHQ9_ITEM_TEXT[9]))
    ninth.get_by_role("radio", name="Not at all (0)").check()
    expect(live).to_have_text("PHQ-9 total 16 — Moderately severe, from the items.")
    ninth.get_by_role("radio", name="Several days (1)").check()
    expect(live).to_have_text("PHQ-9 total 17 — Moderately severe, from the items.")
    page.screenshot(path=str(artifacts_dir / "phq9-matrix.png"), full_page=True)

    page.get_by_role("button", name="Show summary").click()
    expect(page.get_by_test_id("alerts")).to_contain_text(PHQ9_ITEM_TEXT[9])
    expect(page.get_by_test_id("calculated")).to_contain_text("PHQ-9 total 17 — moderately severe")
    expect(trd_status(page)).to_have_text("Meets screening criteria")
    assert page.problems == []


def test_a_typed_total_that_disagrees_with_the_items_is_shown_on_the_field(clinician_page):
    page = clinician_page
    sign_in(page)
    start_screening(page, "Treatment-resistant depression")
    answer(page, {**WITHOUT_SCORES, "failed_antidepressant_trials": "2"})
    for number in range(1, 10):
        item(page, number).locator('input[value="1"]').check()
    page.locator('input[name="phq9_total"]').fill("20")
    expect(page.get_by_test_id("phq9-live-total")).to_contain_text("Clear the total typed below")
    page.get_by_role("button", name="Show summary").click()
    expect(page.locator("#question-phq9_total")).to_contain_text("which add up to 9")
    expect(page.locator('input[name="phq9_total"]')).to_have_value("20")
    expect(item(page, 1).locator('input[value="1"]')).to_be_checked()
    assert page.problems == []


def screen_over_time(user):
    """Three screenings of patient P-7 over four months, the PHQ-9 item by item falling."""
    for days_ago, scores in [(120, [3, 3, 3, 2, 2, 2, 2, 2, 1]), (60, [2, 2, 2, 1, 1, 2, 1, 1, 0]),
                             (5, [1, 1, 1, 1, 0, 1, 0, 0, 0])]:
        answers = {k: v for k, v in TRD_ANSWERS.items() if k != "phq9_total"}
        answers.update({f"phq9_{n}": score for n, score in enumerate(scores, start=1)})
        screening = services.screening_create(
            owner=user, patient_reference="P-7", year_of_birth=1970, conditions=["trd"], answers=answers,
        )
        Screening.objects.filter(pk=screening.pk).update(created_at=timezone.now() - timedelta(days=days_ago))


def test_a_patients_chart_renders_with_its_table(clinician_page, clinician, artifacts_dir):
    page = clinician_page
    screen_over_time(clinician)
    sign_in(page)
    page.goto("/screenings/")
    page.get_by_role("link", name="P-7").first.click()
    page.get_by_role("link", name="Patient history").click()
    expect(page.get_by_role("heading", name=re.compile("Patient history"))).to_be_visible()

    chart = page.get_by_role("img", name=re.compile("PHQ-9.*totals over time"))
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box["width"] > 300 and box["height"] > 100
    expect(chart.locator("circle")).to_have_count(3)
    expect(chart.locator("rect.ks-band")).to_have_count(5)
    table = page.get_by_role("table", name=re.compile("3 screenings of P-7"))
    expect(table).to_be_visible()
    expect(table.get_by_role("columnheader", name="PHQ-9")).to_be_visible()
    expect(table.locator("tbody tr").first).to_contain_text("5 Mild")
    expect(table.locator("tbody tr").last).to_contain_text("20 Severe")
    assert serious_accessibility_problems(page) == []
    page.screenshot(path=str(artifacts_dir / "patient-history.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    expect(chart).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "patient-history-phone.png"), full_page=True)
    assert page.problems == []


def test_the_questionnaire_with_instruments_and_trials_has_no_serious_accessibility_problem(
    clinician_page, artifacts_dir
):
    page = clinician_page
    sign_in(page)
    start_screening(page, "Treatment-resistant depression", "Post-traumatic stress disorder", "Anxiety disorders")
    expect(page.locator("fieldset[data-instrument]")).to_have_count(3)
    add_trial(page, "Sertraline", 150, 8, "No response")
    item(page, 1).locator('input[value="2"]').check()
    assert serious_accessibility_problems(page) == []
    page.screenshot(path=str(artifacts_dir / "questionnaire-instruments.png"), full_page=True)

    # At phone width each item's options stack under it, each with its words.
    page.set_viewport_size({"width": 390, "height": 844})
    options = item(page, 2).locator(".ks-option")
    first, second = options.nth(0).bounding_box(), options.nth(1).bounding_box()
    assert second["y"] > first["y"] + first["height"] - 1
    expect(item(page, 2).get_by_text("Several days (1)")).to_be_visible()
    assert serious_accessibility_problems(page) == []
    page.screenshot(path=str(artifacts_dir / "questionnaire-instruments-phone.png"), full_page=True)
    assert page.problems == []


def test_trials_and_items_typed_when_the_session_ended_come_back_after_signing_in(clinician_page):
    page = clinician_page
    sign_in(page)
    start_screening(page, "Treatment-resistant depression")
    answer(page, {"age": "61"})
    expect(page.get_by_test_id("autosave-status")).to_have_text(re.compile(r"^Saved at"))

    page.context.clear_cookies(name="sessionid")  # signed out elsewhere, or idle too long
    add_trial(page, "Sertraline", 150, 8, "No response")
    add_trial(page, "Mirtazapine", 30, 6, "Partial response")
    item(page, 1).locator('input[value="2"]').check()
    problem = page.get_by_test_id("session-problem")
    expect(problem).to_contain_text("Your session has ended, so this was not saved.")

    problem.get_by_role("link", name="Sign in again").click()
    page.get_by_label("Username").fill("clinician")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Questionnaire")).to_be_visible()
    expect(page.locator("[data-trial-row]")).to_have_count(2)
    expect(page.get_by_label("Trial 2: drug")).to_have_value("mirtazapine")
    expect(page.get_by_label("Trial 2: outcome")).to_have_value("partial_response")
    expect(item(page, 1).locator('input[value="2"]')).to_be_checked()
    expect(page.get_by_test_id("autosave-status")).to_have_text(re.compile(r"^Saved at"))
    assert Screening.objects.get().answers["antidepressant_trials"] == [
        {"drug": "sertraline", "daily_dose_mg": 150, "weeks": 8, "outcome": "no_response"},
        {"drug": "mirtazapine", "daily_dose_mg": 30, "weeks": 6, "outcome": "partial_response"},
    ]
    assert [message for message in page.problems if "401" not in message] == []
