"""The age worked out from the year of birth when the age question is left
unanswered: used only when every rule reads the possible ages alike, so a
patient who may be 17 or 18 is never taken for an adult (docs/architecture.md,
"Age from the year of birth")."""

import dataclasses
import json
from datetime import date
from unittest import mock

import pytest
from django.urls import reverse

from rules.engine import EnableWhen, QuestionSpec
from screening import services
from screening.age import AgeFromYear, age_from_year_of_birth, possible_ages
from tests.answers import TRD_ELIGIBLE
from tests.markup import parse
from tests.screening.test_engine_semantics import RULEBOOK, criterion

# --- the rule, on a hand-made rulebook (under 18 excluded, 65 or older a caution)


@pytest.mark.parametrize("year_of_birth, on, ages", [
    (1981, date(2026, 1, 1), (44, 45)),     # New Year's Day: born on 1 January, 45; any later, 44
    (1981, date(2026, 6, 15), (44, 45)),
    (1981, date(2026, 12, 30), (44, 45)),   # born on 31 December: still 44
    (1981, date(2026, 12, 31), (45,)),      # every birthday of 1981 has passed
    (2026, date(2026, 3, 1), (0,)),         # born this year: not yet 1
    (2027, date(2026, 3, 1), ()),           # a year still to come
])
def test_a_year_of_birth_allows_one_or_two_ages(year_of_birth, on, ages):
    assert possible_ages(year_of_birth, on) == ages


def worked_out(year_of_birth, on, conditions=("dep",), answers=None, rulebook=RULEBOOK):
    return age_from_year_of_birth(rulebook, list(conditions), answers or {}, year_of_birth, on)


@pytest.mark.parametrize("year_of_birth, on, used", [
    # "under 18": 17 or 18 read differently, so the age waits for the clinician
    (2008, date(2026, 1, 1), None),
    (2008, date(2026, 6, 15), None),
    (2008, date(2026, 12, 30), None),
    (2008, date(2026, 12, 31), 18),         # certainly 18 now
    (2008, date(2025, 12, 31), 17),         # certainly 17: excluded, as a typed 17 would be
    (2007, date(2026, 1, 1), 18),           # 18 or 19: both adult
    # "65 or older": 64 or 65 read differently too
    (1961, date(2026, 6, 15), None),
    (1961, date(2026, 12, 31), 65),
    (1960, date(2026, 1, 1), 65),           # 65 or 66: both cautioned
    (1981, date(2026, 6, 15), 44),          # 44 or 45: no rule tells them apart; the younger stands
])
def test_the_age_is_used_only_when_every_rule_reads_the_possible_ages_alike(year_of_birth, on, used):
    age = worked_out(year_of_birth, on)
    assert age.used == used
    assert age.possible == possible_ages(year_of_birth, on)


def test_nothing_is_worked_out_without_a_year_of_birth_or_when_the_age_is_answered():
    assert worked_out(None, date(2026, 6, 15)) is None
    assert worked_out(1981, date(2026, 6, 15), answers={"age": 45}) is None


def test_an_age_outside_the_questions_range_is_not_used():
    assert worked_out(1900, date(2026, 6, 15)).used is None  # 125 or 126: above the maximum of 120


def test_only_the_rules_of_the_chosen_conditions_count():
    rulebook = dataclasses.replace(RULEBOOK, criteria=(
        *RULEBOOK.criteria, criterion("pain-over-25-require", "age", "gte", 25, conditions=["pain"]),
    ))
    assert worked_out(2001, date(2026, 6, 15), conditions=["dep"], rulebook=rulebook).used == 24
    assert worked_out(2001, date(2026, 6, 15), conditions=["pain"], rulebook=rulebook).used is None


def test_an_enable_when_reading_the_age_counts_as_a_rule():
    rulebook = dataclasses.replace(
        RULEBOOK,
        questions=(*RULEBOOK.questions, QuestionSpec(
            "menopause", "Post-menopausal", "boolean", "main", enable_when=EnableWhen("age", "gte", 45),
        )),
        criteria=(*RULEBOOK.criteria, criterion("menopause-caution", "menopause", "is_true", effect="caution")),
    )
    assert worked_out(1981, date(2026, 6, 15), rulebook=rulebook).used is None   # 44 or 45
    assert worked_out(1981, date(2026, 6, 15)).used == 44


