"""The clinician's pages through HTTP: sign-in, access, the questionnaire,
the summary, finalising and amending. Uses the default knowledge base."""

import pytest
from django.urls import reverse

from conditions.models import Criterion
from rulebook.publishing import rulebook_publish
from screening import services
from screening.models import AuditAction, AuditEvent, Screening, Status
from tests import markup
from tests.answers import TRD_ELIGIBLE

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("module_knowledge_base"),
]

MEETS = "Meets screening criteria"
NOT_ADVISED = "Not advised: exclusion present"
INCOMPLETE = "Incomplete"


# --- reading pages ----------------------------------------------------------


def page_of(response):
    """The response's page, parsed (tests/markup.py)."""
    return markup.parse(response.content)


def form_values(response):
    """What a browser without JavaScript would submit from the page (tests/markup.py)."""
    return page_of(response).form_values()


def html(response):
    return response.content.decode()


def question(response, code):
    """One question's element (a wrapper, an instrument's item or a yes/no row):
    its field, its help and any message about its answer."""
    return page_of(response).select_one(f"#question-{code}")


def text(response):
    """The page's visible words, whitespace collapsed."""
    return page_of(response).text()


# --- doing things ------------------------------------------------------------


def start_screening(client, conditions=("trd",), reference="A-1027"):
    response = client.post(reverse("screening:new"), {
        "patient_reference": reference, "year_of_birth": "1980", "conditions": list(conditions),
    })
    screening = Screening.objects.latest("id")
    assert response.status_code == 302
    assert response["Location"] == reverse("screening:questionnaire", args=[screening.pk])
    return screening


def post_answers(client, screening, answers, action="summary", revision=None):
    screening.refresh_from_db()
    return client.post(reverse("screening:questionnaire", args=[screening.pk]), {
        **answers, "revision": screening.revision if revision is None else revision, "action": action,
    })


def confirmed(screening, **extra):
    """The finalise form as the summary page posts it: ticked, with the revision read."""
    screening.refresh_from_db()
    return {"confirm": "on", "revision": screening.revision, **extra}


def draft_for(user, conditions=("trd",), reference="B-2001", answers=None):
    return services.screening_create(
        owner=user, patient_reference=reference, year_of_birth=None,
        conditions=list(conditions), answers=answers,
    )




def final_for(user, **kwargs):
    screening = draft_for(user, answers=TRD_ELIGIBLE, **kwargs)
    return services.screening_finalise(screening=screening, user=user)


# --- access -----------------------------------------------------------------


@pytest.mark.parametrize("name, method", [
    ("screening:list", "get"), ("screening:new", "get"), ("screening:new", "post"),
    ("screening:questionnaire", "get"), ("screening:questionnaire", "post"),
    ("screening:summary", "get"), ("screening:finalise", "post"), ("screening:amend", "post"),
    ("screening:pdf", "get"),
])
def test_anonymous_visitors_are_sent_to_sign_in_from_every_screening_page(client, clinician, name, method):
    screening = draft_for(clinician)
    url = reverse(name) if name in ("screening:list", "screening:new") else reverse(name, args=[screening.pk])
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"
    assert Screening.objects.get(pk=screening.pk).status == Status.DRAFT


def test_sign_in_form_leads_to_the_screenings(client, clinician):
    from tests.conftest import TEST_PASSWORD

    page = page_of(client.get("/accounts/login/?next=/screenings/"))
    assert page.select_one("form input[name=username]") and page.select_one("form input[name=password][type=password]")
    response = client.post("/accounts/login/", {
        "username": "clinician", "password": TEST_PASSWORD, "next": "/screenings/",
    }, follow=True)
    assert response.redirect_chain[-1][0] == "/screenings/"
    assert "Signed in as clinician" in text(response)


