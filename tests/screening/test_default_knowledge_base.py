"""The default knowledge base, condition by condition: the statuses clinicians
will act on. Each row changes a calm, fully answered patient and names the
status and the criteria that decide it.

Second edition (issue 18) and third edition (issue 24): every expectation
that changed carries a comment naming the source that changed it; rows for
the new rules follow their condition, and docs/knowledge-base.md lists every
change. The patient is treated with IV ketamine unless a row says otherwise."""

import pytest

from rules.engine import evaluate, validate_answers

CALM = {
    "age": 45, "psychosis_history": False,
    "bipolar_history": False, "suicidal_ideation": "none", "systolic_bp": 120, "diastolic_bp": 80,
    "vascular_contraindication": False, "raised_icp": False, "unstable_cardiac": False,
    "ketamine_misuse_history": False, "hepatic_impairment": "none", "current_other_sud": False,
    "interacting_medicines": ["none"],
    # asked since the second edition
    "route": "iv_ketamine", "bp_rise_serious_risk": False, "hypertensive_encephalopathy_history": False,
    "cerebrovascular_disease": False, "cardiovascular_risk_high": False, "ketamine_allergy": False,
    "bladder_symptoms": False, "cognitive_impairment": False, "transport_home_arranged": True,
    "aud_severity": "severe", "seizure_history": False, "liver_tests_over_3x_uln": False,
    "mdd_current": True, "failed_antidepressant_trials": 2, "phq9_total": 15,
    "ptsd_diagnosis": True, "pcl5_total": 40, "ptsd_first_line_failed": True,
    "anxiety_disorders": ["gad"], "gad7_total": 12, "failed_anxiety_treatments": 2,
    "pain_duration_months": 6, "pain_intensity": 6, "pain_type": "crps",
    "failed_analgesic_classes": 2, "opioid_daily_use": False,
    "ocd_diagnosis": True, "ybocs_total": 20, "ocd_first_line_failed": True,
    "aud_diagnosis": True, "abstinence_goal": True, "sud_substances": ["opioids"],
    "acute_intoxication_or_withdrawal": False, "psychotherapy_engaged": True,
    # asked since the third edition (issue 24)
    "pregnant": False, "breastfeeding": False, "pregnancy_possible_without_contraception": False,
    "psychosis_current": False, "severe_coronary_or_myocardial_disease": False, "tia_history": False,
    "pre_eclampsia": False, "hyperthyroidism_uncontrolled": False, "respiratory_conditions": ["none"],
    "resting_spo2": 98, "aud_kare_exclusions": ["none"], "opioid_agonist_treatment_offered": True,
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
    *[(slug, {}, "eligible") for slug in ALL if slug not in ("bipolar-depression", "chronic-pain", "ptsd")],
    # Changed (Abdallah 2022): the negative trial of repeated infusions is a standing caution on PTSD.
    ("ptsd", {}, "caution", {"ptsd-repeated-infusion-evidence-caution"}),
    ("bipolar-depression", BIPOLAR, "caution", {"all-bipolar-history-caution"}),
    # Changed (NICE NG193, Cohen 2018): no pain type comes out eligible any more. CRPS, the one
    # type Cohen grades moderate, is chronic primary pain for which NICE advises not starting ketamine.
    ("chronic-pain", {}, "caution", {"chronic-pain-primary-pain-caution"}),
    # --- treatment-resistant depression
    ("trd", {"failed_antidepressant_trials": 1}, "not_met", {"trd-two-failed-trials-require"}),
    ("trd", {"failed_antidepressant_trials": 0}, "not_met", {"trd-two-failed-trials-require"}),
    ("trd", {"mdd_current": False}, "not_met", {"trd-mdd-current-require"}),
    ("trd", {"phq9_total": 9}, "not_met", {"trd-phq9-require"}),
    ("trd", {"phq9_total": 10}, "eligible"),
    ("trd", {"failed_antidepressant_trials": UNANSWERED}, "incomplete", {"trd-two-failed-trials-require"}),
    # Changed (Sforzini 2022, EU-PEARL): a bipolar history with a "unipolar" episode also gets a
    # note that the TRD definition covers unipolar depression only.
    ("trd", {"bipolar_history": True, "mood_episode": "depressed", "on_mood_stabiliser": True},
     "caution", {"all-bipolar-history-caution", "trd-bipolar-history-caution"}),
    ("trd", {"bipolar_history": True, "mood_episode": "depressed", "on_mood_stabiliser": False},
     "caution", {"all-bipolar-history-caution", "trd-bipolar-history-caution", "all-no-mood-stabiliser-caution"}),
    ("trd", {"bipolar_history": True, "mood_episode": "manic", "on_mood_stabiliser": True},
     "excluded", {"all-mood-elevated-exclude"}),
    ("trd", {"bipolar_history": True}, "incomplete",
     {"all-mood-elevated-exclude", "all-no-mood-stabiliser-caution"}),
    ("trd", {"bipolar_history": UNANSWERED}, "incomplete",
     {"all-bipolar-history-caution", "trd-bipolar-history-caution", "all-mood-elevated-exclude",
      "all-no-mood-stabiliser-caution"}),
    # --- exclusions that apply to every condition
    ("trd", {"age": 17}, "excluded", {"all-age-under-18-exclude"}),
    ("ocd", {"age": 17}, "excluded", {"all-age-under-18-exclude"}),
    # Changed (Spravato US label and EU SmPC 4.6): pregnancy, breastfeeding and possible pregnancy
    # without contraception are asked apart; only pregnancy excludes.
    ("ptsd", {"pregnant": True}, "excluded", {"all-pregnant-exclude"}),
    ("trd", {"breastfeeding": True}, "caution", {"all-breastfeeding-caution"}),
    ("trd", {"pregnancy_possible_without_contraception": True}, "caution", {"all-pregnancy-possible-caution"}),
    ("trd", {"pregnant": UNANSWERED}, "incomplete", {"all-pregnant-exclude"}),
    ("anxiety", {"psychosis_history": True}, "excluded", {"all-psychosis-history-exclude"}),
    # Changed (Cohen 2018 names active psychosis): psychotic symptoms now exclude every condition;
    # a past psychotic disorder is a caution for chronic pain only.
    ("chronic-pain", {"psychosis_current": True}, "excluded", {"all-active-psychosis-exclude"}),
    ("chronic-pain", {"psychosis_history": True}, "caution",
     {"chronic-pain-primary-pain-caution", "chronic-pain-psychosis-history-caution"}),
    # Changed (Swiss and German ketamine Fachinformation 4.3: above 180/100 mmHg at rest):
    # racemic ketamine's own label excludes above 180 systolic or 100 diastolic.
    ("trd", {"systolic_bp": 180}, "caution", {"all-systolic-bp-140-caution"}),
    ("trd", {"systolic_bp": 181}, "excluded", {"racemic-systolic-over-180-exclude"}),
    ("trd", {"diastolic_bp": 100}, "caution", {"all-diastolic-bp-90-caution"}),
    ("trd", {"diastolic_bp": 101}, "excluded", {"racemic-diastolic-over-100-exclude"}),
    ("trd", {"diastolic_bp": 110}, "excluded", {"racemic-diastolic-over-100-exclude"}),
    ("trd", {"systolic_bp": 181, "route": "oral_ketamine"}, "excluded", {"racemic-systolic-over-180-exclude"}),
    # Esketamine keeps its own label: the 180/110 cut-off stays a local-policy caution.
    ("trd", {"systolic_bp": 185, "route": "esketamine_nasal"}, "caution",
     {"all-systolic-bp-180-caution", "all-systolic-bp-140-caution"}),
    ("trd", {"diastolic_bp": 110, "route": "esketamine_nasal"}, "caution",
     {"all-diastolic-bp-110-caution", "all-diastolic-bp-90-caution"}),
    # New (Spravato label): the contraindication in the label's own words, and its warnings.
    ("chronic-pain", {"bp_rise_serious_risk": True}, "excluded", {"all-bp-rise-serious-risk-exclude"}),
    ("trd", {"hypertensive_encephalopathy_history": True}, "caution", {"all-hypertensive-encephalopathy-caution"}),
    # Changed (Ketalar UK SmPC 4.3): a past stroke is a contraindication for racemic ketamine;
    # esketamine keeps the label's caution. A TIA is asked and weighed on its own.
    ("trd", {"cerebrovascular_disease": True}, "excluded", {"racemic-cerebrovascular-accident-exclude"}),
    ("trd", {"cerebrovascular_disease": True, "route": "esketamine_nasal"}, "caution",
     {"all-cerebrovascular-disease-caution"}),
    ("trd", {"tia_history": True}, "caution", {"all-tia-caution"}),
    # New (Ketalar UK SmPC 4.3; Swiss and German Fachinformation; EU esketamine SmPC 4.3 and 4.4)
    ("trd", {"severe_coronary_or_myocardial_disease": True}, "excluded", {"racemic-severe-heart-disease-exclude"}),
    ("trd", {"severe_coronary_or_myocardial_disease": True, "route": "esketamine_nasal"}, "caution",
     {"esketamine-severe-heart-disease-caution"}),
    ("trd", {"pre_eclampsia": True}, "excluded", {"racemic-pre-eclampsia-exclude"}),
    ("trd", {"pre_eclampsia": True, "route": "esketamine_nasal"}, "eligible"),
    ("trd", {"hyperthyroidism_uncontrolled": True}, "excluded", {"racemic-hyperthyroidism-exclude"}),
    ("trd", {"hyperthyroidism_uncontrolled": True, "route": "esketamine_nasal"}, "caution",
     {"esketamine-hyperthyroidism-caution"}),
    ("trd", {"unstable_cardiac": True, "route": "esketamine_nasal"}, "excluded",
     {"all-unstable-cardiac-exclude", "esketamine-recent-mi-exclude"}),
    # New (EU esketamine SmPC 4.4): lung disease and sleep apnoea; a saturation threshold by local policy
    ("trd", {"respiratory_conditions": ["copd"]}, "caution", {"all-respiratory-disease-caution"}),
    ("trd", {"respiratory_conditions": ["sleep_apnoea"]}, "caution", {"all-respiratory-disease-caution"}),
    ("trd", {"resting_spo2": 93}, "caution", {"all-low-oxygen-saturation-caution"}),
    ("trd", {"resting_spo2": 94}, "eligible"),
    # New (EU esketamine SmPC 4.8; racemic label 4.5): seizures asked for every condition
    ("ocd", {"seizure_history": True}, "caution", {"all-seizure-history-caution"}),
    ("alcohol-use-disorder", {"seizure_history": True}, "caution",
     {"all-seizure-history-caution", "aud-seizure-history-caution"}),
    # New (racemic ketamine label 4.5; Ketanest S 4.3): xanthines; CYP3A4 for oral ketamine only
    ("trd", {"interacting_medicines": ["xanthines"]}, "caution", {"all-xanthines-caution"}),
    ("trd", {"route": "oral_ketamine", "cyp3a4_modifiers": ["strong_inducer"]}, "caution",
     {"oral-cyp3a4-modifiers-caution"}),
    ("trd", {"route": "oral_ketamine", "cyp3a4_modifiers": ["none"]}, "eligible"),
    ("trd", {"route": "oral_ketamine"}, "incomplete", {"oral-cyp3a4-modifiers-caution"}),
    ("ptsd", {"ketamine_allergy": True}, "excluded", {"all-ketamine-allergy-exclude"}),
    ("trd", {"bladder_symptoms": True}, "caution", {"all-bladder-symptoms-caution"}),
    ("trd", {"cognitive_impairment": True}, "caution", {"all-cognitive-impairment-caution"}),
    ("trd", {"transport_home_arranged": False}, "caution", {"all-no-transport-home-caution"}),
    ("trd", {"suicidal_ideation": "passive"}, "caution", {"all-passive-suicidal-thoughts-caution"}),
    ("trd", {"ketamine_allergy": UNANSWERED}, "incomplete", {"all-ketamine-allergy-exclude"}),
    ("trd", {"vascular_contraindication": True}, "excluded", {"all-vascular-contraindication-exclude"}),
    ("trd", {"raised_icp": True}, "excluded", {"all-raised-icp-exclude"}),
    ("trd", {"unstable_cardiac": True}, "excluded", {"all-unstable-cardiac-exclude"}),
    ("alcohol-use-disorder", {"ketamine_misuse_history": True}, "excluded", {"all-ketamine-misuse-history-exclude"}),
    ("trd", {"hepatic_impairment": "severe"}, "excluded", {"all-hepatic-severe-exclude"}),
    ("trd", {"age": 17, "pregnant": True, "failed_antidepressant_trials": 0},
     "excluded", {"all-age-under-18-exclude", "all-pregnant-exclude"}),
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
    # Changed (KARE registration): KARE excluded blood pressure of 140/90 mmHg or more, and
    # suicidal ideation, people over 60 and the other exclusions asked together.
    ("alcohol-use-disorder", {"systolic_bp": 140}, "caution", {"aud-systolic-bp-kare-caution"}),
    ("alcohol-use-disorder", {"diastolic_bp": 90}, "caution", {"aud-diastolic-bp-kare-caution"}),
    ("alcohol-use-disorder", {"suicidal_ideation": "passive"}, "caution",
     {"all-passive-suicidal-thoughts-caution", "aud-suicidal-ideation-caution"}),
    ("alcohol-use-disorder", {"age": 61}, "caution", {"aud-age-over-60-caution"}),
    ("alcohol-use-disorder", {"aud_kare_exclusions": ["over_ten_detoxifications"]}, "caution",
     {"aud-kare-other-exclusions-caution"}),
    # Changed (KARE registration): KARE excluded other substance dependence.
    ("alcohol-use-disorder", {"current_other_sud": True}, "caution", {"aud-other-dependence-caution"}),
    ("trd", {"interacting_medicines": ["benzodiazepines"]}, "caution", {"all-benzodiazepines-caution"}),
    ("trd", {"interacting_medicines": ["lamotrigine"]}, "caution", {"all-lamotrigine-caution"}),
    ("trd", {"interacting_medicines": ["maoi"]}, "caution", {"all-maoi-stimulants-caution"}),
    ("trd", {"interacting_medicines": ["stimulants", "benzodiazepines"]}, "caution",
     {"all-maoi-stimulants-caution", "all-benzodiazepines-caution"}),
    # New (Spravato label boxed warning, REMS monitoring form): sedating medicines and alcohol.
    *[("ocd", {"interacting_medicines": [value]}, "caution", {"all-cns-depressants-caution"})
      for value in ("opioids", "z_drugs", "gabapentinoids", "heavy_alcohol")],
    # --- the route of administration (new): esketamine is licensed for depression only
    ("trd", {"route": "esketamine_nasal"}, "eligible"),
    *[(slug, {**(BIPOLAR if slug == "bipolar-depression" else {}), "route": "esketamine_nasal"}, "caution")
      for slug in ALL if slug != "trd"],
    ("ptsd", {"route": "esketamine_nasal"}, "caution",
     {"esketamine-off-label-caution", "ptsd-repeated-infusion-evidence-caution"}),
    ("ocd", {"route": "oral_ketamine", "cyp3a4_modifiers": ["none"]}, "eligible"),
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
    ("ptsd", {"pcl5_total": 33}, "caution", {"ptsd-repeated-infusion-evidence-caution"}),
    ("ptsd", {"ptsd_first_line_failed": False}, "not_met", {"ptsd-first-line-failed-require"}),
    # --- anxiety
    ("anxiety", {"anxiety_disorders": ["none"]}, "not_met", {"anxiety-diagnosis-require"}),
    ("anxiety", {"anxiety_disorders": ["social", "panic"]}, "eligible"),
    ("anxiety", {"gad7_total": 9}, "not_met", {"anxiety-gad7-require"}),
    # Changed (GAD-7 is validated for generalised anxiety, Spitzer 2006): not asked of social anxiety or panic.
    ("anxiety", {"anxiety_disorders": ["social"], "gad7_total": UNANSWERED}, "eligible"),
    ("anxiety", {"anxiety_disorders": ["panic"], "gad7_total": 5}, "eligible"),
    # Changed (no verified source): the two-treatment threshold rested on an unverifiable review
    # (Rasmussen 2024), so it is now a local-policy caution, not a requirement.
    ("anxiety", {"failed_anxiety_treatments": 1}, "caution", {"anxiety-few-treatments-caution"}),
    # --- chronic pain
    ("chronic-pain", {"pain_duration_months": 2}, "not_met", {"chronic-pain-duration-require"}),
    # Changed (no source sets these thresholds: Israel 2021 and Al-Mukhaizeem 2023 were cited for
    # them): local-policy cautions, not requirements.
    ("chronic-pain", {"pain_intensity": 3}, "caution",
     {"chronic-pain-primary-pain-caution", "chronic-pain-intensity-caution"}),
    ("chronic-pain", {"failed_analgesic_classes": 1}, "caution",
     {"chronic-pain-primary-pain-caution", "chronic-pain-failed-analgesics-caution"}),
    ("chronic-pain", {"pain_type": "nociceptive"}, "caution", {"chronic-pain-type-caution"}),
    ("chronic-pain", {"pain_type": "other"}, "caution", {"chronic-pain-type-caution"}),
    # Changed (Cohen 2018): weak or no evidence for neuropathic and mixed pain; it was "eligible".
    ("chronic-pain", {"pain_type": "neuropathic"}, "caution", {"chronic-pain-type-caution"}),
    ("chronic-pain", {"pain_type": "mixed"}, "caution", {"chronic-pain-type-caution"}),
    # Changed (NICE NG193, Cohen 2018): fibromyalgia is chronic primary pain with weak evidence.
    ("chronic-pain", {"pain_type": "fibromyalgia"}, "caution",
     {"chronic-pain-type-caution", "chronic-pain-primary-pain-caution"}),
    ("chronic-pain", {"opioid_daily_use": True}, "caution",
     {"chronic-pain-primary-pain-caution", "chronic-pain-daily-opioids-caution"}),
    ("chronic-pain", {"current_other_sud": True}, "caution",
     {"chronic-pain-primary-pain-caution", "non-sud-current-other-sud-caution"}),
    # --- OCD
    ("ocd", {"ocd_diagnosis": False}, "not_met", {"ocd-diagnosis-require"}),
    # Changed (no source sets Y-BOCS 16: Goodman 1989 develops the scale, Rodriguez 2013 does not state it):
    # a local-policy caution, not a requirement.
    ("ocd", {"ybocs_total": 15}, "caution", {"ocd-ybocs-caution"}),
    ("ocd", {"ybocs_total": 16}, "eligible"),
    ("ocd", {"ocd_first_line_failed": False}, "not_met", {"ocd-first-line-failed-require"}),
    # --- alcohol use disorder
    ("alcohol-use-disorder", {"aud_diagnosis": False}, "not_met", {"aud-diagnosis-require"}),
    ("alcohol-use-disorder", {"abstinence_goal": False}, "not_met", {"aud-abstinence-goal-require"}),
    ("alcohol-use-disorder", {"psychotherapy_engaged": False}, "not_met", {"sud-psychotherapy-require"}),
    ("alcohol-use-disorder", {"acute_intoxication_or_withdrawal": True}, "excluded",
     {"sud-intoxication-or-withdrawal-exclude"}),
    # New (KARE registration, MORE-KARE): the alcohol trials' eligibility.
    ("alcohol-use-disorder", {"aud_severity": "moderate"}, "caution", {"aud-severity-caution"}),
    ("alcohol-use-disorder", {"aud_severity": "mild"}, "caution", {"aud-severity-caution"}),
    ("alcohol-use-disorder", {"liver_tests_over_3x_uln": True}, "caution", {"aud-liver-tests-caution"}),
    ("alcohol-use-disorder", {"aud_severity": UNANSWERED}, "incomplete", {"aud-severity-caution"}),
    ("alcohol-use-disorder", {"aud_diagnosis": False, "aud_severity": UNANSWERED}, "not_met",
     {"aud-diagnosis-require"}),
    # --- other substance use disorders
    ("other-substance-use-disorder", {"sud_substances": ["cocaine"]}, "eligible"),
    ("other-substance-use-disorder", {"sud_substances": ["none"]}, "not_met", {"other-sud-substances-require"}),
    ("other-substance-use-disorder", {"sud_substances": ["cannabis"]}, "caution", {"other-sud-weak-evidence-caution"}),
    ("other-substance-use-disorder", {"sud_substances": ["stimulants", "opioids"]}, "eligible"),
    # Changed (no verified source): Goldfine 2023 describes ketamine given during alcohol withdrawal,
    # so it cannot support this rule; for other substances it is now a local-policy caution.
    ("other-substance-use-disorder", {"acute_intoxication_or_withdrawal": True}, "caution",
     {"other-sud-intoxication-or-withdrawal-caution"}),
    ("other-substance-use-disorder", {"psychotherapy_engaged": False}, "not_met", {"sud-psychotherapy-require"}),
    # New (NICE TA114): opioid agonist treatment first; cocaine with a high cardiovascular risk (local policy)
    ("other-substance-use-disorder", {"opioid_agonist_treatment_offered": False}, "caution",
     {"oud-agonist-treatment-not-offered-caution"}),
    ("other-substance-use-disorder", {"sud_substances": ["cocaine"], "opioid_agonist_treatment_offered": UNANSWERED},
     "eligible"),
    ("other-substance-use-disorder", {"sud_substances": ["cocaine"], "cardiovascular_risk_high": True}, "caution",
     {"cocaine-cardiovascular-risk-caution"}),
    ("other-substance-use-disorder", {"cardiovascular_risk_high": True}, "eligible"),
    # --- unanswered safety questions leave every condition incomplete
    ("ocd", {"suicidal_ideation": UNANSWERED}, "incomplete",
     {"all-suicidal-ideation-alert", "all-active-suicidal-thoughts-caution", "all-passive-suicidal-thoughts-caution",
      "all-suicide-risk-assessment-duty"}),
    # a rule limited to some routes is unknown until the route is known, and does not apply to other routes
    ("ocd", {"systolic_bp": UNANSWERED}, "incomplete",
     {"racemic-systolic-over-180-exclude", "all-systolic-bp-140-caution"}),
    ("ocd", {"systolic_bp": UNANSWERED, "route": "esketamine_nasal"}, "incomplete",
     {"all-systolic-bp-180-caution", "all-systolic-bp-140-caution"}),
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
    # Changed (issue 18 review): Bandeira 2022 (an OCD review) and Radulescu 2021 (a neuroplasticity
    # review) no longer support TRD; the label, Sanacora 2017 and NICE TA854 do. Third edition: the EU
    # esketamine SmPC, CANMAT 2021 (Swainson) and McIntyre 2021 too.
    assert result.references == (
        "mcinnes-2022", "mcintyre-2021", "muscat-2021", "nice-ta854", "sanacora-2017", "sforzini-2022",
        "spravato-pi", "spravato-smpc-eu", "swainson-2021")


def test_incomplete_trd_names_the_missing_questions(default_rulebook):
    result = screen(default_rulebook, "trd", {"phq9_total": UNANSWERED, "age": UNANSWERED})
    assert result.status == "incomplete"
    assert result.missing == ("age", "phq9_total")


def test_bipolar_follow_ups_are_asked_only_with_a_bipolar_history(default_rulebook):
    from rules.engine import unanswered_questions

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
    ("none", False), ("active_no_plan", True), ("active_plan", True),
])
def test_active_suicidal_thoughts_raise_one_alert_for_the_whole_screening(default_rulebook, answer, alerted):
    answers = {**CALM, **BIPOLAR, "suicidal_ideation": answer}
    advisory = evaluate(default_rulebook, ALL, validate_answers(default_rulebook, ALL, answers).answers)
    assert [a.criterion for a in advisory.alerts] == (["all-suicidal-ideation-alert"] if alerted else [])


