"""The criteria catalogue: every active criterion of the version in force,
in words (question texts and answer labels, not codes), with its basis,
references and each condition's evidence grades; readable by any signed-in
clinician, and never behind a newly published version."""

import pytest
from django.urls import reverse

from conditions.models import Criterion, Question
from rulebook import publishing
from rulebook.models import PublishedRulebook
from tests.markup import parse

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("knowledge_base")]


def catalogue_page(client):
    response = client.get(reverse("screening:catalogue"))
    assert response.status_code == 200
    return parse(response.content)


def test_the_catalogue_lists_every_active_criterion_of_the_version_in_force(clinician_client):
    page = catalogue_page(clinician_client)

    listed = {item.get("data-criterion") for item in page.select("[data-criterion]")}
    assert listed == set(Criterion.objects.filter(active=True).values_list("key", flat=True))
    newest = PublishedRulebook.objects.select_related("snapshot").order_by("-number").first()
    assert page.select_one("[data-testid=catalogue-version]").text().startswith(
        f"Rules version {newest.number} ({newest.snapshot.version[:7]})"
    )
    assert "advisory" in page.select_one("[data-testid=catalogue-disclaimer]").text()


def test_a_rule_reads_in_question_texts_and_answer_labels(clinician_client):
    page = catalogue_page(clinician_client)
    rule = page.select_one("[data-condition=trd] [data-criterion=racemic-systolic-over-180-exclude]").text()

    systolic, route = Question.objects.get(code="systolic_bp"), Question.objects.get(code="route")
    labels = {choice["value"]: choice["label"] for choice in route.choices}
    assert f"Rule: {systolic.text}: more than 180 mmHg" in rule
    assert f"Applies only when {route.text}: is one of" in rule
    assert "iv_ketamine" not in rule and "systolic_bp" not in rule
    assert f'{labels["iv_ketamine"]}, {labels["im_ketamine"]} or {labels["oral_ketamine"]}' in rule
    assert "Label" in rule  # its basis


def test_each_condition_shows_its_evidence_grades_and_numbered_references(clinician_client):
    page = catalogue_page(clinician_client)
    trd = page.select_one("[data-condition=trd]")

    assert trd.select("[data-testid=evidence-grade]")
    markers = {a.get("href") for a in trd.select("a.ks-ref")}
    listed = {f"#{li.get('id')}" for li in page.select("[data-testid=references] li")}
    assert markers and markers <= listed
    assert "Sforzini L" in page.select_one("[data-testid=references]").text()


def test_a_newly_published_version_shows_at_once(clinician_client, lead):
    catalogue_page(clinician_client)  # rendered, and kept in the cache, for the version before
    criterion = Criterion.objects.get(key="all-tia-caution")
    criterion.message = "Past TIA: check blood pressure closely before each dose."
    criterion.save()
    publication = publishing.rulebook_publish(user=lead, note="TIA wording")

    page = catalogue_page(clinician_client)
    assert page.select_one("[data-testid=catalogue-version]").text().startswith(f"Rules version {publication.number} ")
    assert "Past TIA: check blood pressure closely before each dose." in page.select_one(
        "[data-criterion=all-tia-caution]"
    ).text()


def test_signing_in_comes_first(client):
    response = client.get(reverse("screening:catalogue"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
