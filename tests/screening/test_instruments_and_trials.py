"""Scored instruments and the antidepressant-trial table through HTTP: the
questionnaire's matrix and rows, what is saved, what the summary and the
PDF say, and junk that gets a message rather than an error page."""

import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from screening import services
from screening.models import Screening
from tests.answers import TRD_ELIGIBLE
from tests.markup import parse
from tests.screening.test_views import form_values, question

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("module_knowledge_base"),
]

PHQ9_ITEMS = [f"phq9_{n}" for n in range(1, 10)]
# Items scored 3, 3, 2, 2, 2, 2, 1, 2, 0: a total of 17, "Moderately severe".
PHQ9_17 = dict(zip(PHQ9_ITEMS, [3, 3, 2, 2, 2, 2, 1, 2, 0], strict=True))
SERTRALINE_FAILED = {"drug": "sertraline", "daily_dose_mg": 150, "weeks": 8, "outcome": "no_response"}
CITALOPRAM_PARTIAL = {"drug": "citalopram", "daily_dose_mg": 40, "weeks": 6, "outcome": "partial_response"}
CITALOPRAM_FAILED = {**CITALOPRAM_PARTIAL, "outcome": "no_response"}
# TRD_ELIGIBLE without its typed totals: the items and the trials give them.
# The trials table is declared complete: until it is, a short count is unknown, not "not met".
ANSWERED_ELSEWHERE = {
    **{k: v for k, v in TRD_ELIGIBLE.items() if k not in ("phq9_total", "failed_antidepressant_trials")},
    "antidepressant_trials_complete": True,
}


def draft(user, answers=None, conditions=("trd",)):
    return services.screening_create(
        owner=user, patient_reference="T-1", year_of_birth=None, conditions=list(conditions), answers=answers,
    )


def questionnaire(client, screening):
    return client.get(reverse("screening:questionnaire", args=[screening.pk]))


def form_of(response) -> dict:
    """What a browser without JavaScript would submit, leaving out radio
    groups with nothing chosen."""
    return {name: value for name, value in form_values(response).items() if value != []}


def as_posted(answers: dict) -> dict:
    """Answers as the form posts them: yes / no for booleans, text for numbers."""
    posted = {}
    for code, value in answers.items():
        if isinstance(value, bool):
            posted[code] = "yes" if value else "no"
        elif isinstance(value, list):
            posted[code] = value
        else:
            posted[code] = str(value)
    return posted


def trial_rows(trials, prefix="antidepressant_trials", total=None):
    """A trials table as posted: its management form and one row per trial."""
    rows = {
        f"{prefix}-TOTAL_FORMS": str(len(trials) if total is None else total), f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "50",
    }
    for number, trial in enumerate(trials):
        for name, value in trial.items():
            rows[f"{prefix}-{number}-{name}"] = str(value)
    return rows


def post(client, screening, data, action="save"):
    screening.refresh_from_db()
    return client.post(reverse("screening:questionnaire", args=[screening.pk]), {
        "revision": screening.revision, "action": action, **data,
    })


def saved(screening):
    return Screening.objects.get(pk=screening.pk)


def page_text(response):
    """The page's visible words (not a <template>'s, which a script copies)."""
    return parse(response.content).text()


def status_of(screening, condition="trd"):
    return next(r["status"] for r in saved(screening).result["results"] if r["condition"] == condition)


# --- the instrument's matrix -------------------------------------------------------------------


def test_each_phq9_item_is_a_group_of_labelled_radios_valued_by_score(clinician_client, clinician):
    page = parse(questionnaire(clinician_client, draft(clinician)).content)
    matrix = page.select_one("fieldset[data-instrument=phq9]")
    assert matrix, "the PHQ-9 is one fieldset"
    for code in PHQ9_ITEMS:
        item = matrix.select_one(f"fieldset#question-{code}")
        assert item.select_one("legend").text()
        radios = item.select(f"input[type=radio][name={code}]")
        assert [radio.get("value") for radio in radios] == ["0", "1", "2", "3"]
        for radio in radios:
            assert radio.get("id") and item.select_one(f'label.ks-option[for="{radio.get("id")}"]')
    assert "Not at all (0)" in matrix.text() and "Nearly every day (3)" in matrix.text()
    assert matrix.select_one("[name=phq9_difficulty]")
    assert "PHQ-9 total score: only if the items were not collected" in matrix.text()


