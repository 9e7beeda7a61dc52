"""The knowledge-base file's format, as pydantic models.

`KnowledgeBaseFile` describes what a knowledge-base YAML file may hold
(conditions/knowledge/default.yaml, and the older editions it grew from):
the parts, their items, each item's fields and the type of each field. The
loader (conditions/loader.py) validates a parsed file with it before it
builds any row, and reports each problem at its path in the file, such as
`criteria[12].value`; what the models check beyond the shape (a question
that exists, an operator that fits its question, a cycle) stays with the
models' own `clean()`.

The JSON Schema in docs/knowledge-base.schema.json is generated from these
models (`manage.py knowledge_base_schema --write`), so an editor can check a
file as it is written. This module imports no Django: the rules' words come
from `rules`, which imports none either.
"""

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
    model_validator,
)

from rules import engine as vocabulary

# The rules' words, from the one place they are defined.
KINDS = (
    vocabulary.BOOLEAN, vocabulary.INTEGER, vocabulary.DECIMAL,
    vocabulary.CHOICE, vocabulary.MULTI_CHOICE, vocabulary.TRIALS,
)
OPERATORS = tuple(vocabulary.OPERATORS)
EFFECTS = (vocabulary.REQUIRE, vocabulary.EXCLUDE, vocabulary.CAUTION, vocabulary.ALERT, vocabulary.DUTY)
BASES = vocabulary.BASES
CALCULATIONS = vocabulary.CALCULATIONS
TRIAL_COUNTS = vocabulary.TRIAL_COUNTS
STATUSES = vocabulary.STATUS_ORDER

# Top-level parts whose names start with this hold shared pieces (YAML anchors); loading skips them.
SHARED_PREFIX = "x-"
SCHEMA_ID = "https://ketascreen.example/knowledge-base.schema.json"

Number = StrictInt | StrictFloat
Key = Annotated[str, Field(min_length=1)]
Keys = list[str]


def _one_of(words):
    return Literal[tuple(words)]  # type: ignore[valid-type]


class Part(BaseModel):
    """An item of the file: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Section(Part):
    """A section of the questionnaire; sections are asked in the file's order."""

    key: Key = Field(description="Stable key, e.g. safety.")
    title: str = Field(description="The heading clinicians see.")


class Reference(Part):
    """A source the knowledge base cites."""

    key: Key = Field(description="Stable key, e.g. feder-2014.")
    authors: str
    title: str
    source: StrictInt | str | None = Field(None, description="Journal, year, volume and pages, or the publisher.")
    doi: str | None = Field(None, description="The DOI alone, e.g. 10.1001/jamapsychiatry.2014.62.")
    pmid: str | None = Field(None, description="Digits only, quoted, e.g. \"24740528\".")
    url: str | None = None
    verified: StrictBool | None = Field(None, description="false: not yet checked against the source itself.")
    note: str | None = None


class EvidenceGrade(Part):
    """One evidence grade of a condition."""

    grade: str = Field(description="The grade as the source gives it, e.g. Moderate.")
    applies_to: str | None = Field(None, description="What it grades; empty for the whole condition.")
    source: Key = Field(description="The key of the reference that gives this grade.")
    note: str | None = None


class Condition(Part):
    """A condition a patient may be screened for."""

    slug: Key = Field(description="Stable key, e.g. trd.")
    name: str
    description: str | None = None
    guidance: str | None = None
    licensing: str | None = None
    active: StrictBool | None = None
    references: Keys | None = Field(None, description="Reference keys, e.g. [feder-2014, sanacora-2017].")
    evidence: list[EvidenceGrade] | None = Field(None, description="Every evidence grade of the condition.")


class Choice(Part):
    """One choice of a choice question."""

    value: Key = Field(description="Stored and used by rules, e.g. active_plan.")
    label: str = Field(description="What clinicians see.")


class Rule(Part):
    """A question's `enable_when` or a criterion's `when`."""

    question: Key = Field(description="The code of the question it reads.")
    operator: _one_of(OPERATORS)
    value: Any = Field(None, description="What the answer is compared with; none for is_true and is_false.")


class Question(Part):
    """A question of the questionnaire; questions keep the file's order within their section."""

    code: Key = Field(description="Stable key, e.g. phq9_total.")
    section: Key = Field(description="The key of its section.")
    kind: _one_of(KINDS)
    text: str
    help: str | None = None
    choices: list[Choice] | None = Field(None, description="For choice and multi_choice questions.")
    min: Number | None = None
    max: Number | None = None
    unit: str | None = None
    calculation: _one_of(CALCULATIONS) | None = None
    inputs: Keys | None = Field(None, description="The question codes a calculated question is worked out from.")
    enable_when: Rule | None = Field(None, description="Asked only when this holds.")
    complete_when: Key | None = Field(
        None,
        description="On a trials question: the yes/no question that says the list is complete. "
                    "Until it is answered yes, a count that falls short of a rule is unknown.",
    )
    # A field the loader learns is added here too, then the JSON Schema
    # regenerated: the loader refuses a field this model does not know.


