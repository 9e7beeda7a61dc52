"""A clinic is a team: clinicians in it read each other's final screenings
and their patients' whole histories, read-only, and each edits only their
own drafts; the clinical lead sees the team's finals; to anyone outside the
team none of it exists (404). Each view of a team-mate's record is audited
with who saw what. Clinic administrators manage teams in the admin."""

import pytest
from django.urls import reverse

from screening import services
from screening.models import AuditAction, AuditEvent, Screening
from teams.models import Membership, Team
from tests.conftest import user_in_role
from tests.screening.test_views import draft_for, final_for, text

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("module_knowledge_base", "quick_password_hashing"),
]


def in_team(name, *users):
    team, _ = Team.objects.get_or_create(name=name)
    for user in users:
        Membership.objects.create(user=user, team=team)
    return team


@pytest.fixture
def colleague(db):
    return user_in_role("colleague", "Clinicians")


@pytest.fixture
def outsider(db):
    return user_in_role("outsider", "Clinicians")


@pytest.fixture
def clinic(clinician, colleague, outsider, lead):
    """The clinician, a colleague and the clinical lead in one team; the outsider in another."""
    in_team("Southside", outsider)
    return in_team("Northside", clinician, colleague, lead)


def signed_in(client, user):
    client.force_login(user)
    return client


def test_a_team_mate_reads_a_colleagues_final_read_only(client, clinic, clinician, colleague):
    final = final_for(clinician, reference="N-0001")
    signed_in(client, colleague)
    summary = client.get(reverse("screening:summary", args=[final.pk]))
    assert summary.status_code == 200
    assert "N-0001" in text(summary)
    assert "Amend" not in text(summary)
    assert client.get(reverse("screening:pdf", args=[final.pk])).status_code == 200
    # Read-only: amending it is refused, and makes nothing.
    assert client.post(reverse("screening:amend", args=[final.pk])).status_code == 403
    assert not Screening.objects.filter(amends=final).exists()


def test_a_team_mates_view_is_audited_with_who_saw_whose_record(client, clinic, clinician, colleague):
    final = final_for(clinician, reference="N-0002")
    signed_in(client, clinician).get(reverse("screening:summary", args=[final.pk]))
    signed_in(client, colleague).get(reverse("screening:summary", args=[final.pk]))
    assert list(
        AuditEvent.objects.filter(screening=final, action__in=[AuditAction.VIEWED, AuditAction.TEAM_VIEWED])
        .order_by("id").values_list("action", "username")
    ) == [(AuditAction.VIEWED, "clinician"), (AuditAction.TEAM_VIEWED, "colleague")]


def test_a_team_mate_cannot_open_or_change_a_colleagues_draft(client, clinic, clinician, colleague):
    draft = draft_for(clinician, reference="N-0003")
    signed_in(client, colleague)
    for name in ("summary", "questionnaire", "details", "pdf"):
        assert client.get(reverse(f"screening:{name}", args=[draft.pk])).status_code == 404, name
    saved = client.post(reverse("screening:answers", args=[draft.pk]), {"revision": draft.revision, "age": "50"})
    discarded = client.post(reverse("screening:discard", args=[draft.pk]))
    assert saved.status_code == discarded.status_code == 404
    draft.refresh_from_db()
    assert "age" not in draft.answers and draft.discarded_at is None
    assert AuditEvent.objects.filter(action=AuditAction.ACCESS_DENIED, username="colleague").count() == 6


def test_outside_the_team_a_final_and_its_patient_do_not_exist(client, clinic, clinician, outsider):
    final = final_for(clinician, reference="N-0004")
    signed_in(client, outsider)
    assert client.get(reverse("screening:summary", args=[final.pk])).status_code == 404
    assert client.get(reverse("screening:pdf", args=[final.pk])).status_code == 404
    assert client.get(reverse("screening:patient", args=["N-0004"])).status_code == 404
    assert "N-0004" not in text(client.get(reverse("screening:list")))


