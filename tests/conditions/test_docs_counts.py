"""Counts the docs give about the shipped knowledge base are checked against the file,
so they cannot drift from it."""

import re
from collections import Counter
from pathlib import Path

import yaml

from conditions.loader import DEFAULT_FILE

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))


def test_the_criteria_counts_by_basis_in_the_docs_are_the_files():
    text = " ".join((ROOT / "docs" / "knowledge-base.md").read_text(encoding="utf-8").split())
    found = re.search(
        r"Of the (\d+) criteria, (\d+) rest on a label, (\d+) on trials, (\d+) on consensus, "
        r"(\d+) on guidelines and (\d+) on local policy", text,
    )
    assert found, "docs/knowledge-base.md no longer gives the criteria by basis; update this test"
    bases = Counter(criterion.get("basis") for criterion in SHIPPED["criteria"])
    assert [int(number) for number in found.groups()] == [
        len(SHIPPED["criteria"]), bases["label"], bases["trial"], bases["consensus"], bases["guideline"],
        bases["local_policy"],
    ]


def test_the_case_library_has_a_case_for_every_condition_as_the_docs_say():
    assert "cases covering every condition" in (ROOT / "docs" / "rulebook-versions.md").read_text(encoding="utf-8")
    covered = {slug for case in SHIPPED["cases"] for slug in case["expected"]}
    assert {condition["slug"] for condition in SHIPPED["conditions"]} <= covered


def test_no_doc_types_a_count_of_the_shipped_cases():
    """The case library grows; a number typed beside it goes stale (the docs once said 21 of 37)."""
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = " ".join(path.read_text(encoding="utf-8").split())
        assert not re.search(r"\b\d+ (library |test )?cases\b", text), path.name
