"""The questionnaire in Chromium: the page shows exactly the questions the
engine enables, as answers change (the server decides, through htmx), and a
well patient's TRD screening takes at most 30 interactions."""

import pytest
from playwright.sync_api import expect

from conditions.models import RuleCase
from rulebook.versions import current_rulebook
from rules import engine
from screening.summary import status_label
from tests.browser.test_screening_flow import serious_accessibility_problems, sign_in
from tests.conftest import TEST_PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("quick_password_hashing"),
]

# The case library's well patient with treatment-resistant depression.
WELL_TRD_CASE = "TRD: two failed trials, moderate depression"
MOST_INTERACTIONS = 30

SHOWN = """() => Array.from(document.querySelectorAll('#questionnaire [data-question]'))
    .filter((element) => element.checkVisibility())
    .map((element) => element.dataset.question)"""


def shown_questions(page):
    return page.evaluate(SHOWN)


def enabled_by_engine(conditions, answers):
    rulebook = current_rulebook()
    return [q.code for q, state in engine.enabled_questions(rulebook, conditions, answers) if state is True]


def expect_shown(page, conditions, answers):
    """Waits (the refresh is a request away) until the page shows exactly
    the questions the engine enables for these answers."""
    expected = sorted(enabled_by_engine(conditions, answers))  # a section's yes/no questions come first
    for _ in range(100):
        if sorted(shown_questions(page)) == expected:
            break
        page.wait_for_timeout(100)
    assert sorted(shown_questions(page)) == expected


def start_screening(page, conditions, act=None):
    act = act or Interactions(page)
    act.click(page.get_by_role("link", name="New screening").first)
    act.fill(page.get_by_label("Patient reference"), "A-1027")
    for name in conditions:
        act.check(page.get_by_label(name, exact=True))
    act.click(page.get_by_role("button", name="Start questionnaire"))
    expect(page.get_by_role("heading", name="Questionnaire")).to_be_visible()


def test_the_page_shows_exactly_the_questions_the_engine_enables(clinician_page):
    page = clinician_page
    sign_in(page)
    start_screening(page, ["Treatment-resistant depression", "Alcohol use disorder"])
    conditions = ["trd", "alcohol-use-disorder"]
    answers = {}
    expect_shown(page, conditions, answers)
    steps = [
        ("route", "oral_ketamine", "oral_ketamine"),
        ("route", "esketamine_nasal", "esketamine_nasal"),
        ("route", "iv_ketamine", "iv_ketamine"),
        ("bipolar_history", "yes", True),
        ("aud_diagnosis", "yes", True),
        ("mood_episode", "manic", "manic"),
        ("bipolar_history", "no", False),
        ("aud_diagnosis", "no", False),
        ("bipolar_history", "yes", True),
    ]
    for code, value, answer in steps:
        page.locator(f'#question-{code} input[value="{value}"]').check()
        answers[code] = answer
        expect_shown(page, conditions, answers)
    # An answer hidden and shown again is kept on the page as it was.
    expect(page.locator('#question-mood_episode input[value="manic"]')).to_be_checked()
    assert page.problems == []


def test_no_to_all_unanswered_answers_only_the_rows_left_blank(clinician_page):
    page = clinician_page
    sign_in(page)
    start_screening(page, ["Treatment-resistant depression"])
    safety = page.locator('fieldset[data-section="safety"]')
    page.locator('#question-psychosis_history input[value="yes"]').check()
    expect(page.locator('#question-pre_eclampsia')).to_be_hidden()  # waits on the route: not answered
    safety.get_by_role("button", name="No to all unanswered").click()
    expect(page.locator('#question-psychosis_history input[value="yes"]')).to_be_checked()
    expect(page.locator('#question-psychosis_current input[value="no"]')).to_be_checked()
    expect(page.locator('#question-seizure_history input[value="no"]')).to_be_checked()
    expect(page.locator('#question-pre_eclampsia input:checked')).to_have_count(0)
    expect(page.locator('#question-suicidal_ideation input:checked')).to_have_count(0)  # not a yes/no question
    # The navigation counts them, and "Next unanswered" goes to the first left.
    expect(page.get_by_test_id("progress-safety")).not_to_have_text("0/", timeout=5000)
    page.get_by_test_id("next-unanswered").click()
    expect(page.locator("#question-route input").first).to_be_focused()
    assert page.problems == []


