"""A past screening under today's rules: its recorded result beside what
the rules in force give for the same answers, with the criteria that differ
between the two versions. Reads only; the record never changes."""

from dataclasses import dataclass

from rulebook.publishing import changed_criteria, evaluate_as_accepted
from rules import engine
from rules.vocabulary import Operator
from screening.models import Screening


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
        for r in evaluate_as_accepted(current, screening.conditions, screening.evaluated_answers()).results
    }
    differing = changed_criteria(recorded_rules, current)
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
