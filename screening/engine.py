"""The screening rules engine: plain Python over plain data.

A `Rulebook` is an immutable snapshot of the knowledge base; `evaluate()`
reads a patient's answers against it and returns an `Advisory`, following
docs/architecture.md, "The rule semantics", exactly. `validate_answers()` checks answers
the same way for the web form and the `screen` command.

This module imports only the standard library (a test enforces it), so it is
fast, deterministic and usable anywhere.
"""

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

# Effects and statuses, as plain strings (they are stored and exported).
REQUIRE, EXCLUDE, CAUTION, ALERT = "require", "exclude", "caution", "alert"
# A duty: something to do at the treatment session (blood pressure at 40
# minutes, two hours' observation). Collected once per screening, like an
# alert; it never changes a status.
DUTY = "duty"
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


OPERATORS = {
    "is_true": lambda answer, value: answer is True,
    "is_false": lambda answer, value: answer is False,
    "eq": lambda answer, value: answer == value,
    "ne": lambda answer, value: answer != value,
    "lt": lambda answer, value: answer < value,
    "lte": lambda answer, value: answer <= value,
    "gt": lambda answer, value: answer > value,
    "gte": lambda answer, value: answer >= value,
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
    def _criteria_by_condition(self) -> dict[str, tuple[CriterionSpec, ...]]:
        return {
            c.slug: tuple(k for k in self.criteria if k.applies_to(c.slug)) for c in self.conditions
        }

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
        """The codes of the questions each condition's criteria read, with
        the enable-when parents those depend on."""
        codes_by_condition = {}
        for condition in self.conditions:
            codes = set()
            for criterion in self.criteria_for(condition.slug):
                code = criterion.question
                while code is not None and code not in codes:
                    codes.add(code)
                    enable_when = self.question[code].enable_when
                    code = enable_when.question if enable_when else None
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
        read, plus the enable-when parents those depend on, in display order."""
        codes = set()
        for condition in set(conditions):
            codes |= self._question_codes_by_condition.get(condition, frozenset())
        return tuple(q for q in self.questions if q.code in codes)

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
            "conditions": [_condition_to_dict(c) for c in self.conditions],
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
            conditions=tuple(_condition_from_dict(c) for c in data["conditions"]),
            references=tuple(ReferenceSpec(**r) for r in data["references"]),
        )


def _thaw(value):
    if isinstance(value, tuple):
        return [_thaw(item) for item in value]
    return value


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


class Reason(NamedTuple):
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

    def to_dict(self):
        return {
            "alerts": [a.to_dict() for a in self.alerts],
            "duties": [d.to_dict() for d in self.duties],
            "results": [r.to_dict() for r in self.results],
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> "Advisory":
        def reason(r):
            return Reason(**{**r, "references": tuple(r["references"])})

        return cls(
            alerts=tuple(reason(a) for a in data["alerts"]),
            # A result stored before duties existed has none.
            duties=tuple(reason(d) for d in data.get("duties", ())),
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
    """One result per condition, in the order given, plus the screening's
    alerts and duties.

    `answers` maps question codes to validated answers (see
    `validate_answers`); a missing code is an unanswered question. Answers
    to questions that enable-when disables are ignored. Never raises on a
    missing or disabled answer: that is what `incomplete` and `skipped` are
    for. Conditions not in the rulebook are skipped (validation reports them).
    """
    # An outcome for every criterion, once for the whole screening,
    # whichever conditions it applies to.
    outcome = {c.key: _criterion_outcome(rulebook, c, answers) for c in rulebook.criteria}
    # Each condition's status, by precedence.
    results = tuple([
        _condition_result(rulebook, rulebook.condition[slug], outcome, answers)
        for slug in conditions
        if slug in rulebook.condition
    ])
    # The alerts and the duties that hold, once each for the whole screening.
    alerts, duties = (
        tuple([
            _reason(c, HOLDS)
            for c in rulebook.criteria
            if c.effect == effect and outcome[c.key] == HOLDS and _applies_to_screening(rulebook, c, conditions)
        ])
        for effect in (ALERT, DUTY)
    )
    return Advisory(results, alerts, duties)


def _criterion_outcome(rulebook: Rulebook, criterion: CriterionSpec, answers: Mapping[str, object]) -> str:
    """HOLDS, FAILS, UNKNOWN or SKIPPED, as docs/architecture.md defines them.

    Skipped: enable-when disables the criterion's question. Unknown: the
    question is unanswered, or its enable-when depends on an unanswered
    question.
    """
    enabled = _question_enabled(rulebook, criterion.question, answers)
    if enabled is False:
        return SKIPPED
    answer = answers.get(criterion.question)
    if enabled is None or answer is None:
        return UNKNOWN
    return HOLDS if _holds(criterion.operator, answer, criterion.value) else FAILS


def _condition_result(
    rulebook: Rulebook, condition: ConditionSpec, outcome: Mapping[str, str], answers: Mapping[str, object],
) -> ConditionResult:
    """One condition's status from its criteria's outcomes, by precedence:
    excluded, not_met, incomplete, caution, eligible."""

    def reasons(effect, *outcomes):
        """This condition's criteria of this effect whose outcome is one of
        `outcomes`, as reasons, in rulebook order."""
        return tuple([
            _reason(c, outcome[c.key]) for c in rulebook._criteria_for(condition.slug, effect)
            if outcome[c.key] in outcomes
        ])

    cautions = reasons(CAUTION, HOLDS)
    missing = ()
    # 1. an exclude that holds
    if excludes := reasons(EXCLUDE, HOLDS):
        status, deciding = EXCLUDED, excludes
    # 2. a require that does not hold (a skipped one does not hold either)
    elif unmet := reasons(REQUIRE, FAILS, SKIPPED):
        status, deciding = NOT_MET, unmet
    # 3. any criterion, of any effect, that is unknown
    elif unknown := tuple([
        _reason(c, UNKNOWN) for c in rulebook.criteria_for(condition.slug) if outcome[c.key] == UNKNOWN
    ]):
        status, deciding = INCOMPLETE, unknown
        missing = _missing_questions(rulebook, [r.question for r in unknown], answers)
    # 4. a caution that holds
    elif cautions:
        status, deciding = CAUTION_STATUS, cautions
    # 5. otherwise eligible, every requirement met
    else:
        status, deciding = ELIGIBLE, reasons(REQUIRE, HOLDS)
    return ConditionResult(condition.slug, status, deciding, cautions, missing, condition.references)


def _applies_to_screening(rulebook: Rulebook, criterion: CriterionSpec, conditions: Sequence[str]) -> bool:
    """An alert or duty for every condition applies to any screening; one
    for particular conditions, when one of them is among those screened."""
    if not criterion.conditions:
        return bool(conditions)
    return any(slug in criterion.conditions for slug in conditions if slug in rulebook.condition)


def _reason(criterion: CriterionSpec, outcome: str) -> Reason:
    return Reason(criterion.key, criterion.question, criterion.effect, outcome, criterion.message, criterion.references)


def _question_enabled(rulebook: Rulebook, code: str, answers: Mapping[str, object]):
    """True, False (enable-when disables it, or a question up its chain), or
    None (it depends on a question not answered yet)."""
    enable_when = rulebook.question[code].enable_when
    if enable_when is None:
        return True
    parent = enable_when.question
    parent_enabled = _question_enabled(rulebook, parent, answers)
    if parent_enabled is not True:
        return parent_enabled  # a disabled parent disables its children
    if answers.get(parent) is None:
        return None
    return _holds(enable_when.operator, answers[parent], enable_when.value)


def _missing_questions(rulebook: Rulebook, codes, answers: Mapping[str, object]) -> tuple[str, ...]:
    """The questions to answer next, in questionnaire order: for each unknown
    question, the first unanswered question up its enable-when chain (or
    itself)."""
    blocking = set()
    for code in codes:
        while (enable_when := rulebook.question[code].enable_when) is not None:
            parent = enable_when.question
            if _question_enabled(rulebook, parent, answers) is True and answers.get(parent) is not None:
                break  # the parent is answered: this question is the one to answer
            code = parent
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
    """The questionnaire's questions with their enable-when state for these
    answers: (question, True | False | None) in display order, where None
    means it depends on a question not answered yet."""
    return tuple((q, _question_enabled(rulebook, q.code, answers)) for q in rulebook.questions_for(conditions))


def read_alike(rulebook: Rulebook, conditions: Sequence[str], code: str, values: Sequence) -> bool:
    """Whether every rule that reads question `code` for these conditions
    (the criteria that apply to them, and the enable-when of the
    questions their questionnaire asks) gives the same result for each of
    `values`: then any of them may stand for the others. Used when an
    answer is known only to be one of a few values (an age worked out
    from a year of birth)."""
    chosen = [slug for slug in conditions if slug in rulebook.condition]
    rules = [
        (c.operator, c.value) for c in rulebook.criteria
        if c.question == code and any(c.applies_to(slug) for slug in chosen)
    ]
    rules += [
        (q.enable_when.operator, q.enable_when.value) for q in rulebook.questions_for(chosen)
        if q.enable_when is not None and q.enable_when.question == code
    ]
    return all(len({_holds(operator, v, value) for v in values}) == 1 for operator, value in rules)


def unanswered_questions(rulebook: Rulebook, conditions: Sequence[str], answers: Mapping[str, object]):
    """Codes of the enabled questions that have no answer, in display order:
    what "Show summary" insists on."""
    return tuple(
        q.code for q, enabled in enabled_questions(rulebook, conditions, answers)
        if enabled is True and answers.get(q.code) is None
    )


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
    if not isinstance(answers, Mapping):
        errors["answers"] = ["must be an object mapping question codes to answers."]
        answers = {}

    problems = {}  # answer's code -> (field, message)
    for code in answers:
        if code not in rulebook.question:
            problems[code] = (_short(str(code)), "unknown question code.")
    questionnaire = rulebook.questions_for(chosen)
    cleaned = {}
    for question in questionnaire:
        value = answers.get(question.code)
        if value is None:
            continue
        try:
            cleaned[question.code] = clean_answer(question, value)
        except ValueError as error:
            problems[question.code] = (question.code, str(error))

    # Enable-when is read from the valid answers; a disabled question's
    # answer is dropped, even an invalid one, as the form never showed it.
    disabled = [
        q.code for q in questionnaire
        if (q.code in cleaned or q.code in problems) and _question_enabled(rulebook, q.code, cleaned) is False
    ]
    for code in disabled:
        cleaned.pop(code, None)
        problems.pop(code, None)

    for code in answers:  # in the order given
        if code in problems:
            field, message = problems[code]
            errors[field] = [message]
    return Validation(conditions=chosen, answers=cleaned, errors=errors)


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


def _clean_choice(question: QuestionSpec, value):
    if type(value) is not str or value not in question.choice_values:
        raise ValueError(f"“{_short(value)}” is not one of the choices ({', '.join(question.choice_values)}).")
    return value


def _clean_choices(question: QuestionSpec, value):
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


def _short(value, limit=40):
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
