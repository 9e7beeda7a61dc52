"""FHIR R4 resources as plain JSON-shaped dicts (docs/fhir.md).

- `questionnaire()`: a rulebook version as an SDC Questionnaire;
- `questionnaire_response()`: conditions and answers as a
  QuestionnaireResponse to that Questionnaire;
- `record_from_response()`: a QuestionnaireResponse read back as a `screen`
  record (docs/batch.md), with an error naming the linkId of anything that
  does not map;
- `screening_bundle()`: a final screening as a FHIR document Bundle.

Everything is built from the rulebook's dataclasses, never from particular
question codes: only `conditions`, the item that carries the chosen
conditions, is a name of this module's own. Standard library and the
engine only, like screening.batch, so the `screen` command, the pages and
the tests share one mapping; callers pass the canonical base URL.
"""

import uuid
from collections.abc import Mapping

from rules import engine
from rules.vocabulary import Status, TrialOutcome

CONDITIONS = "conditions"       # the linkId of the chosen conditions
QUESTIONNAIRE_RESPONSE = "QuestionnaireResponse"
SECTION_PREFIX = "section:"     # the linkId of a section's group: never a question code (a slug)
TRIAL_PARTS = engine.TRIAL_FIELDS

SDC_QUESTIONNAIRE = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire"
EXT_UNIT = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit"
EXT_MIN = "http://hl7.org/fhir/StructureDefinition/minValue"
EXT_MAX = "http://hl7.org/fhir/StructureDefinition/maxValue"
EXT_ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
EXT_ENABLE_WHEN_EXPRESSION = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression"
EXT_CALCULATED_EXPRESSION = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"
ITEM_CONTROL = "http://hl7.org/fhir/questionnaire-item-control"
UCUM = "http://unitsofmeasure.org"
# Our units as UCUM codes; a unit not listed goes across as its words only.
UCUM_CODES = {"years": "a", "months": "mo", "weeks": "wk", "days": "d", "mmHg": "mm[Hg]", "mg": "mg",
              "kg": "kg", "cm": "cm"}

