"""Users in the admin: someone who leaves is made inactive, never deleted, since
their name stands on records that may not be rewritten (docs/security.md)."""

import pytest
from django.contrib.auth import get_user_model

from conditions.models import Criterion

pytestmark = pytest.mark.django_db


def test_a_user_who_changed_the_knowledge_base_is_deactivated_not_deleted(admin_client, lead, knowledge_base):
    criterion = Criterion.objects.first()
    criterion.message = "Reworded by the lead."
    criterion._history_user = lead  # as the admin records who made a change
    criterion.save()

    delete_page = admin_client.get(f"/admin/auth/user/{lead.pk}/delete/")
    bulk_delete = admin_client.post("/admin/auth/user/", {"action": "delete_selected", "_selected_action": [lead.pk]})

    assert delete_page.status_code == 403
    assert bulk_delete.status_code in (200, 302)  # the action is not offered: nothing happens
    assert get_user_model().objects.filter(pk=lead.pk).exists()
    change_page = admin_client.get(f"/admin/auth/user/{lead.pk}/change/")
    assert change_page.status_code == 200
    assert 'name="is_active"' in change_page.content.decode()
