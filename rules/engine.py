"""The screening rules engine: plain Python over plain data.

A `Rulebook` is an immutable snapshot of the knowledge base; `evaluate()`
reads a patient's answers against it and returns an `Advisory`, following
docs/architecture.md, "The rule semantics", exactly, after working out
calculated values ("Calculated values, instruments and the formulary": an
instrument's total from its items, the count of adequate failed
antidepressant trials from the trials given, each trial judged against the
formulary). `validate_answers()` checks answers the same way for the web
form and the `screen` command.

This module imports only the standard library (a test enforces it), so it is
fast, deterministic and usable anywhere.
"""

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import NamedTuple

from rules.vocabulary import (
    STATUS_ORDER,
    UNSPECIFIED,
    Basis,
    Calculation,
    DrugClass,
    Effect,
    Kind,
    Operator,
    Outcome,
    Status,
    TrialCount,
    TrialOutcome,
    basis_description,
    basis_label,
)

# The engine's short names for words of the vocabulary (rules/vocabulary.py
# defines each word once; these are the same members, not new words).
REQUIRE, EXCLUDE, CAUTION, ALERT, DUTY = (
    Effect.REQUIRE, Effect.EXCLUDE, Effect.CAUTION, Effect.ALERT, Effect.DUTY,
)
ELIGIBLE, NOT_MET, EXCLUDED, INCOMPLETE = Status.ELIGIBLE, Status.NOT_MET, Status.EXCLUDED, Status.INCOMPLETE
# The "caution" status is Status.CAUTION; this name is kept for existing
# callers only (the effect CAUTION and the status are different words).
CAUTION_STATUS = Status.CAUTION
HOLDS, FAILS, UNKNOWN, SKIPPED, NOT_APPLICABLE = (
    Outcome.HOLDS, Outcome.FAILS, Outcome.UNKNOWN, Outcome.SKIPPED, Outcome.NOT_APPLICABLE,
)
# What a criterion rests on: one of BASES, or "" (read as UNSPECIFIED).
BASES = Basis.values

BOOLEAN, INTEGER, DECIMAL, CHOICE, MULTI_CHOICE, TRIALS = (
    Kind.BOOLEAN, Kind.INTEGER, Kind.DECIMAL, Kind.CHOICE, Kind.MULTI_CHOICE, Kind.TRIALS,
)
NONE_CHOICE = "none"

# Calculations: how a calculated question's value is worked out from its inputs.
SUM = Calculation.SUM                                        # the sum of integer inputs
ADEQUATE_FAILED_TRIALS = Calculation.ADEQUATE_FAILED_TRIALS  # the trials that count, from trials inputs
CALCULATIONS = Calculation.values

# A trial's outcome; only the first two make a failed trial.
NO_RESPONSE, PARTIAL_RESPONSE, RESPONSE, STOPPED_SIDE_EFFECTS, STOPPED_OTHER = (
    TrialOutcome.NO_RESPONSE, TrialOutcome.PARTIAL_RESPONSE, TrialOutcome.RESPONSE,
    TrialOutcome.STOPPED_SIDE_EFFECTS, TrialOutcome.STOPPED_OTHER,
)
TRIAL_OUTCOMES = TrialOutcome.values
FAILED_OUTCOMES = (NO_RESPONSE, PARTIAL_RESPONSE)
TRIAL_FIELDS = ("drug", "daily_dose_mg", "weeks", "outcome")
# How the adequate failed trials are counted (the formulary's `count`):
# every trial that is an adequate failure, or each different drug once.
COUNT_TRIALS, COUNT_DISTINCT_DRUGS = TrialCount.TRIALS, TrialCount.DISTINCT_DRUGS
TRIAL_COUNTS = TrialCount.values
MOST_TRIALS = 50
LARGEST_TRIAL_NUMBER = 100_000
DEFAULT_MIN_TRIAL_WEEKS = 4


OPERATORS = {
    Operator.IS_TRUE: lambda answer, value: answer is True,
    Operator.IS_FALSE: lambda answer, value: answer is False,
    Operator.EQ: lambda answer, value: answer == value,
    Operator.NE: lambda answer, value: answer != value,
    Operator.LT: lambda answer, value: answer < value,
    Operator.LTE: lambda answer, value: answer <= value,
    Operator.GT: lambda answer, value: answer > value,
    Operator.GTE: lambda answer, value: answer >= value,
    Operator.IN: lambda answer, value: answer in value,
    Operator.NOT_IN: lambda answer, value: answer not in value,
    Operator.ANY_OF: lambda answer, value: any(item in answer for item in value),
    Operator.ALL_OF: lambda answer, value: all(item in answer for item in value),
    Operator.NONE_OF: lambda answer, value: not any(item in answer for item in value),
}


def _freeze(value):
    """JSON lists become tuples so that specs stay hashable and comparable."""
    if isinstance(value, list | tuple):
        return tuple(_freeze(item) for item in value)
    return value


# --- the rulebook ---------------------------------------------------------


@dataclass(frozen=True)
class Section:
    key: str
    title: str


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class EnableWhen:
    question: str
    operator: str
    value: object = None


@dataclass(frozen=True)
class QuestionSpec:
    code: str
    text: str
    kind: str
    section: str
    help_text: str = ""
    choices: tuple[Choice, ...] = ()
    min: int | float | None = None
    max: int | float | None = None
    unit: str = ""
    enable_when: EnableWhen | None = None
    calculation: str = ""             # a calculated question: SUM or ADEQUATE_FAILED_TRIALS
    inputs: tuple[str, ...] = ()      # the question codes it is worked out from
    # A trials question's completeness question: a yes/no question answered
    # yes once the list holds every trial ("" : a list is read as given).
    complete_when: str = ""

    @cached_property
    def choice_values(self) -> tuple[str, ...]:
        return tuple(choice.value for choice in self.choices)

    @property
    def unit_suffix(self) -> str:
        return f" {self.unit}" if self.unit else ""

    def choice_label(self, value):
        for choice in self.choices:
            if choice.value == value:
                return choice.label
        return str(value)


@dataclass(frozen=True)
class CriterionSpec:
    key: str
    question: str
    operator: str
    value: object
    effect: str
    message: str
    conditions: frozenset[str] = frozenset()  # empty: every condition
    references: tuple[str, ...] = ()
    # Where the criterion applies at all: the same grammar as a question's
    # enable-when (None: everywhere).
    when: EnableWhen | None = None
    basis: str = ""                           # one of BASES; "" reads as UNSPECIFIED

    def applies_to(self, condition):
        return not self.conditions or condition in self.conditions

    @cached_property
    def reasons(self) -> dict[str, "Reason"]:
        """Its part in a result, for each outcome it can have."""
        return {
            outcome: Reason(
                self.key, self.question, self.effect, outcome, self.message, self.references,
                self.basis or UNSPECIFIED,
            )
            for outcome in Outcome
        }


@dataclass(frozen=True)
class RetiredMapping:
    """One answer of a retired question and the answers it stands for."""

    answer: object
    to: tuple[tuple[str, object], ...]   # (question code, answer) pairs


@dataclass(frozen=True)
class RetiredQuestion:
    """A question an older edition asked and this one does not: an answer
    to it is read as the answers of its mapping (see `validate_answers`)."""

    code: str
    text: str
    maps: tuple[RetiredMapping, ...] = ()

    @cached_property
    def replaced_by(self) -> tuple[str, ...]:
        """The questions its mappings answer, in the order first named."""
        return tuple(dict.fromkeys(code for mapping in self.maps for code, _ in mapping.to))


@dataclass(frozen=True)
class EvidenceSpec:
    """How strong the evidence is for treating a condition (or one kind of
    it: `applies_to`, blank for the whole condition), as the guideline
    cited as `source` (a reference key) grades it."""

    grade: str
    source: str
    applies_to: str = ""
    note: str = ""


@dataclass(frozen=True)
class ConditionSpec:
    slug: str
    name: str
    description: str = ""
    guidance: str = ""
    references: tuple[str, ...] = ()
    # Whether, and for which route, the treatment is licensed for it.
    licensing: str = ""
    evidence: tuple[EvidenceSpec, ...] = ()


@dataclass(frozen=True)
class ReferenceSpec:
    key: str
    authors: str
    title: str
    source: str = ""
    doi: str = ""
    pmid: str = ""
    url: str = ""
    verified: bool = True
    note: str = ""


@dataclass(frozen=True)
class ScoreOption:
    score: int
    label: str


@dataclass(frozen=True)
class Band:
    min: int
    max: int
    label: str


