"""Odd addresses in the admin, as a clinical lead or an administrator might
follow or mistype them: a clear refusal, never a server error. (On
PostgreSQL a NUL reaching a query is an error of its own.)"""

import pytest

from conditions.models import Criterion

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("module_knowledge_base")]


@pytest.mark.parametrize("address", [
    "/admin/conditions/question/?kind=%00",
    "/admin/conditions/criterion/?effect__exact=%00",
    "/admin/conditions/drug/?drug_class=%00",
    "/admin/conditions/criterion/?q=a%00b",
    "/admin/screening/auditevent/?action=%00",
    "/admin/screening/screening/?status=%00",
    "/admin/axes/accessattempt/?path_info=%00",
    "/admin/autocomplete/?term=%00&app_label=conditions&model_name=criterion&field_name=question",
    "/admin/conditions/criterion/%00/history/",
])
def test_a_nul_in_an_admin_address_is_a_bad_request(admin_client, address):
    response = admin_client.get(address)
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()


@pytest.mark.parametrize("model", ["criterion", "question", "rulecase", "drug", "formularysettings"])
def test_a_history_page_for_an_id_that_is_no_id_is_not_found(lead_client, model):
    assert lead_client.get(f"/admin/conditions/{model}/abc/history/").status_code == 404
    assert lead_client.get(f"/admin/conditions/{model}/1/history/abc/").status_code == 404


def test_history_pages_still_open(lead_client):
    criterion = Criterion.objects.get(key="trd-phq9-require")
    assert lead_client.get(f"/admin/conditions/criterion/{criterion.pk}/history/").status_code == 200
    version = criterion.history.latest("history_id")
    assert lead_client.get(
        f"/admin/conditions/criterion/{criterion.pk}/history/{version.history_id}/"
    ).status_code == 200
    assert lead_client.get("/admin/conditions/criterion/?effect=require").status_code == 200
