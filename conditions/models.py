"""The clinical knowledge base: what a screening asks and how answers are read.

Validation lives in each model's `clean()` so that the admin, the loader and
any future API refuse the same malformed rules, and the engine never meets
one (docs/architecture.md, "The rule semantics").
"""

import math
import re
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from conditions.citations import vancouver, vancouver_html
from rules import rule_values
from rules.rule_values import operator_words
from rules.vocabulary import (
    CHOICE_KINDS,
    NO_VALUE_OPERATORS,
    NUMBER_KINDS,
    Basis,
    Calculation,
    DrugClass,
    Effect,
    Kind,
    Operator,
    Status,
    TrialCount,
)

VALUE_HELP = (
    "What the answer is compared with. The box fits the question and the operator: "
    "a number for “less than”, “at most”, “more than” and “at least”; ticks of the "
    "question's choices for “is one of”, “includes any of” and the like; nothing for "
    "“is yes” and “is no”."
)


def clean_rule_value(question, operator, value):
    """The operator and value of a rule (criterion or enable-when) on `question`,
    checked once by `rules.rule_values.clean_rule_value` (the loader calls
    this too).

    Returns the value in canonical form (numbers as int or float, lists in
    the question's choice order). Raises ValidationError with field-keyed
    messages that say what to write instead.
    """
    try:
        return rule_values.clean_rule_value(
            question.kind, operator, value,
            code=question.code, choices=question.choice_values(), unit=question.unit,
        )
    except rule_values.RuleValueError as error:
        raise ValidationError({error.field: error.message}) from None


class ReviewQuerySet(models.QuerySet):
    def overdue(self, today=None):
        """Rows whose review date has passed."""
        return self.filter(review_due__lt=today or timezone.localdate())


YEAR = re.compile(r"\b(19|20)\d\d\b")


def _shorten(text, limit):
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class Reviewed(models.Model):
    """Who reviews a rule or reference next, and by when."""

    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="The clinical lead who reviews it next.",
    )
    review_due = models.DateField(
        "review due", null=True, blank=True, help_text="When it should next be checked against the evidence."
    )

    objects = ReviewQuerySet.as_manager()

    class Meta:
        abstract = True

    def review_overdue(self):
        return self.review_due is not None and self.review_due < timezone.localdate()


class Section(models.Model):
    """A fieldset of the questionnaire; sections are shown in `order`."""

    key = models.SlugField(max_length=40, unique=True)
    title = models.CharField(max_length=120)
    order = models.PositiveIntegerField(default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["order", "key"]

    def __str__(self):
        return self.title


class Reference(Reviewed):
    key = models.SlugField(max_length=60, unique=True, help_text="Short stable key, e.g. feder-2014.")
    authors = models.TextField()
    title = models.TextField()
    source = models.CharField(
        max_length=300, blank=True, help_text="Journal or source, year, volume and pages."
    )
    doi = models.CharField("DOI", max_length=200, blank=True)
    pmid = models.CharField("PMID", max_length=20, blank=True)
    url = models.URLField("URL", blank=True)
    verified = models.BooleanField(
        default=True, help_text="Bibliographic details have been checked against the source."
    )
    note = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["authors", "key"]

    def __str__(self):
        """Authors, year and title, as a lead looks a reference up, e.g.
        `Feder A et al. (2014) Efficacy of intravenous ketamine…`."""
        authors = [a.strip() for a in self.authors.split(",") if a.strip()]
        first = authors[0] if authors else self.key
        who = first if len(authors) == 1 else f"{first.removesuffix(' et al.')} et al."
        year = f" ({self.year()})" if self.year() else ""
        return _shorten(f"{who}{year} {self.title}", 110)

    def year(self):
        """The publication year, read from the source (e.g. “JAMA Psychiatry. 2014;71(6)”)."""
        found = YEAR.search(self.source)
        return found.group(0) if found else ""

    def clean(self):
        if self.pmid and not self.pmid.isdigit():
            raise ValidationError({"pmid": "A PMID is digits only, e.g. 24740528."})
        if self.doi.lower().startswith(("http://", "https://", "doi:")):
            raise ValidationError({"doi": "Write the DOI alone, e.g. 10.1001/jamapsychiatry.2014.62."})

    def citation(self):
        return vancouver(**self.citation_fields())

    def citation_html(self):
        return vancouver_html(**self.citation_fields())

    def citation_fields(self):
        return {
            "authors": self.authors, "title": self.title, "source": self.source,
            "doi": self.doi, "pmid": self.pmid, "url": self.url,
        }


class Condition(models.Model):
    slug = models.SlugField(max_length=60, unique=True, help_text="Stable key, e.g. trd.")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    guidance = models.TextField(blank=True, help_text="Shown on the summary for this condition.")
    licensing = models.TextField(
        blank=True,
        help_text="Whether, and for which route, the treatment is licensed for this condition, "
                  "e.g. “Off-label for every route.” Shown on the summary and PDF.",
    )
    references = models.ManyToManyField(Reference, blank=True, related_name="conditions")
    order = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)

    history = HistoricalRecords(m2m_fields=[references])

    class Meta:
        ordering = ["order", "slug"]

    def __str__(self):
        return self.name