@dataclass(frozen=True)
class InstrumentSpec:
    """A scored questionnaire asked item by item; its total is a calculated
    question (a SUM of `items`). `extra_items` are asked with it, not scored."""

    code: str
    name: str
    total: str
    items: tuple[str, ...]
    options: tuple[ScoreOption, ...]
    bands: tuple[Band, ...]
    references: tuple[str, ...] = ()
    licence: str = ""
    extra_items: tuple[str, ...] = ()

    def band(self, total) -> Band | None:
        """The severity band a total falls in, or None."""
        if total is None:
            return None
        return next((b for b in self.bands if b.min <= total <= b.max), None)


@dataclass(frozen=True)
class DrugSpec:
    """A drug of the formulary: what counts as an adequate daily dose."""

    key: str
    name: str
    drug_class: str
    min_daily_dose_mg: float | None    # None only for a drug that does not count
    references: tuple[str, ...] = ()
    counts_as_trial: bool = True


class TrialJudgement(NamedTuple):
    """One antidepressant trial as given, and whether it counts as an
    adequate failed trial; `reason` says why, or why not, in words."""

    drug: str
    daily_dose_mg: float
    weeks: float
    outcome: str
    counted: bool
    reason: str

    def to_dict(self):
        return {
            "drug": self.drug, "daily_dose_mg": self.daily_dose_mg, "weeks": self.weeks,
            "outcome": self.outcome, "counted": self.counted, "reason": self.reason,
        }


