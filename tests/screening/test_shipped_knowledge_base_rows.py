"""The knowledge_base fixture writes back the rows the load command made
once per session: what tests then read must be what the command loads."""

import pytest

from conditions.models import Section
from rulebook.versions import build_rulebook, current_rulebook

pytestmark = pytest.mark.django_db


def test_the_written_rows_make_the_rulebook_the_command_makes(knowledge_base, default_rulebook):
    assert build_rulebook().to_json() == default_rulebook.to_json()


def test_the_written_rows_include_the_published_version(knowledge_base, default_rulebook):
    assert current_rulebook().version == default_rulebook.version


def test_rows_made_after_them_get_keys_of_their_own(knowledge_base):
    made = Section.objects.create(key="a-later-section", title="A later section", order=99)
    assert Section.objects.filter(pk=made.pk).count() == 1
    assert made.history.count() == 1