FHIR_TYPE = {
    engine.BOOLEAN: "boolean", engine.INTEGER: "integer", engine.DECIMAL: "decimal",
    engine.CHOICE: "choice", engine.MULTI_CHOICE: "choice", engine.TRIALS: "group",
}
VALUE_KEY = {
    engine.BOOLEAN: "valueBoolean", engine.INTEGER: "valueInteger", engine.DECIMAL: "valueDecimal",
    engine.CHOICE: "valueCoding", engine.MULTI_CHOICE: "valueCoding",
}
ANSWER_KEY = {  # the enableWhen answer[x] for a parent of each kind
    engine.BOOLEAN: "answerBoolean", engine.INTEGER: "answerInteger", engine.DECIMAL: "answerDecimal",
    engine.CHOICE: "answerCoding", engine.MULTI_CHOICE: "answerCoding",
}
COMPARISONS = {"eq": "=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


class Canonical:
    """The names the resources carry, all under one base URL (the setting
    FHIR_BASE_URL), so that they stay the same on every host of a site."""

    def __init__(self, base: str):
        self.base = base.rstrip("/")

    @property
    def questionnaire(self) -> str:
        return f"{self.base}/Questionnaire/ketascreen"

    def codes(self, name: str) -> str:
        """The code system of a question's choices (or `conditions`, `formulary`, `trial-outcome`)."""
        return f"{self.base}/CodeSystem/{name}"

    def identifier_system(self, name: str) -> str:
        return f"{self.base}/identifier/{name}"

    def versioned(self, number: int | None) -> str:
        return self.questionnaire if number is None else f"{self.questionnaire}|{number}"


# --- the Questionnaire ------------------------------------------------------


def questionnaire(rulebook: engine.Rulebook, *, base: str, number: int, published_at: str = "") -> dict:
    """Published rulebook version `number` as an SDC Questionnaire (FHIR R4).

    One group per section, in questionnaire order, after the `conditions`
    item; each question an item whose linkId is its code. An item is
    enabled only when a chosen condition asks it and its own enable-when
    holds: as `enableWhen` where FHIR's operators say it, else as an SDC
    `enableWhenExpression` in FHIRPath. Calculated questions carry an SDC
    `calculatedExpression`; a trials question is a repeating group.
    """
    names = Canonical(base)
    asking = _conditions_asking(rulebook)
    every = frozenset(c.slug for c in rulebook.conditions)
    required = _required_codes(rulebook)
    items = [{
        "linkId": CONDITIONS, "text": "Conditions the patient presents with", "type": "choice",
        "required": True, "repeats": True,
        "answerOption": [
            {"valueCoding": {"system": names.codes(CONDITIONS), "code": c.slug, "display": c.name}}
            for c in rulebook.conditions
        ],
    }]
    for section in rulebook.sections:
        questions = [q for q in rulebook.questions if q.section == section.key]
        if not questions:
            continue
        items.append({
            "linkId": SECTION_PREFIX + section.key, "text": section.title, "type": "group",
            "item": [
                _question_item(rulebook, q, names, _gate(asking.get(q.code, {}), every), q.code in required)
                for q in questions
            ],
        })
    resource = {
        "resourceType": "Questionnaire",
        "id": f"ketascreen-{number}",
        "meta": {"profile": [SDC_QUESTIONNAIRE]},
        "url": names.questionnaire,
        "identifier": [{"system": names.identifier_system("rulebook-version"), "value": rulebook.version}],
        "version": str(number),
        "name": "KetaScreen",
        "title": "Ketamine therapy screening",
        "status": "active",
        "subjectType": ["Patient"],
        "description": (
            "The questions KetaScreen asks before ketamine therapy, for the conditions chosen. "
            "Its advice never replaces clinical judgement."
        ),
        "item": items,
    }
    if published_at:
        resource["date"] = published_at
    return resource


def _conditions_asking(rulebook: engine.Rulebook) -> dict[str, dict]:
    """For each question code, the conditions whose questionnaire asks it,
    each with the `when` rules under which it can matter there (None:
    always; docs/architecture.md, "Questions asked only when they can matter")."""
    asking = {}
    for condition in rulebook.conditions:
        rules = rulebook.asked_when([condition.slug])
        for question in rulebook.questions_for([condition.slug]):
            asking.setdefault(question.code, {})[condition.slug] = rules.get(question.code)
    return asking


def _gate(asking: dict, every: frozenset[str]):
    """The conditions an item is limited to, each with the rules under which
    it matters there, or None when every condition asks it always."""
    if asking.keys() == every and all(rules is None for rules in asking.values()):
        return None
    return asking


def _required_codes(rulebook: engine.Rulebook) -> frozenset[str]:
    """The questions a clinician must answer when they are asked: not a
    calculated question (its inputs or a typed value will do), not an input
    or extra item of one (a total may be typed instead), not a trials list
    nor its completeness question."""
    # A trials list's completeness question is optional like the list: a
    # count typed instead of the list needs neither.
    optional = {q.complete_when for q in rulebook.questions if q.complete_when}
    for question in rulebook.calculated_questions:
        optional |= {question.code, *question.inputs}
        if instrument := rulebook.instrument_for_total.get(question.code):
            optional |= set(instrument.extra_items)
    return frozenset(
        q.code for q in rulebook.questions if q.code not in optional and q.kind != engine.TRIALS
    )


def _question_item(rulebook, question: engine.QuestionSpec, names: Canonical, gate, required: bool) -> dict:
    """One question as an item. `gate`: the conditions that ask it, each with
    the `when` rules under which it matters there, or None when every
    condition always does."""
    item = {"linkId": question.code, "text": question.text, "type": FHIR_TYPE[question.kind]}
    extensions = []
    if question.unit:
        unit = {"system": UCUM, "code": UCUM_CODES[question.unit]} if question.unit in UCUM_CODES else {}
        extensions.append({"url": EXT_UNIT, "valueCoding": {**unit, "display": question.unit}})
    if question.kind in (engine.INTEGER, engine.DECIMAL):
        key = "valueInteger" if question.kind == engine.INTEGER else "valueDecimal"
        for url, bound in ((EXT_MIN, question.min), (EXT_MAX, question.max)):
            if bound is not None:
                extensions.append({"url": url, key: bound})
    if question.calculation:
        extensions.append({"url": EXT_CALCULATED_EXPRESSION, "valueExpression": {
            "language": "text/fhirpath", "expression": _calculation_expression(rulebook, question),
        }})
    enable = _enable(rulebook, question, gate, names)
    if isinstance(enable, str):
        extensions.append({"url": EXT_ENABLE_WHEN_EXPRESSION, "valueExpression": {
            "language": "text/fhirpath", "expression": enable,
        }})
    if extensions:
        item["extension"] = extensions
    if isinstance(enable, tuple):
        conditions, behaviour = enable
        item["enableWhen"] = conditions
        if len(conditions) > 1:
            item["enableBehavior"] = behaviour
    if required:
        item["required"] = True
    if question.kind == engine.MULTI_CHOICE:
        item["repeats"] = True
    if question.kind in (engine.CHOICE, engine.MULTI_CHOICE):
        item["answerOption"] = [
            {"valueCoding": {"system": names.codes(question.code), "code": c.value, "display": c.label}}
            for c in question.choices
        ]
    children = []
    if help_text := _help(rulebook, question):
        children.append({
            "linkId": f"{question.code}.help", "text": help_text, "type": "display",
            "extension": [{"url": EXT_ITEM_CONTROL, "valueCodeableConcept": {
                "coding": [{"system": ITEM_CONTROL, "code": "help"}],
            }}],
        })
    if question.kind == engine.TRIALS:
        item["repeats"] = True
        children += _trial_items(rulebook, question, names)
    if children:
        item["item"] = children
    return item


def _help(rulebook: engine.Rulebook, question: engine.QuestionSpec) -> str:
    """The question's help text; for an instrument's item, its scores in words too."""
    parts = [question.help_text] if question.help_text else []
    for instrument in rulebook.instruments:
        if question.code in instrument.items:
            parts.append("Scored " + ", ".join(f"{o.score} = {o.label}" for o in instrument.options) + ".")
    return " ".join(parts)


def _trial_items(rulebook: engine.Rulebook, question: engine.QuestionSpec, names: Canonical) -> list[dict]:
    """A trial's four parts, each an item of the repeating group."""
    code = question.code
    return [
        {"linkId": f"{code}.drug", "text": "Drug", "type": "choice", "required": True,
         "answerOption": [
             {"valueCoding": {"system": names.codes("formulary"), "code": d.key, "display": d.name}}
             for d in rulebook.formulary
         ]},
        {"linkId": f"{code}.daily_dose_mg", "text": "Daily dose", "type": "decimal", "required": True,
         "extension": [{"url": EXT_UNIT, "valueCoding": {"system": UCUM, "code": "mg", "display": "mg"}}]},
        {"linkId": f"{code}.weeks", "text": "Weeks at that dose", "type": "decimal", "required": True,
         "extension": [{"url": EXT_UNIT, "valueCoding": {"system": UCUM, "code": "wk", "display": "weeks"}}]},
        {"linkId": f"{code}.outcome", "text": "Outcome", "type": "choice", "required": True,
         "answerOption": [
             {"valueCoding": {"system": names.codes("trial-outcome"), "code": outcome,
                              "display": TrialOutcome(outcome).label}}
             for outcome in engine.TRIAL_OUTCOMES
         ]},
    ]


# --- enable-when --------------------------------------------------------------


def _enable(rulebook, question: engine.QuestionSpec, gate, names: Canonical):
    """When the item is enabled: None (always), (enableWhen list, behaviour)
    when FHIR's own enableWhen says it, or a FHIRPath expression."""
    if gate is not None and not gate:
        return "false"  # no condition asks it
    rule = question.enable_when
    own = _enable_when(rulebook, rule, names) if rule is not None else None
    if rule is None and gate is None:
        return None
    if gate is None and own is not None:
        return own
    always = gate is not None and all(rules is None for rules in gate.values())
    if rule is None and always:
        return ([{"question": CONDITIONS, "operator": "=",
                  "answerCoding": {"system": names.codes(CONDITIONS), "code": slug}}
                 for slug in sorted(gate)], "any")
    parts = [] if rule is None else [_rule_expression(rulebook, rule)]
    if gate is not None:
        parts.insert(0, _gate_expression(rulebook, gate))
    return " and ".join(f"({part})" for part in parts)


def _gate_expression(rulebook, gate: dict) -> str:
    """FHIRPath: some chosen condition asks the question, and where it is
    asked only under `when` rules, one of them holds."""
    chosen = []
    for slug, rules in sorted(gate.items()):
        asked = f"{_answer_codes(CONDITIONS)}.intersect({_literals([slug])}).exists()"
        if rules is not None:
            asked += " and (" + " or ".join(f"({_rule_expression(rulebook, r)})" for r in rules) + ")"
        chosen.append(asked)
    return " or ".join(f"({part})" for part in chosen)


def _enable_when(rulebook, rule: engine.EnableWhen, names: Canonical):
    """(enableWhen list, behaviour) saying the rule exactly, or None when
    FHIR's operators cannot: `ne`, `not_in` and `none_of` hold only for an
    answered question, which an enableWhen "!=" does not require."""
    parent = rulebook.question[rule.question]
    key = ANSWER_KEY[parent.kind]

    def condition(operator, value):
        if key == "answerCoding":
            value = {"system": names.codes(rule.question), "code": value}
        return {"question": rule.question, "operator": operator, key: value}

    if rule.operator in ("is_true", "is_false"):
        return [condition("=", rule.operator == "is_true")], "all"
    if rule.operator in COMPARISONS:
        return [condition(COMPARISONS[rule.operator], rule.value)], "all"
    if rule.operator in ("in", "any_of"):
        return [condition("=", value) for value in rule.value], "any"
    if rule.operator == "all_of":
        return [condition("=", value) for value in rule.value], "all"
    return None


def _answers(code: str) -> str:
    return f"%resource.repeat(item).where(linkId={_literal(code)}).answer.value"


def _answer_codes(code: str) -> str:
    return _answers(code) + ".code"


def _literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _literals(values) -> str:
    return "(" + " | ".join(_literal(v) for v in values) + ")"


def _rule_expression(rulebook, rule: engine.EnableWhen) -> str:
    """Our enable-when grammar in FHIRPath: true only when the parent is
    answered and the rule holds (an unanswered parent leaves it disabled)."""
    parent = rulebook.question[rule.question]
    choice = parent.kind in (engine.CHOICE, engine.MULTI_CHOICE)
    answer = _answer_codes(rule.question) if choice else _answers(rule.question)
    operator, value = rule.operator, rule.value
    if operator in ("is_true", "is_false"):
        return f"{answer} = {_literal(operator == 'is_true')}"
    if operator in COMPARISONS:
        return f"{answer}.exists() and {answer} {COMPARISONS[operator]} {_literal(value)}"
    if operator == "ne":
        return f"{answer}.exists() and {answer} != {_literal(value)}"
    if operator in ("in", "any_of"):
        return f"{answer}.intersect({_literals(value)}).exists()"
    if operator == "all_of":
        return f"{_literals(value)}.subsetOf({answer})"
    if operator in ("not_in", "none_of"):
        return f"{answer}.exists() and {answer}.intersect({_literals(value)}).empty()"
    raise ValueError(f"no FHIRPath for the operator {operator}")


# --- calculated values ------------------------------------------------------


def _calculation_expression(rulebook, question: engine.QuestionSpec) -> str:
    """A calculated question in FHIRPath: empty until every input is answered,
    as the engine leaves it unknown (docs/architecture.md, "Calculated values")."""
    if question.calculation == engine.SUM:
        return " + ".join(_answers(code) for code in question.inputs)
    if question.calculation == engine.ADEQUATE_FAILED_TRIALS:
        counted = []
        for code in question.inputs:
            trials = f"%resource.repeat(item).where(linkId={_literal(code)})"
            adequate = f"{trials}.where({_adequate_trial(rulebook, code)})"
            if rulebook.trial_count == engine.COUNT_DISTINCT_DRUGS:  # each different drug once
                adequate += f".select(item.where(linkId={_literal(code + '.drug')}).answer.value.code).distinct()"
            given = f"{trials}.exists()"
            if complete_when := rulebook.question[code].complete_when:
                # An empty list declared complete is a count of 0 (unless a count was typed).
                given = (
                    f"({given} or ({_answers(complete_when)} = true and {_answers(question.code)}.empty()))"
                )
            counted.append(f"iif({given}, {adequate}.count())")
        return " + ".join(counted)
    raise ValueError(f"no FHIRPath for the calculation {question.calculation}")


def _adequate_trial(rulebook, code: str) -> str:
    """FHIRPath over one trial group: whether it counts as an adequate failed
    trial (engine.judge_trial): a drug that counts at its minimum dose or
    more, for the formulary's minimum weeks or more, with no response (or
    only a partial one, where the formulary counts it)."""
    def part(name):
        value = f"item.where(linkId={_literal(f'{code}.{name}')}).answer.value"
        return value + ".code" if name in ("drug", "outcome") else value

    doses = [
        f"({part('drug')} = {_literal(d.key)} and {part('daily_dose_mg')} >= {_literal(d.min_daily_dose_mg)})"
        for d in rulebook.formulary if d.counts_as_trial and d.min_daily_dose_mg is not None
    ]
    drug = "(" + " or ".join(doses) + ")" if doses else "false"
    failures = [o for o in engine.FAILED_OUTCOMES
                if o != engine.PARTIAL_RESPONSE or rulebook.partial_response_counts]
    return (
        f"{drug} and {part('weeks')} >= {_literal(rulebook.min_trial_weeks)}"
        f" and {part('outcome')}.intersect({_literals(failures)}).exists()"
    )


# --- the QuestionnaireResponse ----------------------------------------------


def questionnaire_response(rulebook: engine.Rulebook, *, base: str, number: int | None, conditions,
                           answers: Mapping, patient: str, status: str = "completed",
                           authored: str = "", author: str = "") -> dict:
    """Conditions and answers as a QuestionnaireResponse to version `number`
    of the Questionnaire (its canonical `url|version`), nested as the
    Questionnaire nests its items. An unanswered question has no item; an
    answer to a question this rulebook does not have is left out. `author`:
    a reference such as "urn:uuid:…"."""
    names = Canonical(base)
    items = [{"linkId": CONDITIONS, "answer": [
        {"valueCoding": {"system": names.codes(CONDITIONS), "code": slug,
                         **({"display": rulebook.condition[slug].name} if slug in rulebook.condition else {})}}
        for slug in conditions
    ]}]
    for section in rulebook.sections:
        answered = []
        for question in rulebook.questions:
            value = answers.get(question.code)
            if question.section != section.key or value is None or value == []:
                continue
            answered += _response_items(question, value, names)
        if answered:
            items.append({"linkId": SECTION_PREFIX + section.key, "item": answered})
    resource = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": names.versioned(number),
        "status": status,
        "subject": patient_reference(base, patient),
        "item": items,
    }
    if authored:
        resource["authored"] = authored
    if author:
        resource["author"] = {"reference": author}
    return resource


