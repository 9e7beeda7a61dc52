"""The default knowledge base, condition by condition: the statuses clinicians
will act on. Each row changes a calm, fully answered patient and names the
status and the criteria that decide it."""

import pytest

from screening.engine import evaluate, validate_answers

CALM = {
    "age": 45, "pregnant_or_breastfeeding": False, "psychosis_history": False,
    "bipolar_history": False, "suicidal_ideation": "none", "systolic_bp": 120, "diastolic_bp": 80,
    "vascular_contraindication": False, "raised_icp": False, "unstable_cardiac": False,
    "ketamine_misuse_history": False, "hepatic_impairment": "none", "current_other_sud": False,
    "interacting_medicines": ["none"],
    "mdd_current": True, "failed_antidepressant_trials": 2, "phq9_total": 15,
    "ptsd_diagnosis": True, "pcl5_total": 40, "ptsd_first_line_failed": True,
    "anxiety_disorders": ["gad"], "gad7_total": 12, "failed_anxiety_treatments": 2,
    "pain_duration_months": 6, "pain_intensity": 6, "pain_type": "neuropathic",
    "failed_analgesic_classes": 2, "opioid_daily_use": False,
    "ocd_diagnosis": True, "ybocs_total": 20, "ocd_first_line_failed": True,
    "aud_diagnosis": True, "abstinence_goal": True, "sud_substances": ["opioids"],
    "acute_intoxication_or_withdrawal": False, "psychotherapy_engaged": True,
}
BIPOLAR = {"bipolar_history": True, "mood_episode": "depressed", "on_mood_stabiliser": True,
           "failed_bipolar_treatments": 1}
ALL = ["trd", "ptsd", "anxiety", "chronic-pain", "ocd", "bipolar-depression",
       "alcohol-use-disorder", "other-substance-use-disorder"]
UNANSWERED = None


def screen(rulebook, condition, changes):
    answers = {**CALM, **changes}
    answers = {code: value for code, value in answers.items() if value is not UNANSWERED}
    validation = validate_answers(rulebook, [condition], answers)
    assert validation.is_valid, validation.errors
    return evaluate(rulebook, [condition], validation.answers).results[0]


