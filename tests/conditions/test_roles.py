"""The two roles, and the demo users who hold them."""

import base64
import io

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.two_factor import totp_now

pytestmark = pytest.mark.django_db

KNOWLEDGE_BASE_MODELS = ["section", "reference", "condition", "question", "criterion"]


def codenames(group_name):
    return set(Group.objects.get(name=group_name).permissions.values_list("codename", flat=True))


def test_clinical_leads_edit_the_knowledge_base_and_read_its_history():
    granted = codenames("Clinical leads")
    for model in KNOWLEDGE_BASE_MODELS:
        assert {f"add_{model}", f"change_{model}", f"delete_{model}", f"view_{model}"} <= granted
        assert f"view_historical{model}" in granted
        assert f"change_historical{model}" not in granted
    assert not any(codename.endswith("_user") for codename in granted)


def test_clinical_leads_edit_evidence_grades_and_read_their_history():
    granted = codenames("Clinical leads")
    assert {
        "add_evidencegrade", "change_evidencegrade", "delete_evidencegrade", "view_evidencegrade",
        "view_historicalevidencegrade",
    } <= granted
    assert "change_historicalevidencegrade" not in granted


def test_clinicians_only_read_the_knowledge_base():
    assert codenames("Clinicians") == {f"view_{model}" for model in KNOWLEDGE_BASE_MODELS}


def create_demo_users():
    out = io.StringIO()
    call_command("create_demo_users", stdout=out)
    return out.getvalue()


def test_demo_users_are_created_once_with_printed_passwords(django_user_model, settings):
    settings.DEBUG = True
    out = create_demo_users()
    lead = django_user_model.objects.get(username="lead")
    clinician = django_user_model.objects.get(username="clinician")
    colleague = django_user_model.objects.get(username="colleague")
    outsider = django_user_model.objects.get(username="outsider")
    assert (lead.is_staff, lead.is_superuser) == (True, False)
    assert set(lead.groups.values_list("name", flat=True)) == {"Clinical leads", "Clinic administrators"}
    for user in (clinician, colleague, outsider):
        assert user.is_staff is False
        assert list(user.groups.values_list("name", flat=True)) == ["Clinicians"]
    # Two clinicians (and the lead) in one team, one clinician outside it.
    assert {user.team_membership.team.name for user in (lead, clinician, colleague)} == {"Northside clinic"}
    assert outsider.team_membership.team.name == "Southside clinic"
    for user in (lead, clinician, colleague, outsider):
        password = out.split(f"“{user.username}” with password: ")[1].split()[0]
        assert user.check_password(password)

    again = create_demo_users()
    assert "User “lead” already exists; left unchanged." in again
    assert "User “clinician” already exists; left unchanged." in again
    assert "with password" not in again
    assert django_user_model.objects.count() == 4
    assert django_user_model.objects.get(username="lead").password == lead.password


def test_demo_users_are_refused_outside_debug(django_user_model, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="only with DEBUG on"):
        create_demo_users()
    assert not django_user_model.objects.exists()


def test_demo_lead_can_open_the_admin_and_demo_clinician_cannot(client, django_user_model, settings):
    settings.DEBUG = True
    out = create_demo_users()
    for username, status in [("lead", 200), ("clinician", 302)]:
        password = out.split(f"“{username}” with password: ")[1].split()[0]
        # Sign in through the real form: the printed password works.
        signed_in = client.post("/accounts/login/", {"username": username, "password": password})
        assert signed_in.status_code == 302
        if username == "lead":  # and so does the printed authenticator key
            key = out.split("Authenticator key (time-based, enter it in an authenticator app): ")[1].split("\n")[0]
            code = totp_now(base64.b32decode(key.replace(" ", "")))
            assert client.post(signed_in["Location"], {"code": code}).status_code == 302
        assert client.get("/admin/conditions/criterion/").status_code == status
        client.logout()


def test_the_demo_leads_printed_recovery_codes_sign_in(client, settings):
    settings.DEBUG = True
    out = create_demo_users()
    password = out.split("“lead” with password: ")[1].split()[0]
    codes = out.split("recovery codes (each works once): ")[1].split("\n")[0].split()
    assert len(codes) == 10
    second_step = client.post("/accounts/login/", {"username": "lead", "password": password})
    assert client.post(second_step["Location"], {"code": codes[0]}).status_code == 302
    assert client.get("/admin/conditions/criterion/").status_code == 200
