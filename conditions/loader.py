"""Loading the knowledge base from a YAML file (see knowledge/default.yaml).

Two steps. `knowledge_base_plan(data)` builds an unsaved instance for every
item of the file, resolves the keys it names (within the file first, then in
the database) and validates each with the models' own `full_clean()`; it
raises `InvalidKnowledgeBase` listing every problem with its place in the
file. `knowledge_base_load(data)` then creates or updates rows by their
stable keys in one transaction, saving only rows that differ, so loading
the same file twice writes nothing (and no history) the second time.
Rows that are in the database but not in the file are left alone.

A file may also hold `cases:`, the library cases a preview checks (see
docs/rulebook-versions.md), `instruments:` (scored questionnaires) and
`formulary:` (the drugs antidepressant trials are judged against, with the
minimum weeks of a trial); a file without them loads as before. A condition
may carry `licensing:` (text) and `evidence:` (its evidence grades, each
`{grade, applies_to, source, note}`; the file states them all, so a
condition without `evidence:` has none). A first-edition file, without
them, loads as before.

The third edition adds, each optional: a criterion's `when` (the grammar
of a question's `enable_when`) and `basis`; the formulary's `count`
(`trials` or `distinct_drugs`) and `partial_response_counts`; and a
top-level `retired_questions:` list, each `{code, text, maps}` where `maps`
lists `{answer, to: {question: answer, …}}`. A second-edition file,
without them, loads as before.
"""

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction

from conditions.kb_schema import schema_problems
from conditions.models import (
    Condition,
    Criterion,
    Drug,
    EvidenceGrade,
    FormularySettings,
    Instrument,
    Question,
    Reference,
    RetiredQuestion,
    RuleCase,
    RuleCaseExpectation,
    Section,
    Status,
    clean_case_answers,
    clean_rule_value,
)

DEFAULT_FILE = Path(__file__).resolve().parent / "knowledge" / "default.yaml"
GROUPS = ("sections", "references", "conditions", "questions", "criteria", "instruments")
PARTS = (*GROUPS, "formulary", "retired_questions", "cases")
FORMULARY_FIELDS = ("min_trial_weeks", "count", "partial_response_counts", "references", "drugs")
RETIRED_FIELDS = {"code": "code", "text": "text", "maps": "maps"}
CASE_FIELDS = ("name", "description", "answers", "expected")
ORDER_STEP = 10
# libyaml's safe loader when PyYAML was built with it: the same result, faster.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Limits on a file before it is read into objects (docs/security.md, "Limits
# on input"). The shipped file is about 100 kB, 6 levels deep, with 40 aliases
# and about 5,000 values; each limit leaves ten times that or more.
MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 40
MAX_ALIASES = 1000
MAX_VALUES = 100_000  # counting each alias as everything it stands for
# The YAML types a knowledge base is written in; !!binary, !!set and the
# like build values no model field or rule takes.
YAML_TAGS = {None, "!", *(f"tag:yaml.org,2002:{name}" for name in (
    "str", "int", "float", "bool", "null", "seq", "map", "timestamp", "merge"))}
FLOAT_TAG = "tag:yaml.org,2002:float"

# YAML field -> model field, per group. Relations are handled on their own.
SECTION_FIELDS = {"key": "key", "title": "title"}
REFERENCE_FIELDS = {
    name: name
    for name in ("key", "authors", "title", "source", "doi", "pmid", "url", "verified", "note")
}
CONDITION_FIELDS = {
    name: name for name in ("slug", "name", "description", "guidance", "licensing", "active")
}
EVIDENCE_FIELDS = ("grade", "applies_to", "source", "note")
QUESTION_FIELDS = {
    "code": "code", "text": "text", "help": "help_text", "kind": "kind", "choices": "choices",
    "min": "min_value", "max": "max_value", "unit": "unit", "calculation": "calculation",
    "complete_when": "complete_when",
}
INSTRUMENT_FIELDS = {name: name for name in ("code", "name", "options", "bands", "licence")}
DRUG_FIELDS = {
    "key": "key", "name": "name", "class": "drug_class", "min_daily_dose_mg": "min_daily_dose_mg",
    "counts_as_trial": "counts_as_trial", "note": "note",
}
CRITERION_FIELDS = {
    name: name for name in ("key", "operator", "value", "effect", "message", "basis", "active")
}
LINK_EXAMPLES = {
    "references": "[feder-2014, sanacora-2017]",
    "conditions": "[trd, ptsd], or [] for every condition",
    "inputs": "[phq9_1, phq9_2, phq9_3]",
    "items": "[phq9_1, phq9_2, phq9_3]",
    "extra_items": "[phq9_difficulty]",
}
# Each problem starts with its path in the file: criteria[12].value, formulary.drugs[3], rules.
PROBLEM_PATH = re.compile(r"[^\s:(]+")
ITEM_PATH = re.compile(r"(?P<group>[a-z_.]+)\[(?P<index>\d+)\]")
KEY_FIELDS = {"conditions": "slug", "questions": "code", "instruments": "code", "retired_questions": "code",
              "cases": "name"}
