"""The screening rules engine: plain Python over plain data.

A `Rulebook` is an immutable snapshot of the knowledge base; `evaluate()`
reads a patient's answers against it and returns an `Advisory`, following
DESIGN.md "The rule semantics" exactly. `validate_answers()` checks answers
the same way for the web form and the `screen` command.

This module imports only the standard library (a test enforces it), so it is
fast, deterministic and usable anywhere.
"""

import hashlib
import json
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

# Effects and statuses, as plain strings (they are stored and exported).
REQUIRE, EXCLUDE, CAUTION, ALERT = "require", "exclude", "caution", "alert"
ELIGIBLE, CAUTION_STATUS, NOT_MET, EXCLUDED, INCOMPLETE = (
    "eligible", "caution", "not_met", "excluded", "incomplete",
)
# From best to worst, for summaries that need one status for many conditions.
STATUS_ORDER = (ELIGIBLE, CAUTION_STATUS, INCOMPLETE, NOT_MET, EXCLUDED)
# Criterion outcomes.
HOLDS, FAILS, UNKNOWN, SKIPPED = "holds", "fails", "unknown", "skipped"

BOOLEAN, INTEGER, DECIMAL, CHOICE, MULTI_CHOICE = (
    "boolean", "integer", "decimal", "choice", "multi_choice",
)
NONE_CHOICE = "none"


def _lt(answer, value):
    return answer < value


def _lte(answer, value):
    return answer <= value


def _gt(answer, value):
    return answer > value


def _gte(answer, value):
    return answer >= value