class Criterion(Part):
    """A rule: what an answer means for a condition."""

    key: Key = Field(description="Stable key, e.g. trd-phq9-require.")
    question: Key = Field(description="The code of the question it reads.")
    operator: _one_of(OPERATORS)
    value: Any = Field(None, description="What the answer is compared with; none for is_true and is_false.")
    effect: _one_of(EFFECTS)
    message: str
    basis: _one_of(BASES) | None = None
    active: StrictBool | None = None
    when: Rule | None = Field(None, description="Applies only when this holds (e.g. one route).")
    conditions: Keys | None = Field(None, description="Condition slugs; [] for every condition.")
    references: Keys | None = None


class ScoreOption(Part):
    score: StrictInt
    label: str


class Band(Part):
    min: StrictInt
    max: StrictInt
    label: str


class Instrument(Part):
    """A scored questionnaire asked item by item (PHQ-9)."""

    code: Key
    name: str
    total: Key = Field(description="The calculated question (a sum) that holds its score.")
    items: Keys | None = Field(None, description="Its scored items: the inputs of its total.")
    extra_items: Keys | None = Field(None, description="Asked with it, not scored.")
    options: list[ScoreOption] | None = None
    bands: list[Band] | None = None
    references: Keys | None = None
    licence: str | None = None


class Drug(Part):
    """A drug of the formulary antidepressant trials are judged against."""

    key: Key
    name: str
    drug_class: str = Field(alias="class", description="ssri, snri, tca, maoi, nassa, other or augmentation.")
    min_daily_dose_mg: Number | None = None
    counts_as_trial: StrictBool | None = None
    note: str | None = None
    references: Keys | None = None


class Formulary(Part):
    min_trial_weeks: StrictInt | None = None
    count: _one_of(TRIAL_COUNTS) | None = None
    partial_response_counts: StrictBool | None = None
    references: Keys | None = None
    drugs: list[Drug] | None = None


class RetiredMapping(Part):
    answer: Any = Field(description="An answer the retired question was given.")
    to: dict[str, Any] = Field(description="The answers it stands for, by question code.")


class RetiredQuestion(Part):
    """A question an older edition asked, and how its answers are read now."""

    code: Key
    text: str
    maps: list[RetiredMapping] | None = None


class Case(Part):
    """A case of the case library: answers and the status expected per condition."""

    name: str
    description: str | None = None
    answers: dict[str, Any] | None = Field(None, description="Question code: answer. A code not listed is unanswered.")
    expected: dict[str, _one_of(STATUSES)] = Field(description="Condition slug: expected status.")


class KnowledgeBaseFile(Part):
    """A knowledge-base file. Parts whose names start with x- hold shared pieces and are skipped."""

    model_config = ConfigDict(
        extra="forbid",
        title="KetaScreen knowledge base",
        json_schema_extra={"patternProperties": {f"^{SHARED_PREFIX}": {}}},
    )

    sections: list[Section] | None = None
    references: list[Reference] | None = None
    conditions: list[Condition] | None = None
    questions: list[Question] | None = None
    criteria: list[Criterion] | None = None
    instruments: list[Instrument] | None = None
    formulary: Formulary | None = None
    retired_questions: list[RetiredQuestion] | None = None
    cases: list[Case] | None = None

    @model_validator(mode="before")
    @classmethod
    def _skip_shared_parts(cls, data):
        if isinstance(data, dict):
            return {name: value for name, value in data.items() if not str(name).startswith(SHARED_PREFIX)}
        return data


def json_schema():
    """The JSON Schema (draft 2020-12) of a knowledge-base file."""
    schema = KnowledgeBaseFile.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def path_of(location):
    """A pydantic error location as a path in the file, e.g. criteria[12].value."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def schema_problems(data):
    """(path, message) for every place `data` does not fit the format; empty when it fits."""
    try:
        KnowledgeBaseFile.model_validate(data)
    except ValidationError as error:
        found = {}  # path -> message; a union's members each report, and the last (the widest) is kept
        for problem in error.errors(include_url=False):
            found[path_of(_location(problem["loc"]))] = _wording(problem)
        return list(found.items())
    return []


def _location(location):
    # A union's member names its type in the location (`str`, `list[str]`, `int`): not a place in the file.
    return tuple(part for part in location if isinstance(part, int) or not _is_type_name(part))


def _is_type_name(part):
    return part in {"str", "int", "float", "bool", "none"} or "[" in part or part.startswith(("literal[", "function-"))


def _wording(error):
    """A pydantic error in the loader's words."""
    kind, context = error["type"], error.get("ctx") or {}
    given = error.get("input")
    if kind == "missing":
        return "this field is needed."
    if kind == "extra_forbidden":
        return "not a field here."
    if kind == "literal_error":
        return f"“{given}” is not one of: {context.get('expected', '').replace(chr(39), '')}."
    if kind in {"string_type", "string_too_short"}:
        return "write some text." if kind == "string_too_short" else f"write text, not {given!r}."
    if kind in {"int_type", "int_from_float", "int_parsing"}:
        return f"write a whole number, not {given!r}."
    if kind in {"float_type", "float_parsing"}:
        return f"write a number, not {given!r}."
    if kind in {"bool_type", "bool_parsing"}:
        return f"write true or false, not {given!r}."
    if kind == "list_type":
        return "write a list, one item per line starting with “- ”."
    if kind in {"dict_type", "model_type", "model_attributes_type"}:
        return "write a mapping of fields."
    return error["msg"] + "."