CASES = [
    # --- every condition meets its criteria for a calm, typical patient
    *[(slug, {}, "eligible") for slug in ALL if slug != "bipolar-depression"],
    ("bipolar-depression", BIPOLAR, "caution", {"all-bipolar-history-caution"}),
    # --- treatment-resistant depression
    ("trd", {"failed_antidepressant_trials": 1}, "not_met", {"trd-two-failed-trials-require"}),
    ("trd", {"failed_antidepressant_trials": 0}, "not_met", {"trd-two-failed-trials-require"}),
    ("trd", {"mdd_current": False}, "not_met", {"trd-mdd-current-require"}),
    ("trd", {"phq9_total": 9}, "not_met", {"trd-phq9-require"}),
    ("trd", {"phq9_total": 10}, "eligible"),
    ("trd", {"failed_antidepressant_trials": UNANSWERED}, "incomplete", {"trd-two-failed-trials-require"}),
    ("trd", {"bipolar_history": True, "mood_episode": "depressed", "on_mood_stabiliser": True},
     "caution", {"all-bipolar-history-caution"}),
    ("trd", {"bipolar_history": True, "mood_episode": "depressed", "on_mood_stabiliser": False},
     "caution", {"all-bipolar-history-caution", "all-no-mood-stabiliser-caution"}),
    ("trd", {"bipolar_history": True, "mood_episode": "manic", "on_mood_stabiliser": True},
     "excluded", {"all-mood-elevated-exclude"}),
    ("trd", {"bipolar_history": True}, "incomplete",
     {"all-mood-elevated-exclude", "all-no-mood-stabiliser-caution"}),
    ("trd", {"bipolar_history": UNANSWERED}, "incomplete",
     {"all-bipolar-history-caution", "all-mood-elevated-exclude", "all-no-mood-stabiliser-caution"}),
    # --- exclusions that apply to every condition
    ("trd", {"age": 17}, "excluded", {"all-age-under-18-exclude"}),
    ("ocd", {"age": 17}, "excluded", {"all-age-under-18-exclude"}),
    ("ptsd", {"pregnant_or_breastfeeding": True}, "excluded", {"all-pregnant-or-breastfeeding-exclude"}),
    ("anxiety", {"psychosis_history": True}, "excluded", {"all-psychosis-history-exclude"}),
    ("chronic-pain", {"systolic_bp": 180}, "excluded", {"all-systolic-bp-180-exclude"}),
    ("chronic-pain", {"diastolic_bp": 110}, "excluded", {"all-diastolic-bp-110-exclude"}),
    ("trd", {"vascular_contraindication": True}, "excluded", {"all-vascular-contraindication-exclude"}),
    ("trd", {"raised_icp": True}, "excluded", {"all-raised-icp-exclude"}),
    ("trd", {"unstable_cardiac": True}, "excluded", {"all-unstable-cardiac-exclude"}),
    ("alcohol-use-disorder", {"ketamine_misuse_history": True}, "excluded", {"all-ketamine-misuse-history-exclude"}),
    ("trd", {"hepatic_impairment": "severe"}, "excluded", {"all-hepatic-severe-exclude"}),
    ("trd", {"age": 17, "pregnant_or_breastfeeding": True, "failed_antidepressant_trials": 0},
     "excluded", {"all-age-under-18-exclude", "all-pregnant-or-breastfeeding-exclude"}),
    # --- cautions that apply to every condition
    ("trd", {"age": 65}, "caution", {"all-age-65-plus-caution"}),
    ("trd", {"age": 64}, "eligible"),
    ("trd", {"systolic_bp": 141}, "caution", {"all-systolic-bp-140-caution"}),
    ("trd", {"systolic_bp": 140}, "eligible"),
    ("trd", {"systolic_bp": 179}, "caution", {"all-systolic-bp-140-caution"}),
    ("trd", {"diastolic_bp": 91}, "caution", {"all-diastolic-bp-90-caution"}),
    ("trd", {"diastolic_bp": 90}, "eligible"),
    ("trd", {"hepatic_impairment": "moderate"}, "caution", {"all-hepatic-moderate-caution"}),
    ("trd", {"hepatic_impairment": "mild"}, "eligible"),
    ("trd", {"current_other_sud": True}, "caution", {"non-sud-current-other-sud-caution"}),
    ("alcohol-use-disorder", {"current_other_sud": True}, "eligible"),
    ("trd", {"interacting_medicines": ["benzodiazepines"]}, "caution", {"all-benzodiazepines-caution"}),
    ("trd", {"interacting_medicines": ["lamotrigine"]}, "caution", {"all-lamotrigine-caution"}),
    ("trd", {"interacting_medicines": ["maoi"]}, "caution", {"all-maoi-stimulants-caution"}),
    ("trd", {"interacting_medicines": ["stimulants", "benzodiazepines"]}, "caution",
     {"all-maoi-stimulants-caution", "all-benzodiazepines-caution"}),
    # --- bipolar depression
    ("bipolar-depression", {}, "not_met", {"bipolar-diagnosis-require", "bipolar-depressed-episode-require",
                                          "bipolar-failed-treatments-require"}),
    ("bipolar-depression", {**BIPOLAR, "mood_episode": "euthymic"}, "not_met", {"bipolar-depressed-episode-require"}),
    ("bipolar-depression", {**BIPOLAR, "mood_episode": "hypomanic"}, "excluded", {"all-mood-elevated-exclude"}),
    ("bipolar-depression", {**BIPOLAR, "mood_episode": "mixed"}, "excluded", {"all-mood-elevated-exclude"}),
    ("bipolar-depression", {**BIPOLAR, "failed_bipolar_treatments": 0}, "not_met", {"bipolar-failed-treatments-require"}),
    ("bipolar-depression", {**BIPOLAR, "on_mood_stabiliser": False}, "caution",
     {"all-bipolar-history-caution", "all-no-mood-stabiliser-caution"}),
    ("bipolar-depression", {**BIPOLAR, "failed_bipolar_treatments": UNANSWERED}, "incomplete",
     {"bipolar-failed-treatments-require"}),
    # --- PTSD
    ("ptsd", {"ptsd_diagnosis": False}, "not_met", {"ptsd-diagnosis-require"}),
    ("ptsd", {"pcl5_total": 32}, "not_met", {"ptsd-pcl5-require"}),
    ("ptsd", {"pcl5_total": 33}, "eligible"),
    ("ptsd", {"ptsd_first_line_failed": False}, "not_met", {"ptsd-first-line-failed-require"}),
    # --- anxiety
    ("anxiety", {"anxiety_disorders": ["none"]}, "not_met", {"anxiety-diagnosis-require"}),
    ("anxiety", {"anxiety_disorders": ["social", "panic"]}, "eligible"),
    ("anxiety", {"gad7_total": 9}, "not_met", {"anxiety-gad7-require"}),
    ("anxiety", {"failed_anxiety_treatments": 1}, "not_met", {"anxiety-failed-treatments-require"}),
    # --- chronic pain
    ("chronic-pain", {"pain_duration_months": 2}, "not_met", {"chronic-pain-duration-require"}),
    ("chronic-pain", {"pain_intensity": 3}, "not_met", {"chronic-pain-intensity-require"}),
    ("chronic-pain", {"failed_analgesic_classes": 1}, "not_met", {"chronic-pain-failed-analgesics-require"}),
    ("chronic-pain", {"pain_type": "nociceptive"}, "caution", {"chronic-pain-type-caution"}),
    ("chronic-pain", {"pain_type": "other"}, "caution", {"chronic-pain-type-caution"}),
    ("chronic-pain", {"pain_type": "crps"}, "eligible"),
    ("chronic-pain", {"opioid_daily_use": True}, "caution", {"chronic-pain-daily-opioids-caution"}),
    # --- OCD
    ("ocd", {"ocd_diagnosis": False}, "not_met", {"ocd-diagnosis-require"}),
    ("ocd", {"ybocs_total": 15}, "not_met", {"ocd-ybocs-require"}),
    ("ocd", {"ocd_first_line_failed": False}, "not_met", {"ocd-first-line-failed-require"}),
    # --- alcohol use disorder
    ("alcohol-use-disorder", {"aud_diagnosis": False}, "not_met", {"aud-diagnosis-require"}),
    ("alcohol-use-disorder", {"abstinence_goal": False}, "not_met", {"aud-abstinence-goal-require"}),
    ("alcohol-use-disorder", {"psychotherapy_engaged": False}, "not_met", {"sud-psychotherapy-require"}),
    ("alcohol-use-disorder", {"acute_intoxication_or_withdrawal": True}, "excluded",
     {"sud-intoxication-or-withdrawal-exclude"}),
    # --- other substance use disorders
    ("other-substance-use-disorder", {"sud_substances": ["cocaine"]}, "eligible"),
    ("other-substance-use-disorder", {"sud_substances": ["none"]}, "not_met", {"other-sud-substances-require"}),
    ("other-substance-use-disorder", {"sud_substances": ["cannabis"]}, "caution", {"other-sud-weak-evidence-caution"}),
    ("other-substance-use-disorder", {"sud_substances": ["stimulants", "opioids"]}, "eligible"),
    ("other-substance-use-disorder", {"acute_intoxication_or_withdrawal": True}, "excluded",
     {"sud-intoxication-or-withdrawal-exclude"}),
    ("other-substance-use-disorder", {"psychotherapy_engaged": False}, "not_met", {"sud-psychotherapy-require"}),
    # --- unanswered safety questions leave every condition incomplete
    ("ocd", {"suicidal_ideation": UNANSWERED}, "incomplete", {"all-suicidal-ideation-alert"}),
    ("ocd", {"systolic_bp": UNANSWERED}, "incomplete", {"all-systolic-bp-180-exclude", "all-systolic-bp-140-caution"}),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case[0]}-{case[2]}-{'-'.join(map(str, case[1]))}")