@pytest.mark.parametrize("answer", ["active_no_plan", "active_plan"])
@pytest.mark.parametrize("route", ["iv_ketamine", "im_ketamine", "oral_ketamine", "esketamine_nasal"])
def test_active_suicidal_thoughts_are_never_plainly_eligible(default_rulebook, answer, route):
    """Changed (Spravato label boxed warning; EU SmPC 4.1): active thoughts, with or without a
    plan, read "eligible" in the second edition while passive thoughts read "caution"."""
    answers = {**CALM, **BIPOLAR, "route": route, "cyp3a4_modifiers": ["none"], "suicidal_ideation": answer}
    advisory = evaluate(default_rulebook, ALL, validate_answers(default_rulebook, ALL, answers).answers)
    assert "eligible" not in [r.status for r in advisory.results]
    assert all("all-active-suicidal-thoughts-caution" in {c.criterion for c in r.cautions}
               for r in advisory.results if r.status == "caution")
    trd = advisory.results[0]
    assert trd.status == "caution"
    assert "psychiatric emergency" in next(
        c.message for c in trd.cautions if c.criterion == "all-active-suicidal-thoughts-caution")


def test_passive_thoughts_of_death_give_a_note_on_every_condition_but_no_alert(default_rulebook):
    """Changed (Spravato label boxed warning): passive thoughts used to give nothing at all."""
    answers = {**CALM, **BIPOLAR, "suicidal_ideation": "passive"}
    advisory = evaluate(default_rulebook, ALL, validate_answers(default_rulebook, ALL, answers).answers)
    assert advisory.alerts == ()
    assert all("all-passive-suicidal-thoughts-caution" in {c.criterion for c in r.cautions}
               for r in advisory.results)