def test_wrong_password_is_refused_on_the_sign_in_page(client, clinician):
    response = client.post("/accounts/login/", {"username": "clinician", "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in text(response)


def test_signing_out_is_a_post_that_returns_to_sign_in(clinician_client):
    assert clinician_client.get("/screenings/").status_code == 200
    response = clinician_client.post("/accounts/logout/")
    assert response["Location"] == "/accounts/login/"
    assert clinician_client.get("/screenings/").status_code == 302


@pytest.mark.parametrize("name, method", [
    ("screening:summary", "get"), ("screening:questionnaire", "get"),
    ("screening:questionnaire", "post"), ("screening:finalise", "post"),
    ("screening:amend", "post"), ("screening:pdf", "get"),
])
def test_another_clinicians_screening_does_not_exist_for_a_clinician(
    clinician_client, other_clinician, name, method
):
    screening = draft_for(other_clinician, answers=TRD_ELIGIBLE)
    response = getattr(clinician_client, method)(reverse(name, args=[screening.pk]), {"confirm": "on"})
    assert response.status_code == 404
    after = Screening.objects.get(pk=screening.pk)
    assert (after.status, after.revision, after.answers) == (Status.DRAFT, 1, screening.answers)


def test_a_clinicians_list_holds_only_their_own_screenings(clinician_client, clinician, other_clinician):
    draft_for(clinician, reference="MINE-1")
    draft_for(other_clinician, reference="THEIRS-1")
    page = text(clinician_client.get(reverse("screening:list")))
    assert "MINE-1" in page
    assert "THEIRS-1" not in page


def test_view_all_permission_shows_every_screening_but_only_the_owner_changes_it(
    client, auditor, other_clinician
):
    screening = draft_for(other_clinician, answers=TRD_ELIGIBLE, reference="THEIRS-2")
    client.force_login(auditor)
    listing = text(client.get(reverse("screening:list")))
    assert "THEIRS-2" in listing and "other-clinician" in listing

    summary = client.get(reverse("screening:summary", args=[screening.pk]))
    assert summary.status_code == 200
    assert MEETS in text(summary)
    assert "Edit answers" not in text(summary) and "Finalise" not in text(summary)

    for name in ("screening:finalise", "screening:amend", "screening:questionnaire"):
        response = client.post(reverse(name, args=[screening.pk]), {"confirm": "on"})
        assert response.status_code == 403
    assert Screening.objects.get(pk=screening.pk).status == Status.DRAFT


def test_a_superuser_may_read_any_screening(admin_client, other_clinician):
    screening = draft_for(other_clinician, answers=TRD_ELIGIBLE)
    assert admin_client.get(reverse("screening:summary", args=[screening.pk])).status_code == 200


def test_a_screening_number_beyond_any_id_is_simply_not_found(clinician_client):
    assert clinician_client.get("/screenings/99999999999999999999999/").status_code == 404


# --- the whole way through ------------------------------------------------------


def test_clinician_screens_a_patient_for_trd_from_new_screening_to_final(
    clinician_client, clinician, trd_eligible_form
):
    new_page = page_of(clinician_client.get(reverse("screening:new")))
    assert new_page.select_one("input[type=checkbox][name=conditions][value=trd]")
    screening = start_screening(clinician_client)
    assert (screening.owner, screening.conditions, screening.year_of_birth) == (clinician, ["trd"], 1980)

    questionnaire = clinician_client.get(reverse("screening:questionnaire", args=[screening.pk]))
    assert questionnaire.status_code == 200
    assert set(trd_eligible_form) <= set(form_values(questionnaire))

    response = post_answers(clinician_client, screening, trd_eligible_form)
    assert response.status_code == 302
    assert response["Location"] == reverse("screening:summary", args=[screening.pk])

    summary = clinician_client.get(response["Location"])
    words = text(summary)
    assert f"Treatment-resistant depression {MEETS}" in words
    # Second edition (issue 18): the checklist "At the treatment session" comes first and cites the
    # esketamine label, so the requirement's source (Sforzini 2022) is no longer reference [1].
    # Third edition (issue 24): IV ketamine's duties cite the Ketalar label and the Ketamax
    # prescribing information first, and each reason shows its basis.
    assert "Requirement met: Requires a current unipolar major depressive episode. [7] Basis: Consensus" in words
    assert "References" in words and "Sforzini L" in words
    # The rules it was screened under, as clinicians read a version everywhere (issue 25).
    assert f"Evaluated under Rules version 1 ({Screening.objects.get(pk=screening.pk).rulebook_version[:7]})" in words
    assert "Edit answers" in words

    finalised = clinician_client.post(
        reverse("screening:finalise", args=[screening.pk]), confirmed(screening), follow=True
    )
    words = text(finalised)
    assert "Screening finalised" in words
    assert "Edit answers" not in words
    assert "Amend" in words
    screening.refresh_from_db()
    assert screening.status == Status.FINAL and screening.finalised_by == clinician

    row = text(clinician_client.get(reverse("screening:list")))
    assert f"A-1027 Treatment-resistant depression {MEETS} None" in row
    assert "Final" in row


# --- starting a screening -------------------------------------------------------


def test_new_screening_offers_each_condition_as_a_checkbox_with_its_description(clinician_client):
    page = clinician_client.get(reverse("screening:new"))
    assert page_of(page).select_one("input[type=checkbox][name=conditions][value=bipolar-depression]")
    assert "Bipolar depression and cyclothymia" in text(page)
    assert "with poor response to mood stabilisers or antidepressants" in text(page)


@pytest.mark.parametrize("data, field, message", [
    ({"patient_reference": "", "conditions": ["trd"]}, "patient_reference", "This field is required."),
    ({"patient_reference": "A-1", "conditions": []}, "conditions", "Choose at least one condition."),
    ({"patient_reference": "A-1", "conditions": ["flu"]}, "conditions", "Select a valid choice."),
    ({"patient_reference": "<Jane>", "conditions": ["trd"]}, "patient_reference", "Never a name"),
    ({"patient_reference": "John Smith", "conditions": ["trd"]}, "patient_reference", "with no spaces"),
    ({"patient_reference": "A-1", "year_of_birth": "3000", "conditions": ["trd"]}, "year_of_birth", "cannot be after"),
])
def test_new_screening_with_missing_or_bad_details_says_why_and_creates_nothing(
    clinician_client, data, field, message
):
    response = clinician_client.post(reverse("screening:new"), data)
    assert response.status_code == 200
    assert message in page_of(response).select_one(f"#id_{field}_error").text()
    assert not Screening.objects.exists()


# --- the questionnaire -----------------------------------------------------------


def test_questionnaire_is_one_fieldset_per_section_in_section_order(clinician_client, clinician):
    screening = draft_for(clinician, conditions=["trd", "chronic-pain"])
    page = markup.parse(clinician_client.get(reverse("screening:questionnaire", args=[screening.pk])).content)
    legends = [section.select_one("legend").text() for section in page.select("fieldset[data-section]")]
    # second edition (issue 18): the treatment route is asked first
    assert legends == ["Treatment route", "Patient", "Safety screen", "Current medicines", "Depression",
                       "Bipolar disorder", "Pain"]


def test_questionnaire_fields_follow_the_question_kinds(clinician_client, clinician):
    screening = draft_for(clinician)
    response = clinician_client.get(reverse("screening:questionnaire", args=[screening.pk]))
    systolic = question(response, "systolic_bp")
    assert systolic.select_one('input[type=number][name=systolic_bp][min="60"][max="260"]')
    assert [unit.text() for unit in systolic.select(".input-group-text")] == ["mmHg"]
    assert "Resting systolic blood pressure" in systolic.text()
    bipolar = question(response, "bipolar_history")
    assert [radio.get("value") for radio in bipolar.select("input[type=radio][name=bipolar_history]")] == [
        "yes", "no",
    ]
    medicines = question(response, "interacting_medicines")
    assert [box.get("value") for box in medicines.select("input[type=checkbox][name=interacting_medicines]")] == [
        # second edition (issue 18): sedating medicines the esketamine label and REMS form ask about
        "benzodiazepines", "lamotrigine", "maoi", "stimulants", "opioids", "z_drugs", "gabapentinoids",
        "heavy_alcohol",
        # third edition (issue 24): theophylline and aminophylline (racemic ketamine label 4.5; Ketanest S 4.3)
        "xanthines", "none",
    ]
    trials = question(response, "failed_antidepressant_trials")
    assert "Worked out from the trials table" in trials.text()
    assert page_of(response).select_one('form input[type=hidden][name=revision][value="1"]')


def test_follow_up_questions_wait_for_a_yes_to_bipolar_history(clinician_client, clinician):
    screening = draft_for(clinician)
    url = reverse("screening:questionnaire", args=[screening.pk])
    assert question(clinician_client.get(url), "mood_episode").get("hidden") is not None
    # the page carries no rules: the server decides what is shown
    assert "data-enable-when" not in html(clinician_client.get(url))

    post_answers(clinician_client, screening, {"bipolar_history": "yes"}, action="save")
    page = clinician_client.get(url)
    for code in ("mood_episode", "on_mood_stabiliser"):
        assert question(page, code).get("hidden") is None
    assert "failed_bipolar_treatments" not in html(page)  # only bipolar depression asks it


def test_questionnaire_is_prefilled_from_the_saved_answers(clinician_client, clinician):
    screening = draft_for(clinician, answers=TRD_ELIGIBLE)
    values = form_values(clinician_client.get(reverse("screening:questionnaire", args=[screening.pk])))
    assert values["age"] == "45" and values["phq9_total"] == "15"
    assert values["mdd_current"] == ["yes"] and values["bipolar_history"] == ["no"]
    assert values["suicidal_ideation"] == ["none"] and values["interacting_medicines"] == ["none"]
    assert values["mood_episode"] == []


def test_questionnaire_uses_only_plain_static_javascript(clinician_client, clinician):
    screening = draft_for(clinician)
    page = page_of(clinician_client.get(reverse("screening:questionnaire", args=[screening.pk])))
    scripts = [(script.get("src"), script.text()) for script in page.select("script")]
    assert scripts == [
        ("/static/bootstrap/js/bootstrap.bundle.min.js", ""),
        ("/static/js/session.js", ""),
        ("/static/vendor/htmx/htmx.min.js", ""),
        ("/static/js/instruments.js", ""),
        ("/static/js/trials.js", ""),
        ("/static/js/conflicts.js", ""),
        ("/static/js/questionnaire.js", ""),
        ("/static/js/cleared.js", ""),
    ]
    handlers = [(element.tag, name) for element in page.select("*") for name in element.attributes
                if name.lower().startswith("on")]
    assert handlers == [], "no inline event handlers"


def without(answers, *codes):
    return {code: value for code, value in answers.items() if code not in codes}


def test_out_of_range_blood_pressure_is_shown_beside_the_field_and_keeps_every_other_answer(
    clinician_client, clinician, trd_eligible_form
):
    screening = start_screening(clinician_client)
    response = post_answers(clinician_client, screening, {**trd_eligible_form, "systolic_bp": "400"})
    assert response.status_code == 200
    assert "400 is above the maximum of 260 mmHg." in question(response, "systolic_bp").text()
    values = form_values(response)
    assert values["systolic_bp"] == "400"
    assert values["age"] == "45" and values["phq9_total"] == "15"
    assert values["mdd_current"] == ["yes"] and values["interacting_medicines"] == ["none"]
    assert "Your other answers were saved at" in text(response)
    assert "Not saved: this answer needs checking: Resting systolic blood pressure" in text(response)
    assert Screening.objects.get(pk=screening.pk).answers == without(TRD_ELIGIBLE, "systolic_bp")


def test_none_of_these_cannot_be_combined_with_a_medicine(clinician_client, clinician, trd_eligible_form):
    screening = start_screening(clinician_client)
    response = post_answers(clinician_client, screening, {
        **trd_eligible_form, "interacting_medicines": ["maoi", "none"],
    })
    assert response.status_code == 200
    assert "“None of these” cannot be combined with other choices." in question(
        response, "interacting_medicines"
    ).text()
    assert form_values(response)["interacting_medicines"] == ["maoi", "none"]
    assert form_values(response)["failed_antidepressant_trials"] == "2"
    assert Screening.objects.get(pk=screening.pk).answers == without(TRD_ELIGIBLE, "interacting_medicines")


@pytest.mark.parametrize("code, value, message", [
    ("suicidal_ideation", "sometimes", "Choose one of the options shown."),
    ("pregnant", "maybe", "Choose one of the options shown."),
    ("interacting_medicines", ["none", "cannabis"], "Choose one of the options shown."),
    ("age", "forty", "Enter a whole number."),
    ("age", "9" * 5000, "Enter a whole number."),
    ("age", "1" + "0" * 40, "is above the maximum of 120 years."),
    ("age", "45.5", "Enter a whole number."),
    ("phq9_total", "-1", "-1 is below the minimum of 0."),
    ("systolic_bp", "NaN", "Enter a whole number."),
    ("age", "4\x005", "Enter a whole number."),
])
def test_tampered_or_impossible_values_get_a_message_not_a_server_error(
    clinician_client, clinician, trd_eligible_form, code, value, message
):
    screening = start_screening(clinician_client)
    response = post_answers(clinician_client, screening, {**trd_eligible_form, code: value})
    assert response.status_code == 200
    assert message in question(response, code).text()
    assert form_values(response)["diastolic_bp"] == "80"
    assert Screening.objects.get(pk=screening.pk).answers == without(TRD_ELIGIBLE, code)


def test_two_values_for_a_single_answer_field_keep_the_last_as_a_browser_would(
    clinician_client, clinician, trd_eligible_form
):
    screening = start_screening(clinician_client)
    response = post_answers(clinician_client, screening, {
        **trd_eligible_form, "suicidal_ideation": ["active_plan", "none"], "age": ["17", "45"],
    })
    assert response.status_code == 302
    assert Screening.objects.get(pk=screening.pk).answers["suicidal_ideation"] == "none"


@pytest.mark.parametrize("revision", ["", "abc", "-3"])
def test_a_missing_or_tampered_revision_asks_for_a_reload(clinician_client, clinician, trd_eligible_form, revision):
    screening = start_screening(clinician_client)
    response = post_answers(clinician_client, screening, trd_eligible_form, revision=revision)
    assert response.status_code == 200
    assert "This form is out of date; reload the page." in text(response)


def test_answers_saved_elsewhere_since_the_form_opened_are_not_overwritten(
    clinician_client, clinician, trd_eligible_form
):
    screening = start_screening(clinician_client)
    post_answers(clinician_client, screening, {"age": "50"}, action="save")
    response = post_answers(clinician_client, screening, trd_eligible_form, revision=1)
    assert response.status_code == 200
    words = text(response)
    assert "These answers were changed in another window since this page was opened" in words
    # what was typed is kept, and the page says question by question what differs
    assert form_values(response)["age"] == "45"
    assert "Keep yours: 45 years Take the answer saved in the other window: 50 years" in words
    # not the old words: the draft has saved answers, and a reload would lose what was typed
    assert "Nothing has been saved yet" not in words and "reload" not in words.lower()
    assert Screening.objects.get(pk=screening.pk).answers == {"age": 50}


def test_show_summary_asks_for_every_question_still_shown(clinician_client, clinician, trd_eligible_form):
    screening = start_screening(clinician_client)
    partial = {k: v for k, v in trd_eligible_form.items() if k not in ("phq9_total", "raised_icp")}
    response = post_answers(clinician_client, screening, partial)
    assert response.status_code == 200
    assert "Answer this question to see the summary." in question(response, "raised_icp").text()
    # A total worked out from items asks for the items, or the total when they were not collected.
    assert "Answer every item above to see the summary, or enter the total" in question(response, "phq9_total").text()
    assert "Answer this question" not in question(response, "mood_episode").text()
    assert text(response).count("Answer this question to see the summary.") == 1
    assert "Check these 2 questions: Raised intracranial or intraocular pressure, or a recent significant head injury PHQ-9 total score" in text(response)
    assert Screening.objects.get(pk=screening.pk).answers == without(TRD_ELIGIBLE, "phq9_total", "raised_icp")


def test_save_draft_keeps_partial_answers_and_the_summary_names_what_is_missing(
    clinician_client, clinician, trd_eligible_form
):
    screening = start_screening(clinician_client)
    partial = {k: v for k, v in trd_eligible_form.items() if k not in ("phq9_total", "raised_icp")}
    response = post_answers(clinician_client, screening, partial, action="save")
    assert response["Location"] == reverse("screening:questionnaire", args=[screening.pk])
    assert Screening.objects.get(pk=screening.pk).answers["age"] == 45

    summary = clinician_client.get(reverse("screening:summary", args=[screening.pk]))
    words = text(summary)
    assert f"Treatment-resistant depression {INCOMPLETE}" in words
    assert "Still to answer" in words
    questionnaire = reverse("screening:questionnaire", args=[screening.pk])
    links = {link.get("href"): link.text() for link in page_of(summary).select("a[href]")}
    assert links[f"{questionnaire}#question-raised_icp"].startswith("Raised intracranial or intraocular pressure")
    assert links[f"{questionnaire}#question-phq9_total"] == "PHQ-9 total score"


def test_answers_to_questions_that_do_not_apply_are_ignored(clinician_client, clinician, trd_eligible_form):
    screening = start_screening(clinician_client)
    response = post_answers(clinician_client, screening, {
        **trd_eligible_form, "bipolar_history": "no", "mood_episode": "manic", "on_mood_stabiliser": "maybe",
    })
    assert response.status_code == 302
    screening.refresh_from_db()
    assert "mood_episode" not in screening.answers
    assert screening.worst_status == "eligible"


# --- the summary -----------------------------------------------------------------


def test_a_manic_episode_is_not_advised(clinician_client, clinician, trd_eligible_form):
    screening = start_screening(clinician_client)
    post_answers(clinician_client, screening, {
        **trd_eligible_form, "bipolar_history": "yes", "mood_episode": "manic",
        "on_mood_stabiliser": "yes", "failed_bipolar_treatments": "1",
    })
    words = text(clinician_client.get(reverse("screening:summary", args=[screening.pk])))
    assert f"Treatment-resistant depression {NOT_ADVISED}" in words
    assert "Exclusion applies: Current manic, hypomanic or mixed episode" in words
    assert "Cautions that also apply Bipolar spectrum history" in words


def test_safety_alerts_come_first_and_are_announced(clinician_client, clinician, trd_eligible_form):
    screening = start_screening(clinician_client)
    post_answers(clinician_client, screening, {**trd_eligible_form, "suicidal_ideation": "active_plan"})
    page = page_of(clinician_client.get(reverse("screening:summary", args=[screening.pk])))
    alert, trd = page.select("[role=alert][aria-labelledby=alerts-heading], [data-condition=trd]")
    assert (alert.get("role"), trd.get("data-condition")) == ("alert", "trd")  # the alert first
    assert page.select_one("#alerts-heading").text() == "Safety alert"
    assert "Active suicidal thoughts reported" in alert.text()
    assert Screening.objects.get(pk=screening.pk).alert_count == 1


def test_references_are_numbered_in_order_of_first_citation_and_unverified_ones_are_marked(
    clinician_client, clinician
):
    screening = draft_for(clinician, conditions=["ptsd"], answers={
        **{k: v for k, v in TRD_ELIGIBLE.items() if not k.startswith(("mdd", "failed", "phq"))},
        "ptsd_diagnosis": True, "pcl5_total": 40, "ptsd_first_line_failed": True,
    })
    page = page_of(clinician_client.get(reverse("screening:summary", args=[screening.pk])))
    markers = [int(marker.get("href").removeprefix("#ref-")) for marker in page.select('a.ks-ref[href^="#ref-"]')]
    first_seen = list(dict.fromkeys(markers))
    assert first_seen == list(range(1, len(first_seen) + 1))
    entries = page.select('li[id^="ref-"][value]')
    assert [int(entry.get("id").removeprefix("ref-")) for entry in entries] == first_seen
    assert [int(entry.get("value")) for entry in entries] == first_seen
    unverified = [entry.text() for entry in entries if "details not yet verified" in entry.text()]
    assert any("Sicignano" in entry for entry in unverified)
    assert all("Feder A" not in entry for entry in unverified)
    assert page.select('[data-testid=references] a[href^="https://doi.org/"]')


def test_a_final_summary_keeps_the_criterion_text_it_was_evaluated_with(
    clinician_client, clinician, trd_eligible_form
):
    screening = start_screening(clinician_client)
    post_answers(clinician_client, screening, trd_eligible_form)
    clinician_client.post(reverse("screening:finalise", args=[screening.pk]), confirmed(screening))
    criterion = Criterion.objects.get(key="trd-mdd-current-require")
    original = criterion.message
    criterion.message = "Needs a current depressive episode (reworded by the clinical lead)."
    criterion.save()
    rulebook_publish(note="Reworded.")

    words = text(clinician_client.get(reverse("screening:summary", args=[screening.pk])))
    assert original in words
    assert "reworded by the clinical lead" not in words
    newer = draft_for(clinician, answers=TRD_ELIGIBLE)
    assert "reworded by the clinical lead" in text(
        clinician_client.get(reverse("screening:summary", args=[newer.pk]))
    )


def test_summary_says_it_is_advisory(clinician_client, clinician):
    screening = draft_for(clinician)
    words = text(clinician_client.get(reverse("screening:summary", args=[screening.pk])))
    assert "This summary is advisory." in words
    assert "it does not replace clinical judgement" in words


def test_summary_links_to_the_pdf_download(clinician_client, clinician):
    screening = draft_for(clinician)
    page = page_of(clinician_client.get(reverse("screening:summary", args=[screening.pk])))
    assert page.select_one(f'a[href="/screenings/{screening.pk}/pdf/"]')
    assert reverse("screening:pdf", args=[screening.pk]) == f"/screenings/{screening.pk}/pdf/"


# --- final screenings and amendments -------------------------------------------


def test_finalising_needs_the_confirmation_box(clinician_client, clinician):
    screening = draft_for(clinician, answers=TRD_ELIGIBLE)
    response = clinician_client.post(reverse("screening:finalise", args=[screening.pk]), follow=True)
    assert "Tick the box to confirm before finalising." in text(response)
    assert Screening.objects.get(pk=screening.pk).status == Status.DRAFT


def test_finalise_is_post_only(clinician_client, clinician):
    screening = draft_for(clinician)
    assert clinician_client.get(reverse("screening:finalise", args=[screening.pk])).status_code == 405


def test_a_final_screening_refuses_new_answers(clinician_client, clinician, trd_eligible_form):
    screening = final_for(clinician)
    url = reverse("screening:questionnaire", args=[screening.pk])
    for response in (
        clinician_client.get(url, follow=True),
        clinician_client.post(url, {**trd_eligible_form, "age": "70", "revision": screening.revision,
                                    "action": "summary"}, follow=True),
    ):
        assert response.redirect_chain == [(reverse("screening:summary", args=[screening.pk]), 302)]
        assert "This screening is final and its answers cannot be changed." in text(response)
    assert Screening.objects.get(pk=screening.pk).answers["age"] == 45


def test_finalising_twice_says_it_is_already_final(clinician_client, clinician):
    screening = final_for(clinician)
    response = clinician_client.post(
        reverse("screening:finalise", args=[screening.pk]), confirmed(screening), follow=True
    )
    assert "This screening is already final." in text(response)


def test_amend_starts_a_linked_draft_with_the_same_answers(clinician_client, clinician):
    original = final_for(clinician)
    response = clinician_client.post(reverse("screening:amend", args=[original.pk]), {"reason": "A correction."})
    amendment = Screening.objects.latest("id")
    assert response["Location"] == reverse("screening:questionnaire", args=[amendment.pk])
    assert (amendment.amends, amendment.status, amendment.answers) == (original, Status.DRAFT, original.answers)

    summary = clinician_client.get(reverse("screening:summary", args=[amendment.pk]))
    assert page_of(summary).select_one("a[data-testid=amends-link]").get("href") == f"/screenings/{original.pk}/"
    original_summary = text(clinician_client.get(reverse("screening:summary", args=[original.pk])))
    assert f"Replaced by #{amendment.pk} (a draft amendment started" in original_summary


def test_a_draft_cannot_be_amended(clinician_client, clinician):
    screening = draft_for(clinician)
    response = clinician_client.post(reverse("screening:amend", args=[screening.pk]), {"reason": "A correction."}, follow=True)
    assert "Only a final screening can be amended" in text(response)
    assert Screening.objects.count() == 1


# --- the audit trail --------------------------------------------------------------


def audit_trail(screening):
    return list(
        AuditEvent.objects.filter(screening=screening).order_by("id").values_list("action", "username")
    )


def test_each_step_of_a_screening_is_audited_with_who_did_it(
    clinician_client, clinician, auditor, trd_eligible_form
):
    screening = start_screening(clinician_client)
    post_answers(clinician_client, screening, trd_eligible_form)
    clinician_client.get(reverse("screening:summary", args=[screening.pk]))
    clinician_client.post(reverse("screening:finalise", args=[screening.pk]), confirmed(screening))
    clinician_client.force_login(auditor)
    clinician_client.get(reverse("screening:summary", args=[screening.pk]))
    assert audit_trail(screening) == [
        (AuditAction.SCREENING_CREATED, "clinician"),
        (AuditAction.ANSWERS_SAVED, "clinician"),
        (AuditAction.VIEWED, "clinician"),
        (AuditAction.FINALISED, "clinician"),
        (AuditAction.VIEWED, "auditor"),
    ]
    assert AuditEvent.objects.filter(action=AuditAction.FINALISED).get().ip_address == "127.0.0.1"


def test_an_amendment_is_audited_on_both_records(clinician_client, clinician):
    original = final_for(clinician)
    clinician_client.post(reverse("screening:amend", args=[original.pk]), {"reason": "A correction."})
    amendment = Screening.objects.latest("id")
    assert audit_trail(original) == [
        (AuditAction.SCREENING_CREATED, "clinician"), (AuditAction.FINALISED, "clinician"),
        (AuditAction.AMENDED, "clinician"),
    ]
    assert audit_trail(amendment) == [(AuditAction.SCREENING_CREATED, "clinician")]


def test_refused_changes_leave_no_audit_event(clinician_client, clinician, trd_eligible_form):
    screening = start_screening(clinician_client)
    post_answers(clinician_client, screening, trd_eligible_form, revision="abc")
    refused = clinician_client.post(reverse("screening:finalise", args=[screening.pk]))
    assert "Tick the box to confirm before finalising." in text(refused)
    # The refused finalise shows the summary again: a view, and nothing else.
    assert audit_trail(screening) == [(AuditAction.SCREENING_CREATED, "clinician"), (AuditAction.VIEWED, "clinician")]


# --- the list ---------------------------------------------------------------------


def test_list_shows_25_a_page_newest_first(clinician_client, clinician):
    for number in range(30):
        draft_for(clinician, reference=f"P-{number:03}")
    first = text(clinician_client.get(reverse("screening:list")))
    assert first.index("P-029") < first.index("P-028")
    assert "P-005" in first and "P-004" not in first
    assert "Page 1" in first and "Older" in first and "Newer" not in first
    second = text(clinician_client.get(reverse("screening:list"), {"page": 2}))
    assert "P-004" in second and "P-000" in second and "P-005" not in second
    assert "Page 2" in second and "Newer" in second and "Older" not in second


def test_list_row_shows_conditions_result_alerts_and_record_status(clinician_client, clinician):
    draft_for(clinician, conditions=["trd", "chronic-pain"], reference="R-1",
              answers={**TRD_ELIGIBLE, "suicidal_ideation": "active_no_plan"})
    row = text(clinician_client.get(reverse("screening:list")))
    assert "R-1 Treatment-resistant depression, Chronic pain Incomplete 1 alert" in row
    assert "Draft" in row


def test_list_searches_by_patient_reference_and_filters_by_status(clinician_client, clinician):
    draft_for(clinician, reference="ABC-100")
    draft_for(clinician, reference="XYZ-200")
    final_for(clinician, reference="ABC-300")
    search = text(clinician_client.get(reverse("screening:list"), {"q": "abc"}))
    assert "ABC-100" in search and "ABC-300" in search and "XYZ-200" not in search
    finals = text(clinician_client.get(reverse("screening:list"), {"q": "abc", "status": "final"}))
    assert "ABC-300" in finals and "ABC-100" not in finals
    nothing = text(clinician_client.get(reverse("screening:list"), {"q": "none-such"}))
    assert "No screenings match this search." in nothing


@pytest.mark.parametrize("params", [
    {"page": "abc"}, {"page": "-1"}, {"page": "99999"}, {"page": "1" * 400},
    {"status": "deleted"}, {"status": ["draft", "final"]}, {"q": "x" * 500}, {"q": "A\x00B"},
])
def test_list_never_fails_on_odd_query_strings(clinician_client, clinician, params):
    draft_for(clinician, reference="Q-1")
    response = clinician_client.get(reverse("screening:list"), params)
    assert response.status_code == 200