def patient_reference(base: str, patient: str) -> dict:
    """The patient as the clinic's identifier only: no Patient resource, no demographics."""
    return {"type": "Patient", "identifier": {
        "system": Canonical(base).identifier_system("patient-reference"), "value": patient,
    }}


def _response_items(question: engine.QuestionSpec, value, names: Canonical) -> list[dict]:
    if question.kind == engine.TRIALS:
        return [
            {"linkId": question.code, "item": [
                {"linkId": f"{question.code}.{name}", "answer": [_trial_value(name, trial[name], names)]}
                for name in TRIAL_PARTS if trial.get(name) is not None
            ]}
            for trial in value
        ]
    values = value if question.kind == engine.MULTI_CHOICE else [value]
    key = VALUE_KEY[question.kind]
    answer = []
    for item in values:
        if key == "valueCoding":
            item = {"system": names.codes(question.code), "code": item, "display": question.choice_label(item)}
        answer.append({key: item})
    return [{"linkId": question.code, "text": question.text, "answer": answer}]


def _trial_value(name: str, value, names: Canonical) -> dict:
    if name == "drug":
        return {"valueCoding": {"system": names.codes("formulary"), "code": value}}
    if name == "outcome":
        return {"valueCoding": {"system": names.codes("trial-outcome"), "code": value}}
    return {"valueDecimal": value}