def duties(rulebook, changes, conditions=("trd",)):
    answers = {**CALM, **changes}
    advisory = evaluate(rulebook, list(conditions), validate_answers(rulebook, list(conditions), answers).answers)
    return [d.criterion for d in advisory.duties], [r.status for r in advisory.results]


# Changed (Ketalar UK SmPC 4.4): IV and IM ketamine add resuscitation equipment with a trained
# person, continuous monitoring (local policy beyond the label's hypertension and heart failure) and
# discharge only to a responsible adult. Blood pressure monitoring is the esketamine label's duty and
# the clinic's for racemic ketamine, so it is now two duties with their own basis.
RACEMIC = ["racemic-bp-monitoring-duty", "all-no-driving-duty"]
PARENTERAL = [*RACEMIC, "parenteral-resuscitation-duty", "parenteral-continuous-monitoring-duty",
              "parenteral-responsible-adult-duty"]
ESKETAMINE = ["all-bp-monitoring-duty", "all-no-driving-duty", "esketamine-observation-duty",
              "esketamine-pulse-oximetry-duty", "esketamine-oral-antidepressant-duty", "esketamine-enrolment-duty"]
EVERY_SESSION = PARENTERAL


@pytest.mark.parametrize("changes, expected", [
    ({}, PARENTERAL),
    ({"route": "im_ketamine"}, PARENTERAL),
    ({"route": "oral_ketamine", "cyp3a4_modifiers": ["none"]}, RACEMIC),
    # Spravato label and REMS: 2 hours' observation, pulse oximetry, enrolment; EU SmPC 4.1: with an
    # oral antidepressant (SSRI or SNRI); EU SmPC 4.2 Table 2: 28 mg to start at 65 and over
    ({"route": "esketamine_nasal"}, ESKETAMINE),
    ({"route": "esketamine_nasal", "age": 70}, [*ESKETAMINE, "esketamine-older-adult-starting-dose-duty"]),
    # EU SmPC 4.6: contraception counselling; 4.4: oximetry with lung disease
    ({"pregnancy_possible_without_contraception": True}, ["all-contraception-counselling-duty", *PARENTERAL]),
    ({"respiratory_conditions": ["copd"]}, ["all-respiratory-oximetry-duty", *PARENTERAL]),
    # the label's respiratory-depression warning with CNS depressants
    ({"interacting_medicines": ["opioids"]}, [*EVERY_SESSION, "all-sedating-medicines-oximetry-duty"]),
    ({"interacting_medicines": ["benzodiazepines"]}, [*EVERY_SESSION, "all-sedating-medicines-oximetry-duty"]),
    # Cohen 2018: a baseline ECG where cardiovascular risk is high
    ({"cardiovascular_risk_high": True}, [*EVERY_SESSION, "all-ecg-duty"]),
    # active suicidal thoughts: a documented risk assessment
    ({"suicidal_ideation": "active_plan"}, [*EVERY_SESSION, "all-suicide-risk-assessment-duty"]),
    ({"suicidal_ideation": "passive"}, EVERY_SESSION),
])
def test_the_treatment_session_checklist_follows_the_answers(default_rulebook, changes, expected):
    assert duties(default_rulebook, changes)[0] == expected


