"""Draft and publish: what a change to the rules would do, and making it live.

Admin edits change the *working copy* (`working_rulebook()`); clinicians use
the last *published* version (`current_rulebook()`). Before publishing, a
lead previews the working copy against recent final screenings and the case
library (`rulebook_preview`), then publishes it as a new numbered version
(`rulebook_publish`). `rulebook_differences` lists what changed between any
two versions, field by field.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Prefetch
from django.utils import timezone

from conditions.models import RuleCase, RuleCaseExpectation
from rules import engine
from rules.vocabulary import Effect, Operator
from screening.models import KnowledgeBaseRevision, PublishedRulebook, Screening, Status
from screening.rulebook import (
    latest_publication,
    published_rulebook,
    snapshot_for,
    working_rulebook,
)

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


def _changed_criteria(old: engine.Rulebook, new: engine.Rulebook) -> set[str]:
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


def recent_final_screenings(*, limit: int | None = None):
    """The final screenings a preview compares: the newest `limit` when
    given, else those finalised in the last 12 months; newest first."""
    screenings = (
        Screening.objects.filter(status=Status.FINAL)
        .only("id", "conditions", "answers", "age_from_year_of_birth")
        .order_by("-finalised_at", "-id")
    )
    if limit is not None:
        return screenings[:limit]
    return screenings.filter(finalised_at__gte=timezone.now() - timedelta(days=365 * PREVIEW_MONTHS // 12))


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
    screenings (see `recent_final_screenings`) and on the case library.

    Lists every result whose status would change, with the criteria that
    caused it, and every case whose expected status the working copy does
    not give. Before anything is published, the working copy is compared
    with itself (so only failing cases can show)."""
    working = working or working_rulebook()
    publication = latest_publication()
    if published is None:
        published = published_rulebook(publication.snapshot) if publication is not None else working
    differing = _changed_criteria(published, working)
    changes, failing = [], []
    screenings = list(recent_final_screenings(limit=limit)) if published != working else []
    for screening in screenings:
        changes += _changes(published, working, screening.conditions, screening.evaluated_answers(), differing,
                            screening=screening.pk)
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
        screenings=len(screenings), cases=len(cases), changes=changes, failing_cases=failing,
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
    got = {r.condition: r.status for r in _evaluate(rulebook, list(expected), case.answers).results}
    return [
        FailingCase(case=case.name, condition=slug, expected=status, got=got.get(slug, "not in the rules"))
        for slug, status in expected.items() if got.get(slug, "not in the rules") != status
    ]


def _evaluate(rulebook: engine.Rulebook, conditions, answers) -> engine.Advisory:
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
    before = {r.condition: r for r in _evaluate(published, conditions, answers).results}
    after = {r.condition: r for r in _evaluate(working, conditions, answers).results}
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


# --- a past screening under today's rules -----------------------------------


@dataclass
class CriterionChange:
    key: str
    before: str     # the rule and message as recorded, "" when it was not there
    after: str      # as the current rules have it, "" when it is gone


@dataclass
class ConditionComparison:
    condition: str
    name: str
    recorded: str          # the status the record holds
    current: str | None    # under today's rules; None when the condition is no longer screened
    criteria: list[CriterionChange]

    @property
    def differs(self):
        return self.recorded != self.current


def screening_comparison(screening: Screening, current: engine.Rulebook) -> list[ConditionComparison]:
    """A screening's recorded result beside what `current` gives for the same
    answers, condition by condition, with the criteria that differ between
    its own rulebook and `current`. Reads only; the record never changes."""
    recorded_rules = screening.rulebook()
    recorded = {r.condition: r.status for r in screening.advisory().results}
    today = {
        r.condition: r.status
        for r in _evaluate(current, screening.conditions, screening.evaluated_answers()).results
    }
    differing = _changed_criteria(recorded_rules, current)
    before = {c.key: c for c in recorded_rules.criteria}
    after = {c.key: c for c in current.criteria}
    comparisons = []
    for slug in screening.conditions:
        condition = current.condition.get(slug) or recorded_rules.condition.get(slug)
        keys = [
            k for k in dict.fromkeys([*before, *after])
            if k in differing and any(c.applies_to(slug) for c in (before.get(k), after.get(k)) if c)
        ]
        comparisons.append(ConditionComparison(
            condition=slug, name=condition.name if condition else slug,
            recorded=recorded.get(slug, ""), current=today.get(slug),
            criteria=[CriterionChange(k, _rule_words(before.get(k)), _rule_words(after.get(k))) for k in keys],
        ))
    return comparisons


def _rule_words(criterion: engine.CriterionSpec | None) -> str:
    if criterion is None:
        return ""
    value = criterion.value
    if value is None:
        value = ""
    elif isinstance(value, bool):
        value = " yes" if value else " no"
    elif isinstance(value, tuple):
        value = " " + ", ".join(map(str, value))
    else:
        value = f" {value}"
    words = Operator.label_of(criterion.operator)
    return f"{criterion.effect}: {criterion.question} {words}{value}. {criterion.message}"


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