UNREADABLE = "a value has the wrong type; check each field against docs/knowledge-base.schema.json."
# Model field -> how the file names it, for messages.
FILE_NAMES = {
    "help_text": "help", "min_value": "min", "max_value": "max",
    "enable_when_question": "enable_when.question",
    "enable_when_operator": "enable_when.operator",
    "enable_when_value": "enable_when.value",
    "when_question": "when.question",
    "when_operator": "when.operator",
    "when_value": "when.value",
    "drug_class": "class",
}


class KnowledgeBaseFileError(Exception):
    """The file cannot be read: missing, not YAML, or not a mapping."""


class InvalidKnowledgeBase(Exception):
    """The file reads but some items are invalid; nothing was loaded."""

    def __init__(self, problems):
        super().__init__(f"{len(problems)} problems")
        self.problems = problems


@dataclass
class Item:
    """One item of the file as an unsaved, validated instance."""

    path: str  # where the item is in the file, e.g. criteria[12]
    raw: dict
    instance: object
    links: dict = field(default_factory=dict)  # many-to-many field -> keys
    problems: list = field(default_factory=list)
    evidence: list = field(default_factory=list)  # a condition's unsaved EvidenceGrades
    key: str = ""  # its key, slug, code or name, to tell a reader which item it is

    @property
    def place(self):
        """The item's path with its key, e.g. criteria[12] (trd-phq9-require)."""
        return f"{self.path} ({self.key})" if self.key else self.path

    def problem(self, message, field_name=None, *, at=None):
        """Record a problem with the item, with one of its fields (named as
        the model names it), or `at` a path within the item as the file
        writes it (evidence[2].source)."""
        within = at if at is not None else FILE_NAMES.get(field_name, field_name)
        path = f"{self.path}.{within}" if within else self.path
        self.problems.append(f"{path}{f' ({self.key})' if self.key else ''}: {message}")


@dataclass
class Plan:
    sections: list
    references: list
    conditions: list
    questions: list
    criteria: list
    instruments: list = field(default_factory=list)
    drugs: list = field(default_factory=list)
    formulary: list = field(default_factory=list)  # the settings, as one item (or none)
    retired_questions: list = field(default_factory=list)
    cases: list = field(default_factory=list)

    def problems(self, general=()):
        found = list(general)
        for group in [*GROUPS, "drugs", "formulary", "retired_questions", "cases"]:
            for item in getattr(self, group):
                found.extend(item.problems)
        return found


