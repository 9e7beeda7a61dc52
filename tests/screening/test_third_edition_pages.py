"""A third-edition knowledge base (tests/conditions/files/third_edition.yaml)
as a clinician meets it: each reason's basis on the summary and the PDF
(read back with pypdf) and in `screen`'s output; the questionnaire asking
only what can matter; a retired answer in `screen`."""

import json
from pathlib import Path

import pytest
from django.urls import reverse

from conditions.loader import knowledge_base_load, read_knowledge_base
from rulebook.publishing import rulebook_publish
from screening import services
from tests.markup import parse
from tests.screening.test_pdf import body_text, download
from tests.screening.test_screen_command import screen as run_screen

pytestmark = pytest.mark.django_db

THIRD_EDITION = Path(__file__).resolve().parents[1] / "conditions" / "files" / "third_edition.yaml"
TWO_DRUGS = [
    {"drug": "sertraline", "daily_dose_mg": 100, "weeks": 6, "outcome": "no_response"},
    {"drug": "citalopram", "daily_dose_mg": 20, "weeks": 6, "outcome": "no_response"},
]
WELL = {"route": "iv", "systolic_bp": 120, "pregnant": False, "breastfeeding": False, "trials": TWO_DRUGS}


@pytest.fixture(autouse=True)
def third_edition(db):
    knowledge_base_load(read_knowledge_base(THIRD_EDITION))
    rulebook_publish(note="A third-edition knowledge base.")


def draft(user, **answers):
    return services.screening_create(
        owner=user, patient_reference="E-3", year_of_birth=None, conditions=["dep"], answers={**WELL, **answers},
    )


def reason_items(soup):
    return soup.select("[data-condition=dep] .ks-reasons li, [data-condition=dep] .ks-cautions li")


def test_the_summary_shows_each_reasons_basis_as_a_badge_with_words_for_screen_readers(clinician_client, clinician):
    screening = draft(clinician, systolic_bp=190, breastfeeding=True)
    soup = parse(clinician_client.get(reverse("screening:summary", args=[screening.pk])).content)
    badges = {
        "racemic" if "racemic" in item.text() else "breastfeeding": item.select_one("[data-basis]")
        for item in reason_items(soup)
    }
    assert {word: badge.text().strip() for word, badge in badges.items()} == {
        "racemic": "Basis: Label", "breastfeeding": "Basis: Basis not specified",
    }
    label = badges["racemic"]
    assert label.select_one(".visually-hidden").text().strip() == "Basis:"
    assert label.get("title") == "Rests on a product's licence: its SmPC or prescribing information."


def test_the_pdf_shows_each_reasons_basis(clinician_client, clinician):
    screening = draft(clinician, systolic_bp=190, breastfeeding=True)
    text = body_text(download(clinician_client, screening), screening)
    assert "Blood pressure too high for racemic ketamine." in text
    assert "Basis: Label" in text
    assert "Advise against breastfeeding." in text and "Basis: Basis not specified" in text


def test_a_criterion_that_does_not_apply_is_not_shown(clinician_client, clinician):
    screening = draft(clinician, route="nasal", systolic_bp=190)
    soup = parse(clinician_client.get(reverse("screening:summary", args=[screening.pk])).content)
    assert soup.select_one("[data-condition=dep] [data-status]").get("data-status") == "eligible"
    assert "racemic" not in soup.select_one("[data-condition=dep]").text()


def test_the_trial_table_says_a_repeated_drug_was_already_counted(clinician_client, clinician):
    screening = draft(clinician, trials=[TWO_DRUGS[0], TWO_DRUGS[0]])
    soup = parse(clinician_client.get(reverse("screening:summary", args=[screening.pk])).content)
    table = soup.select_one("[data-testid=trials]")
    assert table is not None, soup.text()[:3000]
    rows = [" ".join(row.text().split()) for row in table.select("tbody tr")]
    assert rows[1].endswith("Not counted: Sertraline already counted (trial 1): each different antidepressant counts once")
    words = " ".join(table.select_one("p").text().split())
    assert "(a partial response does not count)" in words
    assert "Each different drug counts once, however many of its trials qualify." in words


def test_the_questionnaire_leaves_out_what_cannot_matter_for_the_route(clinician_client, clinician):
    screening = draft(clinician, route="nasal")
    soup = parse(clinician_client.get(reverse("screening:questionnaire", args=[screening.pk])).content)
    assert soup.select_one("[data-question=cyp3a4_inhibitor]").get("hidden") is not None
    assert soup.select_one("[data-question=systolic_bp]").get("hidden") is not None
    assert soup.select_one("[data-question=pregnant]").get("hidden") is None


def screen(records):
    """`manage.py screen` over these records; its output, parsed."""
    _, out, _ = run_screen(stdin=json.dumps(records))
    return json.loads(out)


def test_screen_output_carries_each_reasons_basis():
    (output,) = screen([{"patient": "S-1", "conditions": ["dep"], "answers": {**WELL, "systolic_bp": 190}}])
    (result,) = output["results"]
    assert [(r["criterion"], r["basis"]) for r in result["reasons"]] == [("iv-bp-exclude", "label")]


def test_screen_reads_a_retired_answer_and_refuses_one_it_cannot_read():
    old = {k: v for k, v in WELL.items() if k not in ("pregnant", "breastfeeding")}
    read, refused = screen([
        {"patient": "S-2", "conditions": ["dep"], "answers": {**old, "pregnant_or_breastfeeding": False}},
        {"patient": "S-3", "conditions": ["dep"], "answers": {**old, "pregnant_or_breastfeeding": True}},
    ])
    assert read["results"][0]["status"] == "eligible"
    assert refused["errors"] == [
        "pregnant_or_breastfeeding: “True” answers a question this edition no longer asks (Pregnant or "
        "breastfeeding (asked before the third edition)) and cannot be read as its new questions: answer "
        "pregnant, breastfeeding instead."
    ]
