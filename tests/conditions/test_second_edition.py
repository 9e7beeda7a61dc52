"""A knowledge-base file in the second edition's format (tests/conditions/
second_edition.yaml, the shipped file before the third edition: no criterion
`when` or `basis`, no formulary count setting, no retired questions) still
loads, publishes under the very version today's engine gives it, and every
case of its own library gets its expected status."""

from pathlib import Path

import pytest

from conditions.loader import knowledge_base_load, read_knowledge_base
from rulebook.publishing import case_library, rulebook_preview, rulebook_publish
from rulebook.versions import current_rulebook
from rules.engine import Rulebook

pytestmark = pytest.mark.django_db

SECOND_EDITION = Path(__file__).resolve().parent / "second_edition.yaml"
# The version the second edition's engine gives this file: a stored
# second-edition snapshot keeps it, so the third edition's additions must not
# change how an older file is written into its snapshot.
SECOND_EDITION_VERSION = "d7eda7b87201"


@pytest.fixture
def second_edition(db):
    counts = knowledge_base_load(read_knowledge_base(SECOND_EDITION), reason="Second edition")
    rulebook_publish(note="The second edition.")
    return counts


def test_it_loads_and_publishes_under_the_second_editions_version(second_edition):
    assert {group: counts["created"] for group, counts in second_edition.items()} == {
        "sections": 11, "references": 52, "conditions": 8, "questions": 89, "criteria": 73, "cases": 37,
        "instruments": 3, "drugs": 33, "formulary settings": 1,
    }
    rulebook = current_rulebook()
    assert rulebook.version == SECOND_EDITION_VERSION
    assert Rulebook.from_json(rulebook.to_json()).version == SECOND_EDITION_VERSION


def test_every_case_of_the_file_gets_its_expected_status(second_edition):
    preview = rulebook_preview()
    assert preview.cases == 37
    assert preview.failing_cases == []
    assert len(case_library()) == 37