def test_the_items_give_the_total_its_band_and_the_requirement(clinician_client, clinician):
    screening = draft(clinician)
    typed_count = {k: v for k, v in TRD_ELIGIBLE.items() if k != "phq9_total"}
    response = post(clinician_client, screening, {**as_posted(typed_count), **as_posted(PHQ9_17)}, "summary")
    assert response.status_code == 302, page_text(response)[:2000]
    stored = saved(screening)
    assert stored.result["calculated"]["phq9_total"] == 17
    assert "phq9_total" not in stored.answers
    summary = page_text(clinician_client.get(response["Location"]))
    assert "PHQ-9 total 17 — moderately severe" in summary
    assert "PHQ-9 total 17 — moderately severe (total entered)" not in summary
    assert "without adequate response: 2 (number entered)" in summary
    assert status_of(screening) == "eligible"


def test_a_total_typed_without_items_is_recorded_as_entered(clinician_client, clinician):
    screening = draft(clinician)
    response = post(clinician_client, screening, as_posted(TRD_ELIGIBLE), "summary")
    assert response.status_code == 302
    summary = page_text(clinician_client.get(response["Location"]))
    assert "PHQ-9 total 15 — moderately severe (total entered)" in summary


def test_a_typed_total_that_disagrees_with_the_items_is_refused_beside_it_and_the_rest_is_saved(
    clinician_client, clinician
):
    screening = draft(clinician)
    data = {**as_posted({**TRD_ELIGIBLE, "phq9_total": 20}), **as_posted(PHQ9_17)}
    response = post(clinician_client, screening, data)
    assert response.status_code == 200
    assert "does not match the items, which add up to 17" in question(response, "phq9_total").text()
    assert form_of(response)["phq9_total"] == "20"  # what was typed stays
    assert form_of(response)["phq9_1"] == ["3"]
    stored = saved(screening).answers
    assert stored["phq9_1"] == 3 and "phq9_total" not in stored


def test_a_total_typed_with_only_some_items_is_refused(clinician_client, clinician):
    screening = draft(clinician)
    response = post(clinician_client, screening, {"phq9_total": "12", "phq9_1": "2", "phq9_2": "1"})
    assert response.status_code == 200
    assert "only 2 of the 9 items are answered" in page_text(response)


def test_item_nine_raises_the_safety_alert(clinician_client, clinician):
    screening = draft(clinician)
    post(clinician_client, screening, {**as_posted(ANSWERED_ELSEWHERE), **as_posted({**PHQ9_17, "phq9_9": 1}),
                                       **trial_rows([SERTRALINE_FAILED, CITALOPRAM_PARTIAL])})
    summary = clinician_client.get(reverse("screening:summary", args=[screening.pk]))
    alerts = parse(summary.content).select_one("[data-testid=alerts]")
    assert alerts and "Thoughts that you would be better off dead" in alerts.text()


def test_stored_items_are_checked_again_on_the_questionnaire(clinician_client, clinician):
    screening = draft(clinician, answers={**ANSWERED_ELSEWHERE, **PHQ9_17})
    values = form_of(questionnaire(clinician_client, screening))
    assert [values[code] for code in PHQ9_ITEMS] == [[str(PHQ9_17[code])] for code in PHQ9_ITEMS]


def test_a_summary_asks_for_the_items_or_the_total(clinician_client, clinician):
    screening = draft(clinician)
    typed_count = {k: v for k, v in TRD_ELIGIBLE.items() if k != "phq9_total"}
    response = post(clinician_client, screening, as_posted(typed_count), "summary")
    assert response.status_code == 200
    assert "Answer every item above to see the summary, or enter the total" in page_text(response)


@pytest.mark.parametrize("value", ["4", "-1", "abc", "2.5", "1e9", "३", "0 "])
def test_an_impossible_item_answer_is_refused_beside_it(clinician_client, clinician, value):
    screening = draft(clinician)
    response = post(clinician_client, screening, {"phq9_1": value, "age": "50"})
    assert response.status_code == 200
    assert "Choose one of the options shown." in question(response, "phq9_1").text()
    assert saved(screening).answers.get("age") == 50