# --- reading a QuestionnaireResponse ------------------------------------------


def record_from_response(rulebook: engine.Rulebook, response: Mapping) -> tuple[dict, list[str]]:
    """A QuestionnaireResponse as a `screen` record ({"patient",
    "conditions", "answers"}) and the problems met reading it, each naming
    the linkId (or element) concerned. Values are taken as they are; the
    engine's validation then judges them exactly as it judges the same
    answers in the native format."""
    problems = []
    patient = None
    subject = response.get("subject")
    identifier = subject.get("identifier") if isinstance(subject, Mapping) else None
    if isinstance(identifier, Mapping) and isinstance(identifier.get("value"), str):
        patient = identifier["value"]
    else:
        problems.append("subject: give the clinic's patient reference as subject.identifier.value.")
    if response.get("status") == "entered-in-error":
        problems.append("status: a response entered in error is not screened.")
    reader = _Reader(rulebook, problems)
    items = response.get("item", [])
    if not isinstance(items, list):
        problems.append("item: must be a list of items.")
        items = []
    reader.read(items)
    record = {"patient": patient, "conditions": reader.conditions, "answers": reader.answers}
    return record, problems


class _Reader:
    """Walks a response's items into conditions and answers, noting every
    item it cannot map under its linkId."""

    def __init__(self, rulebook: engine.Rulebook, problems: list):
        self.rulebook, self.problems = rulebook, problems
        self.sections = {SECTION_PREFIX + s.key for s in rulebook.sections}
        self.conditions = None
        self.answers = {}

    def problem(self, link_id, message):
        self.problems.append(f"linkId {_short(link_id)}: {message}")

    def read(self, items):
        for item in items:
            if not isinstance(item, Mapping):
                self.problems.append("item: each item must be an object with a linkId.")
                continue
            link_id = item.get("linkId")
            answers = item.get("answer", [])
            if not isinstance(link_id, str):
                self.problems.append("item: each item must have a linkId (a string).")
                continue
            if not isinstance(answers, list):
                self.problem(link_id, "answer must be a list.")
                continue
            question = self.rulebook.question.get(link_id)
            if link_id == CONDITIONS:
                codes = [self.code(link_id, a) for a in answers]
                self.conditions = [code for code in codes if code is not None]
            elif link_id in self.sections:
                self.read(item.get("item", []) if isinstance(item.get("item", []), list) else [])
            elif question is not None and question.kind == engine.TRIALS:
                if answers:
                    self.problem(link_id, "a trial is one repetition of this group, with its drug, "
                                          "daily_dose_mg, weeks and outcome items; not an answer.")
                else:
                    self.trial(question, item)
            elif question is not None:
                self.answer(question, answers)
            else:
                self.problem(link_id, "not an item of this questionnaire.")

    def answer(self, question: engine.QuestionSpec, answers: list):
        code = question.code
        if code in self.answers:
            self.problem(code, "given more than once.")
            return
        if not answers:
            return  # an item without an answer is an unanswered question
        values = [self.value(question, a) for a in answers]
        if None in values:
            return  # named as a problem: left unanswered rather than guessed
        if question.kind == engine.MULTI_CHOICE:
            self.answers[code] = values
        elif len(values) > 1:
            self.problem(code, "takes one answer.")
        else:
            self.answers[code] = values[0]

    def value(self, question: engine.QuestionSpec, answer):
        if question.kind in (engine.CHOICE, engine.MULTI_CHOICE):
            return self.code(question.code, answer)
        key = VALUE_KEY[question.kind]
        accepted = (key, "valueInteger") if question.kind == engine.DECIMAL else (key,)
        given = [k for k in answer if k.startswith("value")] if isinstance(answer, Mapping) else []
        if len(given) != 1 or given[0] not in accepted:
            self.problem(question.code, f"answer with {key}.")
            return None
        return answer[given[0]]

    def code(self, link_id, answer):
        """A choice: valueCoding's code, or valueString."""
        if isinstance(answer, Mapping):
            coding = answer.get("valueCoding")
            if isinstance(coding, Mapping) and "code" in coding:
                return coding["code"]
            if "valueString" in answer:
                return answer["valueString"]
        self.problem(link_id, "answer with valueCoding (its code).")
        return None

    def trial(self, question: engine.QuestionSpec, item: Mapping):
        """One repetition of a trials group: one trial."""
        trials = self.answers.setdefault(question.code, [])
        trial = {}
        parts = item.get("item", [])
        for part in parts if isinstance(parts, list) else []:
            link_id = part.get("linkId") if isinstance(part, Mapping) else None
            name = link_id[len(question.code) + 1:] if isinstance(link_id, str) and link_id.startswith(
                question.code + ".") else None
            if name not in TRIAL_PARTS:
                self.problem(link_id, f"not a part of a trial in {question.code}.")
                continue
            answers = part.get("answer", [])
            if not isinstance(answers, list) or len(answers) > 1:
                self.problem(link_id, "takes one answer.")
                continue
            if not answers:
                continue
            answer = answers[0]
            if name in ("drug", "outcome"):
                trial[name] = self.code(link_id, answer)
            elif isinstance(answer, Mapping) and ("valueDecimal" in answer or "valueInteger" in answer):
                trial[name] = answer.get("valueDecimal", answer.get("valueInteger"))
            else:
                self.problem(link_id, "answer with valueDecimal.")
        trials.append(trial)


