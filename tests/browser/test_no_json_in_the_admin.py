"""A clinical lead edits the knowledge base in Chromium without typing JSON:
a library case answered question by question (trials as rows), and an
instrument's options and bands as rows; the stored JSON is as the
knowledge-base file would write it."""

import pytest
from playwright.sync_api import expect

from conditions.models import Condition, Instrument, RuleCase
from tests.browser.test_two_factor import sign_in_to_the_admin

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_lead_edits_a_case_and_an_instrument_without_json(browser, live_server, knowledge_base, lead, artifacts_dir):
    problems = []
    context = browser.new_context(base_url=live_server.url, reduced_motion="reduce")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: "Refused" in message.text and problems.append(message.text))  # the CSP
    page.on("response", lambda response: response.status >= 400 and not response.url.endswith("/favicon.ico")
            and problems.append(f"{response.status} {response.url}"))
    sign_in_to_the_admin(page, lead)

    # A new library case, question by question.
    page.goto("/admin/conditions/rulecase/add/")
    expect(page.locator('textarea[name="answers"]')).to_have_count(0)
    page.locator('input[name="name"]').fill("TRD: answered in the browser")
    page.locator('input[name="answer__age"]').fill("47")
    page.locator('input[name="answer__mdd_current"][value="yes"]').check()
    page.locator('input[name="answer__bipolar_history"][value="no"]').check()
    page.locator('input[name="answer__bipolar_history"][value=""]').check()  # changed my mind: unanswered
    page.locator('input[name="answer__psychosis_history"][value="no"]').check()
    page.locator('select[name="answer__suicidal_ideation"]').select_option("none")
    page.locator('input[name="answer__interacting_medicines"][value="none"]').check()
    page.locator('input[name="answer__phq9_total"]').fill("15")
    trials = page.locator('[data-ks-rows="answer__antidepressant_trials"]')
    trials.get_by_role("button", name="Add a row").click()  # a fourth row, past the three blank ones
    fourth = trials.locator("[data-ks-row]").nth(3)
    fourth.get_by_label("drug of row 4").select_option("venlafaxine")
    fourth.get_by_label("daily dose (mg) of row 4").fill("75")
    fourth.get_by_label("weeks at that dose of row 4").fill("6.5")
    fourth.get_by_label("outcome of row 4").select_option("partial_response")
    first = trials.locator("[data-ks-row]").first
    first.get_by_label("drug of row 1").select_option("sertraline")
    first.get_by_label("daily dose (mg) of row 1").fill("150")
    first.get_by_label("weeks at that dose of row 1").fill("8")
    first.get_by_label("outcome of row 1").select_option("no_response")
    page.locator('select[name="expectations-0-condition"]').select_option(str(Condition.objects.get(slug="trd").pk))
    page.locator('select[name="expectations-0-status"]').select_option("not_met")
    page.screenshot(path=str(artifacts_dir / "case-answers.png"), full_page=True)
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    case = RuleCase.objects.get(name="TRD: answered in the browser")
    assert case.answers == {
        "age": 47, "mdd_current": True, "psychosis_history": False, "suicidal_ideation": "none",
        "interacting_medicines": ["none"], "phq9_total": 15,
        "antidepressant_trials": [
            {"drug": "sertraline", "daily_dose_mg": 150, "weeks": 8, "outcome": "no_response"},
            {"drug": "venlafaxine", "daily_dose_mg": 75, "weeks": 6.5, "outcome": "partial_response"},
        ],
    }
    assert type(case.answers["age"]) is int
    # The page shows the answers back as given; unanswered stays unanswered.
    expect(page.locator('input[name="answer__bipolar_history"][value=""]')).to_be_checked()
    expect(page.locator('input[name="answer__age"]')).to_have_value("47")

    # The PHQ-9's options and bands as rows.
    phq9 = Instrument.objects.get(code="phq9")
    page.goto(f"/admin/conditions/instrument/{phq9.pk}/change/")
    options = page.locator('[data-ks-rows="options"]')
    options.get_by_label("label of row 2").fill("On several days")
    bands = page.locator('[data-ks-rows="bands"]')
    last = len(phq9.bands)
    bands.get_by_label(f"highest total of row {last}").fill("24")
    bands.get_by_role("button", name="Add a row").click()
    added = last + 3 + 1  # after the blank rows
    bands.get_by_label(f"lowest total of row {added}").fill("25")
    bands.get_by_label(f"highest total of row {added}").fill("27")
    bands.get_by_label(f"label of row {added}").fill("Very severe")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    saved = Instrument.objects.get(pk=phq9.pk)
    assert saved.options == [
        {"score": 0, "label": "Not at all"}, {"score": 1, "label": "On several days"},
        *phq9.options[2:],
    ]
    assert saved.bands == [*phq9.bands[:-1], {**phq9.bands[-1], "max": 24}, {"min": 25, "max": 27, "label": "Very severe"}]

    # A mistake comes back as a form error naming its row, with what was typed.
    bands.get_by_label("label of row 1").fill("")
    bands.get_by_label("highest total of row 2").fill("11")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".errorlist")).to_contain_text("Row 1: give the band its label.")
    expect(bands.get_by_label("highest total of row 2")).to_have_value("11")
    assert Instrument.objects.get(pk=phq9.pk).bands == saved.bands
    page.screenshot(path=str(artifacts_dir / "instrument-rows.png"), full_page=True)
    context.close()
    assert problems == []