# --- the trials table ---------------------------------------------------------------------------


def test_without_javascript_the_table_offers_blank_rows_with_labelled_fields(clinician_client, clinician):
    response = questionnaire(clinician_client, draft(clinician))
    values = form_of(response)
    assert values["antidepressant_trials-TOTAL_FORMS"] == "4"
    rows = parse(response.content).select_one("#question-antidepressant_trials tbody[data-trial-rows]")
    for number in range(4):
        for name in ("drug", "daily_dose_mg", "weeks", "outcome"):
            element_id = f"id_antidepressant_trials-{number}-{name}"
            assert rows.select_one(f"#{element_id}") and rows.select_one(f'label[for="{element_id}"]').text()
    sertraline = rows.select_one("#id_antidepressant_trials-0-drug optgroup[label=SSRIs] option[value=sertraline]")
    assert sertraline.text() == "Sertraline"


def test_two_adequate_failed_trials_meet_the_trd_requirement(clinician_client, clinician):
    screening = draft(clinician)
    data = {**as_posted(ANSWERED_ELSEWHERE), "phq9_total": "15", **trial_rows([SERTRALINE_FAILED, CITALOPRAM_FAILED])}
    response = post(clinician_client, screening, data, "summary")
    assert response.status_code == 302, page_text(response)[:3000]
    stored = saved(screening)
    assert stored.answers["antidepressant_trials"] == [SERTRALINE_FAILED, CITALOPRAM_FAILED]
    assert stored.result["calculated"]["failed_antidepressant_trials"] == 2
    assert status_of(screening) == "eligible"


def test_a_partial_response_is_saved_but_not_counted(clinician_client, clinician):
    """Third edition: a failed treatment is one with less than 25% improvement
    (Sforzini 2022, recommendation 3), so a partial response does not count."""
    screening = draft(clinician)
    data = {**as_posted(ANSWERED_ELSEWHERE), "phq9_total": "15", **trial_rows([SERTRALINE_FAILED, CITALOPRAM_PARTIAL])}
    response = post(clinician_client, screening, data, "summary")
    assert response.status_code == 302, page_text(response)[:3000]
    stored = saved(screening)
    assert stored.answers["antidepressant_trials"] == [SERTRALINE_FAILED, CITALOPRAM_PARTIAL]
    assert stored.result["calculated"]["failed_antidepressant_trials"] == 1
    assert status_of(screening) == "not_met"
    summary = page_text(clinician_client.get(response["Location"]))
    assert "Citalopram 40 mg 6 Partial response Not counted:" in summary


def test_blank_rows_are_left_out_and_a_trial_that_does_not_count_says_why(clinician_client, clinician):
    screening = draft(clinician)
    low_dose = {"drug": "sertraline", "daily_dose_mg": 25, "weeks": 8, "outcome": "no_response"}
    short = {"drug": "citalopram", "daily_dose_mg": 20, "weeks": 2, "outcome": "no_response"}
    responded = {"drug": "escitalopram", "daily_dose_mg": 10, "weeks": 8, "outcome": "response"}
    blank = {"drug": "", "daily_dose_mg": "", "weeks": "", "outcome": ""}
    data = {**as_posted(ANSWERED_ELSEWHERE), "phq9_total": "15",
            **trial_rows([low_dose, blank, short, responded, blank])}
    response = post(clinician_client, screening, data, "summary")
    assert response.status_code == 302
    assert len(saved(screening).answers["antidepressant_trials"]) == 3
    assert status_of(screening) == "not_met"
    summary = page_text(clinician_client.get(response["Location"]))
    assert "Not counted: Below the 50 mg minimum for sertraline" in summary
    assert "Not counted: 2 weeks, fewer than 4" in summary
    assert "Not counted: Responded" in summary or "Not counted: responded" in summary.lower()


def test_stored_trials_come_back_in_their_rows_followed_by_blank_ones(clinician_client, clinician):
    screening = draft(clinician, answers={"antidepressant_trials": [SERTRALINE_FAILED]})
    values = form_of(questionnaire(clinician_client, screening))
    assert values["antidepressant_trials-TOTAL_FORMS"] == "5"
    assert values["antidepressant_trials-0-drug"] == "sertraline"
    assert values["antidepressant_trials-0-daily_dose_mg"] == "150"
    assert values["antidepressant_trials-0-weeks"] == "8"
    assert values["antidepressant_trials-0-outcome"] == "no_response"
    assert values["antidepressant_trials-1-drug"] == ""


