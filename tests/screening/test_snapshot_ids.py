"""A rulebook version's stored snapshot, once committed, is known to the
process by its id: saving answers then makes one query fewer. One made in a
transaction that rolls back is never kept. Transactional, so that commits
and rollbacks happen as in production."""

import pytest
from django.db import transaction

from screening import caching, services
from screening.models import RulebookSnapshot, Screening
from screening.rulebook import current_rulebook, snapshot_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("knowledge_base", "fresh_rulebook_cache"),
]


def test_a_committed_snapshot_is_read_once(clinician, django_assert_num_queries):
    rulebook = current_rulebook()
    snapshot_for(rulebook)  # stored, by an earlier request of any process
    caching.snapshot_ids.clear()  # a process that has not read it yet
    with django_assert_num_queries(1):
        first = snapshot_for(rulebook)
    with django_assert_num_queries(0):
        again = snapshot_for(rulebook)
    assert again.pk == first.pk and again.version == rulebook.version
    with django_assert_num_queries(1):  # its content, when it is needed, as before
        assert again.rulebook() == rulebook
    draft = services.screening_create(owner=clinician, patient_reference="S-1", year_of_birth=1980,
                                        conditions=["trd"], rulebook=rulebook)
    services.screening_save_answers(screening=draft, answers={"age": 40}, rulebook=rulebook)
    assert Screening.objects.get(pk=draft.pk).snapshot_id == first.pk


def test_a_snapshot_made_in_a_rolled_back_transaction_is_not_kept():
    rulebook = current_rulebook()
    RulebookSnapshot.objects.all().delete()
    caching.snapshot_ids.clear()
    with pytest.raises(RuntimeError), transaction.atomic():
        snapshot_for(rulebook)
        raise RuntimeError("roll back")
    assert len(caching.snapshot_ids) == 0 and not RulebookSnapshot.objects.exists()
    stored = snapshot_for(rulebook)  # stored again, for good
    assert RulebookSnapshot.objects.filter(pk=stored.pk, version=rulebook.version).exists()
    assert caching.snapshot_ids.get(rulebook.version) == stored.pk
