"""The criteria catalogue: every condition's rules in words, for the
published version in force, so that "why did it say that?" has an answer
outside a screening.

Built from the engine's rulebook (an immutable snapshot), never from the
live knowledge base: what a clinician reads here is what screenings use.
"""

from dataclasses import dataclass
from functools import cached_property

from rules import engine
from rules.vocabulary import Operator, basis_description, basis_label
from screening.summary import EvidenceRow, ReferenceRow, _Numbering

# A condition's criteria under these headings, in this order.
EFFECT_HEADINGS = (
    (engine.EXCLUDE, "Exclusions"),
    (engine.REQUIRE, "Requirements"),
    (engine.CAUTION, "Cautions"),
    (engine.ALERT, "Safety alerts"),
    (engine.DUTY, "At the treatment session"),
)


@dataclass(frozen=True)
class CatalogueRule:
    key: str
    message: str                 # the lead's own words for the criterion
    rule: str                    # the test, in question text and answer words
    when: str                    # where it applies, in words; "" everywhere
    basis: str
    basis_label: str
    basis_description: str
    references: tuple[int, ...]  # numbers in the catalogue's reference list


@dataclass(frozen=True)
class CatalogueGroup:
    heading: str
    rules: tuple[CatalogueRule, ...]


@dataclass(frozen=True)
class CatalogueCondition:
    slug: str
    name: str
    description: str
    licensing: str
    evidence: tuple[EvidenceRow, ...]
    groups: tuple[CatalogueGroup, ...]
    references: tuple[int, ...]


def value_words(question: engine.QuestionSpec | None, value) -> str:
    """A rule's value as a clinician reads it: choice labels, not codes."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (tuple, list)):
        labels = [question.choice_label(v) if question else str(v) for v in value]
        return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " or " + labels[-1]
    if question is not None and question.choices:
        return question.choice_label(value)
    unit = question.unit_suffix if question is not None else ""
    return f"{value}{unit}"


def comparison_words(rulebook: engine.Rulebook, code: str, operator: str, value) -> str:
    """One comparison in words, e.g. "Systolic blood pressure: at least 180 mmHg"."""
    question = rulebook.question.get(code)
    text = question.text if question else code
    operator_label = Operator(operator).label if operator in Operator.values else operator
    return " ".join(part for part in (f"{text}:", operator_label, value_words(question, value)) if part)


class Catalogue:
    """The catalogue page's content for `rulebook`, worked out on first use
    (the page keeps its rendering in the cache by the rulebook's version,
    so a cached page never works it out)."""

    def __init__(self, rulebook: engine.Rulebook):
        self.rulebook = rulebook

    @property
    def conditions(self) -> list[CatalogueCondition]:
        return self._content[0]

    @property
    def references(self) -> list[ReferenceRow]:
        return self._content[1]

    @cached_property
    def _content(self):
        rulebook = self.rulebook
        numbering = _Numbering(rulebook)
        conditions = [self._condition(condition, numbering) for condition in rulebook.conditions]
        return conditions, numbering.rows()

    def _condition(self, condition: engine.ConditionSpec, numbering) -> CatalogueCondition:
        rulebook = self.rulebook
        groups = []
        for effect, heading in EFFECT_HEADINGS:
            rules = tuple(
                CatalogueRule(
                    key=c.key, message=c.message,
                    rule=comparison_words(rulebook, c.question, c.operator, c.value),
                    when=comparison_words(rulebook, c.when.question, c.when.operator, c.when.value) if c.when else "",
                    basis=c.basis or engine.UNSPECIFIED,
                    basis_label=basis_label(c.basis),
                    basis_description=basis_description(c.basis),
                    references=numbering(c.references),
                )
                for c in rulebook.criteria
                if c.effect == effect and c.applies_to(condition.slug)
            )
            if rules:
                groups.append(CatalogueGroup(heading=heading, rules=rules))
        return CatalogueCondition(
            slug=condition.slug, name=condition.name, description=condition.description,
            licensing=condition.licensing,
            evidence=tuple(
                EvidenceRow(grade=e.grade, applies_to=e.applies_to, note=e.note, references=numbering([e.source]))
                for e in condition.evidence
            ),
            groups=tuple(groups),
            references=numbering(condition.references),
        )