def test_a_row_half_filled_is_refused_in_its_cells_and_keeps_what_was_typed(clinician_client, clinician):
    screening = draft(clinician, answers={"antidepressant_trials": [SERTRALINE_FAILED]})
    half = {"drug": "citalopram", "daily_dose_mg": "", "weeks": "6", "outcome": ""}
    response = post(clinician_client, screening, {"age": "50", **trial_rows([SERTRALINE_FAILED, half])})
    assert response.status_code == 200
    text = page_text(response)
    assert "Give the daily dose in mg." in text and "Choose the outcome." in text
    values = form_of(response)
    assert values["antidepressant_trials-1-drug"] == "citalopram" and values["antidepressant_trials-1-weeks"] == "6"
    stored = saved(screening).answers
    assert stored["age"] == 50
    assert stored["antidepressant_trials"] == [SERTRALINE_FAILED]  # the trials saved before are kept


def test_a_drug_not_in_the_formulary_is_refused(clinician_client, clinician):
    screening = draft(clinician)
    response = post(clinician_client, screening, trial_rows([{**SERTRALINE_FAILED, "drug": "<script>x</script>"}]))
    assert response.status_code == 200
    assert "<script>x</script>" not in response.content.decode()  # the markup as sent: escaped, if shown at all
    assert "Choose one of the options shown." in page_text(response)


def test_a_typed_count_with_trials_that_disagree_is_refused(clinician_client, clinician):
    screening = draft(clinician)
    response = post(clinician_client, screening, {"failed_antidepressant_trials": "3", **trial_rows([SERTRALINE_FAILED])})
    assert response.status_code == 200
    assert "does not match the trials listed" in page_text(response)


@pytest.mark.parametrize("junk", [
    {"antidepressant_trials-0-drug": "sertraline"},  # rows without the management form
    {"antidepressant_trials-TOTAL_FORMS": "abc", "antidepressant_trials-INITIAL_FORMS": "0"},
    {"antidepressant_trials-TOTAL_FORMS": "-3", "antidepressant_trials-INITIAL_FORMS": "0"},
    {"antidepressant_trials-TOTAL_FORMS": "999999999999", "antidepressant_trials-INITIAL_FORMS": "0"},
    {"antidepressant_trials-TOTAL_FORMS": "1", "antidepressant_trials-INITIAL_FORMS": "-9",
     "antidepressant_trials-0-drug": "sertraline", "antidepressant_trials-0-daily_dose_mg": "nan",
     "antidepressant_trials-0-weeks": "1e999", "antidepressant_trials-0-outcome": "cured"},
    trial_rows([SERTRALINE_FAILED] * 60),
    {"antidepressant_trials-TOTAL_FORMS": "1", "antidepressant_trials-INITIAL_FORMS": "0",
     "antidepressant_trials-0-drug": ["sertraline", "citalopram"], "antidepressant_trials-0-daily_dose_mg": "\x00",
     "antidepressant_trials-0-weeks": "-4", "antidepressant_trials-0-outcome": "no_response"},
], ids=["no-management-form", "total-not-a-number", "total-negative", "total-huge", "nonsense-values",
        "too-many-rows", "repeated-and-control-characters"])
def test_hostile_trial_tables_get_a_message_not_an_error_page(clinician_client, clinician, junk):
    screening = draft(clinician, answers={"antidepressant_trials": [SERTRALINE_FAILED]})
    response = post(clinician_client, screening, {"age": "50", **junk})
    assert response.status_code == 200
    assert parse(response.content).select_one("[data-testid=error-summary]")
    stored = saved(screening).answers
    assert stored["age"] == 50
    assert stored["antidepressant_trials"] == [SERTRALINE_FAILED]


