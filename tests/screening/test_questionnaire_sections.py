"""The questionnaire's sections as the server decides them: the refresh a
change asks for (htmx), the section navigation, and "No to all unanswered"
without a script."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from rules.vocabulary import Operator
from screening import services
from tests import markup
from tests.answers import TRD_ELIGIBLE

pytestmark = pytest.mark.usefixtures("knowledge_base")


def draft_for(user, conditions=("trd",), answers=None):
    return services.screening_create(
        owner=user, patient_reference="S-3001", year_of_birth=None, conditions=list(conditions), answers=answers,
    )


def refresh(client, screening, answers):
    return client.post(
        reverse("screening:questions", args=[screening.pk]),
        {**answers, "revision": screening.revision}, HTTP_HX_REQUEST="true",
    )


def shown(page, code):
    question = page.select_one(f"#question-{code}")
    section = page.select_one(f"#section-{question_section(page, code)}")
    return question.get("hidden") is None and section.get("hidden") is None


def question_section(page, code):
    for section in page.select("fieldset[data-section]"):
        if section.select_one(f"#question-{code}") is not None:
            return section.get("data-section")
    raise AssertionError(f"{code} is on no section")


def test_a_refresh_shows_what_the_answers_on_the_page_enable_and_saves_nothing(clinician_client, clinician):
    screening = draft_for(clinician)
    before = refresh(clinician_client, screening, {"bipolar_history": "no"})
    assert before.status_code == 200
    assert not shown(markup.parse(before.content), "mood_episode")
    after = markup.parse(refresh(clinician_client, screening, {"bipolar_history": "yes"}).content)
    assert shown(after, "mood_episode") and shown(after, "on_mood_stabiliser")
    # every section and the navigation come back to replace their counterparts on the page
    assert [s.get("hx-swap-oob") for s in after.select("fieldset[data-section]")] == ["true"] * len(
        after.select("fieldset[data-section]")
    )
    assert after.select_one("#section-nav").get("hx-swap-oob") == "true"
    # a section whose questions did not change says so, and one that did says it differs
    first = markup.parse(before.content)
    assert first.select_one("#section-safety").get("data-state") == after.select_one("#section-safety").get("data-state")
    assert first.select_one("#section-bipolar").get("data-state") != after.select_one("#section-bipolar").get("data-state")
    revision = screening.revision
    screening.refresh_from_db()
    assert screening.revision == revision and "bipolar_history" not in screening.answers


def test_a_refresh_names_the_answers_on_the_page_that_no_longer_apply(clinician_client, clinician):
    screening = draft_for(clinician)
    page = markup.parse(refresh(clinician_client, screening, {
        "bipolar_history": "no", "mood_episode": "manic", "on_mood_stabiliser": "yes",
    }).content)
    region = page.select_one("#cleared-answers")
    assert region.get("hx-swap-oob") == "innerHTML"
    assert [item.text() for item in region.select("[data-cleared]")] == [
        "Current mood episode: Manic",
        "Taking a mood stabiliser or antimanic medicine (e.g. lithium, valproate, an antipsychotic): Yes",
    ]
    assert region.select_one("button[data-undo-change]") is not None
    # while they apply, nothing is named
    page = markup.parse(refresh(clinician_client, screening, {"bipolar_history": "yes", "mood_episode": "manic"}).content)
    assert page.select_one("#cleared-answers").select("[data-cleared]") == []


def test_a_final_screening_sends_no_sections(clinician_client, clinician):
    screening = services.screening_finalise(screening=draft_for(clinician, answers=TRD_ELIGIBLE), user=clinician)
    assert refresh(clinician_client, screening, {"bipolar_history": "yes"}).status_code == 204


def test_another_clinicians_screening_is_not_found(clinician_client, lead):
    screening = draft_for(lead)
    assert refresh(clinician_client, screening, {}).status_code == 404


def test_the_navigation_counts_answered_of_needed_per_section(clinician_client, clinician):
    screening = draft_for(clinician, answers={"route": "iv_ketamine", "age": 45, "pregnant": False})
    page = markup.parse(clinician_client.get(reverse("screening:questionnaire", args=[screening.pk])).content)
    assert page.select_one("[data-testid=progress-treatment]").text() == "1/1 answered"
    assert page.select_one("[data-testid=progress-patient]").text() == "2/4 answered"
    assert page.select_one("[data-testid=next-unanswered]").get("href") == "#question-breastfeeding"
    done = draft_for(clinician, answers=TRD_ELIGIBLE)
    page = markup.parse(clinician_client.get(reverse("screening:questionnaire", args=[done.pk])).content)
    assert page.select_one("[data-testid=next-unanswered]") is None
    assert page.select_one("[data-testid=all-answered]") is not None


def test_a_sections_yes_no_questions_are_one_table_with_labelled_radios(clinician_client, clinician):
    screening = draft_for(clinician)
    page = markup.parse(clinician_client.get(reverse("screening:questionnaire", args=[screening.pk])).content)
    matrix = page.select_one("[data-yes-no=safety] table")
    assert [th.text() for th in matrix.select("thead th")] == ["Question", "Yes", "No"]
    row = matrix.select_one("#question-seizure_history")
    radios = row.select("input[type=radio]")
    assert [r.get("value") for r in radios] == ["yes", "no"]
    labels = {label.get("for"): label.text() for label in row.select("label")}
    assert [labels[r.get("id")] for r in radios] == ["Yes", "No"]
    assert all(r.get("aria-describedby") == "seizure_history_text" for r in radios)
    assert "seizure" in row.select_one("#seizure_history_text").text().lower()


def test_no_to_all_unanswered_without_a_script_answers_only_the_blank_enabled_rows(clinician_client, clinician):
    screening = draft_for(clinician)
    response = clinician_client.post(reverse("screening:questionnaire", args=[screening.pk]), {
        "revision": screening.revision, "psychosis_history": "yes", "no_to_unanswered": "safety",
    })
    assert response.status_code == 302
    screening.refresh_from_db()
    answers = screening.answers
    assert answers["psychosis_history"] is True
    assert answers["psychosis_current"] is False and answers["seizure_history"] is False
    # not asked until the route is known, and not a yes/no question: left unanswered
    assert "pre_eclampsia" not in answers and "suicidal_ideation" not in answers
    # nor are the yes/no questions of other sections answered
    assert "pregnant" not in answers and "mdd_current" not in answers


def test_the_scripts_hold_no_copy_of_the_rules_operators():
    """Which questions apply is the engine's to say (the refresh above): no
    script in static/js names a rule operator or reads an enable-when, so a
    question can never be hidden, and its answer dropped, by a second
    reading of the rules that disagrees with the engine."""
    operators = "|".join(re.escape(op.value) for op in Operator)
    quoted_operator = re.compile(rf"""["'`]({operators})["'`]""")
    for script in sorted((Path(settings.BASE_DIR) / "static" / "js").glob("*.js")):
        text = script.read_text(encoding="utf-8")
        assert not quoted_operator.search(text), f"{script.name} names a rule operator"
        assert not re.search(r"enable_?when|enableWhen", text, re.IGNORECASE), f"{script.name} reads an enable-when"
