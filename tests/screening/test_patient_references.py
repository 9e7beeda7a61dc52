"""Patient references are identifiers, not paths: a new one follows the
clinic's pattern (PATIENT_REFERENCE_PATTERN) on the form and in
`screen --save`, and one stored before that rule keeps its pages."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from screening import services
from screening.models import Screening
from tests.answers import TRD_ELIGIBLE
from tests.screening.test_screen_command import TRD, screen
from tests.screening.test_views import draft_for, form_values, text

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("module_knowledge_base"),
]

PATH_LIKE = ["A/1027", "..1027", "A-10..27", "A/../B-1"]
CONTROL = ["A-1027\x00", "A-1027\x1b", "A-10\x7f27", "A-10\t27"]
NO_DIGIT = ["Smith", "SMITH-JONES"]
FINE = ["A-1027", "1027", "ward7:bed#3", "x.y_z-1"]


EXPLAINED = {**dict.fromkeys(PATH_LIKE, "not a path"), **dict.fromkeys(CONTROL, "with no spaces"),
             **dict.fromkeys(NO_DIGIT, "at least one digit")}


@pytest.mark.parametrize("reference", EXPLAINED)
def test_the_new_screening_form_refuses_a_path_a_control_character_or_no_digit(clinician_client, reference):
    response = clinician_client.post(reverse("screening:new"), {"patient_reference": reference, "conditions": ["trd"]})
    assert response.status_code == 200
    assert EXPLAINED[reference] in text(response)
    if "\x00" not in reference:  # a NUL is refused by the field before any rule, and not shown again
        assert form_values(response)["patient_reference"] == reference
    assert not Screening.objects.exists()


@pytest.mark.parametrize("reference", FINE)
def test_the_new_screening_form_takes_an_identifier(clinician_client, reference):
    response = clinician_client.post(reverse("screening:new"), {"patient_reference": reference, "conditions": ["trd"]})
    assert response.status_code == 302
    assert Screening.objects.get().patient_reference == reference


@pytest.mark.parametrize("reference", ["A/1027", "A-10..27", "Smith", "A-1027\x01"])
def test_screen_save_refuses_the_same_references(django_user_model, reference):
    django_user_model.objects.create_user("dr-who", password="x")
    records = [{**TRD, "patient": reference}, TRD]
    code, out, _ = screen("--save", "--user", "dr-who", stdin=json.dumps(records))
    assert code == 1
    refused, saved = json.loads(out)
    (error,) = refused["errors"]
    assert error.startswith("patient_reference: ")
    assert "not a path" in error or "at least one digit" in error or "with no spaces" in error
    assert Screening.objects.get().patient_reference == "A-1027" == saved["patient"]


def test_the_pattern_is_the_clinics_to_set(clinician_client, settings):
    settings.PATIENT_REFERENCE_PATTERN = r"MRN[0-9]{6}"
    settings.PATIENT_REFERENCE_DESCRIPTION = "MRN and six digits, for example MRN004211"
    refused = clinician_client.post(reverse("screening:new"), {"patient_reference": "A-1027", "conditions": ["trd"]})
    assert "Use the clinic's patient identifier: MRN and six digits, for example MRN004211." in text(refused)
    taken = clinician_client.post(reverse("screening:new"), {"patient_reference": "MRN004211", "conditions": ["trd"]})
    assert taken.status_code == 302
    # A pattern that would let a path through still does not.
    settings.PATIENT_REFERENCE_PATTERN = r".+[0-9]"
    slash = clinician_client.post(reverse("screening:new"), {"patient_reference": "ward/7", "conditions": ["trd"]})
    assert "not a path" in text(slash)


def test_correcting_a_drafts_details_follows_the_rule(clinician_client, clinician):
    draft = draft_for(clinician, reference="A-1072")
    response = clinician_client.post(reverse("screening:details", args=[draft.pk]), {
        "patient_reference": "A-1027/../B-1", "conditions": ["trd"],
    })
    assert "not a path" in text(response)
    assert Screening.objects.get(pk=draft.pk).patient_reference == "A-1072"


@pytest.mark.parametrize("older", ["Smith", "ward/7", "a..b"])
def test_a_final_with_an_older_reference_stays_reachable(clinician_client, clinician, older):
    draft = draft_for(clinician, reference="A-1", answers=TRD_ELIGIBLE)
    Screening.objects.filter(pk=draft.pk).update(patient_reference=older)  # as stored before the rule
    draft.refresh_from_db()
    final = services.screening_finalise(screening=draft, user=clinician, reason="Made before references were checked.")
    summary = clinician_client.get(reverse("screening:summary", args=[final.pk]))
    assert summary.status_code == 200 and older in text(summary)
    history = clinician_client.get(reverse("screening:patient", args=[older]))
    assert history.status_code == 200 and older in text(history)
    assert clinician_client.get(reverse("screening:pdf", args=[final.pk])).status_code == 200
    # Amending it keeps its reference, and so does correcting the amendment's details.
    amendment = clinician_client.post(reverse("screening:amend", args=[final.pk]), {"reason": "A correction."})
    assert amendment.status_code == 302
    new = Screening.objects.get(amends=final)
    assert new.patient_reference == older
    corrected = clinician_client.post(reverse("screening:details", args=[new.pk]), {
        "patient_reference": older, "conditions": ["trd"],
    })
    assert corrected.status_code == 302, text(corrected)


def test_a_pattern_that_is_not_a_regular_expression_stops_the_app_at_start_up():
    env = {**os.environ, "PATIENT_REFERENCE_PATTERN": "([0-9]"}
    done = subprocess.run([sys.executable, "manage.py", "check"], cwd=Path(__file__).resolve().parents[2], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "PATIENT_REFERENCE_PATTERN is not a regular expression" in done.stderr.strip().splitlines()[-1]


def test_a_reference_names_one_patient_whatever_its_case_and_surrounding_spaces(clinician_client, clinician):
    first = services.screening_finalise(
        screening=draft_for(clinician, reference="A-1027", answers=TRD_ELIGIBLE), user=clinician,
    )
    second = services.screening_finalise(
        screening=draft_for(clinician, reference="a-1027", answers=TRD_ELIGIBLE), user=clinician,
    )
    draft_for(clinician, reference="A-10270")  # another patient
    for asked in ["A-1027", "a-1027", " a-1027 "]:
        history = clinician_client.get(reverse("screening:patient", args=[asked]))
        assert history.status_code == 200
        markup = history.content.decode()
        assert reverse("screening:summary", args=[first.pk]) in markup
        assert reverse("screening:summary", args=[second.pk]) in markup
        assert "A-10270" not in markup
    # What was typed is kept for display.
    assert "A-1027" in text(clinician_client.get(reverse("screening:summary", args=[first.pk])))
    assert Screening.objects.get(pk=second.pk).patient_reference == "a-1027"


def test_starting_a_screening_for_a_patient_with_an_open_draft_links_to_it(clinician_client, clinician):
    draft = draft_for(clinician, reference="A-1027")
    asked = {"patient_reference": " a-1027 ", "conditions": ["trd"]}
    warned = clinician_client.post(reverse("screening:new"), asked)
    assert warned.status_code == 200
    assert "You already have an open draft for patient A-1027" in text(warned)
    assert f'href="{reverse("screening:questionnaire", args=[draft.pk])}"' in warned.content.decode()
    assert form_values(warned)["patient_reference"] == " a-1027 "  # what was typed, kept
    assert Screening.objects.count() == 1
    started = clinician_client.post(reverse("screening:new"), {**asked, "start_anyway": "1"})
    assert started.status_code == 302
    assert Screening.objects.count() == 2


def test_a_final_a_discarded_draft_another_patient_or_colleagues_draft_starts_at_once(
    clinician_client, clinician, other_clinician
):
    services.screening_finalise(
        screening=draft_for(clinician, reference="A-1027", answers=TRD_ELIGIBLE), user=clinician,
    )
    services.screening_discard(screening=draft_for(clinician, reference="A-1027"))
    draft_for(clinician, reference="A-1028")
    draft_for(other_clinician, reference="A-1027")
    started = clinician_client.post(reverse("screening:new"), {"patient_reference": "A-1027", "conditions": ["trd"]})
    assert started.status_code == 302
