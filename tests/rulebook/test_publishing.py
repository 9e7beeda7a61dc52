"""Draft and publish: admin edits change a working copy; clinicians use the
last published version; a preview shows what publishing would change."""

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from conditions.models import Criterion, Question, RuleCase
from rulebook.models import PublishedRulebook
from rulebook.publishing import rulebook_publish
from screening import services
from screening.models import Screening
from tests.answers import TRD_ELIGIBLE
from tests.conftest import user_in_role
from tests.markup import parse

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("module_knowledge_base"),
]

TRIALS = "trd-two-failed-trials-require"
PUBLISH_URL = "/admin/rulebook/publishedrulebook/publish/"
PREVIEW_URL = "/admin/rulebook/publishedrulebook/preview/"
COMPARE_URL = "/admin/rulebook/publishedrulebook/compare/"


@pytest.fixture
def lead_client(client, django_user_model):
    lead = user_in_role("lead", "Clinical leads", is_staff=True)
    client.force_login(lead)
    client.user = lead
    return client


def criterion_url(key):
    return f"/admin/conditions/criterion/{Criterion.objects.get(key=key).pk}/change/"


def raise_trd_threshold(value=3):
    """The edit a lead makes in the admin: at least `value` failed trials."""
    criterion = Criterion.objects.get(key=TRIALS)
    criterion.value = value
    criterion.message = "At least {value} antidepressants tried without adequate response."
    criterion.save()


