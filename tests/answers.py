"""Answers the tests share, for the default knowledge base."""

# Meets the TRD criteria with no caution or alert.
TRD_ELIGIBLE = {
    "age": 45, "psychosis_history": False,
    "bipolar_history": False, "suicidal_ideation": "none", "systolic_bp": 120, "diastolic_bp": 80,
    "vascular_contraindication": False, "raised_icp": False, "unstable_cardiac": False,
    "ketamine_misuse_history": False, "hepatic_impairment": "none", "current_other_sud": False,
    "interacting_medicines": ["none"], "mdd_current": True, "failed_antidepressant_trials": 2,
    "phq9_total": 15,
    # asked since the second edition of the knowledge base (issue 18)
    "route": "iv_ketamine", "bp_rise_serious_risk": False, "hypertensive_encephalopathy_history": False,
    "cerebrovascular_disease": False, "cardiovascular_risk_high": False, "ketamine_allergy": False,
    "bladder_symptoms": False, "cognitive_impairment": False, "transport_home_arranged": True,
    # asked since the third edition (issue 24)
    "pregnant": False, "breastfeeding": False, "pregnancy_possible_without_contraception": False,
    "psychosis_current": False, "severe_coronary_or_myocardial_disease": False, "tia_history": False,
    "pre_eclampsia": False, "hyperthyroidism_uncontrolled": False, "respiratory_conditions": ["none"],
    "resting_spo2": 98, "seizure_history": False,
}