class EvidenceGrade(models.Model):
    """How strong the evidence is for treating a condition, or one kind of
    it (a pain type), as one guideline grades it. Shown next to the
    condition's status on the summary and PDF, the source among the
    references."""

    condition = models.ForeignKey(Condition, on_delete=models.CASCADE, related_name="evidence_grades")
    grade = models.CharField(
        max_length=80, help_text="As the source grades it, e.g. “Moderate”, “Weak”, “Not recommended”.",
    )
    applies_to = models.CharField(
        max_length=120, blank=True,
        help_text="Blank for the whole condition, or the kind it grades, e.g. “CRPS” or “Fibromyalgia”.",
    )
    source = models.ForeignKey(
        Reference, on_delete=models.PROTECT, related_name="evidence_grades",
        help_text="The guideline or review that gives this grade.",
    )
    note = models.TextField(blank=True, help_text="Optional: what the grade rests on, in a sentence.")
    order = models.PositiveIntegerField(default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["order", "id"]
        verbose_name = "evidence grade"
        constraints = [
            models.UniqueConstraint(
                fields=["condition", "applies_to", "source"], name="one_grade_per_source_and_kind",
                violation_error_message="This source already grades this for the condition.",
            ),
        ]

    def __str__(self):
        scope = self.applies_to or "the whole condition"
        return f"{self.grade} ({scope})"

    @property
    def audit_key(self):
        """How the audit trail names it: its condition, and what it grades."""
        return f"{self.condition.slug}: {self.applies_to or 'whole condition'}"[:100]


class Question(models.Model):
    code = models.SlugField(
        max_length=60, unique=True,
        help_text="Stable key; saved answers are keyed by it, so it cannot change once created.",
    )
    text = models.TextField()
    help_text = models.TextField(blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    choices = models.JSONField(
        default=list, blank=True,
        help_text='For choice kinds: an ordered list like [{"value": "none", "label": "None"}].',
    )
    min_value = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    max_value = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    unit = models.CharField(max_length=30, blank=True)
    section = models.ForeignKey(Section, on_delete=models.PROTECT, related_name="questions")
    order = models.PositiveIntegerField(default=0)
    enable_when_question = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="dependents",
        verbose_name="enable when question",
        help_text="Show this question only when that question's answer satisfies the rule.",
    )
    enable_when_operator = models.CharField(
        max_length=20, choices=Operator.choices, blank=True, verbose_name="enable when operator"
    )
    enable_when_value = models.JSONField(
        null=True, blank=True, verbose_name="enable when value", help_text=VALUE_HELP
    )
    calculation = models.CharField(
        max_length=30, choices=Calculation.choices, blank=True,
        help_text="A calculated question is worked out from its inputs; its own answer is "
                  "used only when none of them is answered (a total entered).",
    )
    inputs = models.ManyToManyField(
        "self", symmetrical=False, blank=True, related_name="used_by",
        help_text="What a calculated question is worked out from: an instrument's items for a "
                  "sum, the trials question for adequate failed trials.",
    )
    complete_when = models.SlugField(
        "complete when", max_length=60, blank=True,
        help_text="For a trials question: the code of the yes/no question answered yes once the list "
                  "holds every trial. Until then a count from the list that falls short of a rule is "
                  "unknown, not a fail; a count that already meets it counts. Leave blank to read the "
                  "list as given.",
    )

    history = HistoricalRecords(m2m_fields=[inputs])

    class Meta:
        ordering = ["section__order", "order", "code"]

    def __str__(self):
        """Its text, then its code: leads pick questions by what they ask."""
        return f"{_shorten(self.text, 90)} ({self.code})"

    def clean(self):
        if self.choices is None:
            self.choices = []  # an emptied form field; the column is not nullable
        errors = {}
        self._clean_choices(errors)
        if self.kind not in NUMBER_KINDS and (self.min_value is not None or self.max_value is not None):
            errors["min_value"] = "Only number questions have a minimum and maximum."
        if (
            self.min_value is not None and self.max_value is not None
            and self.min_value > self.max_value
        ):
            errors["max_value"] = f"The maximum ({self.max_value}) is below the minimum ({self.min_value})."
        if self.kind == Kind.TRIALS and self.unit:
            errors["unit"] = "A trials question has no unit."
        if errors:
            raise ValidationError(errors)
        self._clean_enable_when()
        self._clean_rules_still_fit()
        self._clean_calculation()
        self._clean_complete_when()

    def _clean_complete_when(self):
        """A trials question's completeness question is another, yes/no, question;
        a yes/no question cannot change kind while a list waits on it."""
        if self.pk is not None and self.kind != Kind.BOOLEAN and (
            users := list(Question.objects.filter(complete_when=self.code).values_list("code", flat=True))
        ):
            raise ValidationError({"kind": (
                f"{', '.join(users)} names this question as its completeness question, which must be a "
                "yes/no question; change that first."
            )})
        if not self.complete_when:
            return
        if self.kind != Kind.TRIALS:
            raise ValidationError({"complete_when": "Only a trials question has a completeness question."})
        if self.complete_when == self.code:
            raise ValidationError({"complete_when": "A question cannot be its own completeness question."})
        target = getattr(self, "_planned_complete_when", None)
        if target is None:
            target = Question.objects.filter(code=self.complete_when).only("kind").first()
        if target is None:
            raise ValidationError({"complete_when": f"There is no question “{self.complete_when}”."})
        if target.kind != Kind.BOOLEAN:
            raise ValidationError({"complete_when": (
                f"{self.complete_when} is a {target.get_kind_display().lower()} question; the completeness "
                "question must be a yes/no question."
            )})

    def planned_inputs(self):
        """The inputs as they will be saved: those a form or the loader is
        about to set (`_planned_inputs`), else the saved ones."""
        planned = getattr(self, "_planned_inputs", None)
        if planned is not None:
            return list(planned)
        return list(self.inputs.all()) if self.pk is not None else []

    def _clean_calculation(self):
        """A calculated question is a whole number worked out from inputs that fit it."""
        inputs = self.planned_inputs()
        if not self.calculation:
            if inputs:
                raise ValidationError({"inputs": (
                    "Only a calculated question has inputs: choose a calculation, or remove the inputs."
                )})
        else:
            if self.kind != Kind.INTEGER:
                raise ValidationError({"kind": "A calculated question is a whole number: choose “Whole number”."})
            if not inputs:
                raise ValidationError({"inputs": "Choose the questions it is worked out from."})
            wanted = Kind.INTEGER if self.calculation == Calculation.SUM else Kind.TRIALS
            for question in inputs:
                if question is self or (question.code == self.code) or (
                    self.pk is not None and question.pk == self.pk
                ):
                    raise ValidationError({"inputs": "A calculated question cannot be its own input."})
                if question.kind != wanted:
                    raise ValidationError({"inputs": (
                        f"{question.code} is a {question.get_kind_display().lower()} question; "
                        f"{Calculation(self.calculation).label.lower()} needs "
                        f"{Kind(wanted).label.lower()} questions."
                    )})
                if question.calculation:
                    raise ValidationError({"inputs": (
                        f"{question.code} is calculated itself; choose the questions it is worked out from instead."
                    )})
        if self.pk is None:
            return
        for total in self.used_by.all():
            wanted = Kind.INTEGER if total.calculation == Calculation.SUM else Kind.TRIALS
            if self.kind != wanted:
                raise ValidationError({"kind": (
                    f"{total.code} is worked out from this question and needs it to be a "
                    f"{Kind(wanted).label.lower()} question; remove it from {total.code}'s inputs first."
                )})
            if self.calculation:
                raise ValidationError({"calculation": (
                    f"This question is an input of {total.code}; an input cannot be calculated itself."
                )})
            instrument = Instrument.objects.filter(total=total).only("code", "options").first()
            scores = [o.get("score") for o in instrument.options if isinstance(o, dict)] if instrument else []
            if scores and (self.min_value != 0 or self.max_value != max(scores)):
                raise ValidationError({"max_value": (
                    f"This question is an item of {instrument.code}, whose options score 0 to {max(scores)}: "
                    f"keep its minimum at 0 and its maximum at {max(scores)}, or change the options first."
                )})

    def _clean_choices(self, errors):
        if self.kind == Kind.TRIALS and self.calculation:
            errors["calculation"] = "A trials question is answered, not calculated."
        if self.kind not in CHOICE_KINDS:
            if self.choices:
                errors["choices"] = "Only choice questions have choices; empty the choice rows."
            return
        if not isinstance(self.choices, list) or not self.choices:
            errors["choices"] = "A choice question needs its choices: fill in a value and a label for each."
            return
        seen = set()
        for item in self.choices:
            if (
                not isinstance(item, dict) or set(item) != {"value", "label"}
                or not isinstance(item["value"], str) or not item["value"]
                or not isinstance(item["label"], str) or not item["label"]
            ):
                errors["choices"] = f"Each choice needs a value and a label, in words; check {item!r}."
                return
            if item["value"] in seen:
                errors["choices"] = f"The choice value “{item['value']}” appears twice."
                return
            seen.add(item["value"])

    def _clean_enable_when(self):
        parent = self.enable_when_question
        if parent is None:
            if self.enable_when_operator or self.enable_when_value not in (None, ""):
                raise ValidationError({"enable_when_question": (
                    "Pick the question this one depends on, or clear the enable-when operator and value."
                )})
            return
        if parent.pk is not None and parent.pk == self.pk or parent.code == self.code:
            raise ValidationError({"enable_when_question": "A question cannot depend on itself."})
        chain = [self.code]
        ancestor = parent
        while ancestor is not None:
            if ancestor.code in chain:
                loop = " → ".join([*chain[chain.index(ancestor.code):], ancestor.code])
                if ancestor.code == self.code:
                    message = (
                        f"This makes a cycle: {loop}. "
                        f"Pick a question that does not depend on {self.code}."
                    )
                else:
                    message = f"{parent.code} leads into a cycle: {loop}. Break that cycle first."
                raise ValidationError({"enable_when_question": message})
            chain.append(ancestor.code)
            ancestor = ancestor.enable_when_question
        if not self.enable_when_operator:
            raise ValidationError({"enable_when_operator": "Pick how the parent's answer is tested."})
        try:
            self.enable_when_value = clean_rule_value(
                parent, self.enable_when_operator, self.enable_when_value
            )
        except ValidationError as error:
            raise ValidationError({
                "enable_when_operator" if field == "operator" else "enable_when_value": messages
                for field, messages in error.message_dict.items()
            }) from None

    def _clean_rules_still_fit(self):
        """Refuse a change that would break a criterion or enable-when reading this question.

        Removing a choice that a rule still uses, or changing the kind under
        rules that no longer fit it, would leave the engine a malformed rule.
        """
        if self.pk is None:
            return
        rules = [(f"criterion {c.key}", c.operator, c.value) for c in self.criteria.all()]
        rules += [
            (f"question {q.code}'s enable-when", q.enable_when_operator, q.enable_when_value)
            for q in self.dependents.all()
        ]
        rules += [(f"criterion {c.key}'s when", c.when_operator, c.when_value) for c in self.gated_criteria.all()]
        offered = set(self.choice_values())
        for name, operator, value in rules:
            used = value if isinstance(value, list) else [value]
            missing = [v for v in used if isinstance(v, str) and v not in offered]
            if missing and self.kind in CHOICE_KINDS:
                raise ValidationError({"choices": (
                    f"{name} still uses {', '.join(missing)}; change it first, "
                    "then remove the choice."
                )})
            try:
                clean_rule_value(self, operator, value)
            except ValidationError:
                raise ValidationError({"kind": (
                    f"{name} reads this question with {operator_words(operator)}, which does not fit a "
                    f"{self.get_kind_display().lower()} question; change or remove it first."
                )}) from None

    def choice_values(self):
        if not isinstance(self.choices, list):
            return []
        return [item["value"] for item in self.choices if isinstance(item, dict) and "value" in item]


PLACEHOLDER = re.compile(r"\{(\w*)\}")
NUMBER = re.compile(r"(?<![\w.-])\d+(?:\.\d+)?(?![\w-])")
NUMBER_WORDS = {
    word: index for index, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve".split()
    )
}
NUMBER_WORD = re.compile(r"\b(" + "|".join(NUMBER_WORDS) + r")\b", re.IGNORECASE)