@dataclass(frozen=True)
class Rulebook:
    """An immutable snapshot of the knowledge base, in display order.

    Holds the active conditions and criteria, the questions in
    questionnaire order (section order, then question order) and every
    reference they cite.
    """

    sections: tuple[Section, ...]
    questions: tuple[QuestionSpec, ...]
    criteria: tuple[CriterionSpec, ...]
    conditions: tuple[ConditionSpec, ...]
    references: tuple[ReferenceSpec, ...]
    instruments: tuple[InstrumentSpec, ...] = ()
    formulary: tuple[DrugSpec, ...] = ()
    min_trial_weeks: int | float = DEFAULT_MIN_TRIAL_WEEKS
    trial_references: tuple[str, ...] = ()   # what defines an adequate trial
    trial_count: str = COUNT_TRIALS          # COUNT_TRIALS or COUNT_DISTINCT_DRUGS
    partial_response_counts: bool = True     # whether a partial response is a failed trial
    retired_questions: tuple[RetiredQuestion, ...] = ()

    # Lookups, computed once per rulebook.

    @cached_property
    def question(self) -> dict[str, QuestionSpec]:
        return {q.code: q for q in self.questions}

    @cached_property
    def condition(self) -> dict[str, ConditionSpec]:
        return {c.slug: c for c in self.conditions}

    @cached_property
    def reference(self) -> dict[str, ReferenceSpec]:
        return {r.key: r for r in self.references}

    @cached_property
    def instrument(self) -> dict[str, InstrumentSpec]:
        return {i.code: i for i in self.instruments}

    @cached_property
    def instrument_for_total(self) -> dict[str, InstrumentSpec]:
        """Instruments by the code of their total question."""
        return {i.total: i for i in self.instruments}

    @cached_property
    def drug(self) -> dict[str, DrugSpec]:
        return {d.key: d for d in self.formulary}

    @cached_property
    def calculated_questions(self) -> tuple[QuestionSpec, ...]:
        """The calculated questions, in questionnaire order."""
        return tuple(q for q in self.questions if q.calculation)

    @cached_property
    def _listed_inputs(self) -> dict[str, tuple[str, ...]]:
        """For each calculated question, its inputs that are lists with a
        completeness question (`complete_when`)."""
        return {
            q.code: tuple(code for code in q.inputs if code in self.question and self.question[code].complete_when)
            for q in self.calculated_questions
        }

    @cached_property
    def _changed_by_calculation(self) -> frozenset[str]:
        """The questions a calculation can read otherwise than the answers as
        given: the calculated questions (their values are worked out), their
        inputs, extra items and completeness questions (not collected when a
        total is entered instead), and every question below one of those in
        an enable-when chain."""
        codes = set()
        for question in self.calculated_questions:
            instrument = self.instrument_for_total.get(question.code)
            codes |= {question.code, *question.inputs, *(instrument.extra_items if instrument else ())}
            codes |= {self.question[code].complete_when for code in self._listed_inputs[question.code]}
        for question in self._gated_questions:  # each after its parent
            if question.enable_when.question in codes:
                codes.add(question.code)
        return frozenset(codes)

    def _asking(self, conditions: Sequence[str]) -> "_Asking":
        """Which questions of `questions_for(conditions)` enable-when or the
        `when` rules of the criteria they serve may leave out, and whether
        those rules read a calculated value. Cached per set of conditions."""
        chosen = frozenset(slug for slug in conditions if slug in self.condition)
        cache = self._asking_cache
        if chosen not in cache:
            asked_when = self._asked_when(chosen)
            rules = tuple(dict.fromkeys(rule for rules in asked_when.values() if rules is not None for rule in rules))
            cache[chosen] = _Asking(
                rules=rules,
                may_be_left_out=tuple(
                    (q, None if asked_when.get(q.code) is None else tuple(map(rules.index, asked_when[q.code])))
                    for q in self.questions_for(chosen)
                    if q.enable_when is not None or asked_when.get(q.code) is not None
                ),
                when_reads_calculation=any(rule.question in self._changed_by_calculation for rule in rules),
            )
        return cache[chosen]

    @cached_property
    def _asking_cache(self) -> dict:
        return {}

    @cached_property
    def trials_questions(self) -> tuple[QuestionSpec, ...]:
        """The questions that take a list of trials, in questionnaire order."""
        return tuple(q for q in self.questions if q.kind == TRIALS)

    @cached_property
    def _gated_questions(self) -> tuple[QuestionSpec, ...]:
        """The questions with an enable-when, each after the questions up its
        chain (so a parent's state is known before its children's)."""
        def depth(question):
            rule = question.enable_when
            return 0 if rule is None else 1 + depth(self.question[rule.question])

        return tuple(sorted((q for q in self.questions if q.enable_when is not None), key=depth))

    @cached_property
    def _cleaners(self) -> dict:
        """Each question's cleaner (the one `clean_answer` picks by its kind), by code."""
        return {q.code: _CLEANERS.get(q.kind, _clean_unknown_kind) for q in self.questions}

    @cached_property
    def _drug_keys(self) -> dict[str, str]:
        """Formulary keys by their drug's key or name in lower case (the
        first drug of the formulary that has it)."""
        keys = {}
        for drug in self.formulary:
            keys.setdefault(drug.key.lower(), drug.key)
            keys.setdefault(drug.name.lower(), drug.key)
        return keys

    @cached_property
    def _calculated_for_input(self) -> dict[str, QuestionSpec]:
        """For each input (or instrument extra item), the calculated question it belongs to."""
        found = {}
        for question in self.calculated_questions:
            instrument = self.instrument_for_total.get(question.code)
            for code in (*question.inputs, *(instrument.extra_items if instrument else ())):
                found.setdefault(code, question)
        return found

    @cached_property
    def _criteria_by_condition(self) -> dict[str, tuple[CriterionSpec, ...]]:
        return {
            c.slug: tuple(k for k in self.criteria if k.applies_to(c.slug)) for c in self.conditions
        }

    @cached_property
    def _retired(self) -> dict[str, RetiredQuestion]:
        """The retired questions by code, but for a code this edition asks again."""
        return {r.code: r for r in self.retired_questions if r.code not in self.question}

    @cached_property
    def _criterion_keys_by_condition(self) -> dict[str, frozenset[str]]:
        return {slug: frozenset(c.key for c in criteria) for slug, criteria in self._criteria_by_condition.items()}

    @cached_property
    def _criteria_by_condition_and_effect(self) -> dict[tuple[str, str], tuple[CriterionSpec, ...]]:
        by_effect = {}
        for slug, criteria in self._criteria_by_condition.items():
            for criterion in criteria:
                key = (slug, criterion.effect)
                by_effect[key] = (*by_effect.get(key, ()), criterion)
        return by_effect

    @cached_property
    def _question_codes_by_condition(self) -> dict[str, frozenset[str]]:
        """The codes of the questions each condition's criteria read (their
        own and their `when` questions), with the enable-when parents those
        depend on, a calculated question's inputs and an instrument's extra
        items whenever its total is asked."""
        codes_by_condition = {}
        for condition in self.conditions:
            codes = set()
            waiting = [criterion.question for criterion in self.criteria_for(condition.slug)]
            waiting += [c.when.question for c in self.criteria_for(condition.slug) if c.when is not None]
            while waiting:
                code = waiting.pop()
                if code in codes or code not in self.question:
                    continue
                codes.add(code)
                question = self.question[code]
                if question.enable_when is not None:
                    waiting.append(question.enable_when.question)
                waiting.extend(question.inputs)
                if question.calculation and code in self.instrument_for_total:
                    waiting.extend(self.instrument_for_total[code].extra_items)
                if question.complete_when:
                    waiting.append(question.complete_when)
            codes_by_condition[condition.slug] = frozenset(codes)
        return codes_by_condition

    def criteria_for(self, condition: str) -> tuple[CriterionSpec, ...]:
        """The criteria that apply to this condition, in rulebook order."""
        return self._criteria_by_condition.get(condition, ())

    def _criteria_for(self, condition: str, effect: str) -> tuple[CriterionSpec, ...]:
        """The criteria of this effect that apply to this condition, in rulebook order."""
        return self._criteria_by_condition_and_effect.get((condition, effect), ())

    def questions_for(self, conditions: Sequence[str]) -> tuple[QuestionSpec, ...]:
        """The questionnaire for these conditions: the questions their criteria
        read (and the questions of their `when`), plus the enable-when parents
        those depend on, the inputs of calculated questions and the extra
        items of instruments whose total is asked, in display order. Which of
        them are asked for given answers is `enabled_questions`. Cached per
        set of conditions."""
        chosen = frozenset(slug for slug in conditions if slug in self.condition)
        cache = self._questions_for_cache
        if chosen not in cache:
            codes = set()
            for condition in chosen:
                codes |= self._question_codes_by_condition[condition]
            cache[chosen] = tuple(q for q in self.questions if q.code in codes)
        return cache[chosen]

    @cached_property
    def _questions_for_cache(self) -> dict:
        return {}

    def asked_when(self, conditions: Sequence[str]) -> dict[str, tuple[EnableWhen, ...] | None]:
        """For each question of `questions_for(conditions)`, when it can
        matter: None when always (it is a `when` question, or some criterion
        without a `when` reads it, or it serves such a question), else the
        `when` rules of the criteria it serves, any one of which must hold
        or be unknown (docs/architecture.md, "Questions asked only when they
        can matter"). Derived from the criteria; cached per set of conditions."""
        return self._asked_when(frozenset(slug for slug in conditions if slug in self.condition))

    @cached_property
    def _asked_when_cache(self) -> dict:
        return {}

    def _asked_when(self, chosen: frozenset) -> dict:
        cache = self._asked_when_cache
        if chosen in cache:
            return cache[chosen]
        criteria = [c for c in self.criteria if any(c.applies_to(slug) for slug in chosen)]
        needs = {}  # code -> set of rules, or None for always

        def add(code, rules):
            if code not in self.question:
                return False
            current = needs.get(code, set())
            if current is None:
                return False
            merged = None if rules is None else current | rules
            if code in needs and merged == current:
                return False
            needs[code] = merged
            return True

        for criterion in criteria:
            add(criterion.question, None if criterion.when is None else {criterion.when})
            if criterion.when is not None:
                add(criterion.when.question, None)
        # A question's enable-when parent, and a calculated question's inputs
        # and extra items, matter whenever it does: spread until nothing changes.
        changed = True
        while changed:
            changed = False
            for code, rules in list(needs.items()):
                question = self.question[code]
                served = []
                if question.enable_when is not None:
                    served.append(question.enable_when.question)
                served.extend(question.inputs)
                if question.calculation and code in self.instrument_for_total:
                    served.extend(self.instrument_for_total[code].extra_items)
                if question.complete_when:
                    served.append(question.complete_when)
                for other in served:
                    changed |= add(other, None if rules is None else set(rules))
        found = {
            code: None if rules is None else tuple(sorted(rules, key=repr))
            for code, rules in needs.items()
        }
        cache[chosen] = found
        return found

    # Snapshots.

    def to_dict(self) -> dict:
        return {
            "sections": [{"key": s.key, "title": s.title} for s in self.sections],
            "questions": [_question_to_dict(q) for q in self.questions],
            "criteria": [_criterion_to_dict(c) for c in self.criteria],
            "conditions": [_condition_to_dict(c) for c in self.conditions],
            "references": [
                {
                    "key": r.key, "authors": r.authors, "title": r.title, "source": r.source,
                    "doi": r.doi, "pmid": r.pmid, "url": r.url, "verified": r.verified,
                    "note": r.note,
                }
                for r in self.references
            ],
            **self._trial_and_instrument_dict(),
        }

    def _trial_and_instrument_dict(self) -> dict:
        """The parts a first-edition rulebook does not have, written only when
        set, so that a first-edition snapshot keeps its JSON and version."""
        data = {}
        if self.instruments:
            data["instruments"] = [
                {
                    "code": i.code, "name": i.name, "total": i.total, "items": list(i.items),
                    "extra_items": list(i.extra_items),
                    "options": [{"score": o.score, "label": o.label} for o in i.options],
                    "bands": [{"min": b.min, "max": b.max, "label": b.label} for b in i.bands],
                    "references": list(i.references), "licence": i.licence,
                }
                for i in self.instruments
            ]
        if self.formulary:
            data["formulary"] = [
                {
                    "key": d.key, "name": d.name, "drug_class": d.drug_class,
                    "min_daily_dose_mg": d.min_daily_dose_mg, "counts_as_trial": d.counts_as_trial,
                    "references": list(d.references),
                }
                for d in self.formulary
            ]
        if self.formulary or self.min_trial_weeks != DEFAULT_MIN_TRIAL_WEEKS:
            data["min_trial_weeks"] = self.min_trial_weeks
        if self.trial_references:
            data["trial_references"] = list(self.trial_references)
        # The third edition's settings, written only when they differ from
        # the behaviour of a file without them, so older versions keep theirs.
        if self.trial_count != COUNT_TRIALS:
            data["trial_count"] = self.trial_count
        if not self.partial_response_counts:
            data["partial_response_counts"] = False
        if self.retired_questions:
            data["retired_questions"] = [
                {
                    "code": r.code, "text": r.text,
                    "maps": [
                        # "to" as a list, not an object: canonical JSON sorts keys,
                        # and the order the file gives is the order errors name them.
                        {"answer": _thaw(m.answer), "to": [[code, _thaw(value)] for code, value in m.to]}
                        for m in r.maps
                    ],
                }
                for r in self.retired_questions
            ]
        return data

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no whitespace, lists in display order."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @cached_property
    def version(self) -> str:
        """The first 12 hex digits of the SHA-256 of the canonical JSON."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:12]

    @classmethod
    def from_json(cls, text: str) -> "Rulebook":
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data: Mapping) -> "Rulebook":
        return cls(
            sections=tuple(Section(**s) for s in data["sections"]),
            questions=tuple(_question_from_dict(q) for q in data["questions"]),
            criteria=tuple(_criterion_from_dict(c) for c in data["criteria"]),
            conditions=tuple(_condition_from_dict(c) for c in data["conditions"]),
            references=tuple(ReferenceSpec(**r) for r in data["references"]),
            instruments=tuple(
                InstrumentSpec(
                    code=i["code"], name=i["name"], total=i["total"], items=tuple(i["items"]),
                    extra_items=tuple(i.get("extra_items", ())),
                    options=tuple(ScoreOption(**o) for o in i.get("options", ())),
                    bands=tuple(Band(**b) for b in i.get("bands", ())),
                    references=tuple(i.get("references", ())), licence=i.get("licence", ""),
                )
                for i in data.get("instruments", ())
            ),
            formulary=tuple(
                DrugSpec(**{**d, "references": tuple(d.get("references", ()))})
                for d in data.get("formulary", ())
            ),
            min_trial_weeks=data.get("min_trial_weeks", DEFAULT_MIN_TRIAL_WEEKS),
            trial_references=tuple(data.get("trial_references", ())),
            trial_count=data.get("trial_count", COUNT_TRIALS),
            partial_response_counts=data.get("partial_response_counts", True),
            retired_questions=tuple(
                RetiredQuestion(
                    code=r["code"], text=r.get("text", ""),
                    maps=tuple(
                        RetiredMapping(
                            answer=_freeze(m["answer"]),
                            to=tuple((code, _freeze(value)) for code, value in m["to"]),
                        )
                        for m in r.get("maps", ())
                    ),
                )
                for r in data.get("retired_questions", ())
            ),
        )


def _thaw(value):
    if isinstance(value, tuple):
        return [_thaw(item) for item in value]
    return value


def _rule_to_dict(rule: EnableWhen) -> dict:
    return {"question": rule.question, "operator": rule.operator, "value": _thaw(rule.value)}


def _rule_from_dict(data: Mapping) -> EnableWhen:
    return EnableWhen(question=data["question"], operator=data["operator"], value=_freeze(data.get("value")))


def _criterion_to_dict(c: CriterionSpec) -> dict:
    """A criterion as snapshot JSON. `when` and `basis` are written only
    when set, so an older rulebook keeps its version."""
    data = {
        "key": c.key, "question": c.question, "operator": c.operator,
        "value": _thaw(c.value), "effect": c.effect, "message": c.message,
        "conditions": sorted(c.conditions), "references": list(c.references),
    }
    if c.when is not None:
        data["when"] = _rule_to_dict(c.when)
    if c.basis:
        data["basis"] = c.basis
    return data


def _criterion_from_dict(data: Mapping) -> CriterionSpec:
    when = data.get("when")
    return CriterionSpec(
        key=data["key"], question=data["question"], operator=data["operator"],
        value=_freeze(data["value"]), effect=data["effect"], message=data["message"],
        conditions=frozenset(data["conditions"]), references=tuple(data["references"]),
        when=None if not when else _rule_from_dict(when), basis=data.get("basis", ""),
    )


def _condition_to_dict(c: ConditionSpec) -> dict:
    """A condition as snapshot JSON. `licensing` and `evidence` are written
    only when set, so a first-edition rulebook keeps its version."""
    data = {
        "slug": c.slug, "name": c.name, "description": c.description,
        "guidance": c.guidance, "references": list(c.references),
    }
    if c.licensing:
        data["licensing"] = c.licensing
    if c.evidence:
        data["evidence"] = [
            {"grade": e.grade, "applies_to": e.applies_to, "source": e.source, "note": e.note}
            for e in c.evidence
        ]
    return data


def _condition_from_dict(data: Mapping) -> ConditionSpec:
    return ConditionSpec(
        slug=data["slug"], name=data["name"], description=data.get("description", ""),
        guidance=data.get("guidance", ""), references=tuple(data.get("references", ())),
        licensing=data.get("licensing", ""),
        evidence=tuple(EvidenceSpec(**e) for e in data.get("evidence", ())),
    )


def _question_to_dict(q: QuestionSpec) -> dict:
    data = {
        "code": q.code, "text": q.text, "kind": q.kind, "section": q.section,
        "help_text": q.help_text, "min": q.min, "max": q.max, "unit": q.unit,
        "choices": [{"value": c.value, "label": c.label} for c in q.choices],
        "enable_when": None if q.enable_when is None else {
            "question": q.enable_when.question, "operator": q.enable_when.operator,
            "value": _thaw(q.enable_when.value),
        },
    }
    if q.calculation:  # written only when set: a first-edition question keeps its JSON
        data["calculation"] = q.calculation
        data["inputs"] = list(q.inputs)
    if q.complete_when:  # written only when set: an older rulebook keeps its version
        data["complete_when"] = q.complete_when
    return data


def _question_from_dict(data: Mapping) -> QuestionSpec:
    enable_when = data.get("enable_when")
    return QuestionSpec(
        code=data["code"], text=data["text"], kind=data["kind"], section=data["section"],
        help_text=data.get("help_text", ""), min=data.get("min"), max=data.get("max"),
        unit=data.get("unit", ""),
        choices=tuple(Choice(**c) for c in data.get("choices", ())),
        enable_when=None if not enable_when else EnableWhen(
            question=enable_when["question"], operator=enable_when["operator"],
            value=_freeze(enable_when.get("value")),
        ),
        calculation=data.get("calculation", ""), inputs=tuple(data.get("inputs", ())),
        complete_when=data.get("complete_when", ""),
    )


# --- the advisory ---------------------------------------------------------


class _Asking(NamedTuple):
    """What decides which questions are asked for a set of conditions."""

    # The `when` rules that decide whether a question is asked (`asked_when`),
    # each once.
    rules: tuple[EnableWhen, ...]
    # The questions enable-when or those rules may leave out, each with the
    # positions in `rules` of the rules it is asked under (None: any answer,
    # only its enable-when may leave it out); every other question of the
    # questionnaire is always asked.
    may_be_left_out: tuple[tuple[QuestionSpec, tuple[int, ...] | None], ...]
    # Whether one of the rules reads a question a calculation changes
    # (`Rulebook._changed_by_calculation`); if none does, they read the
    # same from the answers as given.
    when_reads_calculation: bool


class Reason(NamedTuple):
    """One criterion's part in a result; `basis` says what it rests on
    (one of BASES, or UNSPECIFIED)."""

    criterion: str
    question: str
    effect: str
    outcome: str
    message: str
    references: tuple[str, ...]
    basis: str = UNSPECIFIED

    def to_dict(self):
        return {
            "criterion": self.criterion, "question": self.question, "effect": self.effect,
            "outcome": self.outcome, "message": self.message,
            "references": list(self.references), "basis": self.basis,
        }

    @property
    def basis_label(self) -> str:
        return basis_label(self.basis)

    @property
    def basis_description(self) -> str:
        return basis_description(self.basis)


class ConditionResult(NamedTuple):
    condition: str
    status: str
    reasons: tuple[Reason, ...]     # the criteria that decided the status
    cautions: tuple[Reason, ...]    # every caution that holds, whatever the status
    missing: tuple[str, ...]        # question codes to answer before a conclusion is safe
    references: tuple[str, ...]     # the condition's own references

    def to_dict(self):
        return {
            "condition": self.condition, "status": self.status,
            "reasons": [r.to_dict() for r in self.reasons],
            "cautions": [r.to_dict() for r in self.cautions],
            "missing": list(self.missing), "references": list(self.references),
        }


class Advisory(NamedTuple):
    results: tuple[ConditionResult, ...]
    alerts: tuple[Reason, ...] = ()
    duties: tuple[Reason, ...] = ()  # what to do at the treatment session
    calculated: dict = {}                      # code -> value worked out from its inputs
    entered: tuple[str, ...] = ()              # calculated questions whose total was typed
    trials: tuple[TrialJudgement, ...] = ()    # each antidepressant trial, judged

    def to_dict(self):
        return {
            "alerts": [a.to_dict() for a in self.alerts],
            "duties": [d.to_dict() for d in self.duties],
            "calculated": dict(self.calculated),
            "entered": list(self.entered),
            "trials": [t.to_dict() for t in self.trials],
            "results": [r.to_dict() for r in self.results],
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> "Advisory":
        """An advisory as stored; one stored before calculated values has none."""
        def reason(r):
            # A reason stored before bases existed reads as unspecified.
            return Reason(**{**r, "references": tuple(r["references"])})

        return cls(
            alerts=tuple(reason(a) for a in data["alerts"]),
            # A result stored before duties existed has none.
            duties=tuple(reason(d) for d in data.get("duties", ())),
            calculated=dict(data.get("calculated", {})),
            entered=tuple(data.get("entered", ())),
            trials=tuple(TrialJudgement(**t) for t in data.get("trials", ())),
            results=tuple(
                ConditionResult(
                    condition=r["condition"], status=r["status"],
                    reasons=tuple(reason(x) for x in r["reasons"]),
                    cautions=tuple(reason(x) for x in r["cautions"]),
                    missing=tuple(r["missing"]), references=tuple(r["references"]),
                )
                for r in data["results"]
            ),
        )

    def worst_status(self):
        if not self.results:
            return None
        return max((r.status for r in self.results), key=STATUS_ORDER.index)


# --- calculated values ----------------------------------------------------


class Calculation(NamedTuple):
    """The answers with every calculated question's value worked out
    (docs/architecture.md, "Calculated values")."""

    values: dict                          # the answers, each calculated question's value in place
    calculated: dict                      # code -> value worked out from its inputs
    entered: tuple[str, ...]              # calculated questions whose typed value stands
    waiting: dict                         # code -> its unanswered inputs, when some are answered
    not_collected: frozenset              # inputs and extra items of an entered total
    trials: tuple[TrialJudgement, ...]    # every trial of every trials answer, judged
    # code -> the completeness questions not yet answered yes, for each count
    # worked out from a list that may still be short (docs/architecture.md,
    # "Unanswered, none, and a list still open").
    open_counts: Mapping = MappingProxyType({})
    # code -> whether enable-when asks the question, read from `values`
    # (`enable_states`).
    enabled: Mapping = MappingProxyType({})


def calculate(rulebook: Rulebook, answers: Mapping[str, object]) -> Calculation:
    """Each calculated question's value, in questionnaire order:

    - some input answered: the calculation when every input is answered,
      else unknown (absent from `values`; `waiting` names the rest);
    - no input answered: the typed answer to the calculated question, if
      any (listed in `entered`; its inputs were not collected).
    """
    values = dict(answers)
    calculated, entered, waiting, not_collected, open_counts = {}, [], {}, set(), {}
    trials = {
        q.code: judge_trials(rulebook, answers[q.code])
        for q in rulebook.trials_questions if _answered(answers.get(q.code))
    }
    for question in rulebook.calculated_questions:
        given = {code for code in question.inputs if _answered(answers.get(code))}
        if answers.get(question.code) is None:
            # A list left empty and declared complete is an explicit "none".
            given |= {
                code for code in rulebook._listed_inputs[question.code]
                if code not in given and _list_closed(rulebook, code, answers) is True
            }
        if given:
            if unanswered := tuple([code for code in question.inputs if code not in given]):
                values.pop(question.code, None)
                waiting[question.code] = unanswered
                continue
            value = _worked_out(question, answers, trials, rulebook)
            if value is None:
                values.pop(question.code, None)
            else:
                values[question.code] = calculated[question.code] = value
                still_open = tuple(
                    rulebook.question[code].complete_when for code in rulebook._listed_inputs[question.code]
                    if _list_closed(rulebook, code, answers) is False
                )
                if still_open:
                    open_counts[question.code] = still_open
        elif answers.get(question.code) is not None:
            entered.append(question.code)
            instrument = rulebook.instrument_for_total.get(question.code)
            not_collected |= {*question.inputs, *(instrument.extra_items if instrument else ())}
            not_collected |= {
                rulebook.question[code].complete_when for code in question.inputs
                if code in rulebook.question and rulebook.question[code].complete_when
            }
    return Calculation(
        values=values, calculated=calculated, entered=tuple(entered), waiting=waiting,
        not_collected=frozenset(not_collected),
        trials=tuple(judgement for judged in trials.values() for judgement in judged),
        open_counts=MappingProxyType(open_counts),
        enabled=enable_states(rulebook, values),
    )


def _list_closed(rulebook: Rulebook, code: str, answers: Mapping[str, object]):
    """For a list question with a completeness question (`complete_when`):
    True once that question is answered yes, else False (the list may still
    be short). None for any other question: its answer is read as given."""
    question = rulebook.question.get(code)
    if question is None or not question.complete_when:
        return None
    return answers.get(question.complete_when) is True


def _read_open_count(operator: str, holds: bool):
    """A rule on a count from a list that may still be short: the count is
    only a floor, so a rule is decided only where more rows could not change
    it. "At least" / "more than" that holds stays held; "fewer than" / "at
    most" that fails stays failed; anything else is unknown (None)."""
    if operator in ("gt", "gte"):
        return True if holds else None
    if operator in ("lt", "lte"):
        return None if holds else False
    return None


