"""The checklist "At the treatment session" and each condition's evidence
grades and licensing, as a clinician reads them on the summary page and
the PDF (read back with pypdf)."""

import re

import pytest
from django.urls import reverse

from screening import services
from screening.models import Screening
from tests.answers import TRD_ELIGIBLE
from tests.knowledge import add_duties_and_evidence
from tests.markup import parse
from tests.screening.test_pdf import body_text, download

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("module_knowledge_base"),
]

BP_DUTY = "Measure blood pressure before dosing, at about 40 minutes and before discharge."
ECG_DUTY = "Record an ECG before the first infusion."
PAIN_ANSWERS = {
    "pain_duration_months": 24, "pain_intensity": 6, "pain_type": "crps",
    "failed_analgesic_classes": 3, "opioid_daily_use": False,
}


def draft(user, conditions=("trd",), **answers):
    return services.screening_create(
        owner=user, patient_reference="D-1", year_of_birth=None, conditions=list(conditions),
        answers={**TRD_ELIGIBLE, **answers},
    )


def summary(client, screening):
    response = client.get(reverse("screening:summary", args=[screening.pk]))
    assert response.status_code == 200
    return parse(response.content)


def words(element):
    return element.text()


def references(soup):
    """Reference number -> the citation's text."""
    return {int(li.get("value")): words(li) for li in soup.select("[data-testid=references] li")}


def cited(element, soup):
    """The citations an element's markers point to."""
    listed = references(soup)
    return [listed[int(a.text().strip("[]"))] for a in element.select("a.ks-ref")]


def test_duties_that_hold_show_as_a_checklist_after_the_conditions(clinician_client, clinician):
    add_duties_and_evidence()
    screening = draft(clinician, conditions=("trd", "chronic-pain"), age=70, **PAIN_ANSWERS)
    soup = summary(clinician_client, screening)
    checklist = soup.select_one("[data-testid=duties]")
    assert words(checklist.select_one("h2")) == "At the treatment session"
    items = checklist.select("[data-testid=duty]")
    assert [words(item.select_one(".ks-duty")) for item in items] == [BP_DUTY, ECG_DUTY]
    assert all(item.select_one(".ks-tick-box") for item in items)  # a box to tick once printed
    assert "Patient's answer: 120 mmHg" in words(items[0])
    assert "spravato" in " ".join(cited(items[0], soup)).lower()
    assert "cohen" in " ".join(cited(items[1], soup)).lower()
    # after every condition, before the answers
    sections = [s.get("data-condition") or s.get("data-testid") for s in soup.select("section")]
    assert sections.index("duties") > sections.index("chronic-pain")


def test_a_duty_for_another_condition_is_left_off_and_no_duty_means_no_checklist(clinician_client, clinician):
    add_duties_and_evidence()
    trd_only = summary(clinician_client, draft(clinician, age=70))
    assert [words(i.select_one(".ks-duty")) for i in trd_only.select("[data-testid=duty]")] == [BP_DUTY]
    without_bp = summary(clinician_client, draft(clinician, systolic_bp=None))
    assert without_bp.select_one("[data-testid=duties]") is None
    assert "At the treatment session" not in words(without_bp)


def test_a_duty_never_changes_the_status_shown(clinician_client, clinician):
    screening = draft(clinician)
    before = Screening.objects.get(pk=screening.pk).worst_status
    add_duties_and_evidence()
    again = draft(clinician)
    soup = summary(clinician_client, again)
    assert again.worst_status == before == "eligible"
    assert soup.select("[data-testid=duty]")
    assert "Meets screening criteria" in words(soup.select_one("[data-condition=trd] .card-header"))


def test_evidence_grades_and_licensing_show_with_each_condition_and_their_sources_are_numbered(
    clinician_client, clinician
):
    add_duties_and_evidence()
    soup = summary(clinician_client, draft(clinician, conditions=("trd", "chronic-pain"), **PAIN_ANSWERS))
    pain = soup.select_one("[data-condition=chronic-pain]")
    grades = pain.select("[data-testid=evidence-grade]")
    first, second = grades  # each with the marker of its source
    assert words(first) == f"Moderate for CRPS {words(first.select_one('a.ks-ref'))}"
    assert words(second) == f"Weak for Fibromyalgia {words(second.select_one('a.ks-ref'))} Short-term relief at best."
    (source,) = set(cited(grades[0], soup) + cited(grades[1], soup))
    assert source.startswith("Cohen SP")
    assert words(pain.select_one("[data-testid=licensing]")) == "Licensing: Off-label for every route."
    trd = soup.select_one("[data-condition=trd]")
    assert not trd.select("[data-testid=evidence-grade]")
    assert "Esketamine nasal spray is licensed" in words(trd.select_one("[data-testid=licensing]"))
    # shown next to the status, before what decided it
    text = words(pain)
    assert text.index("Evidence for treating it") < text.index("What decided this")


def test_a_screening_evaluated_before_the_edit_keeps_its_own_summary_until_evaluated_again(
    clinician_client, clinician
):
    from tests.knowledge import without_shipped_duties_and_evidence

    without_shipped_duties_and_evidence()  # the shipped ones (issue 18): a final made before any duty
    final = services.screening_finalise(screening=draft(clinician), user=clinician)
    add_duties_and_evidence()
    soup = summary(clinician_client, final)
    assert soup.select_one("[data-testid=duties]") is None
    assert soup.select_one("[data-testid=licensing]") is None


def test_a_result_stored_before_duties_existed_still_renders(clinician_client, clinician):
    screening = draft(clinician)
    result = {key: value for key, value in screening.result.items() if key != "duties"}
    Screening.objects.filter(pk=screening.pk).update(result=result)
    soup = summary(clinician_client, screening)
    assert soup.select_one("[data-testid=duties]") is None
    assert soup.select_one("[data-condition=trd]")


def test_the_pdf_prints_the_checklist_with_boxes_to_tick_and_the_evidence(client, clinician):
    add_duties_and_evidence()
    screening = draft(clinician, conditions=("trd", "chronic-pain"), age=70, **PAIN_ANSWERS)
    client.force_login(clinician)
    content = download(client, screening)
    text = body_text(content, screening)
    checklist = text[text.index("At the treatment session"):text.index("Answers recorded")]
    assert BP_DUTY in checklist and ECG_DUTY in checklist
    assert "Tick each as it is done." in checklist
    assert "Checked by:" in checklist
    pain = text[text.index("Chronic pain Eligible"):]
    assert "Evidence for treating it: Moderate for CRPS [" in pain
    assert "Weak for Fibromyalgia [" in pain and "Short-term relief at best." in pain
    assert "Licensing: Off-label for every route." in pain
    numbers = re.search(r"Moderate for CRPS \[(\d+)\]", pain).group(1)
    references = text[text.rindex("References"):]
    assert re.search(rf"{numbers}\. ?Cohen SP", references)


def test_the_pdf_draws_one_box_per_duty(client, clinician):
    """Each box is an empty square drawn on the page: the checklist prints tickable."""
    add_duties_and_evidence()
    screening = draft(clinician, conditions=("trd", "chronic-pain"), age=70, **PAIN_ANSWERS)
    client.force_login(clinician)
    assert len(parse(pdf_html(screening)).select(".tick-box")) == 2


def pdf_html(screening):
    from django.template.loader import render_to_string
    from django.utils import timezone

    from screening.summary import summary_context

    full = Screening.objects.select_related("owner", "finalised_by", "snapshot").get(pk=screening.pk)
    return render_to_string("screening/pdf.html", {**summary_context(full), "produced_at": timezone.now()})