class Criterion(Reviewed):
    key = models.SlugField(
        max_length=80, unique=True, help_text="Stable key, e.g. trd-two-failed-trials-require."
    )
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="criteria")
    operator = models.CharField(max_length=20, choices=Operator.choices)
    value = models.JSONField(null=True, blank=True, help_text=VALUE_HELP)
    effect = models.CharField(
        max_length=20, choices=Effect.choices,
        help_text="Require, exclude and caution decide each condition's status. An alert that holds is "
                  "shown above the summary; a duty that holds is a checklist item “At the treatment "
                  "session”. Alerts and duties never change a status.",
    )
    message = models.TextField(help_text="What a clinician reads when this criterion decides a result.")
    conditions = models.ManyToManyField(
        Condition, blank=True, related_name="criteria",
        help_text="The conditions it applies to; none means every condition.",
    )
    references = models.ManyToManyField(Reference, blank=True, related_name="criteria")
    when_question = models.ForeignKey(
        Question, on_delete=models.PROTECT, null=True, blank=True, related_name="gated_criteria",
        verbose_name="applies only when",
        help_text="Optional: the criterion applies only where this question's answer passes the test "
                  "below (e.g. the route is IV ketamine). Where it is answered and fails, the criterion "
                  "does not apply; while it is unanswered, the result is incomplete.",
    )
    when_operator = models.CharField("when operator", max_length=20, choices=Operator.choices, blank=True)
    when_value = models.JSONField("when value", null=True, blank=True, help_text=VALUE_HELP)
    basis = models.CharField(
        max_length=20, choices=Basis.choices, blank=True,
        help_text="What the criterion rests on; shown beside it on the summary and PDF. Every basis but "
                  "local policy needs at least one verified reference. Blank reads as “not specified”.",
    )
    order = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)

    history = HistoricalRecords(m2m_fields=[conditions, references])

    class Meta:
        ordering = ["order", "key"]
        verbose_name_plural = "criteria"

    def __str__(self):
        """Reads like the rule, e.g. `TRD · require · failed_antidepressant_trials ≥ 2`."""
        scope = "All" if self.pk is None else (
            ", ".join(c.slug.upper() if len(c.slug) <= 4 else c.name for c in self.conditions.all())
            or "All"
        )
        return f"{scope} · {self.effect} · {self.rule_text()}"

    def clean(self):
        unknown = sorted(set(PLACEHOLDER.findall(self.message or "")) - {"value", "unit"})
        if unknown:
            raise ValidationError({"message": (
                f"{{{unknown[0]}}} is not a placeholder; a message may use {{value}} (the criterion's "
                "value) and {unit} (its question's unit)."
            )})
        self._clean_when()
        self._clean_basis()
        try:
            question = self.question  # may be an unsaved question, as the loader builds them
        except Question.DoesNotExist:
            return  # the form reports the missing question itself
        if not self.operator:
            return
        self.value = clean_rule_value(question, self.operator, self.value)

    def _clean_when(self):
        """The same validation as a question's enable-when: a known
        question, an operator that fits its kind, a value that parses."""
        question = self.when_question
        if question is None:
            if self.when_operator or self.when_value not in (None, "", []):
                raise ValidationError({"when_question": (
                    "Pick the question that decides where this criterion applies, or clear the when "
                    "operator and value."
                )})
            return
        try:
            own = self.question
        except Question.DoesNotExist:
            own = None
        if own is not None and (own is question or own.code == question.code):
            raise ValidationError({"when_question": (
                "A criterion cannot depend on its own question; fold the test into its rule instead."
            )})
        if not self.when_operator:
            raise ValidationError({"when_operator": "Pick how the answer to the when question is tested."})
        try:
            self.when_value = clean_rule_value(question, self.when_operator, self.when_value)
        except ValidationError as error:
            raise ValidationError({
                "when_operator" if field == "operator" else "when_value": messages
                for field, messages in error.message_dict.items()
            }) from None

    def planned_references(self):
        """The references as they will be saved: those a form or the loader
        is about to set (`_planned_references`), else the saved ones."""
        planned = getattr(self, "_planned_references", None)
        if planned is not None:
            return list(planned)
        return list(self.references.all()) if self.pk is not None else []

    def _clean_basis(self):
        """Every basis but local policy rests on at least one verified reference."""
        if not self.basis or self.basis == Basis.LOCAL_POLICY:
            return
        references = self.planned_references()
        if any(reference.verified for reference in references):
            return
        label = Basis(self.basis).choice_label if self.basis in Basis.values else self.basis
        if references:
            detail = (
                f"none of its references ({', '.join(r.key for r in references)}) is marked verified; "
                "check one against its source and tick “verified”"
            )
        else:
            detail = "it cites no reference; add the one it rests on"
        raise ValidationError({"basis": (
            f"A criterion whose basis is “{label}” needs at least one verified reference, but {detail}, "
            "or choose “Local policy”."
        )})

    def message_text(self):
        """The message a clinician reads: {value} and {unit} filled from this
        criterion's own value and its question's unit, so the words and the
        threshold cannot drift apart."""
        message = self.message
        if "{" not in message:
            return message
        return message.replace("{value}", self.value_text()).replace("{unit}", self.question.unit)

    def value_text(self):
        """The value in words: a number as written, choices by their labels, yes or no."""
        value = self.value
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, list | str):
            labels = {c["value"]: c["label"] for c in self.question.choices if isinstance(c, dict)}
            items = value if isinstance(value, list) else [value]
            return ", ".join(labels.get(item, str(item)) for item in items)
        return "" if value is None else str(value)

    def message_drift(self):
        """A warning when the message mentions numbers and none is the
        criterion's value (e.g. “at least two” under a value of 3); "" otherwise."""
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            return ""
        text = PLACEHOLDER.sub("", self.message or "")
        mentioned = [Decimal(n) for n in NUMBER.findall(text)]
        mentioned += [Decimal(NUMBER_WORDS[w.lower()]) for w in NUMBER_WORD.findall(text)]
        if not mentioned or Decimal(str(self.value)) in mentioned:
            return ""
        said = ", ".join(sorted({_number_text(n) for n in mentioned}, key=Decimal))
        return (
            f"The message of {self.key} mentions {said}, but its value is {self.value_text()}: "
            "check the wording, or write {value} so that the message always shows the value."
        )

    def when_text(self):
        """Where the criterion applies, in words, e.g. `route is one of iv_ketamine`; "" when everywhere."""
        if self.when_question_id is None:
            return ""
        words = Operator(self.when_operator).label if self.when_operator in Operator.values else self.when_operator
        code = self.when_question.code
        if self.when_operator in NO_VALUE_OPERATORS:
            return f"{code} {words}"
        value = self.when_value
        if isinstance(value, bool):
            value = "yes" if value else "no"
        elif isinstance(value, list):
            value = ", ".join(map(str, value))
        return f"{code} {words} {value}"

    def rule_text(self):
        """The rule in words, e.g. `failed_antidepressant_trials at least 2`."""
        question = self.question.code if self.question_id else "?"
        words = Operator(self.operator).label if self.operator in Operator.values else self.operator
        if self.operator in NO_VALUE_OPERATORS:
            return f"{question} {words}"
        if isinstance(self.value, bool):
            return f"{question} {words} {'yes' if self.value else 'no'}"
        value = ", ".join(map(str, self.value)) if isinstance(self.value, list) else self.value
        return f"{question} {words} {value}"


