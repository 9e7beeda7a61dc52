"""Each screening page makes a fixed number of queries, however many
screenings there are and however many criteria the knowledge base holds."""

import pytest
from django.urls import reverse

from conditions.models import Criterion
from rulebook.publishing import rulebook_publish
from rulebook.versions import bump_knowledge_base_revision, current_rulebook, snapshot_for
from screening import services
from screening.models import Screening
from tests.knowledge import raise_trd_threshold
from tests.markup import parse

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("module_knowledge_base"),
]

# Incomplete for both conditions, with a safety alert, a caution and missing
# questions: every part of the summary has something to show.
PARTIAL_ANSWERS = {
    "age": 70, "bipolar_history": True, "suicidal_ideation": "active_plan",
    "systolic_bp": 150, "interacting_medicines": ["benzodiazepines"], "mdd_current": True,
}


def multiply_criteria(factor):
    """Clone every criterion factor - 1 times with new keys, reading the same
    question for the same conditions with the same references."""
    originals = list(Criterion.objects.prefetch_related("conditions", "references"))
    clones = Criterion.objects.bulk_create(
        Criterion(
            key=f"{c.key}-copy-{n}", question_id=c.question_id, operator=c.operator, value=c.value,
            effect=c.effect, message=f"{c.message} (copy {n})", order=c.order, active=c.active,
        )
        for c in originals
        for n in range(1, factor)
    )
    by_key = {c.key: c for c in originals}
    conditions, references = Criterion.conditions.through, Criterion.references.through
    conditions.objects.bulk_create(
        conditions(criterion_id=clone.pk, condition_id=condition.pk)
        for clone in clones for condition in by_key[clone.key.rsplit("-copy-", 1)[0]].conditions.all()
    )
    references.objects.bulk_create(
        references(criterion_id=clone.pk, reference_id=reference.pk)
        for clone in clones for reference in by_key[clone.key.rsplit("-copy-", 1)[0]].references.all()
    )
    bump_knowledge_base_revision()  # bulk_create sends no signals
    if factor > 1:
        rulebook_publish(note=f"Every criterion {factor} times.")


def with_the_csrf_token_of(response, other):
    """The page's markup with its CSRF token, masked afresh for every response
    (the same in each of its forms), swapped for the one `other` carries."""
    def token(page):
        return parse(page.content).select_one("form input[name=csrfmiddlewaretoken]").get("value")

    return response.content.decode().replace(token(response), token(other))


def clinician_cells(response):
    """The words of each list row's Clinician cell."""
    return [cell.text() for cell in parse(response.content).select("tbody tr td[data-label=Clinician]")]


@pytest.fixture(params=[1, 10], ids=["1x-criteria", "10x-criteria"])
def criteria_factor(request):
    multiply_criteria(request.param)
    return request.param


@pytest.fixture(params=[1, 200], ids=["1-screening", "200-screenings"])
def screenings(request, criteria_factor, clinician):
    """`param` screenings of the clinician's, newest first, all evaluated
    against the (possibly multiplied) knowledge base."""
    first = services.screening_create(
        owner=clinician, patient_reference="Q-0", year_of_birth=1955,
        conditions=["trd", "bipolar-depression"], answers=PARTIAL_ANSWERS,
    )
    Screening.objects.bulk_create(
        Screening(
            owner=clinician, patient_reference=f"Q-{n}", conditions=first.conditions,
            answers=first.answers, snapshot=first.snapshot, rulebook_version=first.rulebook_version,
            result=first.result, worst_status=first.worst_status, alert_count=first.alert_count,
        )
        for n in range(1, request.param)
    )
    assert len(first.result["results"][0]["reasons"]) >= 10 * criteria_factor
    current_rulebook()  # warm, as any earlier request would have left it
    return Screening.objects.order_by("-id")


# Each test asks for `screenings` before `clinician_client`: signing in last
# keeps the session fresh, so the idle-expiry middleware has nothing to write.
# The session itself is read from the cache (cached_db): no query.