def _answered(value) -> bool:
    """An empty list of trials is no trials given: unanswered."""
    return value is not None and value != [] and value != ()


def _worked_out(question: QuestionSpec, answers: Mapping[str, object], trials: Mapping[str, tuple],
                rulebook: "Rulebook | None" = None):
    if question.calculation == SUM:
        items = [answers[code] for code in question.inputs]
        if not all(map(_is_number, items)):
            return None  # validation keeps such answers out; this keeps evaluate() total
        return sum(items)
    if question.calculation == ADEQUATE_FAILED_TRIALS:
        counted = [judgement for code in question.inputs for judgement in trials.get(code, ()) if judgement.counted]
        if rulebook is not None and rulebook.trial_count == COUNT_DISTINCT_DRUGS:
            # Each drug once, even across several trials questions.
            return len({judgement.drug for judgement in counted})
        return len(counted)
    return None


def _is_number(value) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


# Why a trial that ended otherwise is not a failed trial, inside a sentence.
OUTCOME_REASONS = {
    RESPONSE: "responded",
    STOPPED_SIDE_EFFECTS: "stopped for side effects",
    STOPPED_OTHER: "stopped for another reason",
}


def judge_trials(rulebook: Rulebook, trials: Sequence) -> tuple[TrialJudgement, ...]:
    """Every trial of one trials answer, judged in the order given. Under
    the formulary's `count: distinct_drugs` a drug counts once: a later
    adequate failed trial of a drug already counted is not counted again,
    and its reason says so."""
    judged = [judge_trial(rulebook, trial) for trial in trials]
    if rulebook.trial_count != COUNT_DISTINCT_DRUGS:
        return tuple(judged)
    first_counted = {}
    for number, judgement in enumerate(judged, start=1):
        if not judgement.counted:
            continue
        if judgement.drug in first_counted:
            drug = rulebook.drug[judgement.drug]
            judged[number - 1] = judgement._replace(
                counted=False,
                reason=(
                    f"{_lower(drug.name)} already counted (trial {first_counted[judgement.drug]}): "
                    "each different antidepressant counts once"
                ),
            )
        else:
            first_counted[judgement.drug] = number
    return tuple(judged)


