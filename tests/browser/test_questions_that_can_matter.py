"""In Chromium: the questionnaire shows a question only while a criterion it
serves can apply, as the route is chosen and changed, and the server keeps
to the same rule on saving (a third-edition knowledge base,
tests/conditions/files/third_edition.yaml)."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from conditions.loader import knowledge_base_load, read_knowledge_base
from rulebook.publishing import rulebook_publish
from screening import services
from screening.models import Screening
from tests.browser.test_screening_flow import answer, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

THIRD_EDITION = Path(__file__).resolve().parents[1] / "conditions" / "files" / "third_edition.yaml"


def test_a_question_for_oral_ketamine_only_appears_for_that_route(page, clinician):
    knowledge_base_load(read_knowledge_base(THIRD_EDITION))
    rulebook_publish(note="A third-edition knowledge base.")
    screening = services.screening_create(
        owner=clinician, patient_reference="B-3", year_of_birth=None, conditions=["dep"], answers={},
    )
    sign_in(page)
    page.goto(f"/screenings/{screening.pk}/questionnaire/")
    cyp = page.locator("#question-cyp3a4_inhibitor")
    bp = page.locator("#question-systolic_bp")
    expect(cyp).to_be_hidden()        # waits on the route
    answer(page, {"route": "iv"})
    expect(bp).to_be_visible()
    expect(cyp).to_be_hidden()
    answer(page, {"route": "oral"})
    expect(cyp).to_be_visible()
    answer(page, {"cyp3a4_inhibitor": "yes", "route": "nasal"})
    expect(cyp).to_be_hidden()
    expect(bp).to_be_hidden()
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()
    assert Screening.objects.get(pk=screening.pk).answers == {"route": "nasal"}