def test_it_round_trips_as_stored():
    age = worked_out(1981, date(2026, 6, 15))
    assert AgeFromYear.from_dict(json.loads(json.dumps(age.to_dict()))) == age
    assert AgeFromYear.from_dict(None) is None


# --- in the service, the pages and `screen`, on the default knowledge base ---------

WITHOUT_AGE = {code: value for code, value in TRD_ELIGIBLE.items() if code != "age"}


def on_day(day):
    """The clinic's today is `day`."""
    return mock.patch("django.utils.timezone.localdate", return_value=day)


def draft(user, year_of_birth, answers=WITHOUT_AGE):
    return services.screening_create(
        owner=user, patient_reference="Y-1", year_of_birth=year_of_birth, conditions=["trd"], answers=answers,
    )


def trd_status(screening):
    return screening.advisory().results[0]


@pytest.mark.django_db
@pytest.mark.usefixtures("module_knowledge_base")
@pytest.mark.parametrize("day, status, missing", [
    (date(2025, 12, 31), "excluded", ()),           # certainly 17
    (date(2026, 1, 1), "incomplete", ("age",)),     # 17 or 18: ask
    (date(2026, 7, 1), "incomplete", ("age",)),
    (date(2026, 12, 31), "eligible", ()),           # certainly 18
])
def test_a_patient_born_in_2008_across_the_year_boundaries(clinician, day, status, missing):
    with on_day(day):
        screening = draft(clinician, 2008)
    result = trd_status(screening)
    assert (result.status, result.missing) == (status, missing)
    assert "age" not in screening.answers  # what was typed stays as typed
    stored = screening.age_worked_out()
    assert stored.on == day and stored.year_of_birth == 2008


@pytest.mark.django_db
@pytest.mark.usefixtures("module_knowledge_base")
def test_a_typed_age_always_wins_and_a_later_save_works_the_age_out_again(clinician):
    with on_day(date(2026, 7, 1)):
        screening = draft(clinician, 2008, answers={**WITHOUT_AGE, "age": 18})
        assert trd_status(screening).status == "eligible" and screening.age_from_year_of_birth is None
        screening = services.screening_save_answers(
            screening=screening, answers=WITHOUT_AGE, expected_revision=screening.revision,
        )
    assert trd_status(screening).status == "incomplete"
    assert screening.age_worked_out().possible == (17, 18)
    with on_day(date(2026, 12, 31)):
        screening = services.screening_save_answers(
            screening=screening, answers=WITHOUT_AGE, expected_revision=screening.revision,
        )
    assert trd_status(screening).status == "eligible"


@pytest.mark.django_db
@pytest.mark.usefixtures("module_knowledge_base")
def test_the_summary_shows_the_age_as_worked_out_from_the_year_of_birth(clinician_client, clinician):
    with on_day(date(2026, 11, 30)):
        screening = draft(clinician, 1981)
        page = parse(clinician_client.get(reverse("screening:summary", args=[screening.pk])).content)
    assert trd_status(screening).status == "eligible"
    (row,) = page.select("[data-testid=worked-out-answer]")
    assert row.text() == "Age 44 or 45 years, worked out from the year of birth (1981) on 30 Nov 2026 calculated"


@pytest.mark.django_db
@pytest.mark.usefixtures("module_knowledge_base")
def test_the_summary_says_why_an_age_it_cannot_work_out_is_still_to_answer(clinician_client, clinician):
    with on_day(date(2026, 7, 1)):
        screening = draft(clinician, 2008)
        page = parse(clinician_client.get(reverse("screening:summary", args=[screening.pk])).content)
    missing = page.select_one("[data-condition=trd] [data-testid=missing]").text()
    assert "Age (the year of birth, 2008, allows 17 or 18, which the screening criteria read differently)" in missing
    assert not page.select("[data-testid=worked-out-answer]")


def questionnaire_post(screening, answers, action="summary"):
    form = {"revision": screening.revision, "action": action}
    for code, value in answers.items():
        form[code] = ("yes" if value else "no") if isinstance(value, bool) else value
    return form


