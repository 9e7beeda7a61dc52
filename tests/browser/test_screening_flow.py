"""A clinician screens a patient in Chromium: sign in, questionnaire,
summary, finalise; with axe-core checks and screenshots on the way."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import AXE_URL
from tests.conftest import TEST_PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


TRD_ELIGIBLE = {
    "age": "45", "psychosis_history": "no",
    "bipolar_history": "no", "suicidal_ideation": "none", "systolic_bp": "120",
    "diastolic_bp": "80", "vascular_contraindication": "no", "raised_icp": "no",
    "unstable_cardiac": "no", "ketamine_misuse_history": "no", "hepatic_impairment": "none",
    "current_other_sud": "no", "interacting_medicines": ["none"], "mdd_current": "yes",
    "failed_antidepressant_trials": "2", "phq9_total": "15",
    # asked since the second edition of the knowledge base (issue 18)
    "route": "iv_ketamine", "bp_rise_serious_risk": "no", "hypertensive_encephalopathy_history": "no",
    "cerebrovascular_disease": "no", "cardiovascular_risk_high": "no", "ketamine_allergy": "no",
    "bladder_symptoms": "no", "cognitive_impairment": "no", "transport_home_arranged": "yes",
    # asked since the third edition (issue 24)
    "pregnant": "no", "breastfeeding": "no", "pregnancy_possible_without_contraception": "no",
    "psychosis_current": "no", "severe_coronary_or_myocardial_disease": "no", "tia_history": "no",
    "pre_eclampsia": "no", "hyperthyroidism_uncontrolled": "no", "respiratory_conditions": ["none"],
    "resting_spo2": "98", "seizure_history": "no",
}


def sign_in(page):
    page.goto("/screenings/")
    expect(page).to_have_url("/accounts/login/?next=/screenings/")
    page.get_by_label("Username").fill("clinician")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Screenings")).to_be_visible()


def start_trd_screening(page):
    page.get_by_role("link", name="New screening").first.click()
    page.get_by_label("Patient reference").fill("A-1027")
    page.get_by_label("Treatment-resistant depression").check()
    page.get_by_role("button", name="Start questionnaire").click()
    expect(page.get_by_role("heading", name="Questionnaire")).to_be_visible()
    # Its scripts (deferred) have run: what is typed from here on is saved in the background.
    page.wait_for_load_state("load")


def answer(page, answers):
    """Answer as a clinician would: type numbers, click radios and checkboxes."""
    for code, value in answers.items():
        question = page.locator(f"#question-{code}")
        for item in value if isinstance(value, list) else [value]:
            choice = question.locator(f'input[value="{item}"]')
            if choice.count():
                choice.check()
            else:
                question.locator(f'input[name="{code}"]').fill(item)


def serious_accessibility_problems(page):
    page.add_script_tag(url=AXE_URL)
    result = page.evaluate("axe.run()")
    return [
        (violation["id"], violation["help"], [node["target"] for node in violation["nodes"]])
        for violation in result["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def test_clinician_screens_a_patient_for_trd_and_finalises(clinician_page, artifacts_dir):
    page = clinician_page
    sign_in(page)
    start_trd_screening(page)
    expect(page.locator("[aria-current=step]")).to_have_text("2. Questionnaire")
    expect(page.locator("#question-mood_episode")).to_be_hidden()

    answer(page, TRD_ELIGIBLE)
    assert serious_accessibility_problems(page) == []
    page.screenshot(path=str(artifacts_dir / "questionnaire.png"), full_page=True)
    page.get_by_role("button", name="Show summary").click()

    card = page.locator("[data-condition=trd]")
    expect(card.locator(".ks-status-badge")).to_have_text("Meets screening criteria")
    expect(card).to_contain_text("Requirement met: Treatment resistance means no adequate response to at least two different")
    references = page.get_by_test_id("references")
    expect(references.locator("li").first).to_be_visible()
    expect(references).to_contain_text("Sforzini L")
    card.get_by_role("link", name="[1]").first.click()
    expect(page).to_have_url(f"{page.url.split('#')[0]}#ref-1")
    assert serious_accessibility_problems(page) == []
    page.screenshot(path=str(artifacts_dir / "summary.png"), full_page=True)

    # A history of mania brings its follow-up questions; a manic episode excludes.
    page.get_by_role("link", name="Edit answers").click()
    page.locator("#question-bipolar_history").get_by_label("Yes").check()
    expect(page.locator("#question-mood_episode")).to_be_visible()
    expect(page.locator("#question-on_mood_stabiliser")).to_be_visible()
    page.locator("#question-mood_episode").get_by_label("Manic", exact=True).check()
    page.locator("#question-on_mood_stabiliser").get_by_label("Yes").check()
    page.get_by_role("button", name="Show summary").click()
    expect(card.locator(".ks-status-badge")).to_have_text("Not advised: exclusion present")
    expect(card).to_contain_text("Exclusion applies: Current manic, hypomanic or mixed episode")

    # An impossible blood pressure is refused beside the field; nothing typed is lost.
    page.get_by_role("link", name="Edit answers").click()
    page.locator('input[name="systolic_bp"]').fill("400")
    page.get_by_role("button", name="Show summary").click()
    expect(page.locator("#question-systolic_bp")).to_contain_text("400 is above the maximum of 260 mmHg.")
    expect(page.locator('input[name="systolic_bp"]')).to_have_value("400")
    expect(page.locator('input[name="age"]')).to_have_value("45")
    expect(page.locator('input[name="phq9_total"]')).to_have_value("15")
    expect(page.locator('#question-mood_episode input[value="manic"]')).to_be_checked()
    expect(page.get_by_test_id("error-summary")).to_contain_text("Resting systolic blood pressure")

    page.locator('input[name="systolic_bp"]').fill("120")
    page.get_by_role("button", name="Show summary").click()
    expect(card.locator(".ks-status-badge")).to_have_text("Not advised: exclusion present")

    page.get_by_label("I have reviewed this summary").check()
    page.get_by_role("button", name="Finalise").click()
    expect(page.get_by_role("alert").filter(has_text="Screening finalised")).to_be_visible()
    expect(page.locator("[aria-current=step]")).to_have_text("4. Final")
    expect(page.get_by_role("link", name="Edit answers")).to_have_count(0)
    expect(page.get_by_role("button", name="Amend")).to_be_visible()
    assert page.problems == []


def test_follow_up_questions_go_away_again_when_the_answer_changes(clinician_page):
    page = clinician_page
    sign_in(page)
    start_trd_screening(page)
    bipolar = page.locator("#question-bipolar_history")
    mood = page.locator("#question-mood_episode")
    section = page.locator('fieldset[data-section="bipolar"]')
    expect(section).to_be_hidden()
    bipolar.get_by_label("Yes").check()
    expect(mood).to_be_visible()
    mood.get_by_label("Depressed").check()
    bipolar.get_by_label("No").check()
    expect(mood).to_be_hidden()
    expect(section).to_be_hidden()
    bipolar.get_by_label("Yes").check()
    expect(mood.locator('input[value="depressed"]')).to_be_checked()
    assert page.problems == []


def test_none_of_these_clears_the_other_medicines_and_the_reverse(clinician_page):
    page = clinician_page
    sign_in(page)
    start_trd_screening(page)
    medicines = page.locator("#question-interacting_medicines")
    medicines.get_by_label("Lamotrigine").check()
    medicines.get_by_label("None of these").check()
    expect(medicines.get_by_label("Lamotrigine")).not_to_be_checked()
    medicines.get_by_label("Regular benzodiazepines").check()
    expect(medicines.get_by_label("None of these")).not_to_be_checked()
    expect(medicines.get_by_label("Regular benzodiazepines")).to_be_checked()


def test_finalise_waits_for_the_confirmation_box(clinician_page):
    page = clinician_page
    sign_in(page)
    start_trd_screening(page)
    answer(page, TRD_ELIGIBLE)
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("alert").filter(has_text="Draft saved")).to_be_visible()
    page.get_by_role("link", name="Back to the summary").click()
    page.get_by_role("button", name="Finalise").click()
    expect(page.get_by_role("link", name="Edit answers")).to_be_visible()
    assert page.get_by_label("I have reviewed this summary").evaluate("box => box.validity.valueMissing")