def test_a_patients_whole_history_across_the_team(client, clinic, clinician, colleague):
    mine = final_for(colleague, reference="N-0005")
    theirs = final_for(clinician, reference="n-0005")  # the same patient, typed in lower case
    their_draft = draft_for(clinician, reference="N-0005")
    signed_in(client, colleague)
    history = client.get(reverse("screening:patient", args=[" n-0005 "]))
    assert history.status_code == 200
    links = history.content.decode()
    assert reverse("screening:summary", args=[mine.pk]) in links
    assert reverse("screening:summary", args=[theirs.pk]) in links
    assert reverse("screening:summary", args=[their_draft.pk]) not in links  # a draft is its owner's
    assert "Your screenings of this patient and your team's final ones" in text(history)
    event = AuditEvent.objects.get(action=AuditAction.TEAM_PATIENT_VIEWED)
    assert (event.username, event.object_key, event.screening_id) == ("colleague", "n-0005", theirs.pk)


def test_the_clinical_lead_sees_the_teams_finals(client, clinic, clinician, colleague, outsider, lead):
    finals = [final_for(clinician, reference="N-0006"), final_for(colleague, reference="N-0007")]
    draft_for(clinician, reference="N-0008")
    final_for(outsider, reference="S-0009")
    listed = text(signed_in(client, lead).get(reverse("screening:list")))
    for final in finals:
        assert final.patient_reference in listed
    assert "N-0008" not in listed and "S-0009" not in listed
    assert "colleague" in listed  # whose each one is
    assert client.get(reverse("screening:summary", args=[finals[1].pk])).status_code == 200


def test_without_a_team_a_clinician_sees_only_their_own(client, clinician, colleague):
    final = final_for(colleague, reference="N-0010")
    signed_in(client, clinician)
    assert client.get(reverse("screening:summary", args=[final.pk])).status_code == 404
    assert "N-0010" not in text(client.get(reverse("screening:list")))


def test_leaving_the_team_ends_the_access(client, clinic, clinician, colleague):
    final = final_for(clinician, reference="N-0011")
    signed_in(client, colleague)
    assert client.get(reverse("screening:summary", args=[final.pk])).status_code == 200
    Membership.objects.filter(user=colleague).delete()
    assert client.get(reverse("screening:summary", args=[final.pk])).status_code == 404


# --- the clinic administrator -----------------------------------------------------


@pytest.fixture
def clinic_administrator(db):
    return user_in_role("clinic-admin", "Clinic administrators", is_staff=True)


def test_a_clinic_administrator_makes_a_team_and_puts_clinicians_in_it(
    client, clinic_administrator, clinician, colleague
):
    signed_in(client, clinic_administrator)
    assert client.get(reverse("admin:teams_team_add")).status_code == 200
    response = client.post(reverse("admin:teams_team_add"), {
        "name": "Eastside",
        "memberships-TOTAL_FORMS": "2", "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0", "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-user": clinician.pk, "memberships-1-user": colleague.pk,
    })
    assert response.status_code == 302, text(response)
    team = Team.objects.get(name="Eastside")
    assert set(team.memberships.values_list("user__username", flat=True)) == {"clinician", "colleague"}
    # Now they read each other's finals.
    final = final_for(clinician, reference="E-0001")
    assert signed_in(client, colleague).get(reverse("screening:summary", args=[final.pk])).status_code == 200


def test_a_clinic_administrator_manages_users_but_cannot_make_a_superuser(
    client, clinic_administrator, clinician
):
    signed_in(client, clinic_administrator)
    page = client.get(reverse("admin:auth_user_change", args=[clinician.pk]))
    assert page.status_code == 200
    markup = page.content.decode()
    for name in ("groups", "is_active", "team_membership-0-team"):  # the user's team, on their page
        assert f'name="{name}"' in markup
    assert 'name="is_superuser"' not in markup and 'name="user_permissions"' not in markup
    assert client.get(reverse("admin:auth_user_add")).status_code == 200


def test_a_clinician_cannot_manage_teams(client, clinician):
    signed_in(client, clinician)
    assert client.get(reverse("admin:teams_team_changelist")).status_code == 302  # to sign in as staff
    assert not Team.objects.exists()


def test_the_list_and_history_of_someone_in_no_team_are_unchanged_by_teams(client, clinician):
    services.screening_finalise(screening=draft_for(clinician, reference="Z-1"), user=clinician, reason="Seen.")
    signed_in(client, clinician)
    assert client.get(reverse("screening:patient", args=["z-1"])).status_code == 200