def test_autosave_stores_trials_and_names_a_refused_table(clinician_client, clinician):
    screening = draft(clinician)
    url = reverse("screening:answers", args=[screening.pk])
    response = clinician_client.post(url, {"revision": screening.revision, **trial_rows([SERTRALINE_FAILED])})
    assert response.status_code == 200, response.content
    assert saved(screening).answers["antidepressant_trials"] == [SERTRALINE_FAILED]
    response = clinician_client.post(url, {
        "revision": saved(screening).revision, **trial_rows([{**SERTRALINE_FAILED, "weeks": "x"}]),
    })
    assert response.status_code == 200
    assert [item["question"] for item in response.json()["not_saved"]] == ["antidepressant_trials"]
    assert saved(screening).answers["antidepressant_trials"] == [SERTRALINE_FAILED]


def test_a_form_posted_without_the_table_has_no_trials(clinician_client, clinician):
    """As for any question, an answer the form does not send is no answer."""
    screening = draft(clinician, answers={"antidepressant_trials": [SERTRALINE_FAILED]})
    response = post(clinician_client, screening, {"age": "51"})
    assert response.status_code == 302
    stored = saved(screening).answers
    assert stored["age"] == 51 and "antidepressant_trials" not in stored


# --- summary and PDF --------------------------------------------------------------------------


WITH_TRIALS = {
    **ANSWERED_ELSEWHERE, **PHQ9_17,
    "antidepressant_trials": [SERTRALINE_FAILED, {**CITALOPRAM_PARTIAL, "weeks": 3}],
}


def test_the_summary_lists_each_trial_counted_or_why_not(clinician_client, clinician):
    screening = draft(clinician, answers=WITH_TRIALS)
    text = page_text(clinician_client.get(reverse("screening:summary", args=[screening.pk])))
    assert "Sertraline 150 mg 8 No response Counted:" in text
    assert "Citalopram 40 mg 3 Partial response Not counted: 3 weeks, fewer than 4" in text
    assert "PHQ-9 total 17 — moderately severe" in text
    assert "More than half the days (2)" in text  # items in the answers, with their option labels


def test_the_pdf_lists_the_trials_and_the_band(clinician_client, clinician):
    screening = draft(clinician, answers=WITH_TRIALS)
    response = clinician_client.get(reverse("screening:pdf", args=[screening.pk]))
    assert response.status_code == 200
    words = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "PHQ-9 total 17 — moderately severe" in words
    assert "Sertraline" in words and "Counted" in words
    assert "Not counted: 3 weeks, fewer than 4" in words


def test_a_typed_total_reads_total_entered_on_the_pdf(clinician_client, clinician):
    screening = draft(clinician, answers=TRD_ELIGIBLE)
    response = clinician_client.get(reverse("screening:pdf", args=[screening.pk]))
    words = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "PHQ-9 total 15 — moderately severe (total entered)" in words


# --- queries: fixed however many trials --------------------------------------------------------


@pytest.mark.parametrize("count", [1, 30])
def test_questionnaire_and_summary_make_the_same_queries_however_many_trials(
    clinician, client, assert_queries, count
):
    screening = draft(clinician, answers={**ANSWERED_ELSEWHERE, **PHQ9_17,
                                          "antidepressant_trials": [SERTRALINE_FAILED] * count})
    client.force_login(clinician)
    client.get(reverse("screening:summary", args=[screening.pk]))  # the rulebook and this revision's body cached
    with assert_queries(3):
        # 1. the signed-in user
        # 2. the screening with its owner's and finaliser's names, without its stored result
        # 3. the knowledge base's state token (the cached rulebook is current)
        response = client.get(reverse("screening:questionnaire", args=[screening.pk]))
    assert form_of(response)["antidepressant_trials-TOTAL_FORMS"] == str(count + 4)
    with assert_queries(6):
        # 1. the signed-in user
        # 2. the screening with its owner's and finaliser's names, without its stored result
        # 3. the knowledge base's state token
        # 4-6. the audit event "summary viewed": lock the chain's head, INSERT the event, UPDATE the head
        response = client.get(reverse("screening:summary", args=[screening.pk]))
    # Third edition: each different drug counts once (count: distinct_drugs; EU esketamine SmPC 4.1,
    # NICE TA854), so only the first sertraline row is counted and every later one says why not.
    text = page_text(response)
    assert text.count("Sertraline 150 mg 8 No response Counted:") == 1
    assert text.count("Not counted: Sertraline already counted (trial 1)") == count - 1