def _short(value, limit=40) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- a final screening as a document ----------------------------------------


def _uuid(*parts) -> str:
    """A stable urn:uuid for one part of one screening's document, so that
    a final screening's Bundle is the same every time it is downloaded."""
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, "ketascreen:" + ":".join(map(str, parts))))


def _narrative(lines: list[str]) -> dict:
    """XHTML narrative of plain lines, escaped."""
    def escape(text):
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    body = "".join(f"<p>{escape(line)}</p>" for line in lines) or "<p>None.</p>"
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'}


def screening_bundle(*, rulebook: engine.Rulebook, advisory: engine.Advisory, base: str, number: int | None,
                     screening_id: int, patient: str, conditions, answers: Mapping, finalised_at: str,
                     clinician_username: str, clinician_name: str, amends_id: int | None = None,
                     finalise_reason: str = "") -> dict:
    """A final screening as a FHIR document Bundle: a Composition first (the
    advisory in words, by the clinician, about the patient reference), the
    QuestionnaireResponse of its answers, one GuidanceResponse per
    condition, and the clinician as a Practitioner. No Patient resource:
    the patient is the clinic's identifier only."""
    names = Canonical(base)
    composition_id = _uuid(screening_id, "composition")
    response_id = _uuid(screening_id, "response")
    practitioner_id = _uuid(screening_id, "practitioner")
    subject = patient_reference(base, patient)
    practitioner = {
        "resourceType": "Practitioner",
        "identifier": [{"system": names.identifier_system("user"), "value": clinician_username}],
        "name": [{"text": clinician_name or clinician_username}],
    }
    response = questionnaire_response(
        rulebook, base=base, number=number, conditions=conditions, answers=answers, patient=patient,
        authored=finalised_at, author=practitioner_id,
    )
    guidance = [
        (_uuid(screening_id, "guidance", result.condition),
         _guidance_response(rulebook, result, names, subject, finalised_at, screening_id, response_id))
        for result in advisory.results
    ]
    sections = [{
        "title": "Advice per condition",
        "text": _narrative([
            f"{_condition_name(rulebook, r.condition)}: {Status.label_of(r.status)}."
            for r in advisory.results
        ] + ([f"Finalised while incomplete: {finalise_reason}"] if finalise_reason else [])),
        "entry": [{"reference": full_url} for full_url, _ in guidance],
    }, {
        "title": "Answers",
        "text": _narrative(["The answers the advice was worked out from."]),
        "entry": [{"reference": response_id}],
    }]
    for title, reasons in (("Safety alerts", advisory.alerts), ("At the treatment session", advisory.duties)):
        if reasons:
            sections.append({"title": title, "text": _narrative([r.message for r in reasons])})
    composition = {
        "resourceType": "Composition",
        "identifier": {"system": names.identifier_system("screening"), "value": str(screening_id)},
        "status": "final",
        "type": {"text": "Ketamine therapy screening advisory"},
        "subject": subject,
        "date": finalised_at,
        "author": [{"reference": practitioner_id}],
        "title": "Ketamine therapy screening: advisory summary",
        "attester": [{"mode": "legal", "time": finalised_at, "party": {"reference": practitioner_id}}],
        "section": sections,
    }
    if amends_id is not None:
        composition["relatesTo"] = [{"code": "replaces", "targetIdentifier": {
            "system": names.identifier_system("screening"), "value": str(amends_id),
        }}]
    entries = [
        (composition_id, composition), (response_id, response), *guidance, (practitioner_id, practitioner),
    ]
    return {
        "resourceType": "Bundle",
        "identifier": {"system": names.identifier_system("screening-document"), "value": str(screening_id)},
        "type": "document",
        "timestamp": finalised_at,
        "entry": [{"fullUrl": full_url, "resource": resource} for full_url, resource in entries],
    }


