"""The questionnaire form under the third edition's rules, on small
hand-made rulebooks (no database): questions asked only when they can
matter, and answers stored under a retired question."""

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


def test_the_page_hides_what_cannot_matter_and_shows_it_when_it_would():
    def page_for(answers):
        form = QuestionnaireForm(rulebook=RULEBOOK, conditions=["dep"], answers=answers, initial={"revision": 1})
        return parse(render_crispy_form(form))

    page = page_for({"route": "iv", "sex": "male"})
    assert page.select_one("[data-question=cyp]").get("hidden") is not None
    assert page.select_one("[data-question=cannula]").get("hidden") is None
    # the server decides: the page carries no rule for a script to evaluate
    assert page.select("[data-asked-when], [data-enable-when]") == []
    oral = page_for({"route": "oral", "sex": "male"})
    assert oral.select_one("[data-question=cyp]").get("hidden") is None


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
