"""Draft and publish: what a change to the rules would do, and making it live.

Admin edits change the *working copy* (`working_rulebook()`); clinicians use
the last *published* version (`current_rulebook()`). Before publishing, a
lead previews the working copy against recent final screenings and the case
library (`rulebook_preview`), then publishes it as a new numbered version
(`rulebook_publish`). `rulebook_differences` lists what changed between any
two versions, field by field.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Prefetch
from django.utils.module_loading import import_string

from conditions.models import RuleCase, RuleCaseExpectation
from rulebook.models import KnowledgeBaseRevision, PublishedRulebook
from rulebook.versions import (
    latest_publication,
    published_rulebook,
    snapshot_for,
    working_rulebook,
)
from rules import engine
from rules.vocabulary import Effect, Operator

PREVIEW_MONTHS = 12

# --- differences between two versions -------------------------------------

# The parts of a rulebook compared, each by its stable key, in the order shown.
PARTS = (
    ("criteria", "criterion", "key"),
    ("questions", "question", "code"),
    ("conditions", "condition", "slug"),
    ("references", "reference", "key"),
    ("sections", "section", "key"),
    ("instruments", "instrument", "code"),
    ("formulary", "formulary drug", "key"),
)


@dataclass
class PartDifferences:
    name: str          # "criteria", "questions", …
    noun: str          # "criterion", …
    added: list = field(default_factory=list)     # keys
    removed: list = field(default_factory=list)   # keys
    changed: list = field(default_factory=list)   # (key, [(field, before, after), …])

    def __bool__(self):
        return bool(self.added or self.removed or self.changed)


def rulebook_differences(old: engine.Rulebook, new: engine.Rulebook) -> list[PartDifferences]:
    """What differs from `old` to `new`: per part, the items added, removed
    and changed (each changed field with its value before and after)."""
    old_data, new_data = old.to_dict(), new.to_dict()
    parts = []
    for name, noun, key in PARTS:
        before = {item[key]: item for item in old_data.get(name, ())}  # a first-edition
        after = {item[key]: item for item in new_data.get(name, ())}   # rulebook has no instruments
        part = PartDifferences(name=name, noun=noun)
        part.added = [k for k in after if k not in before]
        part.removed = [k for k in before if k not in after]
        for k, item in after.items():
            if k in before and before[k] != item:
                fields = [
                    (f, before[k].get(f), item.get(f))
                    for f in item if before[k].get(f) != item.get(f)
                ]
                part.changed.append((k, fields))
        parts.append(part)
    return parts


def changed_criteria(old: engine.Rulebook, new: engine.Rulebook) -> set[str]:
    """Keys of criteria added, removed or changed, counting a change to the
    question a criterion reads (its kind, choices, enable-when), or to the
    question of its `when`, as its own."""
    before = {c.key: c for c in old.criteria}
    after = {c.key: c for c in new.criteria}
    changed = set(before) ^ set(after)
    for key in set(before) & set(after):
        a, b = before[key], after[key]
        if a != b or old.question.get(a.question) != new.question.get(b.question) or (
            a.when is not None and old.question.get(a.when.question) != new.question.get(a.when.question)
        ):
            changed.add(key)
    return changed


# --- preview ----------------------------------------------------------------


@dataclass
class Change:
    """One result that the working copy would change."""

    screening: int | None
    case: str | None
    condition: str
    before: str
    after: str
    criteria: list[str]
    # In words, for the preview page: the condition's name and, for each
    # criterion, ("Require: <question text> at least 3 (“its message”)", key).
    condition_name: str = ""
    criteria_words: list[str] = field(default_factory=list)

    def to_dict(self):
        return {
            "screening": self.screening, "case": self.case, "condition": self.condition,
            "before": self.before, "after": self.after, "criteria": self.criteria,
        }


@dataclass
class FailingCase:
    case: str
    condition: str
    expected: str
    got: str
    condition_name: str = ""

    def to_dict(self):
        return {"case": self.case, "condition": self.condition, "expected": self.expected, "got": self.got}


@dataclass
class Preview:
    published: str | None      # the published version, None before the first
    working: str
    screenings: int            # how many final screenings were compared
    cases: int                 # how many library cases were evaluated
    changes: list[Change]
    failing_cases: list[FailingCase]

    @property
    def unchanged(self):
        return self.published == self.working

    def to_dict(self):
        return {
            "published": self.published, "working": self.working,
            "changes": [c.to_dict() for c in self.changes],
            "failing_cases": [f.to_dict() for f in self.failing_cases],
        }


class Record(NamedTuple):
    """A final screening as a preview reads it: its id, the conditions it
    screened and the answers it was evaluated with."""

    screening: int
    conditions: Sequence[str]
    answers: Mapping[str, object]


def recent_records(*, limit: int | None = None) -> Iterable[Record]:
    """The final screenings a preview compares, newest first: the newest
    `limit` when given, else those finalised in the last PREVIEW_MONTHS.

    The clinical record lives above the rulebook (`screening` imports
    `rulebook`, never the other way), so the project names the function
    that reads them: settings.RULEBOOK_PREVIEW_RECORDS, a dotted path."""
    return import_string(settings.RULEBOOK_PREVIEW_RECORDS)(limit=limit, months=PREVIEW_MONTHS)


def case_library():
    """Every library case with its expectations (condition slugs): 2 queries."""
    return RuleCase.objects.prefetch_related(
        Prefetch(
            "expectations",
            queryset=RuleCaseExpectation.objects.select_related("condition").only(
                "case_id", "status", "condition__slug", "condition__order"
            ),
        )
    ).order_by("name")


def rulebook_preview(*, limit: int | None = None, published: engine.Rulebook | None = None,
                     working: engine.Rulebook | None = None) -> Preview:
    """The working copy against the published version, on recent final
    screenings (see `recent_records`) and on the case library.

    Lists every result whose status would change, with the criteria that
    caused it, and every case whose expected status the working copy does
    not give. Before anything is published, the working copy is compared
    with itself (so only failing cases can show)."""
    working = working or working_rulebook()
    publication = latest_publication()
    if published is None:
        published = published_rulebook(publication.snapshot) if publication is not None else working
    differing = changed_criteria(published, working)
    changes, failing = [], []
    records = list(recent_records(limit=limit)) if published != working else []
    for record in records:
        changes += _changes(published, working, record.conditions, record.answers, differing,
                            screening=record.screening)
    cases = list(case_library())
    for case in cases:
        expected = {e.condition.slug: e.status for e in case.expectations.all()}
        conditions = list(expected)
        if published != working:
            changes += _changes(published, working, conditions, case.answers, differing, case=case.name)
        failing += case_failures(working, case)
    for change in changes:
        change.condition_name = _condition_name(change.condition, working, published)
        change.criteria_words = [(_criterion_words(key, working, published), key) for key in change.criteria]
    for failure in failing:
        failure.condition_name = _condition_name(failure.condition, working, published)
    return Preview(
        published=publication and published.version, working=working.version,
        screenings=len(records), cases=len(cases), changes=changes, failing_cases=failing,
    )


def _condition_name(slug, *rulebooks):
    return next((r.condition[slug].name for r in rulebooks if slug in r.condition), slug)


def _criterion_words(key, working, published):
    """A criterion as a lead reads it: its effect, its question's text, the
    test in words and its message; as the working copy has it, else as
    published (a criterion removed)."""
    for rulebook in (working, published):
        criterion = next((c for c in rulebook.criteria if c.key == key), None)
        if criterion is not None:
            break
    else:
        return key
    question = rulebook.question.get(criterion.question)
    labels = {c.value: c.label for c in question.choices} if question else {}
    value = criterion.value
    if value is None or criterion.operator in (Operator.IS_TRUE, Operator.IS_FALSE):
        value = ""
    elif isinstance(value, bool):
        value = " yes" if value else " no"
    elif isinstance(value, tuple | list):
        value = " " + ", ".join(labels.get(v, str(v)) for v in value)
    else:
        value = " " + labels.get(value, str(value)) + (f" {question.unit}" if question and question.unit else "")
    text = question.text if question else criterion.question
    return (
        f"{Effect.label_of(criterion.effect)}: {text} {Operator.label_of(criterion.operator)}{value} "
        f"(“{criterion.message}”)"
    )


def case_failures(rulebook: engine.Rulebook, case: RuleCase) -> list[FailingCase]:
    """The expectations of a library case (its expectations prefetched) that
    `rulebook` does not meet; evaluated in memory, no query."""
    expected = {e.condition.slug: e.status for e in case.expectations.all()}
    got = {r.condition: r.status for r in evaluate_as_accepted(rulebook, list(expected), case.answers).results}
    return [
        FailingCase(case=case.name, condition=slug, expected=status, got=got.get(slug, "not in the rules"))
        for slug, status in expected.items() if got.get(slug, "not in the rules") != status
    ]


def evaluate_as_accepted(rulebook: engine.Rulebook, conditions, answers) -> engine.Advisory:
    """Answers as the rulebook's own form would accept them (answers to
    questions it no longer has, or no longer fit, are left out)."""
    valid = {}
    for code, answer in (answers or {}).items():
        question = rulebook.question.get(code)
        if question is None or answer is None:
            continue
        try:
            valid[code] = engine.clean_answer(question, answer)
        except (ValueError, TypeError):
            continue
    return engine.evaluate(rulebook, conditions, valid)


def _changes(published, working, conditions, answers, differing, *, screening=None, case=None):
    before = {r.condition: r for r in evaluate_as_accepted(published, conditions, answers).results}
    after = {r.condition: r for r in evaluate_as_accepted(working, conditions, answers).results}
    found = []
    for slug in conditions:
        old, new = before.get(slug), after.get(slug)
        if old is None or new is None or old.status == new.status:
            continue
        applying = [
            c.key for c in (*working.criteria, *published.criteria)
            if c.key in differing and c.applies_to(slug)
        ]
        decided = {r.criterion for r in (*old.reasons, *new.reasons)}
        criteria = list(dict.fromkeys(k for k in applying if k in decided)) or list(dict.fromkeys(applying))
        found.append(Change(screening=screening, case=case, condition=slug, before=old.status,
                            after=new.status, criteria=criteria))
    return found


# --- publishing -------------------------------------------------------------


class NothingToPublish(ValidationError):
    """The working copy is the version already published."""


@transaction.atomic
def rulebook_publish(*, user=None, note: str = "", preview: Preview | None = None,
                     allow_failing_cases: bool = False) -> PublishedRulebook:
    """Publish the working copy as the next numbered version.

    Refuses (NothingToPublish) when it is the version already published,
    and (ValidationError on "note") when library cases fail and no note says
    why, unless `allow_failing_cases`. Publishers queue on the knowledge
    base's revision row, so two at once get consecutive numbers.
    """
    KnowledgeBaseRevision.objects.select_for_update().filter(pk=1).first()
    working = working_rulebook()
    latest = latest_publication()
    if latest is not None and latest.snapshot.version == working.version:
        raise NothingToPublish(
            f"The working copy is the same as version {latest.number}; there is nothing to publish."
        )
    note = note.strip()
    if not allow_failing_cases and not note:
        preview = preview if preview is not None and preview.working == working.version else (
            rulebook_preview(working=working)
        )
        if preview.failing_cases:
            raise ValidationError({"note": (
                f"{len(preview.failing_cases)} library case expectation(s) fail with these rules; "
                "write a note that says why they may be published anyway."
            )})
    number = (PublishedRulebook.objects.aggregate(last=Max("number"))["last"] or 0) + 1
    return PublishedRulebook.objects.create(
        number=number, snapshot=snapshot_for(working), published_by=user, note=note,
    )