def test_a_duty_never_changes_a_status(default_rulebook):
    _, calm = duties(default_rulebook, {}, ALL)
    listed, statuses = duties(default_rulebook, {"cardiovascular_risk_high": True, "route": "esketamine_nasal"}, ["trd"])
    assert "all-ecg-duty" in listed and "esketamine-observation-duty" in listed
    assert statuses == ["eligible"]
    _, with_ecg = duties(default_rulebook, {"cardiovascular_risk_high": True}, ALL)
    assert with_ecg == calm


def test_every_condition_says_how_it_is_licensed_and_how_strong_its_evidence_is(default_rulebook):
    for condition in default_rulebook.conditions:
        assert condition.licensing and condition.evidence, condition.slug
        if condition.slug != "trd":
            assert condition.licensing.startswith("Off-label for every route")
    pain = {grade.applies_to: grade.grade for grade in default_rulebook.condition["chronic-pain"].evidence}
    assert pain["complex regional pain syndrome (IV infusions)"].startswith("Moderate")


def test_an_unanswered_route_leaves_the_screening_incomplete_and_asks_it_first(default_rulebook):
    """The route decides which label applies, so every route-limited rule waits for it."""
    result = screen(default_rulebook, "trd", {"route": UNANSWERED})
    assert result.status == "incomplete"
    assert result.missing[0] == "route"