def _condition_name(rulebook, slug):
    condition = rulebook.condition.get(slug)
    return condition.name if condition else slug


GUIDANCE_STATUS = {Status.INCOMPLETE: "data-required"}


def _guidance_response(rulebook, result: engine.ConditionResult, names: Canonical, subject, finalised_at,
                       screening_id, response_id) -> dict:
    """One condition's advice: the status and the criteria that decided it
    as output parameters (a contained Parameters), the questions still to
    answer as data requirements."""
    parameters = [
        {"name": "condition", "valueCoding": {
            "system": names.codes(CONDITIONS), "code": result.condition,
            "display": _condition_name(rulebook, result.condition)}},
        {"name": "status", "valueCode": result.status},
    ]
    for label, reasons in (("reason", result.reasons), ("caution", result.cautions)):
        for reason in reasons:
            parameters.append({"name": label, "part": [
                {"name": "criterion", "valueString": reason.criterion},
                {"name": "question", "valueString": reason.question},
                {"name": "effect", "valueCode": reason.effect},
                {"name": "outcome", "valueCode": reason.outcome},
                {"name": "message", "valueString": reason.message},
                *({"name": "reference", "valueString": key} for key in reason.references),
            ]})
    resource = {
        "resourceType": "GuidanceResponse",
        "contained": [{"resourceType": "Parameters", "id": "advice", "parameter": parameters}],
        "identifier": [{"system": names.identifier_system("screening-advice"),
                        "value": f"{screening_id}-{result.condition}"}],
        "moduleUri": f"{names.base}/rulebook/{rulebook.version}",
        "status": GUIDANCE_STATUS.get(result.status, "success"),
        "subject": subject,
        "occurrenceDateTime": finalised_at,
        "reasonReference": [{"reference": response_id}],
        "note": [{"text": (
            f"{_condition_name(rulebook, result.condition)}: {Status.label_of(result.status)}. "
            "Advisory only: it never replaces clinical judgement."
        )}],
        "outputParameters": {"reference": "#advice"},
    }
    if result.missing:
        resource["dataRequirement"] = [
            {"type": "QuestionnaireResponse", "codeFilter": [{"path": "item.linkId", "code": [
                {"code": code} for code in result.missing
            ]}]}
        ]
    return resource