def test_list_page_queries_are_fixed(screenings, clinician_client, assert_queries):
    with assert_queries(5):
        # 1. the signed-in user
        # 2-3. may they view every screening? their own permissions, then their groups'
        # 4. one page of screenings and one row more: the list's columns and their owner's name
        # 5. condition slugs and names
        response = clinician_client.get(reverse("screening:list"), {"q": "Q", "status": "draft"})
    assert response.status_code == 200
    badges = parse(response.content).select("tbody tr .badge.ks-status-badge")
    assert [badge.get("class") for badge in badges] == ["badge text-bg-info ks-status-badge"] * min(
        25, screenings.count()
    )


def test_list_page_for_a_reader_of_every_screening_makes_the_same_queries(
    screenings, clinician, client, django_user_model, assert_queries
):
    from django.contrib.auth.models import Permission

    auditor = django_user_model.objects.create_user("auditor")
    auditor.user_permissions.add(Permission.objects.get(codename="view_all_screenings"))
    client.force_login(auditor)
    with assert_queries(5):
        # as above
        response = client.get(reverse("screening:list"))
    assert response.status_code == 200
    assert clinician_cells(response) == ["clinician"] * min(25, screenings.count())


def test_questionnaire_page_queries_are_fixed(screenings, clinician_client, assert_queries):
    screening = screenings.first()
    with assert_queries(3):
        # 1. the signed-in user
        # 2. the screening as the questionnaire reads it (no stored result, snapshot or people)
        # 3. the knowledge base's state token (the cached rulebook is current)
        response = clinician_client.get(reverse("screening:questionnaire", args=[screening.pk]))
    assert response.status_code == 200
    assert parse(response.content).select_one("form input[name=phq9_total]")


def test_summary_page_queries_are_fixed(screenings, clinician_client, assert_queries):
    screening = screenings.first()
    with assert_queries(8):
        # 1. the signed-in user
        # 2. the screening with its owner's and finaliser's names, without its stored result
        # 3. the knowledge base's state token (a draft evaluated under older rules is evaluated again)
        # 4. the audit chain's head, locked FOR UPDATE
        # 5. INSERT the audit event "summary viewed", chained to the head's hash
        # 6. UPDATE the head to this event
        # 7. its stored result and rulebook snapshot, to render the summary of this revision
        # 8. the number its rules version was published as ("Rules version 1 (…)"), cached for good once read
        first = clinician_client.get(reverse("screening:summary", args=[screening.pk]))
    with assert_queries(6):
        # 1.-6. as above; this revision's summary is rendered already
        again = clinician_client.get(reverse("screening:summary", args=[screening.pk]))
    assert first.status_code == again.status_code == 200
    assert "Active suicidal thoughts reported" in again.content.decode()
    assert with_the_csrf_token_of(first, again) == again.content.decode()


def test_final_summary_page_adds_one_query_for_its_amendments(
    screenings, clinician, clinician_client, assert_queries
):
    screening = services.screening_finalise(screening=screenings.first(), user=clinician, reason="Seen in clinic.")
    clinician_client.get(reverse("screening:summary", args=[screening.pk]))
    with assert_queries(5):
        # 1. the signed-in user
        # 2. the screening with its owner's and finaliser's names, and whether anything amends it
        # 3. the audit chain's head, locked FOR UPDATE
        # 4. INSERT the audit event "summary viewed", chained to the head's hash
        # 5. UPDATE the head to this event
        response = clinician_client.get(reverse("screening:summary", args=[screening.pk]))
    assert response.status_code == 200
    assert "Amend" in response.content.decode()
    services.screening_amend(screening=screening, user=clinician, reason="A correction.")
    with assert_queries(6):
        # 1.-5. as above
        # 6. the screenings that amend it
        response = clinician_client.get(reverse("screening:summary", args=[screening.pk]))
    replaced = parse(response.content).select_one("[data-testid=replaced-by]")
    assert replaced.text().startswith("Replaced by #") and replaced.select_one("a[href]")