# ---------- issue 24, "Done when": TRD with IV ketamine in an otherwise well adult ----------

WELL_ADULT = {**CALM, "failed_antidepressant_trials": 3}


def trd_with_iv_ketamine(rulebook, changes):
    answers = {**WELL_ADULT, "route": "iv_ketamine", **changes}
    validation = validate_answers(rulebook, ["trd"], answers)
    assert validation.is_valid, validation.errors
    return evaluate(rulebook, ["trd"], validation.answers).results[0]


@pytest.mark.parametrize("changes, deciding", [
    # Swiss and German ketamine Fachinformation 4.3: poorly controlled hypertension above 180/100 at rest
    ({"systolic_bp": 190, "diastolic_bp": 115},
     {"racemic-systolic-over-180-exclude", "racemic-diastolic-over-100-exclude"}),
    ({"systolic_bp": 186, "diastolic_bp": 96}, {"racemic-systolic-over-180-exclude"}),
    # Ketalar UK SmPC 4.3: cerebrovascular accident
    ({"cerebrovascular_disease": True}, {"racemic-cerebrovascular-accident-exclude"}),
], ids=["190/115", "186/96", "past ischaemic stroke"])
def test_the_racemic_label_excludes_for_iv_ketamine(default_rulebook, changes, deciding):
    result = trd_with_iv_ketamine(default_rulebook, changes)
    assert result.status == "excluded"
    assert {r.criterion for r in result.reasons} == deciding
    assert {r.basis for r in result.reasons} == {"label"}