def read_knowledge_base(path):
    """The parsed YAML of `path`; raises KnowledgeBaseFileError with a one-line reason.

    A file is refused before it is read into objects when it is larger than
    MAX_FILE_BYTES, or when its stream of YAML events (`check_yaml_shape`)
    nests deeper than MAX_DEPTH, uses more than MAX_ALIASES aliases or
    stands for more than MAX_VALUES values once every alias is expanded (a
    "billion laughs" file is a few lines long). Only then does the safe
    loader build it, and a number too long to convert is refused too.
    """
    try:
        with open(path, "rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise KnowledgeBaseFileError(f"No file at {path}.") from None
    except OSError as error:
        raise KnowledgeBaseFileError(f"Cannot read {path}: {error.strerror or error}.") from None
    if len(raw) > MAX_FILE_BYTES:
        raise KnowledgeBaseFileError(
            f"{path} is larger than {MAX_FILE_BYTES // 1024 // 1024} MB, the most a knowledge base file may be."
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise KnowledgeBaseFileError(f"Cannot read {path}: {error}.") from None
    try:
        check_yaml_shape(text)
        data = yaml.load(text, Loader=SAFE_LOADER)
    except YamlRefused as error:
        raise KnowledgeBaseFileError(f"{path} is refused: {error}.") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(error, "problem", None) or "cannot be parsed"
        raise KnowledgeBaseFileError(f"{path} is not valid YAML{where}: {reason}.") from None
    except ValueError:  # int() of a number longer than Python converts (sys.get_int_max_str_digits)
        raise KnowledgeBaseFileError(f"{path} is refused: a number in it has too many digits.") from None
    if not isinstance(data, dict):
        raise KnowledgeBaseFileError(
            f"{path} should be a mapping with the lists {', '.join(GROUPS[:5])}."
        )
    return data


class YamlRefused(Exception):
    """The YAML is well formed but beyond one of the loader's limits, or
    holds text no database column can store."""


def check_yaml_shape(text):
    """Raise YamlRefused when `text` nests deeper than MAX_DEPTH, holds more
    than MAX_ALIASES aliases, or more than MAX_VALUES values with each alias
    counted as the values of the node it repeats; or, naming its line, when
    a value holds a NUL character (PostgreSQL stores none) or a lone
    surrogate (no encoding does), is a number that is not finite (.nan,
    .inf, 1.0e999), or is tagged with a type outside YAML_TAGS (!!binary).

    Reads only the parser's event stream, which is built without recursion
    and holds one event at a time: building objects from a file nested
    100,000 deep would overflow the C stack, and an alias bomb would be
    expanded by whatever walks the objects later. Each open collection keeps
    its running count of values; a closed one adds its count to its parent's,
    and remembers it under its anchor so that an alias to it counts as much.
    """
    open_counts = []  # [anchor, values so far] per collection not yet closed
    anchored = {}  # anchor -> values under it
    aliases = 0

    def add(values):
        if open_counts:
            open_counts[-1][1] += values
            if open_counts[-1][1] > MAX_VALUES:
                raise YamlRefused(f"it stands for more than {MAX_VALUES:,} values once its aliases are expanded")

    resolver = yaml.resolver.Resolver()
    for event in yaml.parse(text, Loader=SAFE_LOADER):
        if isinstance(event, yaml.NodeEvent) and getattr(event, "tag", None) not in YAML_TAGS:
            raise YamlRefused(
                f"the value at line {event.start_mark.line + 1} is tagged {event.tag}; a knowledge base "
                "holds only text, numbers, true or false, dates, lists and mappings"
            )
        if isinstance(event, yaml.CollectionStartEvent):
            if len(open_counts) >= MAX_DEPTH:
                raise YamlRefused(f"it nests more than {MAX_DEPTH} levels deep")
            open_counts.append([event.anchor, 1])
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, values = open_counts.pop()
            if anchor is not None:
                anchored[anchor] = values
            add(values)
        elif isinstance(event, yaml.ScalarEvent):
            if "\x00" in event.value or not _encodable(event.value):
                raise YamlRefused(
                    f"the value at line {event.start_mark.line + 1} holds a NUL character or a lone "
                    "surrogate, which cannot be stored"
                )
            if _is_not_finite(resolver, event):
                raise YamlRefused(f"the number at line {event.start_mark.line + 1} is not finite")
            if event.anchor is not None:
                anchored[event.anchor] = 1
            add(1)
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise YamlRefused(f"it uses more than {MAX_ALIASES} aliases")
            add(anchored.get(event.anchor, 1))


def _is_not_finite(resolver, event):
    """Whether a scalar event is a float (as the safe loader would resolve it)
    that is infinite or not a number."""
    if event.tag not in (None, FLOAT_TAG) or resolver.resolve(yaml.ScalarNode, event.value, event.implicit) != FLOAT_TAG:
        return False
    text = event.value.replace("_", "").lower()
    if "inf" in text or "nan" in text:
        return True
    try:
        return not math.isfinite(float(text))
    except ValueError:  # base 60 (1:30.5): always finite
        return False


def _encodable(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def knowledge_base_load(data, *, reason="Loaded from a knowledge base file"):
    """Validate `data` (a parsed file) and write it; returns counts per group.

    The counts map each group name (and "drugs", "formulary settings",
    "cases") to a Counter of "created", "updated" and "unchanged". Raises InvalidKnowledgeBase, having written nothing, when any
    item is invalid.
    """
    plan = knowledge_base_plan(data)
    with transaction.atomic():
        return _write(plan, reason[:100])


def knowledge_base_plan(data):
    """Every item of `data` built, resolved and validated; raises InvalidKnowledgeBase.

    The file's format (conditions/kb_schema.py) is checked first; the items
    are then built and checked by the models whatever it found, so that
    every problem is listed at once. Where both find a problem at one place
    the loader's own words are kept.
    """
    shape_problems = schema_problems(data)
    general = [
        f"{name}: not a part of a knowledge base file; the parts are {', '.join(PARTS[:-1])} and cases."
        for name in data if name not in PARTS and not str(name).startswith("x-")
    ]
    raw = {}
    for group in GROUPS:
        raw[group] = data.get(group) or []
        if not isinstance(raw[group], list):
            general.append(f"{group}: write a list of items, one per line starting with “- ”.")
            raw[group] = []

    plan = Plan(
        sections=_build(raw, "sections", Section, SECTION_FIELDS, general),
        references=_build(raw, "references", Reference, REFERENCE_FIELDS, general),
        conditions=_build(
            raw, "conditions", Condition, CONDITION_FIELDS, general, links=("references",),
            parts=("evidence",),
        ),
        questions=_build(
            raw, "questions", Question, QUESTION_FIELDS, general,
            relations=("section", "enable_when", "inputs"),
        ),
        criteria=_build(
            raw, "criteria", Criterion, CRITERION_FIELDS, general,
            links=("conditions", "references"), relations=("question", "when"),
        ),
        instruments=_build(
            raw, "instruments", Instrument, INSTRUMENT_FIELDS, general,
            links=("references", "extra_items", "items"), relations=("total",),
        ),
    )
    plan.drugs, plan.formulary = _build_formulary(data.get("formulary"), general)
    raw_retired = data.get("retired_questions") or []
    if not isinstance(raw_retired, list):
        general.append("retired_questions: write a list of items, one per line starting with “- ”.")
        raw_retired = []
    plan.retired_questions = _build(
        {"retired_questions": raw_retired}, "retired_questions", RetiredQuestion, RETIRED_FIELDS, general,
    )
    for group in ("sections", "conditions", "criteria", "instruments", "drugs", "retired_questions"):
        for index, item in enumerate(getattr(plan, group)):
            item.instance.order = index * ORDER_STEP
    _order_questions_within_sections(plan.questions)

    _resolve(plan)
    for item in plan.sections + plan.references + plan.conditions + plan.drugs + plan.formulary:
        _full_clean(item)
    reference_keys = set(Reference.objects.values_list("key", flat=True))
    reference_keys |= set(_by_key(plan.references, "key"))
    for item in plan.conditions:
        _build_evidence(item, reference_keys)
    for item in plan.questions:
        _full_clean(item, exclude=["section", "enable_when_question"])
    for item in plan.criteria:
        _full_clean(item, exclude=["question", "when_question"])
    questions = _question_graph(plan)
    for item in plan.retired_questions:
        _full_clean_retired(item, questions)
    for item in plan.instruments:
        _full_clean(item, exclude=["total"])
    _check_rules_left_in_database(plan)
    plan.cases = _build_cases(data.get("cases"), plan, general)

    problems = _with_shape_problems(plan.problems(general), shape_problems, data)
    if problems:
        raise InvalidKnowledgeBase(problems)
    return plan


def _with_shape_problems(problems, shape_problems, data):
    """The loader's problems, then each problem of the file's format at a
    place none of them is at, within or around."""
    shape_paths = [path for path, _ in shape_problems]
    problems = [
        problem for problem in problems
        if not (problem.endswith(UNREADABLE) and any(_overlaps(PROBLEM_PATH.match(problem).group(), path)
                                                     for path in shape_paths))
    ]
    said = [PROBLEM_PATH.match(problem).group() for problem in problems]
    found = list(problems)
    for path, message in shape_problems:
        if not any(_overlaps(path, other) for other in said):
            found.append(f"{path}{_key_label(data, path)}: {message}")
    return found


def _overlaps(path, other):
    shorter, longer = sorted((path, other), key=len)
    return longer == shorter or longer.startswith((f"{shorter}.", f"{shorter}["))


def _key_label(data, path):
    """ (its key) for a path inside an item of the file, e.g. criteria[12].value; else nothing."""
    match = ITEM_PATH.match(path)
    if not match:
        return ""
    group, index = match.group("group"), int(match.group("index"))
    try:
        items = data["formulary"]["drugs"] if group == "formulary.drugs" else data[group]
        key = items[index].get(KEY_FIELDS.get(group, "key"))
    except (AttributeError, IndexError, KeyError, TypeError):
        return ""
    return f" ({key})" if isinstance(key, str) else ""


def _build_formulary(raw, general):
    """The formulary's drugs and its settings (one item), unsaved."""
    if raw is None:
        return [], []
    if not isinstance(raw, dict):
        general.append(
            "formulary: write a mapping with min_trial_weeks, references and drugs (a list of drugs)."
        )
        return [], []
    for name in raw:
        if name not in FORMULARY_FIELDS:
            general.append(
                f"formulary.{name}: “{name}” is not a field here; the fields are {', '.join(FORMULARY_FIELDS)}."
            )
    drugs = raw.get("drugs") or []
    if not isinstance(drugs, list):
        general.append("formulary.drugs: write a list of drugs, one per line starting with “- ”.")
        drugs = []
    built = _build(
        {"drugs": drugs}, "drugs", Drug, DRUG_FIELDS, general, links=("references",), label="formulary.drugs",
    )
    settings = FormularySettings(pk=1)
    for name in ("min_trial_weeks", "count", "partial_response_counts"):
        if name in raw:
            setattr(settings, name, raw[name])
    item = Item("formulary", raw, settings)
    keys = raw.get("references", [])
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        item.problem(f"write a list of keys, e.g. {LINK_EXAMPLES['references']}.", "references")
        keys = []
    item.links["references"] = keys
    return built, [item]


def _build(raw, group, model, fields, general, *, links=(), relations=(), parts=(), label=None):
    """Unsaved instances of `model` for the items of one group, keys checked unique.

    An entry that is not a mapping is reported in `general` and left out.
    `parts` are fields read on their own (a condition's evidence).
    """
    key_name = next(iter(fields))
    known = [*fields, *links, *relations, *parts]
    items = []
    first_place = {}
    for index, entry in enumerate(raw[group]):
        path = f"{label or group}[{index}]"
        if not isinstance(entry, dict):
            general.append(f"{path}: write a mapping of fields ({', '.join(known)}).")
            continue
        key = entry.get(key_name)
        item = Item(
            path, entry, model(**{fields[n]: entry[n] for n in fields if n in entry}),
            key=key if isinstance(key, str) else "",
        )
        items.append(item)
        for name in entry:
            if name not in known:
                item.problem(f"“{name}” is not a field here; the fields are {', '.join(known)}.", at=name)
        if isinstance(key, str) and key in first_place:
            item.problem(f"“{key}” is already used by {first_place[key]}.", key_name)
        elif isinstance(key, str):
            first_place[key] = item.place
        for name in links:
            keys = entry.get(name, [])
            if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                item.problem(f"write a list of keys, e.g. {LINK_EXAMPLES[name]}.", name)
                keys = []
            item.links[name] = keys
    return items


def _build_evidence(item, reference_keys):
    """A condition's `evidence:` as unsaved EvidenceGrades (condition and
    source left unset: they are saved rows only when writing), each
    validated by the model; `item.evidence` holds (grade, source key)."""
    raw = item.raw.get("evidence")
    if raw is None:
        return
    if not isinstance(raw, list):
        item.problem(
            "write a list of grades, e.g. - {grade: Moderate, applies_to: CRPS, source: cohen-2018}.",
            "evidence",
        )
        return
    seen = {}
    for index, entry in enumerate(raw):
        place = f"evidence[{index}]"
        if not isinstance(entry, dict):
            item.problem(f"write a mapping of fields ({', '.join(EVIDENCE_FIELDS)}).", at=place)
            continue
        for name in entry:
            if name not in EVIDENCE_FIELDS:
                item.problem(
                    f"“{name}” is not a field here; the fields are {', '.join(EVIDENCE_FIELDS)}.", at=f"{place}.{name}"
                )
        source = entry.get("source")
        if source is None:
            item.problem("name the reference that gives this grade, by its key.", at=f"{place}.source")
        elif not isinstance(source, str) or source not in reference_keys:
            item.problem(f"there is no reference “{source}”.", at=f"{place}.source")
        values = {name: entry.get(name) for name in ("grade", "applies_to", "note")}
        values = {name: "" if value is None else value for name, value in values.items()}
        grade = EvidenceGrade(order=index * ORDER_STEP, **values)
        try:
            grade.full_clean(exclude=["condition", "source"], validate_unique=False, validate_constraints=False)
        except ValidationError as error:
            for field_name, messages in error.message_dict.items():
                for message in messages:
                    item.problem(message, at=f"{place}.{field_name}")
        same = (grade.applies_to, source)
        if same in seen:
            what = f"“{grade.applies_to}”" if grade.applies_to else "the whole condition"
            item.problem(f"{source} already grades {what} in {seen[same]}.", at=place)
        seen.setdefault(same, place)
        item.evidence.append((grade, source))


def _build_cases(raw, plan, general):
    """The file's library cases as unsaved RuleCase items, their answers checked
    against the questions as they will be after loading; each item's
    `links["expected"]` maps condition slugs to expected statuses."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        general.append("cases: write a list of items, one per line starting with “- ”.")
        return []
    questions = _question_graph(plan)
    condition_slugs = set(Condition.objects.values_list("slug", flat=True))
    condition_slugs |= set(_by_key(plan.conditions, "slug"))
    items, names = [], set()
    for index, entry in enumerate(raw):
        path = f"cases[{index}]"
        if not isinstance(entry, dict):
            general.append(f"{path}: write a mapping of fields ({', '.join(CASE_FIELDS)}).")
            continue
        name = entry.get("name")
        case = RuleCase(
            name=name if isinstance(name, str) else "", description=entry.get("description") or "",
            answers=entry.get("answers") or {},
        )
        item = Item(path, entry, case, key=name if isinstance(name, str) else "")
        items.append(item)
        for key in entry:
            if key not in CASE_FIELDS:
                item.problem(f"“{key}” is not a field here; the fields are {', '.join(CASE_FIELDS)}.", at=key)
        if not isinstance(name, str) or not name.strip():
            item.problem("give the case a name.", "name")
        elif name in names:
            item.problem(f"“{name}” names another case too.", "name")
        else:
            names.add(name)
        try:
            answer_problems = clean_case_answers(case.answers, questions)
        except TypeError:  # a question whose min or max has the wrong type: reported at the question
            answer_problems = []
        for problem in answer_problems:
            item.problem(problem, "answers")
        expected = entry.get("expected")
        if not isinstance(expected, dict) or not expected:
            item.problem("write the expected status per condition, e.g. {trd: eligible}.", "expected")
            continue
        for slug, status in expected.items():
            if slug not in condition_slugs:
                item.problem(f"there is no condition “{slug}”.", "expected")
            elif status not in Status.values:
                item.problem(
                    f"“{status}” is not a status; use one of {', '.join(Status.values)}.", "expected"
                )
        item.links["expected"] = expected
    return items


def _order_questions_within_sections(questions):
    position = Counter()
    for item in questions:
        section = item.raw.get("section")
        key = section if isinstance(section, str) else None
        item.instance.order = position[key] * ORDER_STEP
        position[key] += 1


def _by_key(items, key_field):
    found = {}
    for item in items:
        key = getattr(item.instance, key_field)
        if isinstance(key, str):
            found.setdefault(key, item.instance)
    return found


def _resolve(plan):
    """Point every relation at the instance it names: the file's, else the database's."""
    sections = {s.key: s for s in Section.objects.all()} | _by_key(plan.sections, "key")
    reference_keys = set(Reference.objects.values_list("key", flat=True))
    reference_keys |= set(_by_key(plan.references, "key"))
    condition_slugs = set(Condition.objects.values_list("slug", flat=True))
    condition_slugs |= set(_by_key(plan.conditions, "slug"))
    questions = _question_graph(plan)

    for item in plan.conditions + plan.criteria:
        _check_keys(item, "references", reference_keys, "reference")
    references = {r.key: r for r in Reference.objects.all()} | _by_key(plan.references, "key")
    for item in plan.criteria:
        # Criterion.clean() checks a basis against the references it will cite.
        item.instance._planned_references = [
            references[key] for key in item.links.get("references", []) if key in references
        ]
        _check_keys(item, "conditions", condition_slugs, "condition")
        _resolve_condition(item, questions, "when")
        code = item.raw.get("question")
        if code is None:
            item.problem("name the question it reads, by its code.", "question")
        elif not isinstance(code, str) or code not in questions:
            item.problem(f"there is no question “{code}”.", "question")
        else:
            item.instance.question = questions[code]

    for item in plan.questions:
        key = item.raw.get("section")
        if key is None:
            item.problem("name the section it belongs to, by its key.", "section")
        elif not isinstance(key, str) or key not in sections:
            item.problem(f"there is no section “{key}”.", "section")
        else:
            item.instance.section = sections[key]
        _resolve_condition(item, questions, "enable_when")
        _resolve_inputs(item, questions)
        _resolve_complete_when(item, questions)

    for item in plan.drugs + plan.formulary:
        _check_keys(item, "references", reference_keys, "reference")
    for item in plan.instruments:
        _check_keys(item, "references", reference_keys, "reference")
        _resolve_instrument(item, questions)


def _resolve_inputs(item, questions):
    """A calculated question's inputs, by code, as the instances they name."""
    codes = item.raw.get("inputs")
    if codes is None:
        return
    if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
        item.problem(f"write a list of question codes, e.g. {LINK_EXAMPLES['inputs']}.", "inputs")
        return
    unknown = [code for code in codes if code not in questions]
    if unknown:
        item.problem(f"there is no question “{unknown[0]}”.", "inputs")
    item.links["inputs"] = codes
    item.instance._planned_inputs = [questions[code] for code in codes if code in questions]


def _resolve_complete_when(item, questions):
    """A trials question's completeness question, by code, as the instance it
    names (the file's, else the database's), for Question.clean()."""
    code = item.raw.get("complete_when")
    if code is None:
        return
    if not isinstance(code, str) or code not in questions:
        item.problem(f"there is no question “{code}”.", "complete_when")
        return
    item.instance._planned_complete_when = questions[code]


def _resolve_instrument(item, questions):
    """An instrument's total, items and extra items: its items must be its total's inputs."""
    code = item.raw.get("total")
    if code is None:
        item.problem("name its total, the calculated question that holds its score.", "total")
        return
    if not isinstance(code, str) or code not in questions:
        item.problem(f"there is no question “{code}”.", "total")
        return
    total = questions[code]
    item.instance.total = total
    for name in ("extra_items", "items"):
        unknown = [c for c in item.links.get(name, []) if c not in questions]
        if unknown:
            item.problem(f"there is no question “{unknown[0]}”.", name)
            return
    items = item.links.pop("items", [])
    if not items:
        item.problem(f"list its scored items, e.g. {LINK_EXAMPLES['items']}.", "items")
    inputs = [q.code for q in total.planned_inputs()]
    if set(items) != set(inputs):
        item.problem(
            f"the items must be the inputs of its total {code} ({', '.join(inputs) or 'none yet'}); "
            f"write the same questions under {code}'s inputs.", "items",
        )


def _question_graph(plan):
    """Questions by code with enable-when parents linked in memory.

    The file's questions replace the database's of the same code, and the
    database's questions point at those replacements, so the cycle check in
    Question.clean() walks the graph as it will be after loading.
    """
    stored = {
        q.code: q for q in Question.objects.select_related("enable_when_question").prefetch_related("inputs")
    }
    questions = stored | _by_key(plan.questions, "code")
    for code, question in stored.items():
        if questions[code] is question and question.enable_when_question is not None:
            question.enable_when_question = questions[question.enable_when_question.code]
    return questions


def _resolve_condition(item, questions, name):
    """A question's `enable_when` or a criterion's `when`, both written
    {question, operator, value}: sets `<name>_question`, `<name>_operator` and `<name>_value` on the
    item's instance from the file's {question, operator, value}, or records
    the problem against that field."""
    condition = item.raw.get(name)
    if condition is None:
        return
    if not isinstance(condition, dict) or not {"question", "operator"} <= set(condition) or (
        set(condition) - {"question", "operator", "value"}
    ):
        item.problem(
            "write {question: <code>, operator: <operator>, value: <value>} "
            "(value only when the operator needs one).",
            name,
        )
        return
    code = condition["question"]
    if not isinstance(code, str) or code not in questions:
        item.problem(f"there is no question “{code}”.", f"{name}_question")
        return
    setattr(item.instance, f"{name}_question", questions[code])
    setattr(item.instance, f"{name}_operator", condition["operator"])
    setattr(item.instance, f"{name}_value", condition.get("value"))


def _full_clean_retired(item, questions):
    """A retired question, checked against the questions as they will be after loading."""
    try:
        item.instance.clean_fields()
        item.instance.clean(questions=questions)
    except ValidationError as error:
        for field_name, messages in error.message_dict.items():
            for message in messages:
                item.problem(message, None if field_name == NON_FIELD_ERRORS else field_name)


def _check_keys(item, name, known, noun):
    for key in item.links.get(name, []):
        if key not in known:
            item.problem(f"there is no {noun} “{key}”.", name)


def _full_clean(item, exclude=None):
    try:
        item.instance.full_clean(exclude=exclude, validate_unique=False)
    except TypeError:
        # A value of the wrong type (text for a number) met a comparison in clean():
        # the format check names it; _with_shape_problems says so if it did not.
        item.problem(UNREADABLE)
    except ValidationError as error:
        for field_name, messages in error.message_dict.items():
            for message in messages:
                item.problem(message, None if field_name == NON_FIELD_ERRORS else field_name)


def _check_rules_left_in_database(plan):
    """Rules that stay in the database must still fit the file's questions.

    Question.clean() checks this against saved rows; here the file may also
    change those rules, so only rules the file does not mention are checked.
    """
    questions = {
        item.instance.code: item for item in plan.questions if isinstance(item.instance.code, str)
    }
    criterion_keys = set(_by_key(plan.criteria, "key"))
    stored_rules = [
        (c.question.code, f"criterion {c.key}", c.operator, c.value)
        for c in Criterion.objects.filter(question__code__in=list(questions))
        .exclude(key__in=criterion_keys).select_related("question")
    ]
    stored_rules += [
        (c.when_question.code, f"criterion {c.key}'s when", c.when_operator, c.when_value)
        for c in Criterion.objects.filter(when_question__code__in=list(questions))
        .exclude(key__in=criterion_keys).select_related("when_question")
    ]
    stored_rules += [
        (q.enable_when_question.code, f"question {q.code}'s enable-when",
         q.enable_when_operator, q.enable_when_value)
        for q in Question.objects.filter(enable_when_question__code__in=list(questions))
        .exclude(code__in=list(questions)).select_related("enable_when_question")
    ]
    for code, name, operator, value in stored_rules:
        try:
            clean_rule_value(questions[code].instance, operator, value)
        except ValidationError as error:
            detail = " ".join(message for messages in error.message_dict.values() for message in messages)
            questions[code].problem(
                f"{name} in the database reads this question and would no longer fit: {detail}"
            )


def _write(plan, reason):
    counts = {
        group: Counter(created=0, updated=0, unchanged=0)
        for group in [*GROUPS, "drugs", "formulary settings"]
    }
    sections = _save_all(plan.sections, Section, "key", {}, counts["sections"], reason)
    references = _save_all(plan.references, Reference, "key", {}, counts["references"], reason)
    conditions = {row.slug: row for row in Condition.objects.all()}
    for item in plan.conditions:
        row, outcome = _save(item, Condition, "slug", conditions, {"references": references}, reason)
        conditions[row.slug] = row
        if _save_evidence(item, row, references, reason) and outcome == "unchanged":
            outcome = "updated"
        counts["conditions"][outcome] += 1

    questions = {q.code: q for q in Question.objects.all()}
    outcomes = {}
    for item in _parents_first(plan.questions):
        item.instance.section = sections[item.instance.section.key]
        parent = item.instance.enable_when_question
        item.instance.enable_when_question = questions[parent.code] if parent else None
        inputs = item.links.pop("inputs", None)
        row, outcomes[row_code(item)] = _save(item, Question, "code", questions, {}, reason)
        questions[row.code] = row
        if inputs is not None:
            item.links["inputs"] = inputs
    for item in plan.questions:  # every question saved: now their inputs
        outcome = outcomes[row_code(item)]
        if "inputs" in item.links:
            row = questions[row_code(item)]
            row._change_reason = reason
            if _set_links(row, "inputs", [questions[code] for code in item.links["inputs"]], outcome == "created"):
                outcome = "updated" if outcome == "unchanged" else outcome
        counts["questions"][outcome] += 1

    for item in plan.criteria:
        item.instance.question = questions[item.instance.question.code]
        gate = item.instance.when_question
        item.instance.when_question = questions[gate.code] if gate is not None else None
    _save_all(
        plan.criteria, Criterion, "key",
        {"conditions": conditions, "references": references}, counts["criteria"], reason,
    )
    for item in plan.instruments:
        item.instance.total = questions[item.instance.total.code]
    _save_all(
        plan.instruments, Instrument, "code",
        {"references": references, "extra_items": questions}, counts["instruments"], reason,
    )
    _save_all(plan.drugs, Drug, "key", {"references": references}, counts["drugs"], reason)
    _save_all(plan.formulary, FormularySettings, "pk", {"references": references},
              counts["formulary settings"], reason)
    if plan.retired_questions:  # counted only when the file has some: older files keep their counts
        counts["retired questions"] = Counter(created=0, updated=0, unchanged=0)
        _save_all(plan.retired_questions, RetiredQuestion, "code", {}, counts["retired questions"], reason)
    counts["cases"] = Counter(created=0, updated=0, unchanged=0)
    _save_cases(plan.cases, conditions, counts["cases"], reason)
    return counts


def row_code(item):
    return item.instance.code


def _set_links(row, name, wanted, created):
    """Point a many-to-many field at `wanted`; True when that changed it."""
    manager = getattr(row, name)
    current = set() if created else set(manager.values_list("pk", flat=True))
    if {linked.pk for linked in wanted} == current:
        return False
    manager.set(wanted)
    return True


def _save_evidence(item, condition, references, reason):
    """A condition's evidence grades as the file states them: replaced when
    they differ, left alone (no history) when they are the same. Returns
    whether they changed."""
    current = list(condition.evidence_grades.select_related("source").order_by("order", "id"))
    wanted = [(g.grade, g.applies_to, key, g.note, g.order) for g, key in item.evidence]
    if [(g.grade, g.applies_to, g.source.key, g.note, g.order) for g in current] == wanted:
        return False
    for grade in current:
        grade._change_reason = reason
        grade.delete()
    for grade, key in item.evidence:
        grade.condition, grade.source = condition, references[key]
        grade._change_reason = reason
        grade.save()
    return True


def _save_cases(items, conditions, counts, reason):
    cases = {case.name: case for case in RuleCase.objects.prefetch_related("expectations__condition")}
    for item in items:
        planned, row = item.instance, cases.get(item.instance.name)
        created = row is None
        row = row or RuleCase(name=planned.name)
        changed = created or (row.description, row.answers) != (planned.description, planned.answers)
        if changed:
            row.description, row.answers = planned.description, planned.answers
            row._change_reason = reason
            row.save()
        wanted = item.links["expected"]
        current = {} if created else {e.condition.slug: e.status for e in row.expectations.all()}
        if current != wanted:
            row.expectations.all().delete()
            RuleCaseExpectation.objects.bulk_create(
                RuleCaseExpectation(case=row, condition=conditions[slug], status=status)
                for slug, status in wanted.items()
            )
            changed = True
        counts["created" if created else "updated" if changed else "unchanged"] += 1


def _save_all(items, model, key_field, link_rows, counts, reason):
    """Save the items of one group; returns every row of the model by key."""
    rows = {getattr(row, key_field): row for row in model.objects.all()}
    for item in items:
        row, outcome = _save(item, model, key_field, rows, link_rows, reason)
        rows[getattr(row, key_field)] = row
        counts[outcome] += 1
    return rows


def _save(item, model, key_field, rows, link_rows, reason):
    """Create or update the row for one cleaned item; save only what differs."""
    planned = item.instance
    row = rows.get(getattr(planned, key_field))
    created = row is None
    if created:
        row = model()
    changed = False
    for model_field in model._meta.concrete_fields:
        if model_field.primary_key:
            continue
        value = getattr(planned, model_field.attname)
        if created or getattr(row, model_field.attname) != value:
            setattr(row, model_field.attname, value)
            changed = True
    row._change_reason = reason
    if changed:
        row.save()
    for name, keys in item.links.items():
        if _set_links(row, name, [link_rows[name][key] for key in keys], created):
            changed = True
    if created:
        return row, "created"
    return row, "updated" if changed else "unchanged"


def _parents_first(items):
    """The question items ordered so that an enable-when parent in the file comes first."""
    by_code = {item.instance.code: item for item in items}
    ordered, seen = [], set()

    def visit(item):
        if id(item) in seen:
            return
        seen.add(id(item))
        parent = item.instance.enable_when_question
        if parent is not None and parent.code in by_code:
            visit(by_code[parent.code])
        ordered.append(item)

    for item in items:
        visit(item)
    return ordered