def clean_case_answers(answers, questions):
    """A library case's answers checked against `questions` (code -> Question).

    Returns field-free messages, one per problem, in the wording a lead
    needs to fix them; an empty list when the answers are fine.
    """
    if not isinstance(answers, dict):
        return ['Write the answers as {"question_code": answer, …}, e.g. {"age": 45, "mdd_current": true}.']
    problems = []
    for code, answer in answers.items():
        question = questions.get(code)
        if question is None:
            problems.append(f"“{code}” is not a question code.")
            continue
        problem = _answer_problem(question, answer)
        if problem:
            problems.append(f"{code}: {problem}")
    return problems


def _answer_problem(question, answer):
    if answer is None:
        return ""
    kind = question.kind
    if kind == Kind.BOOLEAN:
        return "" if isinstance(answer, bool) else "answer true or false."
    if kind == Kind.TRIALS:
        fields = {"drug", "daily_dose_mg", "weeks", "outcome"}
        if not isinstance(answer, list) or any(not isinstance(t, dict) or set(t) != fields for t in answer):
            return ('answer a list of trials, each {"drug": "sertraline", "daily_dose_mg": 100, '
                    '"weeks": 6, "outcome": "no_response"}.')
        return ""
    if kind in NUMBER_KINDS:
        if isinstance(answer, bool) or not isinstance(answer, int | float):
            return "answer a number."
        if not math.isfinite(answer):
            return "answer a finite number."
        if kind == Kind.INTEGER and answer != int(answer):
            return "answer a whole number."
        if question.min_value is not None and answer < question.min_value:
            return f"{answer} is below the minimum of {_number_text(question.min_value)}."
        if question.max_value is not None and answer > question.max_value:
            return f"{answer} is above the maximum of {_number_text(question.max_value)}."
        return ""
    known = question.choice_values()
    if kind == Kind.CHOICE:
        return "" if answer in known else f"answer one of: {', '.join(known)}."
    if not isinstance(answer, list) or not answer or any(value not in known for value in answer):
        return f"answer a non-empty list of: {', '.join(known)}."
    return ""