@pytest.mark.parametrize("thoughts", ["active_no_plan", "active_plan"])
def test_active_suicidal_thoughts_never_read_eligible_for_iv_ketamine(default_rulebook, thoughts):
    result = trd_with_iv_ketamine(default_rulebook, {"suicidal_ideation": thoughts})
    assert result.status == "caution"
    assert "all-active-suicidal-thoughts-caution" in {c.criterion for c in result.cautions}


def test_controls_that_must_not_move(default_rulebook):
    assert trd_with_iv_ketamine(default_rulebook, {}).status == "eligible"
    assert trd_with_iv_ketamine(default_rulebook, {"failed_antidepressant_trials": 3}).status == "eligible"
    pressure = trd_with_iv_ketamine(default_rulebook, {"systolic_bp": 150, "diastolic_bp": 92})
    assert pressure.status == "caution"
    assert {r.criterion for r in pressure.reasons} == {"all-systolic-bp-140-caution", "all-diastolic-bp-90-caution"}
    bipolar = evaluate(default_rulebook, ["bipolar-depression"], validate_answers(
        default_rulebook, ["bipolar-depression"], {**WELL_ADULT, **BIPOLAR}).answers).results[0]
    assert bipolar.status == "caution"


def test_a_rule_for_other_routes_does_not_apply_and_is_never_a_reason(default_rulebook):
    """A past stroke under esketamine: the racemic exclusion does not apply (not a reason, not a
    status); the esketamine label's caution decides."""
    result = screen(default_rulebook, "trd", {"cerebrovascular_disease": True, "route": "esketamine_nasal"})
    assert result.status == "caution"
    assert "racemic-cerebrovascular-accident-exclude" not in {r.criterion for r in result.reasons}


def test_cyp3a4_is_asked_only_for_oral_ketamine(default_rulebook):
    from rules.engine import unanswered_questions

    answers = {code: value for code, value in CALM.items()}
    for route, asked in [("iv_ketamine", False), ("esketamine_nasal", False), ("oral_ketamine", True)]:
        missing = unanswered_questions(default_rulebook, ["trd"], {**answers, "route": route})
        assert ("cyp3a4_modifiers" in missing) is asked, route