def judge_trial(rulebook: Rulebook, trial: Mapping) -> TrialJudgement:
    """Whether one trial counts as an adequate failed antidepressant trial:
    an antidepressant of the formulary (or a drug it counts), at least its
    minimum adequate daily dose, for at least the rulebook's minimum weeks,
    with no response, or only a partial one where the formulary counts a
    partial response as a failure. The reason says why, or every reason why
    not, in a clinician's words. Judged alone: a drug already counted is
    `judge_trials`'s concern."""
    get = trial.get if isinstance(trial, Mapping) else (lambda name: None)
    key, dose, weeks, outcome = (get(name) for name in TRIAL_FIELDS)
    drug = rulebook.drug.get(key)
    reasons = []
    if drug is None:
        reasons.append(f"{_short(key)} is not in the formulary")
    elif not drug.counts_as_trial:
        reasons.append(
            f"{_lower(drug.name)} is an augmenting agent, not counted as a trial of its own"
            if drug.drug_class == AUGMENTATION else f"{_lower(drug.name)} is not an antidepressant"
        )
    elif drug.min_daily_dose_mg is None:
        reasons.append(f"no minimum adequate dose is recorded for {_lower(drug.name)}")
    else:
        if not _is_number(dose) or dose < drug.min_daily_dose_mg:
            reasons.append(f"below the {_number_text(drug.min_daily_dose_mg)} mg minimum for {_lower(drug.name)}")
        minimum = rulebook.min_trial_weeks
        if not _is_number(weeks):
            reasons.append(f"weeks not given; at least {_number_text(minimum)} are needed")
        elif weeks < minimum:
            unit = "week" if weeks == 1 else "weeks"
            reasons.append(f"{_number_text(weeks)} {unit}, fewer than {_number_text(minimum)}")
        if outcome == PARTIAL_RESPONSE and not rulebook.partial_response_counts:
            reasons.append("a partial response, which this formulary does not count as a failed trial")
        elif outcome not in FAILED_OUTCOMES:
            reasons.append(OUTCOME_REASONS.get(outcome, "no outcome given"))
    if reasons:
        return TrialJudgement(key, dose, weeks, outcome, False, "; ".join(reasons))
    response = "no response" if outcome == NO_RESPONSE else "only a partial response"
    reason = (
        f"counted: at least {_number_text(drug.min_daily_dose_mg)} mg a day for at least "
        f"{_number_text(rulebook.min_trial_weeks)} weeks, with {response}"
    )
    return TrialJudgement(key, dose, weeks, outcome, True, reason)


AUGMENTATION = DrugClass.AUGMENTATION


def _lower(name: str) -> str:
    """A drug's name inside a sentence: "Sertraline" -> "sertraline"; an
    abbreviation such as "MAOI" stays as it is."""
    return name[:1].lower() + name[1:] if name[1:2].islower() else name


def _number_text(number) -> str:
    """50.0 -> "50", 37.5 -> "37.5"."""
    if isinstance(number, float) and number.is_integer():
        return str(int(number))
    return str(number)


# --- evaluation -----------------------------------------------------------