OPERATORS = {
    "is_true": lambda answer, value: answer is True,
    "is_false": lambda answer, value: answer is False,
    "eq": lambda answer, value: answer == value,
    "ne": lambda answer, value: answer != value,
    "lt": _lt,
    "lte": _lte,
    "gt": _gt,
    "gte": _gte,
    "in": lambda answer, value: answer in value,
    "not_in": lambda answer, value: answer not in value,
    "any_of": lambda answer, value: any(item in answer for item in value),
    "all_of": lambda answer, value: all(item in answer for item in value),
    "none_of": lambda answer, value: not any(item in answer for item in value),
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

    @cached_property
    def choice_values(self) -> tuple[str, ...]:
        return tuple(choice.value for choice in self.choices)

    @cached_property
    def _valid_lists(self) -> dict[tuple, tuple]:
        """Valid multi-choice answers seen, by tuple, in their clean form."""
        return {}

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

    def applies_to(self, condition):
        return not self.conditions or condition in self.conditions


@dataclass(frozen=True)
class ConditionSpec:
    slug: str
    name: str
    description: str = ""
    guidance: str = ""
    references: tuple[str, ...] = ()


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
    def _position(self) -> dict[str, int]:
        return {q.code: index for index, q in enumerate(self.questions)}

    def criteria_for(self, condition: str) -> tuple[CriterionSpec, ...]:
        return self._criteria_by_condition.get(condition, ())

    @cached_property
    def _criteria_by_condition(self):
        return {
            c.slug: tuple(k for k in self.criteria if k.applies_to(c.slug)) for c in self.conditions
        }

    @cached_property
    def _plan(self) -> "_Plan":
        return _Plan(self)

    def questions_for(self, conditions: Sequence[str]) -> tuple[QuestionSpec, ...]:
        """The questionnaire for these conditions: the questions their criteria
        read, plus the enable-when parents those depend on, in display order."""
        key = frozenset(conditions)
        if key not in self._questionnaires:
            codes = set()
            for condition in key:
                for criterion in self.criteria_for(condition):
                    code = criterion.question
                    while code is not None and code not in codes:
                        codes.add(code)
                        enable_when = self.question[code].enable_when
                        code = enable_when.question if enable_when else None
            self._questionnaires[key] = tuple(q for q in self.questions if q.code in codes)
        return self._questionnaires[key]

    @cached_property
    def _questionnaires(self) -> dict[frozenset, tuple[QuestionSpec, ...]]:
        return {}

    def _cleaners_for(self, conditions: Sequence[str]) -> tuple:
        """For each of `questions_for(conditions)`: (code, question, its
        kind's cleaner, and the type and collection of the answers that are
        valid as given; see `_valid_as_given`)."""
        key = frozenset(conditions)
        cleaners = self._cleaners.get(key)
        if cleaners is None:
            cleaners = self._cleaners[key] = tuple(
                (q.code, q, _CLEANERS.get(q.kind, clean_answer), *_valid_as_given(q))
                for q in self.questions_for(key)
            )
        return cleaners

    @cached_property
    def _cleaners(self) -> dict[frozenset, tuple]:
        return {}

    @cached_property
    def _valid_conditions(self) -> dict[tuple, tuple[str, ...]]:
        """Lists of conditions found valid, as given -> as chosen (validate_answers)."""
        return {}

    @cached_property
    def _dependent_questions(self) -> tuple[str, ...]:
        """Codes of the questions with an enable-when."""
        return tuple(q.code for q in self.questions if q.enable_when is not None)

    # Snapshots.

    def to_dict(self) -> dict:
        return {
            "sections": [{"key": s.key, "title": s.title} for s in self.sections],
            "questions": [_question_to_dict(q) for q in self.questions],
            "criteria": [
                {
                    "key": c.key, "question": c.question, "operator": c.operator,
                    "value": _thaw(c.value), "effect": c.effect, "message": c.message,
                    "conditions": sorted(c.conditions), "references": list(c.references),
                }
                for c in self.criteria
            ],
            "conditions": [
                {
                    "slug": c.slug, "name": c.name, "description": c.description,
                    "guidance": c.guidance, "references": list(c.references),
                }
                for c in self.conditions
            ],
            "references": [
                {
                    "key": r.key, "authors": r.authors, "title": r.title, "source": r.source,
                    "doi": r.doi, "pmid": r.pmid, "url": r.url, "verified": r.verified,
                    "note": r.note,
                }
                for r in self.references
            ],
        }

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
            criteria=tuple(
                CriterionSpec(
                    key=c["key"], question=c["question"], operator=c["operator"],
                    value=_freeze(c["value"]), effect=c["effect"], message=c["message"],
                    conditions=frozenset(c["conditions"]), references=tuple(c["references"]),
                )
                for c in data["criteria"]
            ),
            conditions=tuple(
                ConditionSpec(**{**c, "references": tuple(c["references"])})
                for c in data["conditions"]
            ),
            references=tuple(ReferenceSpec(**r) for r in data["references"]),
        )


def _thaw(value):
    if isinstance(value, tuple):
        return [_thaw(item) for item in value]
    return value


def _question_to_dict(q: QuestionSpec) -> dict:
    return {
        "code": q.code, "text": q.text, "kind": q.kind, "section": q.section,
        "help_text": q.help_text, "min": q.min, "max": q.max, "unit": q.unit,
        "choices": [{"value": c.value, "label": c.label} for c in q.choices],
        "enable_when": None if q.enable_when is None else {
            "question": q.enable_when.question, "operator": q.enable_when.operator,
            "value": _thaw(q.enable_when.value),
        },
    }


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
    )


# --- the advisory ---------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    """One criterion's part in a result."""

    criterion: str
    question: str
    effect: str
    outcome: str
    message: str
    references: tuple[str, ...]

    def to_dict(self):
        return {
            "criterion": self.criterion, "question": self.question, "effect": self.effect,
            "outcome": self.outcome, "message": self.message,
            "references": list(self.references),
        }