def _number_text(number):
    number = Decimal(str(number))
    return str(int(number)) if number == number.to_integral_value() else str(number.normalize())


class RuleCase(models.Model):
    """A library case for the rules: answers and the status expected for each
    of its conditions. Previewing a change evaluates every case against
    the working copy and lists those whose expectation fails."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True, help_text="What the case checks, and why.")
    answers = models.JSONField(
        default=dict, blank=True,
        help_text='Question code → answer, e.g. {"age": 45, "mdd_current": true, '
                  '"interacting_medicines": ["none"]}. A missing code is an unanswered question.',
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = "library case"
        verbose_name_plural = "case library"

    def __str__(self):
        return self.name

    def clean(self):
        if self.answers is None:
            self.answers = {}
        questions = {}
        if isinstance(self.answers, dict):
            questions = {q.code: q for q in Question.objects.filter(code__in=list(self.answers))}
        problems = clean_case_answers(self.answers, questions)
        if problems:
            raise ValidationError({"answers": problems})


class RuleCaseExpectation(models.Model):
    case = models.ForeignKey(RuleCase, on_delete=models.CASCADE, related_name="expectations")
    condition = models.ForeignKey(Condition, on_delete=models.PROTECT, related_name="+")
    status = models.CharField("expected status", max_length=20, choices=Status.choices)

    class Meta:
        ordering = ["condition__order", "condition__slug"]
        constraints = [
            models.UniqueConstraint(fields=["case", "condition"], name="one_expectation_per_condition"),
        ]

    def __str__(self):
        return f"{self.condition}: {self.get_status_display()}"


def _criterion_condition_str(link):
    return f"{link.criterion.get_effect_display()}: {link.criterion.rule_text()}"


# The admin shows a condition's criteria through this auto-created link model;
# without a __str__ its rows would read "Criterion_conditions object (12)".
Criterion.conditions.through.__str__ = _criterion_condition_str


# Scored instruments and the antidepressant formulary ---------------------------

OPTIONS_EXAMPLE = '[{"score": 0, "label": "Not at all"}, {"score": 1, "label": "Several days"}]'
BANDS_EXAMPLE = '[{"min": 0, "max": 4, "label": "Minimal"}, {"min": 5, "max": 9, "label": "Mild"}]'


class Instrument(models.Model):
    """A scored questionnaire asked item by item (PHQ-9, GAD-7, PCL-5).

    Its items are the inputs of its total, a calculated question (a sum):
    each item is a whole-number question scored 0 to the highest option
    score, asked in questionnaire order. Extra items are asked with it and
    not scored (the PHQ-9's difficulty question).
    """

    code = models.SlugField(max_length=40, unique=True, help_text="Stable key, e.g. phq9.")
    name = models.CharField(max_length=200, help_text="e.g. Patient Health Questionnaire-9 (PHQ-9).")
    total = models.OneToOneField(
        Question, on_delete=models.PROTECT, related_name="instrument",
        help_text="The calculated question (a sum) that holds its score; its inputs are the items.",
    )
    options = models.JSONField(
        default=list, blank=True,
        help_text=f"The response options every item offers, lowest score first, e.g. {OPTIONS_EXAMPLE}.",
    )
    bands = models.JSONField(
        default=list, blank=True,
        help_text=f"Severity bands of the total, from 0 to the highest total without gaps or overlaps, "
                  f"e.g. {BANDS_EXAMPLE}.",
    )
    extra_items = models.ManyToManyField(
        Question, blank=True, related_name="extra_item_of",
        help_text="Asked with the instrument, not scored (e.g. the PHQ-9's difficulty question).",
    )
    references = models.ManyToManyField(
        Reference, blank=True, related_name="instruments", help_text="Its scoring and severity bands."
    )
    licence = models.TextField(blank=True, help_text="Who holds the copyright and on what terms it may be used.")
    order = models.PositiveIntegerField(default=0)

    history = HistoricalRecords(m2m_fields=[extra_items, references])

    class Meta:
        ordering = ["order", "code"]

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        options = self._clean_options(errors)
        try:
            total = self.total
        except Question.DoesNotExist:
            total = None  # the form reports the missing total itself
        items = []
        if total is not None:
            if total.calculation != Calculation.SUM:
                errors["total"] = (
                    f"{total.code} is not a sum: make it a calculated question (“Sum of its items”) "
                    "whose inputs are the instrument's items."
                )
            else:
                items = total.planned_inputs()
        highest = max((o["score"] for o in options), default=None)
        if highest is not None:
            for item in items:
                if item.min_value != 0 or item.max_value is None or item.max_value != highest:
                    errors.setdefault("options", (
                        f"Item {item.code} is scored from {_number_text(item.min_value or 0)} to "
                        f"{'no maximum' if item.max_value is None else _number_text(item.max_value)}, "
                        f"but the options go from 0 to {highest}: make them agree."
                    ))
        if highest is not None and items:
            self._clean_bands(errors, highest * len(items))
        elif self.bands:
            self._clean_bands(errors, None)
        if errors:
            raise ValidationError(errors)

    def _clean_options(self, errors):
        options = self.options
        if not isinstance(options, list) or not options:
            errors["options"] = f"List the response options with their scores, e.g. {OPTIONS_EXAMPLE}."
            return []
        scores = []
        for option in options:
            if (
                not isinstance(option, dict) or set(option) != {"score", "label"}
                or isinstance(option["score"], bool) or not isinstance(option["score"], int)
                or not isinstance(option["label"], str) or not option["label"].strip()
            ):
                errors["options"] = f"Each option needs a whole-number score and a label; check {option!r}."
                return []
            scores.append(option["score"])
        if scores != list(range(len(scores))):
            errors["options"] = (
                f"The scores run 0, 1, 2 … one per option, lowest first; these are {', '.join(map(str, scores))}."
            )
            return []
        return options

    def _clean_bands(self, errors, highest_total):
        bands = self.bands
        if not isinstance(bands, list) or not bands:
            errors["bands"] = f"List the severity bands, e.g. {BANDS_EXAMPLE}."
            return
        expected_min = 0
        for band in bands:
            if (
                not isinstance(band, dict) or set(band) != {"min", "max", "label"}
                or any(isinstance(band[k], bool) or not isinstance(band[k], int) for k in ("min", "max"))
                or not isinstance(band["label"], str) or not band["label"].strip()
            ):
                errors["bands"] = f"Each band needs a whole-number min and max and a label; check {band!r}."
                return
            if band["max"] < band["min"]:
                errors["bands"] = f"The band “{band['label']}” ends ({band['max']}) before it starts ({band['min']})."
                return
            if band["min"] < expected_min:
                errors["bands"] = f"The band “{band['label']}” overlaps the band before it; start it at {expected_min}."
                return
            if band["min"] > expected_min:
                errors["bands"] = (
                    f"No band covers {expected_min}"
                    f"{'' if band['min'] - 1 == expected_min else ' to ' + str(band['min'] - 1)}; "
                    f"start “{band['label']}” at {expected_min}."
                )
                return
            expected_min = band["max"] + 1
        if highest_total is not None and expected_min - 1 != highest_total:
            errors["bands"] = (
                f"The bands end at {expected_min - 1}, but the highest total is {highest_total}; "
                f"the last band should end at {highest_total}."
            )

    def items(self):
        """The scored items, in questionnaire order."""
        return self.total.inputs.order_by("section__order", "order", "code")


class Drug(models.Model):
    """A drug of the formulary the antidepressant-trial history is judged against."""

    key = models.SlugField(max_length=60, unique=True, help_text="Stable key, e.g. sertraline; saved trials use it.")
    name = models.CharField(max_length=120, help_text="Its generic name, e.g. Sertraline.")
    drug_class = models.CharField("class", max_length=30, choices=DrugClass.choices)
    min_daily_dose_mg = models.DecimalField(
        "minimum adequate daily dose (mg)", max_digits=8, decimal_places=2, null=True, blank=True,
        help_text="A trial at a lower daily dose does not count as adequate. Needed when it counts as a trial.",
    )
    counts_as_trial = models.BooleanField(
        "counts as a trial", default=True,
        help_text="Whether a trial of it counts towards treatment resistance, as the cited definition says.",
    )
    references = models.ManyToManyField(
        Reference, blank=True, related_name="drugs", help_text="The source of the minimum dose."
    )
    note = models.TextField(blank=True, help_text="For clinical leads; not shown to clinicians.")
    order = models.PositiveIntegerField(default=0)

    history = HistoricalRecords(m2m_fields=[references])

    class Meta:
        ordering = ["order", "name"]
        verbose_name = "formulary drug"

    def __str__(self):
        return f"{self.name} ({_number_text(self.min_daily_dose_mg)} mg)" if self.min_daily_dose_mg else self.name

    def clean(self):
        dose = self.min_daily_dose_mg
        if dose is not None and dose <= 0:
            raise ValidationError({"min_daily_dose_mg": "The minimum daily dose is more than 0 mg."})
        if dose is None and self.counts_as_trial:
            raise ValidationError({"min_daily_dose_mg": (
                "A drug that counts as a trial needs its minimum adequate daily dose, with its source."
            )})


class FormularySettings(models.Model):
    """The one row of formulary-wide rules: how long a trial must last, and
    the definition of treatment resistance that says so."""

    min_trial_weeks = models.PositiveSmallIntegerField(
        "minimum weeks at an adequate dose", default=4,
        help_text="A trial shorter than this does not count as adequate.",
    )
    count = models.CharField(
        "how trials are counted", max_length=20, choices=TrialCount.choices, default=TrialCount.TRIALS.value,
        help_text="Every adequate failed trial, or each different drug once (a drug with several "
                  "adequate failed trials counts as one treatment).",
    )
    partial_response_counts = models.BooleanField(
        "a partial response counts as a failed trial", default=True,
        help_text="Whether a trial whose outcome is a partial response counts as failed.",
    )
    references = models.ManyToManyField(
        Reference, blank=True, related_name="+", help_text="The definition of an adequate trial."
    )

    history = HistoricalRecords(m2m_fields=[references])

    class Meta:
        verbose_name = "formulary settings"
        verbose_name_plural = "formulary settings"

    def __str__(self):
        return f"Adequate trials last at least {self.min_trial_weeks} weeks"

    def save(self, *args, **kwargs):
        self.pk = 1  # one row only
        super().save(*args, **kwargs)

    def clean(self):
        if self.min_trial_weeks is not None and self.min_trial_weeks < 1:
            raise ValidationError({"min_trial_weeks": "A trial lasts at least 1 week."})


class RetiredQuestion(models.Model):
    """A question an older edition asked and this one does not. An answer
    to it (in a stored draft or a `screen` record) is read as the answers
    its mapping gives, without overriding answers given to those questions;
    an answer with no mapping is refused, naming the questions to answer
    instead (docs/knowledge-base.md, "Retired questions")."""

    code = models.SlugField(
        max_length=60, unique=True, help_text="The code the older edition used, e.g. pregnant_or_breastfeeding."
    )
    text = models.CharField(
        max_length=300, help_text="What it asked, and until when, e.g. “Pregnant or breastfeeding (asked "
                                  "before the third edition)”. Shown in the error for an answer it cannot read.",
    )
    maps = models.JSONField(
        default=list, blank=True,
        help_text='Each answer it can read and the answers it stands for, e.g. [{"answer": false, '
                  '"to": {"pregnant": false, "breastfeeding": false}}]. An answer not listed is refused.',
    )
    order = models.PositiveIntegerField(default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["order", "code"]

    def __str__(self):
        return f"{self.code} (retired)"

    def clean(self, questions=None):
        """`questions` (code -> Question) are the questions as they will be;
        by default the database's."""
        if self.maps is None:
            self.maps = []
        if questions is None:
            wanted = {self.code} | _mapped_codes(self.maps)
            questions = {q.code: q for q in Question.objects.filter(code__in=[c for c in wanted if isinstance(c, str)])}
        if self.code in questions:
            raise ValidationError({"code": (
                f"{self.code} is a question of this edition; a retired question must have a code no "
                "question uses."
            )})
        example = '[{"answer": false, "to": {"pregnant": false}}]'
        if not isinstance(self.maps, list):
            raise ValidationError({"maps": f"Write a list of mappings, e.g. {example}."})
        seen = []
        for number, mapping in enumerate(self.maps, start=1):
            where = f"Mapping {number}"
            if not isinstance(mapping, dict) or set(mapping) != {"answer", "to"}:
                raise ValidationError({"maps": f"{where}: write {{answer, to}}, e.g. {example}."})
            answer, to = mapping["answer"], mapping["to"]
            if answer is None or isinstance(answer, dict):
                raise ValidationError({"maps": f"{where}: give the old answer it reads (e.g. false)."})
            if any(type(answer) is type(other) and answer == other for other in seen):
                raise ValidationError({"maps": f"{where}: the answer {answer!r} is mapped twice."})
            seen.append(answer)
            if not isinstance(to, dict) or not to:
                raise ValidationError({"maps": f"{where}: name the new questions and their answers under “to”."})
            for code, value in to.items():
                question = questions.get(code)
                if question is None:
                    raise ValidationError({"maps": f"{where}: there is no question “{code}”."})
                problem = _answer_problem(question, value) if value is not None else "give an answer."
                if problem:
                    raise ValidationError({"maps": f"{where}: {code}: {problem}"})


def _mapped_codes(maps):
    if not isinstance(maps, list):
        return set()
    return {
        code for mapping in maps if isinstance(mapping, dict) and isinstance(mapping.get("to"), dict)
        for code in mapping["to"]
    }