class Interactions:
    """Acts on the page as a clinician would and counts it: a click, or
    one field's typing. Tab and arrow keys are free."""

    def __init__(self, page):
        self.page = page
        self.count = 0

    def click(self, locator):
        locator.click()
        self.count += 1

    def check(self, locator):
        locator.check()
        self.count += 1

    def fill(self, locator, text):
        locator.fill(str(text))
        self.count += 1


def _answer_one(act, page, question, code, value):
    """One question answered as its kind asks: radios and boxes clicked, numbers typed."""
    values = value if isinstance(value, list) else [value]
    for item in values:
        if isinstance(item, bool):
            item = "yes" if item else "no"
        choice = question.locator(f'input[value="{item}"]')
        if choice.count():
            act.check(choice)
        else:
            act.fill(question.locator(f'input[name="{code}"]'), item)


def test_a_well_patients_trd_screening_takes_at_most_30_interactions(clinician_page, artifacts_dir):
    page = clinician_page
    case = RuleCase.objects.get(name=WELL_TRD_CASE)
    expected = {e.condition.slug: e.status for e in case.expectations.select_related("condition")}
    assert expected == {"trd": engine.ELIGIBLE}
    conditions = ["trd"]
    act = Interactions(page)

    page.goto("/screenings/")
    act.fill(page.get_by_label("Username"), "clinician")
    act.fill(page.get_by_label("Password"), TEST_PASSWORD)
    act.click(page.get_by_role("button", name="Sign in"))
    start_screening(page, ["Treatment-resistant depression"], act)

    given = {}
    for key in page.locator("fieldset[data-section]").evaluate_all("all => all.map((s) => s.dataset.section)"):
        expect_shown(page, conditions, given)
        section = page.locator(f'fieldset[data-section="{key}"]')
        codes = section.locator("[data-question]").evaluate_all(
            "all => all.filter((e) => e.checkVisibility()).map((e) => e.dataset.question)"
        )
        matrix_done = False
        for code in codes:
            if code not in case.answers:
                continue
            question = page.locator(f"#question-{code}")
            matrix = section.locator("[data-yes-no]")
            in_matrix = matrix.count() and matrix.locator(f"#question-{code}").count()
            if in_matrix and not matrix_done:
                matrix_done = True
                rows = [c for c in codes if matrix.locator(f"#question-{c}").count()]
                if any(case.answers.get(c) is False for c in rows):
                    act.click(section.get_by_role("button", name="No to all unanswered"))
                    given.update({c: False for c in rows})
                for row in rows:
                    if case.answers.get(row) is True:
                        act.check(page.locator(f'#question-{row} input[value="yes"]'))
                        given[row] = True
            elif not in_matrix:
                _answer_one(act, page, question, code, case.answers[code])
                given[code] = case.answers[code]
    expect_shown(page, conditions, given)
    assert serious_accessibility_problems(page) == []
    page.screenshot(path=str(artifacts_dir / "questionnaire-well-trd.png"), full_page=True)
    act.click(page.get_by_role("button", name="Show summary"))

    card = page.locator("[data-condition=trd]")
    expect(card.locator(".ks-status-badge")).to_have_text(status_label(expected["trd"]))
    print(f"\nA well patient's TRD screening: {act.count} interactions, signing in included")
    (artifacts_dir / "well-trd-interactions.txt").write_text(f"{act.count}\n")
    assert act.count <= MOST_INTERACTIONS
    assert page.problems == []