def new_trd_screening(client, answers=None):
    """A clinician's new TRD screening through the pages, answered with
    `answers` (TRD_ELIGIBLE by default); its summary's status words."""
    # The same patient each time: a second screening beside an open draft is started all the same.
    response = client.post(reverse("screening:new"), {
        "patient_reference": "P-1", "conditions": ["trd"], "start_anyway": "1",
    })
    screening = Screening.objects.get(pk=int(response["Location"].split("/")[-3]))
    form = {code: ("yes" if v is True else "no" if v is False else v) for code, v in (answers or TRD_ELIGIBLE).items()}
    response = client.post(reverse("screening:questionnaire", args=[screening.pk]), {
        **form, "revision": screening.revision, "action": "summary",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    screening.refresh_from_db()
    return screening


def final_trd_screening(user):
    draft = services.screening_create(
        owner=user, patient_reference="F-1", year_of_birth=None, conditions=["trd"], answers=TRD_ELIGIBLE,
    )
    return services.screening_finalise(screening=draft, user=user)


def preview_json(*args):
    out = io.StringIO()
    call_command("preview_rulebook", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


# Clinicians use the published rules only -----------------------------------------


def test_a_clinicians_screening_ignores_an_unpublished_edit(clinician_client, lead_client):
    response = lead_client.post(criterion_url(TRIALS), {
        **_criterion_post(TRIALS), "value": "3",
    })
    assert response.status_code == 302
    assert Criterion.objects.get(key=TRIALS).value == 3

    screening = new_trd_screening(clinician_client)
    assert screening.result["results"][0]["status"] == "eligible"
    assert screening.rulebook_version == PublishedRulebook.objects.get().snapshot.version

    rulebook_publish(user=lead_client.user, note="Three failed trials for TRD.")
    after = new_trd_screening(clinician_client)
    assert after.result["results"][0]["status"] == "not_met"
    assert after.rulebook_version != screening.rulebook_version


def test_the_screen_command_uses_the_published_rules(tmp_path):
    raise_trd_threshold()
    path = tmp_path / "records.json"
    path.write_text(json.dumps({"patient": "A-1", "conditions": ["trd"], "answers": TRD_ELIGIBLE}))
    out = io.StringIO()
    call_command("screen", str(path), stdout=out)
    assert json.loads(out.getvalue())[0]["results"][0]["status"] == "eligible"
    rulebook_publish(note="Three trials.")
    out = io.StringIO()
    call_command("screen", str(path), stdout=out)
    assert json.loads(out.getvalue())[0]["results"][0]["status"] == "not_met"


def test_a_final_screening_keeps_its_own_rules_after_a_publish(clinician, clinician_client):
    final = final_trd_screening(clinician)
    raise_trd_threshold()
    rulebook_publish(note="Three failed trials.")
    html = clinician_client.get(final.get_absolute_url()).content.decode()
    assert "Treatment resistance means no adequate response to at least two different antidepressants" in html
    final.refresh_from_db()
    assert final.result["results"][0]["status"] == "eligible"


# Loading and publishing -------------------------------------------------------------


def test_the_shipped_content_is_version_one():
    version = PublishedRulebook.objects.get()
    assert (version.number, version.note) == (1, "Loaded from default.yaml")


def test_loading_a_changed_file_publishes_it_unless_draft(tmp_path):
    from conditions.loader import DEFAULT_FILE

    changed = DEFAULT_FILE.read_text().replace(
        "operator: gte, value: 2, effect: require, basis: label, conditions: [trd]",
        "operator: gte, value: 3, effect: require, basis: label, conditions: [trd]",
    )
    path = tmp_path / "changed.yaml"
    path.write_text(changed)
    call_command("load_knowledge_base", str(path), "--draft", verbosity=0)
    assert PublishedRulebook.objects.count() == 1
    call_command("load_knowledge_base", str(path), verbosity=0)
    assert list(PublishedRulebook.objects.values_list("number", "note")) == [
        (2, "Loaded from changed.yaml"), (1, "Loaded from default.yaml"),
    ]
    call_command("load_knowledge_base", str(path), verbosity=0)  # nothing new: no new version
    assert PublishedRulebook.objects.count() == 2


def test_a_file_without_cases_still_loads(tmp_path):
    from conditions.loader import DEFAULT_FILE

    text = DEFAULT_FILE.read_text()
    path = tmp_path / "old-format.yaml"
    path.write_text(text[:text.index("\n# Test cases:")])
    call_command("load_knowledge_base", str(path), verbosity=0)
    # the cases loaded before are left alone (the third edition ships 61, issue 26 adds two
    # on the trials table's completeness question)
    assert RuleCase.objects.count() == 63


def test_publish_command_publishes_with_its_note_and_who(lead_client):
    raise_trd_threshold()
    out = io.StringIO()
    call_command("publish_rulebook", "--note", "Three trials, as agreed.", "--user", "lead", stdout=out)
    version = PublishedRulebook.objects.first()
    assert (version.number, version.note, version.published_by.username) == (2, "Three trials, as agreed.", "lead")
    assert "Published version 2" in out.getvalue()
    assert "FAILING case “TRD: two failed trials, moderate depression”" in out.getvalue()
    with pytest.raises(CommandError, match="already published"):
        call_command("publish_rulebook", "--note", "again", stdout=io.StringIO())


def test_publishing_with_a_failing_case_needs_a_note():
    raise_trd_threshold()
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="write a note that says why"):
        rulebook_publish(note="  ")
    assert PublishedRulebook.objects.count() == 1


# Preview ----------------------------------------------------------------------------


def test_preview_json_lists_the_changes_and_failing_cases_of_a_known_edit(clinician):
    final = final_trd_screening(clinician)
    raise_trd_threshold()
    preview = preview_json()
    assert preview["published"] == PublishedRulebook.objects.get().snapshot.version
    assert preview["working"] != preview["published"]
    assert {"screening": final.pk, "case": None, "condition": "trd", "before": "eligible",
            "after": "not_met", "criteria": [TRIALS]} in preview["changes"]
    # every TRD case with exactly two failed trials that is not excluded by another rule (the second
    # edition added seven, the trial history one; the third edition adds the cases below its comment)
    two_trials = {
        "TRD: two failed trials, moderate depression": "eligible",
        "TRD by esketamine nasal spray: licensed use": "eligible",
        "Aged 70 with depression and pain: caution": "caution",
        "Passive thoughts of death": "caution",
        "TRD on opioids and pregabalin": "caution",
        "TRD with bladder symptoms": "caution",
        "TRD with no one to take them home": "caution",
        "TRD with a bipolar history": "caution",
        "TRD: PHQ-9 item by item, two adequate trials of different antidepressants": "eligible",
        # third edition (issue 24)
        "Systolic pressure 185, esketamine: caution under local policy": "caution",
        "Breastfeeding: caution": "caution",
        "Could become pregnant without contraception: caution": "caution",
        "Past ischaemic stroke, esketamine: caution": "caution",
        "Past TIA: caution": "caution",
        "COPD: caution": "caution",
        "Oral ketamine with a strong CYP3A4 inhibitor: caution": "caution",
        "Active suicidal thoughts without a plan: never eligible": "caution",
        "Active suicidal thoughts with a plan: never eligible": "caution",
        # Third edition: the item-by-item case's partial response no longer counts (Sforzini 2022,
        # recommendation 3), so it has one failed trial and is not met before and after the edit.
    }
    case_changes = {(c["case"], c["before"], c["after"]) for c in preview["changes"] if c["case"]}
    assert case_changes == {(name, before, "not_met") for name, before in two_trials.items()}
    assert preview["failing_cases"] == [
        {"case": name, "condition": "trd", "expected": two_trials[name], "got": "not_met"}
        for name in sorted(two_trials)
    ]


def test_preview_limit_takes_the_newest_final_screenings(clinician):
    older, newer = final_trd_screening(clinician), final_trd_screening(clinician)
    raise_trd_threshold()
    screenings = [c["screening"] for c in preview_json("--limit", "1")["changes"] if c["screening"]]
    assert screenings == [newer.pk]
    screenings = [c["screening"] for c in preview_json()["changes"] if c["screening"]]
    assert screenings == [newer.pk, older.pk]


def test_preview_of_an_unchanged_working_copy_lists_nothing():
    preview = preview_json()
    assert preview["changes"] == [] and preview["failing_cases"] == []
    assert preview["published"] == preview["working"]
    out = io.StringIO()
    call_command("preview_rulebook", stdout=out)
    assert "No result would change." in out.getvalue()


# The admin: versions, differences, preview and publish ---------------------------------


def test_admin_preview_shows_the_changed_cases(lead_client):
    raise_trd_threshold()
    html = lead_client.get(PREVIEW_URL).content.decode()
    assert "case “TRD: two failed trials, moderate depression”" in html
    # In words, not codes: condition names, status labels, the criterion's question and message.
    page = parse(html)
    changes = page.select_one("#preview-changes").text()
    assert "Treatment-resistant depression" in changes and "Criteria not met" in changes
    assert "Meets screening criteria" in changes
    trials = Question.objects.get(code="failed_antidepressant_trials").text
    assert f"Require: {trials} at least 3" in changes
    assert "not_met" not in changes
    failing = page.select_one("#failing-cases").text()
    assert "expected “Meets screening criteria”, gives “Criteria not met”" in failing


def test_admin_publish_asks_for_confirmation_and_a_note_for_failing_cases(lead_client):
    raise_trd_threshold()
    page = lead_client.get(PUBLISH_URL)
    working = page.context["form"].initial["working"]
    response = lead_client.post(PUBLISH_URL, {"working": working, "note": ""})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "Tick the box to confirm you want to publish these rules." in errors["confirm"]
    assert "write a note that says why" in errors["note"][0]
    assert PublishedRulebook.objects.count() == 1
    response = lead_client.post(PUBLISH_URL, {
        "working": working, "note": "Guideline now asks for three trials.", "confirm": "on",
    })
    assert response.status_code == 302
    version = PublishedRulebook.objects.first()
    assert (version.number, version.note, version.published_by) == (2, "Guideline now asks for three trials.", lead_client.user)


def test_admin_publish_refuses_a_working_copy_changed_since_the_preview(lead_client):
    raise_trd_threshold()
    working = lead_client.get(PUBLISH_URL).context["form"].initial["working"]
    raise_trd_threshold(4)
    response = lead_client.post(PUBLISH_URL, {"working": working, "note": "Three.", "confirm": "on"})
    assert response.status_code == 200
    assert "The working copy changed since this page was opened" in response.content.decode()
    assert 'value="Three."' in response.content.decode() or "Three.</textarea>" in response.content.decode()
    assert PublishedRulebook.objects.count() == 1


def test_clinicians_cannot_publish(client, clinician):
    clinician.is_staff = True
    clinician.save()
    client.force_login(clinician)
    raise_trd_threshold()
    assert client.post(PUBLISH_URL, {"note": "x", "confirm": "on"}).status_code == 403
    assert PublishedRulebook.objects.count() == 1


def test_version_differences_list_what_was_added_removed_and_changed(lead_client):
    raise_trd_threshold()
    Criterion.objects.get(key="ocd-ybocs-caution").delete()
    rulebook_publish(note="Edits.")
    response = lead_client.get(COMPARE_URL, {"old": "1", "new": "2"})
    parts = {part.name: part for part in response.context["differences"]}
    assert parts["criteria"].removed == ["ocd-ybocs-caution"]
    changed = dict(parts["criteria"].changed)
    assert ("value", 2, 3) in changed[TRIALS]
    assert not parts["questions"] and not parts["conditions"]
    html = response.content.decode()
    assert "ocd-ybocs-caution" in html and TRIALS in html
    same = lead_client.get(COMPARE_URL, {"old": "2", "new": "working"})
    assert "The two are the same." in same.content.decode()
    assert lead_client.get(COMPARE_URL, {"old": "9", "new": "x"}).status_code == 200


def test_versions_list_links_each_to_its_differences(lead_client):
    raise_trd_threshold()
    rulebook_publish(note="Three trials.")
    html = lead_client.get("/admin/rulebook/publishedrulebook/").content.decode()
    assert "Three trials." in html
    assert "?old=1&amp;new=2" in html


@pytest.mark.parametrize("old, new", [
    ("/admin/screening/publishedrulebook/", "/admin/rulebook/publishedrulebook/"),
    ("/admin/screening/publishedrulebook/compare/?old=1&new=working",
     "/admin/rulebook/publishedrulebook/compare/?old=1&new=working"),
])
def test_a_bookmark_from_before_the_rulebook_app_still_arrives(lead_client, old, new):
    response = lead_client.get(old, follow=True)
    assert response.redirect_chain[0][0] == new
    assert response.status_code == 200
    assert "Published rulebook versions" in parse(response.content).text()


@pytest.mark.parametrize("url, queries", [
    # Each page starts with the user and their permissions, own and their
    # groups' (the session comes from the cache). Then:
    # the working copy's state token, the newest published version, the
    # final screenings, the cases, their expectations with their conditions,
    # and whether the working copy's version was ever published (its label,
    # "Rules working copy (…)": a published one's number is cached for good)
    (PREVIEW_URL, 3 + 6),
    # as the preview (the publish permission is among those read)
    (PUBLISH_URL, 3 + 6),
    # every version with its snapshot's version; the working copy's state token
    (COMPARE_URL, 3 + 2),
])
def test_admin_rulebook_pages_keep_a_fixed_number_of_queries(lead_client, clinician, assert_queries, url, queries):
    for _ in range(3):
        final_trd_screening(clinician)
    raise_trd_threshold()
    rulebook_publish(note="Three.")
    raise_trd_threshold(4)
    lead_client.get(url)  # warm the cached rulebooks, as an earlier page would
    with assert_queries(queries):
        assert lead_client.get(url).status_code == 200


def _criterion_post(key):
    criterion = Criterion.objects.get(key=key)
    return {
        "key": criterion.key, "question": criterion.question_id, "operator": criterion.operator,
        "value": json.dumps(criterion.value), "effect": criterion.effect, "message": criterion.message,
        "conditions": [c.pk for c in criterion.conditions.all()],
        "references": [r.pk for r in criterion.references.all()],
        "order": criterion.order, "active": "on",
    }



# A past screening under today's rules -----------------------------------------------


def test_a_final_screening_compares_with_the_current_rules_without_changing(clinician, clinician_client):
    final = final_trd_screening(clinician)
    summary = clinician_client.get(final.get_absolute_url()).content.decode()
    assert "Compare with current rules" in summary
    raise_trd_threshold()
    rulebook_publish(note="Three trials.")
    response = clinician_client.get(reverse("screening:compare", args=[final.pk]))
    assert response.status_code == 200
    row = response.context["comparisons"][0]
    assert (row.condition, row.recorded, row.current) == ("trd", "eligible", "not_met")
    assert [c.key for c in row.criteria] == [TRIALS]
    html = response.content.decode()
    assert "Recorded: require: failed_antidepressant_trials at least 2." in html
    assert "Current: require: failed_antidepressant_trials at least 3." in html
    before = Screening.objects.filter(pk=final.pk).values("result", "rulebook_version", "revision").get()
    clinician_client.get(reverse("screening:compare", args=[final.pk]))
    assert Screening.objects.filter(pk=final.pk).values("result", "rulebook_version", "revision").get() == before


def test_only_those_who_may_read_a_screening_may_compare_it(clinician, other_clinician, client):
    final = final_trd_screening(clinician)
    client.force_login(other_clinician)
    assert client.get(reverse("screening:compare", args=[final.pk])).status_code == 404


def test_a_draft_has_nothing_to_compare(clinician, clinician_client):
    draft = services.screening_create(
        owner=clinician, patient_reference="D-1", year_of_birth=None, conditions=["trd"], answers=TRD_ELIGIBLE,
    )
    response = clinician_client.get(reverse("screening:compare", args=[draft.pk]))
    assert response.status_code == 302
    assert "Compare with current rules" not in clinician_client.get(draft.get_absolute_url()).content.decode()
