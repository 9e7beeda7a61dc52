"""A clinical lead changes a rule in Chromium without typing JSON, previews
what it changes, publishes it with a note; clinicians' new screenings use
the new version while an earlier final screening keeps its own."""

import pytest
from playwright.sync_api import expect

from screening import services
from tests.answers import TRD_ELIGIBLE
from tests.browser.test_screening_flow import TRD_ELIGIBLE as TRD_ELIGIBLE_FORM
from tests.browser.test_screening_flow import answer, sign_in, start_trd_screening
from tests.browser.test_two_factor import sign_in_to_the_admin

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_lead_changes_the_trd_threshold_previews_and_publishes(
    browser, live_server, knowledge_base, lead, clinician, artifacts_dir,
):
    earlier = services.screening_finalise(
        screening=services.screening_create(
            owner=clinician, patient_reference="E-1", year_of_birth=None, conditions=["trd"],
            answers=TRD_ELIGIBLE,
        ),
        user=clinician,
    )
    problems = []

    lead_context = browser.new_context(base_url=live_server.url, reduced_motion="reduce")
    page = lead_context.new_page()
    page.set_default_timeout(10_000)
    page.on("pageerror", lambda error: problems.append(str(error)))
    sign_in_to_the_admin(page, lead)

    # The threshold, in a number box: no JSON.
    page.goto("/admin/conditions/criterion/?q=trials")
    page.get_by_role("link", name="trd-two-failed-trials-require").click()
    value = page.locator('input[name="value"]')
    expect(value).to_have_attribute("type", "number")
    expect(value).to_have_value("2")
    value.fill("3")
    page.locator('textarea[name="message"]').fill(
        "Treatment resistance means at least {value} antidepressants tried at an adequate dose "
        "and duration without adequate response."
    )
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")

    # Preview: the cases and the earlier final screening it would change.
    page.goto("/admin/rulebook/publishedrulebook/")
    page.get_by_role("link", name="Preview the working copy").click()
    changes = page.locator("#preview-changes")
    expect(changes).to_contain_text("case “TRD: two failed trials, moderate depression”")
    expect(changes).to_contain_text(f"screening {earlier.pk}")
    expect(changes).to_contain_text("trd-two-failed-trials-require")
    expect(changes).to_contain_text("Require: Antidepressants tried in this episode")
    expect(page.locator("#failing-cases")).to_contain_text(
        "expected “Meets screening criteria”, gives “Criteria not met”"
    )
    page.screenshot(path=str(artifacts_dir / "rulebook-preview.png"), full_page=True)

    # Publish: the summary again, a note (a case now fails) and a confirmation.
    page.get_by_role("link", name="Publish the working copy…").click()
    expect(page.locator("#preview-changes")).to_contain_text("Criteria not met")
    page.get_by_role("button", name="Publish").click()  # the browser wants the box ticked first
    expect(page).to_have_url(f"{live_server.url}/admin/rulebook/publishedrulebook/publish/")
    page.get_by_label("I have read what this changes").check()
    page.get_by_role("button", name="Publish").click()
    expect(page.locator("#id_note_error")).to_contain_text("write a note that says why")
    page.get_by_label("Note").fill("Local guideline: three failed trials; the TRD cases are updated next.")
    page.get_by_label("I have read what this changes").check()
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".messagelist")).to_contain_text("Published version 2")
    expect(page.locator("#result_list")).to_contain_text("Local guideline: three failed trials")
    lead_context.close()

    # A clinician's new screening uses version 2; the earlier final keeps its own.
    clinician_context = browser.new_context(base_url=live_server.url, reduced_motion="reduce")
    page = clinician_context.new_page()
    page.set_default_timeout(10_000)
    page.on("pageerror", lambda error: problems.append(str(error)))
    sign_in(page)
    start_trd_screening(page)
    answer(page, TRD_ELIGIBLE_FORM)
    page.get_by_role("button", name="Show summary").click()
    card = page.locator("[data-condition=trd]")
    expect(card.locator(".ks-status-badge")).to_have_text("Criteria not met")
    expect(card).to_contain_text("at least 3 antidepressants")

    page.goto(f"/screenings/{earlier.pk}/")
    card = page.locator("[data-condition=trd]")
    expect(card.locator(".ks-status-badge")).to_have_text("Meets screening criteria")
    page.get_by_role("link", name="Compare with current rules").click()
    row = page.locator("#comparison tr[data-condition=trd]")
    expect(row).to_contain_text("Meets screening criteria")
    expect(row).to_contain_text("Criteria not met")
    expect(row).to_contain_text("failed_antidepressant_trials at least 3")
    page.screenshot(path=str(artifacts_dir / "compare-with-current-rules.png"), full_page=True)
    clinician_context.close()
    assert problems == []