def evaluate(rulebook: Rulebook, conditions: Sequence[str], answers: Mapping[str, object]) -> Advisory:
    """One result per condition, in the order given, plus the screening's
    alerts, duties, calculated values and judged trials.

    `answers` maps question codes to validated answers (see
    `validate_answers`); a missing code is an unanswered question. Answers
    to questions that enable-when disables are ignored. Calculated values
    are worked out first (`calculate`), and criteria read them like any
    answer. Never raises on a missing or disabled answer: that is what
    `incomplete` and `skipped` are for. Conditions not in the rulebook are
    skipped (validation reports them).
    """
    worked = calculate(rulebook, answers)
    # An outcome for every criterion, once for the whole screening,
    # whichever conditions it applies to.
    decisive = _Decisive.found(rulebook, worked)
    # Each condition's status, by precedence.
    results = tuple([
        _condition_result(rulebook, rulebook.condition[slug], decisive, worked)
        for slug in conditions
        if slug in rulebook.condition
    ])
    # The alerts and the duties that hold, once each for the whole screening.
    screened = frozenset(slug for slug in conditions if slug in rulebook.condition)
    alerts, duties = (
        tuple([c.reasons[HOLDS] for c in holding if _applies_to_screening(c, conditions, screened)])
        for holding in (decisive.alerts, decisive.duties)
    )
    return Advisory(
        results, alerts, duties,
        calculated=worked.calculated, entered=worked.entered, trials=worked.trials,
    )


def _criterion_outcome(rulebook: Rulebook, criterion: CriterionSpec, worked: Calculation) -> str:
    """HOLDS, FAILS, UNKNOWN, SKIPPED or NOT_APPLICABLE, as
    docs/architecture.md defines them.

    The criterion's `when` is read first: not applicable when it is
    answered and does not hold (or its question is disabled or not
    collected); unknown when it cannot be read yet. Then, where it holds
    (or there is none):
    Skipped: enable-when disables the criterion's question, or it is an
    item of a total that was entered instead (the item was not collected).
    Unknown: the question is unanswered (a calculated one: an input is
    unanswered), or its enable-when depends on an unanswered question.
    """
    if criterion.when is not None:
        applies = _rule_state(rulebook, criterion.when, worked)
        if applies is False:
            return NOT_APPLICABLE
        if applies is None:
            return UNKNOWN
    question = criterion.question
    enabled = worked.enabled[question]
    if enabled is False or question in worked.not_collected:
        return SKIPPED
    answer = worked.values.get(question)
    if enabled is None or answer is None:
        return UNKNOWN
    holds = _holds(criterion.operator, answer, criterion.value)
    if question in worked.open_counts:
        read = _read_open_count(criterion.operator, holds)
        return UNKNOWN if read is None else HOLDS if read else FAILS
    return HOLDS if holds else FAILS


def _rule_state(rulebook: Rulebook, rule: EnableWhen, worked: Calculation):
    """Whether a criterion's `when` (or any rule of its grammar) holds: True,
    False, or None when its question is unanswered or waits on one. A
    disabled (or not collected) question does not hold, as a disabled
    enable-when parent disables its children."""
    answers = worked.values
    enabled = worked.enabled[rule.question]
    if enabled is False or rule.question in worked.not_collected:
        return False
    answer = answers.get(rule.question)
    if enabled is None or answer is None:
        return None
    holds = _holds(rule.operator, answer, rule.value)
    if rule.question in worked.open_counts:
        return _read_open_count(rule.operator, holds)
    return holds


def _waiting_on(rulebook: Rulebook, criterion: CriterionSpec, worked: Calculation) -> str:
    """The question an unknown criterion waits on: its `when` question while
    that cannot be read, else its own question."""
    if criterion.when is not None and _rule_state(rulebook, criterion.when, worked) is None:
        if criterion.when.question in worked.open_counts:
            return worked.open_counts[criterion.when.question][0]
        return criterion.when.question
    if criterion.question in worked.open_counts:
        return worked.open_counts[criterion.question][0]
    return criterion.question


class _Decisive(NamedTuple):
    """What can decide a status, an alert or a duty, found once for the
    whole screening, each list in rulebook order."""

    excludes: list   # reasons: the excludes that hold
    unmet: list      # reasons: the requires that fail or are skipped
    cautions: list   # reasons: the cautions that hold
    met: list        # reasons: the requires that hold
    unknown: list    # the criteria, of any effect, that are unknown
    alerts: list     # the alerts that hold
    duties: list     # the duties that hold

    @classmethod
    def found(cls, rulebook: Rulebook, worked: Calculation) -> "_Decisive":
        """Each criterion's outcome (`_criterion_outcome`), sorted into what it can decide."""
        found = cls(excludes=[], unmet=[], cautions=[], met=[], unknown=[], alerts=[], duties=[])
        reasons_holding = {EXCLUDE: found.excludes, CAUTION: found.cautions, REQUIRE: found.met}
        criteria_holding = {ALERT: found.alerts, DUTY: found.duties}
        for criterion in rulebook.criteria:
            outcome = _criterion_outcome(rulebook, criterion, worked)
            effect = criterion.effect
            if outcome == HOLDS and effect in reasons_holding:
                reasons_holding[effect].append(criterion.reasons[HOLDS])
            elif outcome == HOLDS and effect in criteria_holding:
                criteria_holding[effect].append(criterion)
            elif outcome == UNKNOWN:
                found.unknown.append(criterion)
            elif outcome in (FAILS, SKIPPED) and effect == REQUIRE:
                found.unmet.append(criterion.reasons[outcome])
        return found


def _condition_result(
    rulebook: Rulebook, condition: ConditionSpec, decisive: _Decisive, worked: Calculation,
) -> ConditionResult:
    """One condition's status from its criteria's outcomes (`decisive`), by
    precedence: excluded, not_met, incomplete, caution, eligible."""
    applying = rulebook._criterion_keys_by_condition[condition.slug]

    def reasons(found):
        """Those of the `found` reasons whose criteria apply to this condition."""
        return tuple([reason for reason in found if reason.criterion in applying])

    cautions = reasons(decisive.cautions)
    missing = ()
    # 1. an exclude that holds
    if excludes := reasons(decisive.excludes):
        status, deciding = EXCLUDED, excludes
    # 2. a require that does not hold (a skipped one does not hold either;
    # one that does not apply, by its `when`, is neither met nor unmet)
    elif unmet := reasons(decisive.unmet):
        status, deciding = NOT_MET, unmet
    # 3. any criterion, of any effect, that is unknown
    elif unknown_criteria := [c for c in decisive.unknown if c.key in applying]:
        status, deciding = INCOMPLETE, tuple([c.reasons[UNKNOWN] for c in unknown_criteria])
        asked = rulebook._question_codes_by_condition.get(condition.slug, frozenset())
        waiting = [_waiting_on(rulebook, c, worked) for c in unknown_criteria]
        missing = _missing_questions(rulebook, waiting, worked, asked)
    # 4. a caution that holds
    elif cautions:
        status, deciding = Status.CAUTION, cautions
    # 5. otherwise eligible, every requirement met
    else:
        status, deciding = ELIGIBLE, reasons(decisive.met)
    return ConditionResult(condition.slug, status, deciding, cautions, missing, condition.references)


def met_requirements(rulebook: Rulebook, condition: str, answers: Mapping[str, object]) -> tuple[Reason, ...]:
    """The requirements of `condition` that hold for these answers, in
    rulebook order: what an eligible or caution result rests on, whatever
    else (a caution) decided its status. Read exactly as `evaluate` reads them."""
    worked = calculate(rulebook, answers)
    return tuple([
        c.reasons[HOLDS] for c in rulebook._criteria_for(condition, REQUIRE)
        if _criterion_outcome(rulebook, c, worked) == HOLDS
    ])


def _applies_to_screening(criterion: CriterionSpec, conditions: Sequence[str], screened: frozenset) -> bool:
    """An alert or duty for every condition applies to any screening
    (`conditions` as given); one for particular conditions, when one of them
    is among those screened (the ones of `conditions` the rulebook has)."""
    if not criterion.conditions:
        return bool(conditions)
    return not criterion.conditions.isdisjoint(screened)


def enable_states(rulebook: Rulebook, answers: Mapping[str, object]) -> dict[str, bool | None]:
    """Each question's enable-when state for these answers, by code: True,
    False (enable-when disables it, or a question up its chain), or None (it
    depends on a question not answered yet)."""
    states = dict.fromkeys(rulebook.question, True)
    for question in rulebook._gated_questions:  # each after its parent
        enable_when = question.enable_when
        parent = enable_when.question
        if states[parent] is not True:
            states[question.code] = states[parent]  # a disabled parent disables its children
        elif answers.get(parent) is None:
            states[question.code] = None
        else:
            states[question.code] = _holds(enable_when.operator, answers[parent], enable_when.value)
    return states


