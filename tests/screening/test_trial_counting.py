"""How the shipped knowledge base counts antidepressant trials towards
treatment-resistant depression (third edition, issue 24), through the
engine's tables: TRD with IV ketamine for an otherwise well adult.

Each expectation names its source:
- two *different* antidepressants: the EU esketamine SmPC, section 4.1, and
  NICE TA854 (`count: distinct_drugs`);
- a failed treatment is one with less than 25% improvement, so a partial
  response does not count: Sforzini 2022 (EU-PEARL), recommendation 3;
- at least 4 weeks at the dose: Sforzini 2022, recommendation 10;
- minimum doses, one source per class: Bschor 2008 for the tricyclics, the
  McMaster table for the SNRIs."""

import pytest

from rules.engine import evaluate, validate_answers
from tests.answers import TRD_ELIGIBLE

# The well adult of the shared answers, with the trials listed instead of a typed count.
WELL = {code: value for code, value in TRD_ELIGIBLE.items() if code != "failed_antidepressant_trials"}


def trial(drug, dose, weeks=8, outcome="no_response"):
    return {"drug": drug, "daily_dose_mg": dose, "weeks": weeks, "outcome": outcome}


def screen_trd(rulebook, trials):
    """The patient's whole trial history: the list is declared complete (issue 26), so a short count is read as given."""
    answers = {**WELL, "route": "iv_ketamine", "antidepressant_trials": trials, "antidepressant_trials_complete": True}
    validation = validate_answers(rulebook, ["trd"], answers)
    assert validation.is_valid, validation.errors
    return evaluate(rulebook, ["trd"], validation.answers)


def test_the_same_antidepressant_twice_is_one_treatment(default_rulebook):
    advisory = screen_trd(default_rulebook, [trial("sertraline", 150), trial("sertraline", 200, weeks=6)])
    assert advisory.calculated["failed_antidepressant_trials"] == 1
    assert [judged.counted for judged in advisory.trials] == [True, False]
    assert advisory.trials[1].reason == "sertraline already counted (trial 1): each different antidepressant counts once"
    (trd,) = advisory.results
    assert trd.status == "not_met"
    assert "trd-two-failed-trials-require" in {reason.criterion for reason in trd.reasons}


def test_two_different_antidepressants_meet_the_requirement(default_rulebook):
    advisory = screen_trd(default_rulebook, [trial("sertraline", 150), trial("venlafaxine", 150, weeks=6)])
    assert advisory.calculated["failed_antidepressant_trials"] == 2
    assert [judged.counted for judged in advisory.trials] == [True, True]
    assert advisory.results[0].status == "eligible"


def test_a_repeated_drug_does_not_hide_a_different_one(default_rulebook):
    advisory = screen_trd(default_rulebook, [
        trial("sertraline", 150), trial("sertraline", 150), trial("venlafaxine", 75, weeks=4),
    ])
    assert advisory.calculated["failed_antidepressant_trials"] == 2
    assert advisory.results[0].status == "eligible"


def test_a_partial_response_is_not_a_failed_treatment(default_rulebook):
    advisory = screen_trd(default_rulebook, [
        trial("sertraline", 150), trial("venlafaxine", 150, weeks=6, outcome="partial_response"),
    ])
    assert advisory.calculated["failed_antidepressant_trials"] == 1
    assert [judged.counted for judged in advisory.trials] == [True, False]
    assert "a partial response, which this formulary does not count as a failed trial" in advisory.trials[1].reason
    assert advisory.results[0].status == "not_met"


@pytest.mark.parametrize("drug, dose, counts", [
    # Changed (Bschor 2008, Table 2: standard dose 150 mg for every tricyclic it lists):
    # nortriptyline was 75 mg and lofepramine 140 mg, from their SmPCs.
    ("nortriptyline", 75, False),
    ("nortriptyline", 150, True),
    ("lofepramine", 140, False),
    ("lofepramine", 150, True),
    ("amitriptyline", 150, True),
    # Unchanged doses, now from one source for the class (the McMaster table).
    ("venlafaxine", 75, True),
    ("duloxetine", 30, False),
    ("duloxetine", 60, True),
])
def test_minimum_doses_come_from_one_source_per_class(default_rulebook, drug, dose, counts):
    advisory = screen_trd(default_rulebook, [trial(drug, dose)])
    assert [judged.counted for judged in advisory.trials] == [counts]


def test_four_weeks_at_the_dose_is_the_shortest_trial_that_counts(default_rulebook):
    advisory = screen_trd(default_rulebook, [trial("sertraline", 100, weeks=3), trial("citalopram", 20, weeks=4)])
    assert [judged.counted for judged in advisory.trials] == [False, True]


@pytest.mark.parametrize("total, label", [
    # Changed (National Center for PTSD: 31-33 indicates probable PTSD; Bovin 2016: 31, 32 and 33
    # equally efficient, the top of the range used): 31-33 no longer reads "possible PTSD".
    (30, "Below the cut-point (33): probable PTSD not indicated"),
    (32, "Below the cut-point (33): probable PTSD not indicated"),
    (33, "At or above the cut-point (33): probable PTSD"),
    (80, "At or above the cut-point (33): probable PTSD"),
])
def test_pcl5_totals_read_against_the_cut_point(default_rulebook, total, label):
    (pcl5,) = [instrument for instrument in default_rulebook.instruments if instrument.code == "pcl5"]
    assert pcl5.band(total).label == label