@pytest.mark.django_db
@pytest.mark.usefixtures("module_knowledge_base")
def test_the_questionnaire_says_what_the_age_will_be_and_lets_it_be_left_blank(clinician_client, clinician):
    with on_day(date(2026, 11, 30)):
        screening = draft(clinician, 1981, answers={})
        url = reverse("screening:questionnaire", args=[screening.pk])
        page = parse(clinician_client.get(url).content)
        help_text = page.select_one("#question-age").text()
        assert "Leave blank to use the age worked out from the year of birth (1981): 44 or 45 today" in help_text
        response = clinician_client.post(url, questionnaire_post(screening, WITHOUT_AGE))
    assert response.status_code == 302 and response["Location"] == reverse("screening:summary", args=[screening.pk])


@pytest.mark.django_db
@pytest.mark.usefixtures("module_knowledge_base")
def test_the_questionnaire_asks_for_the_age_when_the_year_cannot_tell(clinician_client, clinician):
    with on_day(date(2026, 7, 1)):
        screening = draft(clinician, 2008, answers={})
        url = reverse("screening:questionnaire", args=[screening.pk])
        response = clinician_client.post(url, questionnaire_post(screening, WITHOUT_AGE))
    assert response.status_code == 200
    age = parse(response.content).select_one("#question-age").text()
    assert "makes the patient 17 or 18 today, and the screening criteria read those ages differently" in age
    assert "Answer this question to see the summary." in age


@pytest.mark.django_db
@pytest.mark.usefixtures("module_knowledge_base")
def test_screen_works_the_age_out_as_the_questionnaire_does():
    from tests.screening.test_screen_command import screen

    records = [
        {"patient": "Y-1", "year_of_birth": 1981, "conditions": ["trd"], "answers": WITHOUT_AGE},
        {"patient": "Y-2", "year_of_birth": 2008, "conditions": ["trd"], "answers": WITHOUT_AGE},
        {"patient": "Y-3", "year_of_birth": 2008, "conditions": ["trd"], "answers": {**WITHOUT_AGE, "age": 18}},
    ]
    with on_day(date(2026, 7, 1)):
        code, out, _ = screen(stdin=json.dumps(records))
    assert code == 0
    adult, unsure, typed = json.loads(out)
    assert adult["results"][0]["status"] == "eligible"
    assert adult["age_from_year_of_birth"] == {
        "year_of_birth": 1981, "on": "2026-07-01", "possible": [44, 45], "used": 44,
    }
    assert (unsure["results"][0]["status"], unsure["results"][0]["missing"]) == ("incomplete", ["age"])
    assert unsure["age_from_year_of_birth"]["used"] is None
    assert typed["results"][0]["status"] == "eligible" and "age_from_year_of_birth" not in typed


@pytest.mark.django_db
@pytest.mark.usefixtures("module_knowledge_base")
@pytest.mark.parametrize("year_of_birth", ["1981", 1981.5, True, 1899, 2027])
def test_screen_refuses_a_year_of_birth_that_is_not_a_year(year_of_birth):
    from tests.screening.test_screen_command import screen

    record = {"patient": "Y-4", "year_of_birth": year_of_birth, "conditions": ["trd"], "answers": WITHOUT_AGE}
    with on_day(date(2026, 7, 1)):
        code, out, _ = screen(stdin=json.dumps(record))
    assert code == 1
    assert json.loads(out)[0]["errors"] == ["year_of_birth: give a year from 1900 to 2026 as a whole number, e.g. 1981."]


@pytest.mark.django_db
@pytest.mark.usefixtures("module_knowledge_base")
def test_a_preview_and_a_comparison_read_a_final_screening_with_the_age_it_used(clinician):
    from conditions.models import Criterion
    from rulebook.publishing import rulebook_preview
    from rulebook.versions import working_rulebook
    from screening.comparison import screening_comparison

    with on_day(date(2026, 7, 1)):
        final = services.screening_finalise(screening=draft(clinician, 1981), user=clinician)
    assert trd_status(final).status == "eligible"
    minors = Criterion.objects.get(key="all-age-under-18-exclude")
    minors.value = 50
    minors.save()
    changes = [c for c in rulebook_preview().changes if c.screening == final.pk]
    assert [(c.before, c.after) for c in changes] == [("eligible", "excluded")]
    (comparison,) = screening_comparison(final, working_rulebook())
    assert (comparison.recorded, comparison.current) == ("eligible", "excluded")
