"""The questionnaire form under the third edition's rules, on small
hand-made rulebooks (no database): questions asked only when they can
matter, and answers stored under a retired question."""

import json

from crispy_forms.utils import render_crispy_form

from screening.forms import MISSING_ANSWER, QuestionnaireForm
from tests.markup import parse
from tests.screening.test_engine_third_edition import PREGNANCY, RULEBOOK


def bound(data, rulebook=RULEBOOK, answers=None, require_complete=False):
    form = QuestionnaireForm(
        {**data, "revision": "1"}, rulebook=rulebook, conditions=["dep"], answers=answers,
        require_complete=require_complete,
    )
    form.is_valid()
    return form


def test_show_summary_insists_only_on_questions_that_can_matter_for_the_route():
    nasal = bound({"route": "nasal", "sex": "male"}, require_complete=True)
    assert nasal.errors == {}
    oral = bound({"route": "oral", "sex": "male"}, require_complete=True)
    assert oral.errors == {"systolic": [MISSING_ANSWER], "cyp": [MISSING_ANSWER]}


def test_an_answer_to_a_question_that_cannot_matter_is_dropped():
    form = bound({"route": "iv", "sex": "male", "cyp": "yes", "cannula": "yes", "systolic": "120"})
    assert form.errors == {}
    assert "cyp" not in form.answers


def test_the_page_hides_what_cannot_matter_and_tells_the_script_when_it_would():
    form = QuestionnaireForm(
        rulebook=RULEBOOK, conditions=["dep"], answers={"route": "iv", "sex": "male"}, initial={"revision": 1},
    )
    page = parse(render_crispy_form(form))
    cyp = page.select_one("[data-question=cyp]")
    assert cyp.get("hidden") is not None
    assert json.loads(cyp.get("data-asked-when")) == [{"question": "route", "operator": "eq", "value": "oral"}]
    cannula = page.select_one("[data-question=cannula]")
    assert cannula.get("hidden") is None
    # a question every criterion reads without `when` carries no rule of its own
    assert page.select_one("[data-question=route]").get("data-asked-when") is None


def test_a_retired_answer_shows_as_its_mapped_answers():
    form = QuestionnaireForm(rulebook=PREGNANCY, conditions=["dep"], answers={"pregnant_or_breastfeeding": False})
    assert (form.initial["pregnant"], form.initial["breastfeeding"]) == ("no", "no")


def test_a_retired_answer_no_mapping_reads_asks_its_new_questions_again():
    form = bound({}, rulebook=PREGNANCY, answers={"pregnant_or_breastfeeding": True})
    message = (
        "The earlier answer to “Pregnant or breastfeeding (asked before the third edition)” cannot say how to "
        "answer this question: ask it again."
    )
    assert form.errors == {"pregnant": [message], "breastfeeding": [message]}
    answered = bound({"pregnant": "no", "breastfeeding": "yes"}, rulebook=PREGNANCY,
                     answers={"pregnant_or_breastfeeding": True})
    assert answered.errors == {}
    assert answered.answers == {"pregnant": False, "breastfeeding": True}