def _missing_questions(rulebook: Rulebook, codes, worked: Calculation, asked=frozenset()) -> tuple[str, ...]:
    """The questions to answer next, in questionnaire order: for each unknown
    question, the first unanswered question up its enable-when chain (or
    itself). For a calculated question with some inputs answered, its
    unanswered inputs; for an item of a calculated question none of whose
    inputs is answered, that question (its total may be given instead)."""
    answers = worked.values
    blocking = set()
    for code in codes:
        while (enable_when := rulebook.question[code].enable_when) is not None:
            parent = enable_when.question
            if worked.enabled[parent] is True and answers.get(parent) is not None:
                break  # the parent is answered: this question is the one to answer
            code = parent
        owner = rulebook._calculated_for_input.get(code)
        if code in worked.waiting:
            blocking.update(worked.waiting[code])
        elif owner is not None and owner.code in asked and owner.code not in worked.waiting:
            blocking.add(owner.code)
        else:
            blocking.add(code)
    return tuple(q.code for q in rulebook.questions if q.code in blocking)


def _holds(operator: str, answer, value) -> bool:
    try:
        return bool(OPERATORS[operator](answer, value))
    except TypeError:
        # An answer of the wrong type never satisfies a rule; validation
        # keeps such answers out, this keeps evaluate() total.
        return False


def enabled_questions(rulebook: Rulebook, conditions: Sequence[str], answers: Mapping[str, object]):
    """The questionnaire's questions with their state for these answers:
    (question, True | False | None) in display order. False: enable-when
    disables it, or it cannot matter (every criterion it serves does not
    apply, by its `when`); None: it depends on a question not answered yet
    (its enable-when parent, or the `when` of the criteria it serves)."""
    states = _left_out_states(rulebook, conditions, answers)
    return tuple([(question, states.get(question.code, True)) for question in rulebook.questions_for(conditions)])


def _left_out_states(rulebook: Rulebook, conditions: Sequence[str], answers: Mapping[str, object]) -> dict:
    """`enabled_questions`' state of each question that may be left out
    (`_Asking.may_be_left_out`), by code."""
    asking = rulebook._asking(conditions)
    enabled = enable_states(rulebook, answers)
    if asking.when_reads_calculation:
        worked = calculate(rulebook, answers)
    else:  # the rules read the answers as given
        worked = Calculation(
            values=answers, calculated={}, entered=(), waiting={}, not_collected=frozenset(), trials=(),
            enabled=enabled,
        )
    rule_states = [_rule_state(rulebook, rule, worked) for rule in asking.rules]
    states = {}
    for question, asked_under in asking.may_be_left_out:
        state = enabled[question.code]
        if state is not False and asked_under is not None:
            matters = _any_state([rule_states[i] for i in asked_under])
            state = False if matters is False else None if (matters is None or state is None) else True
        states[question.code] = state
    return states


def _any_state(states) -> bool | None:
    """True when any is True, else None when any is None, else False."""
    found = False
    for state in states:
        if state is True:
            return True
        if state is None:
            found = None
    return found


def read_alike(rulebook: Rulebook, conditions: Sequence[str], code: str, values: Sequence) -> bool:
    """Whether every rule that reads question `code` for these conditions
    (the criteria that apply to them, their `when`, and the enable-when of
    the questions their questionnaire asks) gives the same result for each of
    `values`: then any of them may stand for the others. Used when an
    answer is known only to be one of a few values (an age worked out
    from a year of birth)."""
    chosen = [slug for slug in conditions if slug in rulebook.condition]
    applying = [c for c in rulebook.criteria if any(c.applies_to(slug) for slug in chosen)]
    rules = [(c.operator, c.value) for c in applying if c.question == code]
    rules += [(c.when.operator, c.when.value) for c in applying if c.when is not None and c.when.question == code]
    rules += [
        (q.enable_when.operator, q.enable_when.value) for q in rulebook.questions_for(chosen)
        if q.enable_when is not None and q.enable_when.question == code
    ]
    return all(len({_holds(operator, v, value) for v in values}) == 1 for operator, value in rules)


def unanswered_questions(rulebook: Rulebook, conditions: Sequence[str], answers: Mapping[str, object]):
    """Codes of the enabled questions that have no answer, in display order:
    what "Show summary" insists on. A calculated question whose value is
    known needs nothing more; one with some inputs answered needs the rest
    of its inputs; one with none answered needs its own answer (the items,
    or the total entered). An instrument's extra items are never insisted on."""
    worked = calculate(rulebook, answers)
    questionnaire = enabled_questions(rulebook, conditions, answers)
    asked = {q.code for q, _ in questionnaire}
    unanswered = []
    for question, enabled in questionnaire:
        code = question.code
        if enabled is not True or _answered(answers.get(code)) or code in worked.not_collected:
            continue
        if question.calculation and (code in worked.values or code in worked.waiting):
            continue
        owner = rulebook._calculated_for_input.get(code)
        if owner is not None and owner.code in asked and (
            code not in owner.inputs or owner.code not in worked.waiting
        ):
            continue
        unanswered.append(code)
    return tuple(unanswered)


# --- answer validation ----------------------------------------------------


class Validation(NamedTuple):
    """Answers fit for `evaluate()`, and what was wrong with the input."""

    conditions: tuple[str, ...]
    answers: dict
    errors: dict  # field ("conditions" or a question code) -> list of messages

    @property
    def is_valid(self):
        return not self.errors

    def messages(self):
        """Every error as one line naming its field, e.g. `age: 400 is above …`."""
        return [f"{name}: {message}" for name, messages in self.errors.items() for message in messages]


def validate_answers(rulebook: Rulebook, conditions, answers) -> Validation:
    """Check conditions and answers the way the web form and `screen` do.

    Unknown conditions and unknown question codes are errors; so is a value
    of the wrong type or out of range. An answer to a retired question is
    read as the answers its mapping gives (`retired_answers`), an answer
    with no mapping being an error. Answers to questions the chosen
    conditions do not ask, that enable-when disables or that cannot matter
    (`enabled_questions`), are dropped (not an error). `None` means
    unanswered. Returns the cleaned answers in questionnaire order.
    """
    errors = {}
    chosen, problems = _chosen_conditions(rulebook, conditions)
    if problems:
        errors["conditions"] = problems
    if not isinstance(answers, Mapping):
        errors["answers"] = ["must be an object mapping question codes to answers."]
        answers = {}

    problems = {}  # answer's code -> (field, message)
    given = answers
    answers, retired_problems = retired_answers(rulebook, answers)
    problems.update({code: (code, message) for code, message in retired_problems.items()})
    for code in answers.keys() - rulebook.question.keys():
        if code not in problems:
            problems[code] = (_short(str(code)), "unknown question code.")
    questionnaire = rulebook.questions_for(chosen)
    cleaned = {}
    for question in questionnaire:
        value = answers.get(question.code)
        if value is None:
            continue
        try:
            value = rulebook._cleaners[question.code](question, value, rulebook)
        except ValueError as error:
            problems[question.code] = (question.code, str(error))
            continue
        if value != []:  # an empty list of trials is no trials given
            cleaned[question.code] = value

    # Enable-when is read from the valid answers; a disabled question's
    # answer is dropped, even an invalid one, as the form never showed it.
    # So is the answer to a question that cannot matter.
    disabled = [
        code for code, state in _left_out_states(rulebook, chosen, cleaned).items()
        if state is False and (code in cleaned or code in problems)
    ]
    for code in disabled:
        cleaned.pop(code, None)
        problems.pop(code, None)

    # A typed total must agree with the inputs given with it.
    for question in rulebook.calculated_questions:
        if question.code in cleaned and question.code not in problems:
            if problem := _calculation_problem(rulebook, question, cleaned):
                problems[question.code] = (question.code, problem)

    if problems:
        for code in dict.fromkeys([*given, *answers]):  # in the order given
            if code in problems:
                field, message = problems[code]
                errors[field] = [message]
    return Validation(conditions=chosen, answers=cleaned, errors=errors)


def retired_answers(rulebook: Rulebook, answers: Mapping) -> tuple[dict, dict]:
    """The answers with each answer to a retired question replaced by the
    answers its mapping gives, never overriding an answer given to those
    questions; and, by retired code, what is wrong with an answer no
    mapping reads (it cannot say which of the new answers it was), naming
    the questions to answer instead. An answer no mapping reads is not an
    error when every question it was replaced by is answered already."""
    retired = rulebook._retired
    if retired.keys().isdisjoint(answers):
        return dict(answers), {}
    given = {code: value for code, value in answers.items() if code not in retired}
    mapped, problems = {}, {}
    for code, value in answers.items():
        question = retired.get(code)
        if question is None or value is None:
            continue
        mapping = next((m for m in question.maps if _same_answer(m.answer, value)), None)
        if mapping is not None:
            for target, target_value in mapping.to:
                if given.get(target) is None:
                    mapped.setdefault(target, _thaw(target_value))
        elif any(given.get(target) is None for target in question.replaced_by) or not question.replaced_by:
            instead = ", ".join(question.replaced_by) or "the questions that replaced it"
            problems[code] = (
                f"“{_short(_thaw(value))}” answers a question this edition no longer asks "
                f"({question.text or code}) and cannot be read as its new questions: answer {instead} instead."
            )
    return {**given, **mapped}, problems