class ConditionResult(NamedTuple):
    # A named tuple, not a frozen dataclass: a batch builds millions of these.
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

    def to_dict(self):
        return {
            "alerts": [a.to_dict() for a in self.alerts],
            "results": [r.to_dict() for r in self.results],
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> "Advisory":
        def reason(r):
            return Reason(**{**r, "references": tuple(r["references"])})

        return cls(
            alerts=tuple(reason(a) for a in data["alerts"]),
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


# --- evaluation -----------------------------------------------------------


def evaluate(rulebook: Rulebook, conditions: Sequence[str], answers: Mapping[str, object]) -> Advisory:
    """One result per condition, in the order given, plus the screening's alerts.

    `answers` maps question codes to validated answers (see
    `validate_answers`); a missing code is an unanswered question. Answers
    to questions that enable-when disables are ignored. Never raises on a
    missing or disabled answer: that is what `incomplete` and `skipped` are
    for. Conditions not in the rulebook are skipped (validation reports them).
    """
    plan = rulebook._plan
    state = _AnswerState(rulebook, answers)
    outcomes = plan.outcomes(state)
    rules = plan.conditions
    results = tuple([plan.result(rules[slug], outcomes, state) for slug in conditions if slug in rules])
    return Advisory(results, plan.alerts(conditions, outcomes))


class _Outcomes(NamedTuple):
    """Every criterion's outcome for one screening, as sets of criterion bits
    (see `_Plan`); a criterion in none of the three fails."""

    holds: int
    unknown: int
    skipped: int


class _ConditionRules(NamedTuple):
    """The criteria that apply to one condition, as bits, by effect."""

    slug: str
    applies: int
    exclude: int
    require: int
    caution: int
    alert: int
    references: tuple[str, ...]


class _Plan:
    """A rulebook arranged for fast evaluation; built once per rulebook.

    Criterion number i of the rulebook is the bit 1 << i, so a set of
    criteria is one int and the semantics become a few bitwise operations
    per condition. Which of a question's criteria an answer satisfies is
    remembered per answer, and the tuples of reasons are shared between
    screenings with the same outcomes: they are immutable.
    """

    def __init__(self, rulebook: Rulebook):
        criteria = rulebook.criteria
        self.criteria = tuple((1 << index, criterion) for index, criterion in enumerate(criteria))
        bit = {criterion.key: mask for mask, criterion in self.criteria}
        # Every (criterion, outcome) as a Reason, built once: results share them.
        self.reason = {
            (c.key, outcome): Reason(
                criterion=c.key, question=c.question, effect=c.effect, outcome=outcome,
                message=c.message, references=c.references,
            )
            for c in criteria
            for outcome in (HOLDS, FAILS, UNKNOWN, SKIPPED)
        }
        checks = {}
        for mask, criterion in self.criteria:
            checks.setdefault(criterion.question, []).append((mask, OPERATORS[criterion.operator], criterion.value))
        # (code, its criteria's bits, checks, answer type, bits holding by
        # answer). An answer of the question's own type (see _ANSWER_TYPE)
        # is looked up, and learnt on its first use.
        self.questions = tuple(
            (code, sum(check[0] for check in question_checks), tuple(question_checks),
             _ANSWER_TYPE.get(rulebook.question[code].kind), {})
            for code, question_checks in checks.items()
        )
        self.dependent_questions = tuple(
            (code, mask) for code, mask, *_ in self.questions if rulebook.question[code].enable_when is not None
        )
        self.conditions = {}
        for condition in rulebook.conditions:
            applying = rulebook.criteria_for(condition.slug)
            masks = {effect: sum(bit[c.key] for c in applying if c.effect == effect)
                     for effect in (EXCLUDE, REQUIRE, CAUTION, ALERT)}
            self.conditions[condition.slug] = _ConditionRules(
                slug=condition.slug, applies=sum(bit[c.key] for c in applying),
                exclude=masks[EXCLUDE], require=masks[REQUIRE], caution=masks[CAUTION], alert=masks[ALERT],
                references=condition.references,
            )
        # Alerts for every condition apply to any list of conditions.
        self.every_condition_alerts = sum(bit[c.key] for c in criteria if c.effect == ALERT and not c.conditions)
        self._reasons = {outcome: {} for outcome in (HOLDS, FAILS, UNKNOWN)}
        self._alerts = {}  # alert criteria by tuple of conditions

    def outcomes(self, state: "_AnswerState") -> _Outcomes:
        """Each criterion read once per screening, whichever conditions it serves."""
        answers = state.answers
        holds = unknown = 0
        for code, mask, checks, answer_type, table in self.questions:
            answer = answers.get(code)
            if answer is None:
                unknown |= mask
            elif answer.__class__ is answer_type:
                key = tuple(answer) if answer_type is list else answer
                try:
                    holds |= table[key]
                except KeyError:
                    holds |= remember(table, key, _holding(checks, answer), limit=2048)
                except TypeError:  # a list holding something unhashable
                    holds |= _holding(checks, answer)
            else:
                holds |= _holding(checks, answer)
        # A disabled question's criteria are skipped, answered or not; one
        # that depends on an unanswered question's are unknown.
        skipped = waiting = 0
        for code, mask in self.dependent_questions:
            enabled = state.enabled(code)
            if enabled is False:
                skipped |= mask
            elif enabled is None:
                waiting |= mask
        return _Outcomes(holds & ~(skipped | waiting), (unknown | waiting) & ~skipped, skipped)

    def result(self, rules: _ConditionRules, outcomes: _Outcomes, state: "_AnswerState") -> "ConditionResult":
        """DESIGN.md's precedence: excluded, not_met, incomplete, caution, eligible."""
        holds = outcomes.holds
        cautions = self.reasons(holds & rules.caution)
        missing = ()
        if excludes := holds & rules.exclude:
            status, reasons = EXCLUDED, self.reasons(excludes)
        elif unmet := rules.require & ~(holds | outcomes.unknown):
            status, reasons = NOT_MET, self.reasons(unmet, FAILS, unmet & outcomes.skipped)
        elif open_ := rules.applies & outcomes.unknown:
            status, reasons = INCOMPLETE, self.reasons(open_, UNKNOWN)
            missing = state.missing_for(reason.question for reason in reasons)
        elif cautions:
            status, reasons = CAUTION_STATUS, cautions
        else:
            status, reasons = ELIGIBLE, self.reasons(rules.require)
        # tuple.__new__: a named tuple's own __new__ is slow for how often this runs.
        return _new_tuple(ConditionResult, (rules.slug, status, reasons, cautions, missing, rules.references))

    def alerts(self, conditions: Sequence[str], outcomes: _Outcomes) -> tuple["Reason", ...]:
        """The holding alerts of any of these conditions, once, in rulebook order."""
        try:
            applying = self._alerts[conditions]
        except (KeyError, TypeError):  # new, or not a tuple
            applying = self.every_condition_alerts if conditions else 0
            for slug in conditions:
                rules = self.conditions.get(slug)
                if rules is not None:
                    applying |= rules.alert
            if type(conditions) is tuple:
                remember(self._alerts, conditions, applying)
        return self.reasons(outcomes.holds & applying)

    def reasons(self, criteria: int, outcome=HOLDS, skipped=0) -> tuple["Reason", ...]:
        """The criteria in `criteria` as reasons with this outcome, or as
        skipped where they are in `skipped`, in rulebook order."""
        if not criteria:
            return ()
        memo = self._reasons[outcome]
        key = (criteria, skipped) if skipped else criteria
        reasons = memo.get(key)
        if reasons is None:
            reason = self.reason
            reasons = tuple(
                reason[c.key, SKIPPED if mask & skipped else outcome]
                for mask, c in self.criteria if mask & criteria
            )
            remember(memo, key, reasons)
        return reasons


# The type of a valid answer to each kind of question, whose outcomes are
# remembered (a list of choices as a tuple; an integral decimal may be an
# int, and is then read each time).
_ANSWER_TYPE = {BOOLEAN: bool, CHOICE: str, INTEGER: int, DECIMAL: float, MULTI_CHOICE: list}


_new_tuple = tuple.__new__


def remember(memo: dict, key, value, *, limit=50_000):
    """Store `value` under `key` in a memo of at most `limit` entries and
    return it. A full memo starts again empty: what it holds can always be
    worked out again, and an unusual variety of input must not grow memory."""
    if len(memo) >= limit:
        memo.clear()
    memo[key] = value
    return value


def _holding(checks, answer) -> int:
    """The bits of the criteria in `checks` that `answer` satisfies."""
    bits = 0
    for mask, test, value in checks:
        try:
            if test(answer, value):
                bits |= mask
        except TypeError:
            # A wrongly typed answer never satisfies a rule; validation
            # keeps such answers out, this keeps evaluate() total.
            pass
    return bits


def enabled_questions(rulebook: Rulebook, conditions: Sequence[str], answers: Mapping[str, object]):
    """The questionnaire's questions with their enable-when state for these
    answers: (question, True | False | None) in display order, where None
    means it depends on a question not answered yet."""
    state = _AnswerState(rulebook, answers)
    return tuple((q, state.enabled(q.code)) for q in rulebook.questions_for(conditions))


def unanswered_questions(rulebook: Rulebook, conditions: Sequence[str], answers: Mapping[str, object]):
    """Codes of the enabled questions that have no answer, in display order:
    what "Show summary" insists on."""
    return tuple(
        q.code for q, enabled in enabled_questions(rulebook, conditions, answers)
        if enabled is True and answers.get(q.code) is None
    )


class _AnswerState:
    """Answers seen through enable-when (memoised) for one evaluation."""

    def __init__(self, rulebook: Rulebook, answers: Mapping[str, object]):
        self.rulebook = rulebook
        self.answers = answers
        self._enabled = {}

    def enabled(self, code: str):
        """True, False (disabled), or None (depends on an unanswered question)."""
        if code not in self._enabled:
            enable_when = self.rulebook.question[code].enable_when
            if enable_when is None:
                result = True
            else:
                parent = enable_when.question
                parent_enabled = self.enabled(parent)
                if parent_enabled is not True:
                    result = parent_enabled  # a disabled parent disables its children
                elif self.answers.get(parent) is None:
                    result = None
                else:
                    result = _holds(enable_when.operator, self.answers[parent], enable_when.value)
            self._enabled[code] = result
        return self._enabled[code]

    def missing_for(self, codes) -> tuple[str, ...]:
        """The questions to answer next: for each unknown question, the first
        unanswered question up its enable-when chain (or itself)."""
        blocking = set()
        for code in codes:
            while True:
                enable_when = self.rulebook.question[code].enable_when
                if enable_when is None or self.enabled(enable_when.question) is True and (
                    self.answers.get(enable_when.question) is not None
                ):
                    break
                code = enable_when.question
            blocking.add(code)
        position = self.rulebook._position
        return tuple(sorted(blocking, key=position.__getitem__))


def _holds(operator: str, answer, value) -> bool:
    try:
        return bool(OPERATORS[operator](answer, value))
    except TypeError:
        # An answer of the wrong type never satisfies a rule; validation
        # keeps such answers out, this keeps evaluate() total.
        return False


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
    of the wrong type or out of range. Answers to questions the chosen
    conditions do not ask, or that enable-when disables, are dropped (not
    an error). `None` means unanswered. Returns the cleaned answers in
    questionnaire order.
    """
    errors = {}
    chosen, problems = _chosen_conditions(rulebook, conditions)
    if problems:
        errors["conditions"] = problems
    if type(answers) is not dict and not isinstance(answers, Mapping):
        errors["answers"] = ["must be an object mapping question codes to answers."]
        answers = {}
    problems = {}  # answer's code -> (field, message)
    if not answers.keys() <= rulebook.question.keys():
        for code in answers:
            if code not in rulebook.question:
                problems[code] = (_short(str(code)), "unknown question code.")

    cleaned = {}
    for code, question, clean, valid_type, valid in rulebook._cleaners_for(chosen):
        value = answers.get(code)
        if value is None:
            continue
        if value.__class__ is valid_type and value in valid:
            cleaned[code] = value
        else:
            try:
                cleaned[code] = clean(question, value)
            except ValueError as error:
                problems[code] = (code, str(error))

    # Enable-when is read from the valid answers; a disabled question's
    # answer is dropped, even an invalid one, as the form never showed it.
    state = _AnswerState(rulebook, cleaned)
    for code in rulebook._dependent_questions:
        if (code in cleaned or code in problems) and state.enabled(code) is False:
            cleaned.pop(code, None)
            problems.pop(code, None)
    if problems:
        for code in answers:  # in the order given
            if code in problems:
                field, message = problems[code]
                errors[field] = [message]
    return Validation(conditions=chosen, answers=cleaned, errors=errors)


def _chosen_conditions(rulebook: Rulebook, conditions) -> tuple[tuple[str, ...], list[str]]:
    """The known conditions in `conditions`, once each in the order given,
    and what is wrong with the rest. A valid list, seen before, is looked up."""
    key = tuple(conditions) if type(conditions) is list else conditions
    try:
        return rulebook._valid_conditions[key], []
    except (KeyError, TypeError):
        pass
    if type(conditions) not in (list, tuple) and (isinstance(conditions, str) or not isinstance(conditions, Sequence)):
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
    chosen = tuple(chosen)
    if not problems and type(key) is tuple:
        remember(rulebook._valid_conditions, key, chosen, limit=4096)
    return chosen, problems


def clean_answer(question: QuestionSpec, value):
    """One answer in canonical form, or ValueError with a message for a clinician."""
    try:
        clean = _CLEANERS[question.kind]
    except KeyError:
        raise ValueError(f"unknown question kind {question.kind}.") from None
    return clean(question, value)


def _clean_boolean(question: QuestionSpec, value):
    if value is True or value is False:
        return value
    raise ValueError("answer yes or no (true or false).")


def _clean_number(question: QuestionSpec, value):
    kind = type(value)
    if kind is float:
        if not math.isfinite(value):
            raise ValueError("enter a finite number.")
        if question.kind == INTEGER:
            if not value.is_integer():
                raise ValueError(f"{value} is not a whole number.")
            value = int(value)
    elif kind is not int:  # bool is a subclass of int, and not a number here
        raise ValueError(f"“{_short(value)}” is not a number.")
    low, high = question.min, question.max
    if low is not None and value < low:
        raise ValueError(f"{value} is below the minimum of {low}{question.unit_suffix}.")
    if high is not None and value > high:
        raise ValueError(f"{value} is above the maximum of {high}{question.unit_suffix}.")
    return value


def _clean_choice(question: QuestionSpec, value):
    if type(value) is not str or value not in question.choice_values:
        raise ValueError(f"“{_short(value)}” is not one of the choices ({', '.join(question.choice_values)}).")
    return value


def _clean_choices(question: QuestionSpec, value):
    if value.__class__ is list:
        try:
            return list(question._valid_lists[tuple(value)])
        except (KeyError, TypeError):
            pass
    cleaned = _check_choices(question, value)
    if value.__class__ is list:
        remember(question._valid_lists, tuple(value), tuple(cleaned), limit=1024)
    return cleaned


def _check_choices(question: QuestionSpec, value):
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
    CHOICE: _clean_choice, MULTI_CHOICE: _clean_choices,
}


def _valid_as_given(question: QuestionSpec) -> tuple[type | None, Collection]:
    """(type, values): an answer of exactly that type among those values is
    valid and its own clean form, so validation need not call the cleaner."""
    if question.kind == BOOLEAN:
        return bool, (True, False)
    if question.kind == CHOICE:
        return str, frozenset(question.choice_values)
    if question.kind == INTEGER and isinstance(question.min, int) and isinstance(question.max, int):
        return int, range(question.min, question.max + 1)
    return None, ()


def _short(value, limit=40):
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