def test_default_knowledge_base_decides(default_rulebook, case):
    condition, changes, status, *deciding = case
    result = screen(default_rulebook, condition, changes)
    assert result.status == status, [r.criterion for r in result.reasons]
    if deciding:
        assert {r.criterion for r in result.reasons} == deciding[0]


def test_eligible_trd_shows_the_requirements_it_meets(default_rulebook):
    result = screen(default_rulebook, "trd", {})
    assert {r.criterion for r in result.reasons} == {
        "trd-mdd-current-require", "trd-two-failed-trials-require", "trd-phq9-require"}
    assert result.references == ("bandeira-2022", "mcinnes-2022", "muscat-2021", "radulescu-2021", "sforzini-2022")


def test_incomplete_trd_names_the_missing_questions(default_rulebook):
    result = screen(default_rulebook, "trd", {"phq9_total": UNANSWERED, "age": UNANSWERED})
    assert result.status == "incomplete"
    assert result.missing == ("age", "phq9_total")


def test_bipolar_follow_ups_are_asked_only_with_a_bipolar_history(default_rulebook):
    from screening.engine import unanswered_questions

    without = unanswered_questions(default_rulebook, ["trd"], {"bipolar_history": False})
    with_history = unanswered_questions(default_rulebook, ["trd"], {"bipolar_history": True})
    follow_ups = {"mood_episode", "on_mood_stabiliser"}
    assert not follow_ups & set(without)
    assert follow_ups <= set(with_history)
    # failed_bipolar_treatments is read only by the bipolar-depression criteria
    assert "failed_bipolar_treatments" not in with_history
    assert "failed_bipolar_treatments" in unanswered_questions(
        default_rulebook, ["bipolar-depression"], {"bipolar_history": True})


@pytest.mark.parametrize("answer, alerted", [
    ("none", False), ("passive", False), ("active_no_plan", True), ("active_plan", True),
])
def test_active_suicidal_thoughts_raise_one_alert_for_the_whole_screening(default_rulebook, answer, alerted):
    answers = {**CALM, "suicidal_ideation": answer}
    advisory = evaluate(default_rulebook, ALL, validate_answers(default_rulebook, ALL, answers).answers)
    assert [a.criterion for a in advisory.alerts] == (["all-suicidal-ideation-alert"] if alerted else [])
    # an alert changes no status
    calm = evaluate(default_rulebook, ALL, validate_answers(default_rulebook, ALL, CALM).answers)
    assert [r.status for r in advisory.results] == [r.status for r in calm.results]