def _same_answer(expected, value) -> bool:
    """Equal and of the same kind: `true` is not 1."""
    value = _freeze(value)
    return type(expected) is type(value) and expected == value


def _chosen_conditions(rulebook: Rulebook, conditions) -> tuple[tuple[str, ...], list[str]]:
    """The known conditions in `conditions`, once each in the order given,
    and what is wrong with the rest."""
    if isinstance(conditions, str) or not isinstance(conditions, Sequence):
        conditions = ()
    chosen, problems = [], []
    if not conditions:
        problems.append("choose at least one condition (a list of condition slugs).")
    for slug in conditions:
        if not isinstance(slug, str) or slug not in rulebook.condition:
            problems.append(
                f"unknown condition “{_short(slug)}”; known conditions: {', '.join(rulebook.condition)}."
            )
        elif slug not in chosen:
            chosen.append(slug)
    return tuple(chosen), problems


def _calculation_problem(rulebook: Rulebook, question: QuestionSpec, cleaned: Mapping[str, object]) -> str:
    """What is wrong with a calculated question's typed answer given with
    its inputs ("" when nothing is): it must agree with them."""
    typed = cleaned.get(question.code)
    given = [code for code in question.inputs if _answered(cleaned.get(code))]
    if typed is None or not given:
        return ""
    if question.calculation == ADEQUATE_FAILED_TRIALS:
        judged = {code: judge_trials(rulebook, cleaned[code]) for code in given}
        value = _worked_out(question, cleaned, judged, rulebook)
        if value == typed:
            return ""
        counts = "1 counts" if value == 1 else f"{value} count"
        return (
            f"the number entered ({typed}) does not match the trials listed, of which {counts} as "
            "an adequate failed trial; clear the number (it is worked out from the trials) or "
            "correct the trials."
        )
    unanswered = [code for code in question.inputs if code not in given]
    if unanswered:
        return (
            f"a total of {typed} was entered, but only {len(given)} of the {len(question.inputs)} "
            f"items are answered ({', '.join(unanswered[:5])}{' …' if len(unanswered) > 5 else ''} "
            "not yet): answer every item, or clear the items and keep the total."
        )
    value = _worked_out(question, cleaned, {})
    if value is None or value == typed:
        return ""
    return (
        f"the total entered ({typed}) does not match the items, which add up to {value}; "
        "correct the total or the items, or clear the total (it is worked out from the items)."
    )


def clean_answer(question: QuestionSpec, value, rulebook: Rulebook | None = None):
    """One answer in canonical form, or ValueError with a message for a
    clinician. A trials answer's drugs are checked against the rulebook's
    formulary when `rulebook` is given."""
    return _CLEANERS.get(question.kind, _clean_unknown_kind)(question, value, rulebook)


def _clean_unknown_kind(question: QuestionSpec, value, rulebook: Rulebook | None = None):
    raise ValueError(f"unknown question kind {question.kind}.")


def _clean_trials(question: QuestionSpec, value, rulebook: Rulebook | None):
    """A list of trials, each {"drug", "daily_dose_mg", "weeks", "outcome"},
    in canonical form (the drug by its formulary key); every problem is
    named with its trial's number."""
    if not isinstance(value, list | tuple):
        raise ValueError(
            'list the trials, each {"drug", "daily_dose_mg", "weeks", "outcome"} (an empty list for none).'
        )
    if len(value) > MOST_TRIALS:
        raise ValueError(f"list at most {MOST_TRIALS} trials.")
    trials, problems = [], []
    for number, trial in enumerate(value, start=1):
        where = f"trial {number}"
        if not isinstance(trial, Mapping):
            problems.append(f"{where}: give its drug, daily_dose_mg, weeks and outcome.")
            continue
        unknown = [str(name) for name in trial if name not in TRIAL_FIELDS]
        if unknown:
            problems.append(
                f"{where}: “{_short(unknown[0])}” is not part of a trial; give drug, daily_dose_mg, "
                "weeks and outcome."
            )
        if missing := [name for name in TRIAL_FIELDS if trial.get(name) is None]:
            problems.append(f"{where}: give its {', '.join(missing)}.")
        drug = trial.get("drug")
        if drug is not None:
            drug = _formulary_key(drug, rulebook, where, problems)
        dose = _trial_number(trial.get("daily_dose_mg"), f"{where}: the daily dose", " mg", problems)
        weeks = _trial_number(trial.get("weeks"), f"{where}: the weeks at that dose", "", problems)
        outcome = trial.get("outcome")
        if outcome is not None and (type(outcome) is not str or outcome not in TRIAL_OUTCOMES):
            problems.append(f"{where}: “{_short(outcome)}” is not an outcome ({', '.join(TRIAL_OUTCOMES)}).")
        trials.append({"drug": drug, "daily_dose_mg": dose, "weeks": weeks, "outcome": outcome})
    if problems:
        raise ValueError("; ".join(problems))
    return trials


def _formulary_key(drug, rulebook: Rulebook | None, where: str, problems: list):
    """The drug's formulary key, matched by key or name whatever the case."""
    if type(drug) is not str or not drug.strip():
        problems.append(f"{where}: name the drug by its formulary key, e.g. sertraline.")
        return drug
    if rulebook is None:
        return drug
    key = rulebook._drug_keys.get(drug.strip().lower())
    if key is not None:
        return key
    example = rulebook.formulary[0].key if rulebook.formulary else "sertraline"
    problems.append(
        f"{where}: “{_short(drug)}” is not in the formulary; name a drug by its formulary key, e.g. {example}."
    )
    return drug


def _trial_number(value, what: str, unit: str, problems: list):
    if value is None:
        return None
    if not _is_number(value):
        problems.append(f"{what} must be a number, not “{_short(value)}”.")
        return value
    if not 0 < value <= LARGEST_TRIAL_NUMBER:
        problems.append(f"{what} must be more than 0 and at most {LARGEST_TRIAL_NUMBER}{unit}.")
        return value
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _clean_boolean(question: QuestionSpec, value, rulebook: Rulebook | None = None):
    if value is True or value is False:
        return value
    raise ValueError("answer yes or no (true or false).")


def _clean_number(question: QuestionSpec, value, rulebook: Rulebook | None = None):
    kind = type(value)
    if kind is float:
        if not math.isfinite(value):
            raise ValueError("enter a finite number.")
        if question.kind == INTEGER:
            if not value.is_integer():
                raise ValueError(f"{_short(value)} is not a whole number.")
            value = int(value)
    elif kind is not int:  # bool is a subclass of int, and not a number here
        raise ValueError(f"“{_short(value)}” is not a number.")
    low, high = question.min, question.max
    if low is not None and value < low:
        raise ValueError(f"{_short(value)} is below the minimum of {low}{question.unit_suffix}.")
    if high is not None and value > high:
        raise ValueError(f"{_short(value)} is above the maximum of {high}{question.unit_suffix}.")
    return value


def _clean_choice(question: QuestionSpec, value, rulebook: Rulebook | None = None):
    if type(value) is not str or value not in question.choice_values:
        raise ValueError(f"“{_short(value)}” is not one of the choices ({', '.join(question.choice_values)}).")
    return value


def _clean_choices(question: QuestionSpec, value, rulebook: Rulebook | None = None):
    values = question.choice_values
    if not isinstance(value, list | tuple) or not value:
        raise ValueError("choose at least one option (a list of choice values).")
    for item in value:
        if type(item) is not str or item not in values:
            raise ValueError(f"“{_short(item)}” is not one of the choices ({', '.join(values)}).")
    if NONE_CHOICE in value and len(set(value)) > 1:
        label = question.choice_label(NONE_CHOICE)
        raise ValueError(f"“{label}” cannot be combined with other choices.")
    return [v for v in values if v in value]  # choice order, no repeats


_CLEANERS = {
    BOOLEAN: _clean_boolean, INTEGER: _clean_number, DECIMAL: _clean_number,
    CHOICE: _clean_choice, MULTI_CHOICE: _clean_choices, TRIALS: _clean_trials,
}


def _short(value, limit=40):
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