def test_saving_answers_makes_a_fixed_number_of_queries(screenings, clinician_client, assert_queries):
    screening = screenings.first()
    rulebook = current_rulebook()
    answers = {**PARTIAL_ANSWERS, "age": 71}
    form = {"revision": screening.revision, "action": "save"}
    for question in rulebook.questions_for(screening.conditions):
        value = answers.get(question.code)
        if isinstance(value, bool):
            form[question.code] = "yes" if value else "no"
        elif value is not None:
            form[question.code] = value
    with assert_queries(9):
        # 1. the signed-in user
        # 2. the screening as the questionnaire reads it (no stored result, snapshot or people)
        # 3. the knowledge base's state token (the cached rulebook is current)
        # 4. the screening locked FOR UPDATE, to refuse a final one or a stale form
        # 5. the id of the rulebook's stored snapshot
        # 6. UPDATE the screening: answers, fresh result, snapshot, revision
        # 7. the audit chain's head, locked FOR UPDATE
        # 8. INSERT the audit event "answers saved", chained to the head's hash
        # 9. UPDATE the head to this event
        response = clinician_client.post(reverse("screening:questionnaire", args=[screening.pk]), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Screening.objects.get(pk=screening.pk).answers["age"] == 71


def test_new_screening_page_queries_are_fixed(screenings, clinician_client, assert_queries):
    with assert_queries(2):
        # 1. the signed-in user
        # 2. the knowledge base's state token (the conditions come from the cached rulebook)
        response = clinician_client.get(reverse("screening:new"))
    assert response.status_code == 200
    assert parse(response.content).select_one("input[type=checkbox][name=conditions][value=trd]")


def test_finalising_makes_a_fixed_number_of_queries(screenings, clinician_client, assert_queries):
    screening = screenings.first()
    form = {"confirm": "on", "revision": screening.revision, "reason": "Seen in clinic; the rest follows."}
    with assert_queries(10):
        # 1. the signed-in user
        # 2. the screening with its owner's and finaliser's names, without its stored result
        # 3. the knowledge base's state token (is the draft's result that of the current rules?)
        # 4. the screening's status, revision and result, locked FOR UPDATE (its answers unread),
        #    with its owner's team
        # 5. UPDATE status, reason, finalised at and by, revision
        # 6. INSERT each condition's outcome (screening.attrition)
        # 7. INSERT the criteria that decided them
        # 8. the audit chain's head, locked FOR UPDATE
        # 9. INSERT the audit event "finalised while incomplete", chained to the head's hash
        # 10. UPDATE the head to this event
        response = clinician_client.post(reverse("screening:finalise", args=[screening.pk]), form)
    assert response.status_code == 302
    final = Screening.objects.get(pk=screening.pk)
    assert final.status == "final" and final.finalised_by.username == "clinician"
    assert final.answers == screenings.last().answers  # left as they were


def test_amending_makes_a_fixed_number_of_queries(screenings, clinician, clinician_client, assert_queries):
    final = services.screening_finalise(screening=screenings.first(), user=clinician, reason="Seen in clinic.")
    with assert_queries(16):
        # 1. the signed-in user
        # 2. the final screening with its owner's and finaliser's names, without its stored result
        # 3. the final screening locked FOR NO KEY UPDATE, so two amends at once make one draft
        # 4. is there an amendment already? (only the newest version is amended)
        # 5. the knowledge base's state token (the amendment follows the current rulebook)
        # 6. the id of the rulebook's stored snapshot
        # 7-8. model validation: the owner and the amended screening exist
        # 9. model validation: one live amendment per screening (the unique constraint)
        # 10. INSERT the amendment
        # 11-13. the audit chain's head locked FOR UPDATE, INSERT the audit event "amended",
        #        UPDATE the head to it
        # 14-16. the same for the audit event "screening created"
        response = clinician_client.post(reverse("screening:amend", args=[final.pk]), {"reason": "A correction."})
    amendment = Screening.objects.get(amends=final)
    assert response.status_code == 302 and response["Location"].endswith(f"/{amendment.pk}/questionnaire/")
    assert amendment.answers == final.answers and amendment.status == "draft"


def test_autosaving_makes_the_queries_of_saving(screenings, clinician_client, assert_queries):
    screening = screenings.first()
    form = {"revision": screening.revision, "age": 72, "systolic_bp": 400}
    with assert_queries(9):
        # 1. the signed-in user
        # 2. the screening as the questionnaire reads it (no stored result, snapshot or people)
        # 3. the knowledge base's state token (the cached rulebook is current)
        # 4. the screening locked FOR UPDATE, to refuse a final one or a stale revision
        # 5. the id of the rulebook's stored snapshot
        # 6. UPDATE the screening: answers, fresh result, snapshot, revision
        # 7. the audit chain's head, locked FOR UPDATE
        # 8. INSERT the audit event "answers saved", chained to the head's hash
        # 9. UPDATE the head to this event
        response = clinician_client.post(reverse("screening:answers", args=[screening.pk]), form)
    assert response.status_code == 200
    assert [item["question"] for item in response.json()["not_saved"]] == ["systolic_bp"]


def test_correcting_details_page_queries_are_fixed(screenings, clinician_client, assert_queries):
    screening = screenings.first()
    with assert_queries(3):
        # 1. the signed-in user
        # 2. the screening with its owner's and finaliser's names, without its stored result
        # 3. the knowledge base's state token (the conditions come from the cached rulebook)
        response = clinician_client.get(reverse("screening:details", args=[screening.pk]))
    assert response.status_code == 200
    assert parse(response.content).form_values()["patient_reference"].startswith("Q-")


def test_a_stale_drafts_summary_adds_the_queries_of_evaluating_it_again(
    screenings, clinician_client, assert_queries
):
    screening = screenings.first()
    raise_trd_threshold()
    snapshot_for(current_rulebook())  # warm and stored, as any earlier request would have left them
    with assert_queries(16):
        # 1. the signed-in user
        # 2. the screening with its owner's and finaliser's names, without its stored result
        # 3. the knowledge base's state token: newer than the draft's rules
        # 4. the draft locked FOR UPDATE, with its answers and stored result
        # 5. the id of the new rulebook's stored snapshot
        # 6. UPDATE the draft: result, snapshot, version, the version it was evaluated under before, revision
        # 7-9. the audit chain's head locked FOR UPDATE, INSERT the audit event "re-evaluated",
        #      UPDATE the head to it
        # 10. the screening as it now is, without its stored result
        # 11-13. the same for the audit event "summary viewed"
        # 14. its stored result and rulebook snapshot, to render the summary of this revision
        # 15-16. the numbers the old and the new rules versions were published as, cached for good once read
        response = clinician_client.get(reverse("screening:summary", args=[screening.pk]))
    assert "The screening rules changed since these answers were saved" in response.content.decode()


def test_list_page_for_a_team_mate_makes_the_same_queries(
    screenings, clinician, client, django_user_model, assert_queries
):
    """A team-mate's list holds the team's finals: the team is joined into
    the list's one query, so the count stays as it is for the clinician."""
    from teams.models import Membership, Team
    from tests.conftest import user_in_role

    Screening.objects.filter(owner=clinician).update(status="final")  # each a draft until now
    colleague = user_in_role("colleague", "Clinicians")
    team = Team.objects.create(name="Northside")
    Membership.objects.bulk_create([Membership(user=clinician, team=team), Membership(user=colleague, team=team)])
    client.force_login(colleague)
    with assert_queries(5):
        # 1. the signed-in user
        # 2-3. may they view every screening? their own permissions, then their groups'
        # 4. one page of their own screenings and their team-mates' finals, and one row more:
        #    the list's columns and their owner's name
        # 5. condition slugs and names
        response = client.get(reverse("screening:list"))
    assert response.status_code == 200
    assert clinician_cells(response) == ["clinician"] * min(25, screenings.count())


def test_a_team_mates_history_makes_a_fixed_number_of_queries(
    screenings, clinician, client, assert_queries
):
    from teams.models import Membership, Team
    from tests.conftest import user_in_role

    Screening.objects.filter(owner=clinician).update(status="final", patient_reference="Q-0")
    colleague = user_in_role("colleague", "Clinicians")
    team = Team.objects.create(name="Northside")
    Membership.objects.bulk_create([Membership(user=clinician, team=team), Membership(user=colleague, team=team)])
    client.force_login(colleague)
    client.get(reverse("screening:patient", args=["q-0"]))  # the newest snapshot's rulebook, cached
    with assert_queries(7):
        # 1. the signed-in user
        # 2-3. may they view every screening? their own permissions, then their groups'
        # 4. the patient's screenings they may see (their own, their team-mates' finals), oldest first
        # 5-7. the audit chain's head locked FOR UPDATE, INSERT the audit event
        #      "patient history viewed, with team-mates' screenings", UPDATE the head to it
        response = client.get(reverse("screening:patient", args=["q-0"]))
    assert response.status_code == 200
    assert clinician_cells(response) == ["clinician"] * screenings.count()
