"""The knowledge base in the admin, where clinical leads edit it.

Validation is the models' own `clean()`, so a malformed rule comes back as a
form error. Every change is kept with who made it (SimpleHistoryAdmin, and
the history middleware in settings). List pages make a fixed number of
queries however many rows they show.
"""

import json
import math
import re
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

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
    clean_case_answers,
)
from conditions.plain_json import LARGEST_NUMBER, check_plain_json
from rules.vocabulary import (
    LIST_OPERATORS,
    NO_VALUE_OPERATORS,
    NUMBER_KINDS,
    NUMBER_OPERATORS,
    OPERATORS_FOR_KIND,
    Kind,
    Operator,
    TrialOutcome,
)

admin.site.site_header = "KetaScreen knowledge base"
admin.site.site_title = "KetaScreen knowledge base"
admin.site.index_title = "Knowledge base, rule versions and users"

class HistoryAdmin(SimpleHistoryAdmin):
    """django-simple-history's admin, whose history pages answer 404 for an
    id that is no id ("abc"): it converts the ids from the address itself,
    and would fail with a server error."""

    def history_view(self, request, object_id, extra_context=None):
        _id_or_404(self.model, object_id)
        return super().history_view(request, object_id, extra_context=extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        _id_or_404(self.model, object_id)
        _id_or_404(self.model.history.model, version_id)
        return super().history_form_view(request, object_id, version_id, extra_context=extra_context)


def _id_or_404(model, value):
    try:
        model._meta.pk.to_python(value)
    except ValidationError:
        raise Http404(f"No {model._meta.verbose_name} with that id.") from None


class TolerantAutocompleteSelect(AutocompleteSelect):
    """An autocomplete that re-shows a form holding a malformed id instead of failing.

    Django's widget looks the submitted id up to label it, which raises on a
    value such as "abc"; the form field already reports it as invalid.
    """

    def optgroups(self, name, value, attr=None):
        target = self.field.remote_field.model._meta.get_field(self.field.remote_field.field_name)
        return super().optgroups(name, [v for v in value if _parses(target, v)], attr)


def _parses(model_field, value):
    try:
        model_field.to_python(value)
    except ValidationError:
        return False
    return True


class TolerantAutocompleteMixin:
    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in self.get_autocomplete_fields(request):
            kwargs.setdefault(
                "widget", TolerantAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# Rule values without JSON -------------------------------------------------------
#
# A criterion's value (and a question's enable-when value) is edited with the
# field that fits its question and operator. Which field fits is known once
# both are chosen: on a new rule, choose them and save; the form comes back
# asking for the value in the box that fits (no script needed).


class NoteWidget(forms.Widget):
    """A field with nothing to type: it shows a note instead."""

    def __init__(self, note, attrs=None):
        super().__init__(attrs)
        self.note = note

    template_name = "conditions/widgets/note.html"

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["note"] = self.note
        return context

    def value_from_datadict(self, data, files, name):
        return None

    def value_omitted_from_data(self, data, files, name):
        return False


CHOOSE_FIRST = (
    "Choose the question and the operator, then save (“Save and continue editing”): "
    "this box then asks for the value in the form that fits them."
)
YES_NO = [("yes", "Yes"), ("no", "No")]


def rule_value_field(question, operator, *, label="value"):
    """The form field for a rule's value on `question` with `operator`."""
    common = {"required": False, "label": label}
    if question is None or operator not in OPERATORS_FOR_KIND.get(question.kind, set()):
        return forms.Field(widget=NoteWidget(CHOOSE_FIRST), **common)
    if operator in NO_VALUE_OPERATORS:
        return forms.Field(widget=NoteWidget("No value: the operator says it all."), **common)
    if operator in NUMBER_OPERATORS or question.kind in NUMBER_KINDS:
        unit = f" ({question.unit})" if question.unit else ""
        if question.kind == Kind.INTEGER:
            return forms.IntegerField(help_text=f"A whole number{unit}.", **common)
        return forms.DecimalField(
            max_digits=16, decimal_places=3, help_text=f"A number{unit}.",
            widget=forms.NumberInput(attrs={"step": "any"}), **common,
        )
    if question.kind == Kind.BOOLEAN:
        return forms.TypedChoiceField(
            choices=YES_NO, coerce=lambda v: v == "yes", empty_value=None,
            widget=forms.RadioSelect, **common,
        )
    choices = [(c["value"], c["label"]) for c in question.choices if isinstance(c, dict)]
    if operator in LIST_OPERATORS:
        return forms.MultipleChoiceField(
            choices=choices, widget=forms.CheckboxSelectMultiple, help_text="Tick one or more.", **common
        )
    return forms.ChoiceField(choices=[("", "---------"), *choices], **common)


def value_for_form(field, value):
    """A stored rule value as `field` shows it."""
    if isinstance(field, forms.TypedChoiceField) and isinstance(value, bool):
        return "yes" if value else "no"
    return value


def value_from_form(value):
    """A cleaned form value as the model stores it (numbers as int or float),
    through the check every stored JSON value passes (conditions.plain_json)."""
    if isinstance(value, Decimal):
        value = int(value) if value == value.to_integral_value() else float(value)
    if value in ("", []):
        return None
    check_plain_json(value)
    return value


def _chosen(form, question_field, operator_field, question, operator):
    """The question and operator the form is about: as posted when bound, else as stored."""
    if not form.is_bound:
        return question, operator
    pk = form.data.get(question_field)
    question = None
    if pk and str(pk).isdigit():
        question = Question.objects.filter(pk=int(pk)).first()
    return question, form.data.get(operator_field, "")


# Choices as rows ----------------------------------------------------------------

CHOICE_VALUE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
BLANK_ROWS = 3
MOST_ROWS = 200


class ChoiceRowsWidget(forms.Widget):
    """A question's choices as rows of value, label and order, with blank
    rows to add more (save to get more blank rows)."""

    def value_from_datadict(self, data, files, name):
        try:
            count = min(int(data.get(f"{name}-rows", 0)), MOST_ROWS)
        except (TypeError, ValueError):
            count = 0
        return [
            {part: str(data.get(f"{name}-{index}-{part}", "")).strip() for part in ("value", "label", "order")}
            for index in range(count)
        ]

    def value_omitted_from_data(self, data, files, name):
        return f"{name}-rows" not in data

    template_name = "conditions/widgets/choice_rows.html"

    class Media:
        css = {"all": ["css/admin.css"]}

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        rows = []
        for index, row in enumerate(value if isinstance(value, list) else []):
            if isinstance(row, dict):
                rows.append({"value": row.get("value", ""), "label": row.get("label", ""),
                             "order": row.get("order", (index + 1) * 10)})
        context["widget"]["next_free"] = (len(rows) + 1) * 10
        context["widget"]["rows"] = rows + [{"value": "", "label": "", "order": ""} for _ in range(BLANK_ROWS)]
        return context


class ParsedRowsField(forms.Field):
    """A field of rows that stores a JSON list: changed when the rows, as
    they would be stored, differ from what is stored (a refused one counts
    as changed, so its error shows)."""

    def has_changed(self, initial, data):
        try:
            return self.to_python(data) != (initial or [])
        except ValidationError:
            return True


class ChoiceRowsField(ParsedRowsField):
    widget = ChoiceRowsWidget

    def to_python(self, rows):
        if not rows:
            return []
        if all(isinstance(r, dict) and set(r) == {"value", "label"} for r in rows):
            check_plain_json(rows)
            return rows  # as stored
        kept, problems = [], []
        for number, row in enumerate(rows, 1):
            value, label, order = row["value"], row["label"], row["order"]
            if not value and not label:
                continue
            if not value:
                problems.append(f"Row {number}: give the choice a value (the key its answers are saved under).")
            elif not CHOICE_VALUE.match(value):
                problems.append(
                    f"Row {number}: “{value}” cannot be a value; use lower-case letters, digits, _ and -, "
                    "e.g. active_plan."
                )
            if not label:
                problems.append(f"Row {number}: give the choice a label (what the clinician reads).")
            try:
                position = int(order) if order else number * 10
            except ValueError:
                problems.append(f"Row {number}: the order is a whole number, e.g. 10.")
                position = number * 10
            kept.append((position, number, {"value": value, "label": label}))
        if problems:
            raise ValidationError(problems)
        choices = [choice for _, _, choice in sorted(kept, key=lambda item: item[:2])]
        check_plain_json(choices)
        return choices



class QuestionForm(forms.ModelForm):
    choices = ChoiceRowsField(required=False, label="choices")

    class Meta:
        model = Question
        fields = [
            "code", "text", "help_text", "section", "order", "kind", "choices", "min_value",
            "max_value", "unit", "enable_when_question", "enable_when_operator", "enable_when_value",
            "calculation", "inputs",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        parent, operator = _chosen(
            self, "enable_when_question", "enable_when_operator",
            self.instance.enable_when_question, self.instance.enable_when_operator,
        )
        field = rule_value_field(parent, operator, label="enable when value")
        if parent is None and not operator:
            field.widget = NoteWidget("Choose a question and an operator first, then save.")
        self.fields["enable_when_value"] = field
        if not self.is_bound:
            self.initial["enable_when_value"] = value_for_form(field, self.instance.enable_when_value)

    def clean_choices(self):
        return self.cleaned_data["choices"] or []

    def clean(self):
        cleaned = super().clean()
        if "inputs" in cleaned:
            # Many-to-many rows are saved after the model is validated: let
            # Question.clean() check the inputs as they are about to be.
            self.instance._planned_inputs = list(cleaned["inputs"])
        return cleaned

    def clean_enable_when_value(self):
        return value_from_form(self.cleaned_data["enable_when_value"])


class CriterionForm(forms.ModelForm):
    class Meta:
        model = Criterion
        fields = [
            "key", "question", "operator", "value", "effect", "message", "basis", "when_question",
            "when_operator", "when_value", "conditions", "references", "order", "active", "reviewer",
            "review_due",
        ]
        help_texts = {"message": (
            "What a clinician reads when this criterion decides a result (for a duty: the "
            "checklist item, e.g. “Observe for at least two hours after dosing.”). Write {value} and "
            "{unit} to show this criterion's own value and its question's unit, so the words "
            "always match the rule."
        )}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        question, operator = _chosen(
            self, "question", "operator",
            self.instance.question if self.instance.question_id else None, self.instance.operator,
        )
        field = rule_value_field(question, operator)
        self.fields["value"] = field
        if not self.is_bound:
            self.initial["value"] = value_for_form(field, self.instance.value)
        gate, gate_operator = _chosen(
            self, "when_question", "when_operator",
            self.instance.when_question if self.instance.when_question_id else None, self.instance.when_operator,
        )
        when_field = rule_value_field(gate, gate_operator, label="when value")
        if gate is None and not gate_operator:
            when_field.widget = NoteWidget("Optional. Choose a question and an operator first, then save.")
        self.fields["when_value"] = when_field
        if not self.is_bound:
            self.initial["when_value"] = value_for_form(when_field, self.instance.when_value)

    def clean_value(self):
        return value_from_form(self.cleaned_data["value"])

    def clean_when_value(self):
        return value_from_form(self.cleaned_data["when_value"])

    def clean(self):
        cleaned = super().clean()
        if "references" in cleaned:
            # Many-to-many rows are saved after the model is validated: let
            # Criterion.clean() check the basis against the references about to be cited.
            self.instance._planned_references = list(cleaned["references"])
        return cleaned


# A library case's answers, question by question ------------------------------
#
# Each question of the knowledge base gets a field of its own kind; one left
# unanswered is left out of the case's answers (never saved as no or 0), so
# the answers are stored as the knowledge-base file writes them.

ANSWER_PREFIX = "answer__"
NOT_ANSWERED = "Not answered"


def answer_field_name(code):
    return f"{ANSWER_PREFIX}{code}"


def _limit(number):
    if number is None:
        return None
    return int(number) if number == number.to_integral_value() else float(number)


def _whole(number):
    """150.0 -> 150: a number as the knowledge-base file would hold it."""
    return int(number) if isinstance(number, float) and number.is_integer() else number


def _answer_help(question):
    notes = [question.code]
    if question.unit:
        notes.append(question.unit)
    if question.calculation:
        notes.append("worked out from its inputs when they are answered; give it only to stand in for them")
    return format_html('<small class="quiet">{}</small>', " · ".join(notes))


def answer_field(question, drugs):
    """The form field for a library case's answer to `question`; its
    cleaned value is the answer as stored, None for unanswered."""
    common = {"required": False, "label": question.text, "help_text": _answer_help(question)}
    kind = question.kind
    if kind == Kind.BOOLEAN:
        return forms.TypedChoiceField(
            choices=[("", NOT_ANSWERED), *YES_NO], coerce=lambda v: v == "yes", empty_value=None,
            widget=forms.RadioSelect(attrs={"class": "radiolist inline"}), **common,
        )
    if kind in NUMBER_KINDS:
        limits = {"min_value": _limit(question.min_value), "max_value": _limit(question.max_value)}
        unit = f" {question.unit}" if question.unit else ""
        messages = {
            "min_value": f"The least this question takes is %(limit_value)s{unit}.",
            "max_value": f"The most this question takes is %(limit_value)s{unit}.",
        }
        if kind == Kind.INTEGER:
            return forms.IntegerField(
                **limits, error_messages={**messages, "invalid": "Write a whole number, e.g. 3."}, **common,
            )
        return forms.FloatField(
            **limits, widget=forms.NumberInput(attrs={"step": "any"}),
            error_messages={**messages, "invalid": "Write a number, e.g. 7.5."}, **common,
        )
    choices = [(c["value"], c["label"]) for c in question.choices if isinstance(c, dict)]
    if kind == Kind.CHOICE:
        return forms.ChoiceField(choices=[("", NOT_ANSWERED), *choices], **common)
    if kind == Kind.MULTI_CHOICE:
        return forms.MultipleChoiceField(
            choices=choices, widget=forms.CheckboxSelectMultiple,
            **{**common, "help_text": format_html("{} {}", "Tick none to leave it unanswered.", common["help_text"])},
        )
    if kind == Kind.TRIALS:
        columns = [
            ("drug", "drug", "select", [("", "Choose a drug"), *drugs]),
            ("daily_dose_mg", "daily dose (mg)", "decimal", None),
            ("weeks", "weeks at that dose", "decimal", None),
            ("outcome", "outcome", "select", [("", "Choose the outcome"), *TrialOutcome.choices]),
        ]
        return RowsField(columns, "trial", widget=RowsWidget(columns, (
            "One row per trial. No rows leaves the question unanswered."
        )), **common)
    return forms.Field(widget=NoteWidget(f"A {kind} question cannot be answered here."), **common)


def answer_for_form(question, answer):
    """A stored answer as its field shows it."""
    if question.kind == Kind.BOOLEAN and isinstance(answer, bool):
        return "yes" if answer else "no"
    return answer


class RuleCaseForm(forms.ModelForm):
    """The case's answers as one field per question (`questions`, set by
    RuleCaseAdmin.get_form); `answers` itself shows only a note and the
    problems with the answers as a whole."""

    questions = ()
    answers = forms.Field(required=False, label="answers")

    class Meta:
        model = RuleCase
        fields = ["name", "description", "answers"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = self.instance.answers if isinstance(self.instance.answers, dict) else {}
        known = {question.code for question in self.questions}
        dropped = sorted(code for code in stored if code not in known)
        note = "Answer question by question below. A question left unanswered stays out of the case."
        if dropped:
            note += f" Saving leaves out the answers to questions that no longer exist: {', '.join(dropped)}."
        self.fields["answers"].widget = NoteWidget(note)
        if not self.is_bound:
            for question in self.questions:
                if question.code in stored:
                    self.initial[answer_field_name(question.code)] = answer_for_form(question, stored[question.code])

    def clean(self):
        cleaned = super().clean()
        answers = {}
        for question in self.questions:
            name = answer_field_name(question.code)
            if name not in cleaned:
                continue  # refused by its field
            answer = cleaned[name]
            if answer in (None, "", []):
                continue
            if isinstance(answer, list) and question.kind == Kind.TRIALS:
                answer = [{part: _whole(value) for part, value in trial.items()} for trial in answer]
            answer = _whole(answer)
            problems = clean_case_answers({question.code: answer}, {question.code: question})
            try:
                check_plain_json(answer)
            except ValidationError as error:
                problems += error.messages
            if problems:
                self.add_error(name, problems)
                continue
            answers[question.code] = answer
        cleaned["answers"] = answers
        return cleaned


class RuleCaseExpectationInline(admin.TabularInline):
    model = RuleCaseExpectation
    extra = 1
    min_num = 1
    verbose_name = "expected status"
    verbose_name_plural = "expected status per condition"


@admin.register(RuleCase)
class RuleCaseAdmin(HistoryAdmin):
    """The case library a preview checks before publishing. The answers are
    asked question by question, section by section (2 queries: the
    questions with their sections, the formulary's drugs)."""

    form = RuleCaseForm
    list_display = ["name", "expected"]
    search_fields = ["name", "description"]
    ordering = ["name"]
    inlines = [RuleCaseExpectationInline]

    class Media:
        css = {"all": ["css/admin.css"]}
        js = ["js/admin_rows.js"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("expectations__condition")

    @admin.display(description="expected")
    def expected(self, case):
        return "; ".join(
            f"{e.condition.slug}: {e.get_status_display().lower()}" for e in case.expectations.all()
        )

    def _questions(self, request):
        """The questions and the drugs a trial may name, read once per request."""
        if not hasattr(request, "_case_questions"):
            request._case_questions = (
                list(Question.objects.select_related("section").order_by("section__order", "section__key", "order", "code")),
                list(Drug.objects.order_by("order", "name").values_list("key", "name")),
            )
        return request._case_questions

    def get_fieldsets(self, request, obj=None):
        questions, _ = self._questions(request)
        fieldsets = [(None, {"fields": ["name", "description", "answers"]})]
        for question in questions:
            if not fieldsets[-1][0] or fieldsets[-1][1]["section"] != question.section_id:
                fieldsets.append((question.section.title, {"fields": [], "section": question.section_id}))
            fieldsets[-1][1]["fields"].append(answer_field_name(question.code))
        return [(title, {"fields": options["fields"]}) for title, options in fieldsets]

    def get_form(self, request, obj=None, change=False, **kwargs):
        questions, drugs = self._questions(request)
        attrs = {answer_field_name(q.code): answer_field(q, drugs) for q in questions}
        attrs["questions"] = questions
        kwargs["form"] = type("RuleCaseAnswersForm", (self.form,), attrs)
        return super().get_form(request, obj, change, **kwargs)


@admin.register(Section)
class SectionAdmin(HistoryAdmin):
    list_display = ["title", "key", "order", "question_count"]
    search_fields = ["key", "title"]
    ordering = ["order", "key"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(question_count=Count("questions"))

    @admin.display(description="questions", ordering="question_count")
    def question_count(self, section):
        return section.question_count


class ReviewOverdueFilter(admin.SimpleListFilter):
    """Rows whose review date has passed, or that have no review date."""

    title = "review"
    parameter_name = "review"

    def lookups(self, request, model_admin):
        return [("overdue", "Overdue"), ("unscheduled", "No review date")]

    def queryset(self, request, queryset):
        if self.value() == "overdue":
            return queryset.overdue()
        if self.value() == "unscheduled":
            return queryset.filter(review_due=None)
        return queryset


@admin.display(description="review due", ordering="review_due")
def review_due_display(item):
    if item.review_due is None:
        return "—"
    if item.review_overdue():
        return format_html("<strong>Overdue: {}</strong>", item.review_due.strftime("%-d %b %Y"))
    return item.review_due.strftime("%-d %b %Y")


REVIEW_FIELDSET = ("Review", {
    "fields": ["reviewer", "review_due"],
    "description": "Who checks this against the evidence next, and by when. Overdue reviews are counted on the admin home page.",
})


@admin.register(Reference)
class ReferenceAdmin(HistoryAdmin):
    list_display = ["reference", "year", "details", review_due_display]
    list_filter = ["verified", ReviewOverdueFilter]
    search_fields = ["authors", "title", "key", "source", "doi", "pmid"]
    ordering = ["verified", "authors", "key"]
    readonly_fields = ["citation"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = [
        (None, {"fields": [
            "key", "authors", "title", "source", "doi", "pmid", "url", "verified", "note", "citation",
        ]}),
        REVIEW_FIELDSET,
    ]

    @admin.display(description="reference", ordering="authors")
    def reference(self, item):
        return format_html(
            '{}<br><span class="quiet">{}</span><br><small class="quiet">{}</small>',
            item.authors, item.title, item.key,
        )

    @admin.display(description="year")
    def year(self, item):
        return item.year()

    @admin.display(description="details", ordering="verified")
    def details(self, reference):
        if reference.verified:
            return "Verified"
        return format_html("<strong>{}</strong>", "Unverified: needs checking")

    @admin.display(description="citation as shown to clinicians")
    def citation(self, reference):
        if reference.pk is None:
            return "Shown once the reference is saved."
        return reference.citation_html()


class ConditionCriteriaInline(TolerantAutocompleteMixin, admin.TabularInline):
    """The condition's own rule set, edited from the condition's page."""

    model = Criterion.conditions.through
    autocomplete_fields = ["criterion"]
    extra = 0
    verbose_name = "criterion for this condition"
    verbose_name_plural = "criteria for this condition"

    def get_queryset(self, request):
        return (
            super().get_queryset(request)
            .select_related("criterion__question")
            .order_by("criterion__order", "criterion__key")
        )


class EvidenceGradeInline(TolerantAutocompleteMixin, admin.TabularInline):
    """The condition's evidence grades, each from a cited source; each row
    keeps its own history (who changed it, and when)."""

    model = EvidenceGrade
    autocomplete_fields = ["source"]
    fields = ["grade", "applies_to", "source", "note", "order"]
    extra = 1
    verbose_name_plural = "evidence grades (shown next to the status on the summary and PDF)"
    formfield_overrides = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 40})}}

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("source")


@admin.register(Condition)
class ConditionAdmin(HistoryAdmin):
    list_display = ["name", "slug", "order", "active", "criterion_count", "reference_keys"]
    list_filter = ["active"]
    search_fields = ["slug", "name", "description"]
    ordering = ["order", "slug"]
    filter_horizontal = ["references"]
    readonly_fields = ["criteria_for_every_condition"]
    fields = [
        "slug", "name", "description", "guidance", "licensing", "references", "order", "active",
        "criteria_for_every_condition",
    ]
    inlines = [ConditionCriteriaInline, EvidenceGradeInline]

    def get_queryset(self, request):
        return (
            super().get_queryset(request)
            .annotate(criterion_count=Count("criteria"))
            .prefetch_related("references")
        )

    @admin.display(description="own criteria", ordering="criterion_count")
    def criterion_count(self, condition):
        return condition.criterion_count

    @admin.display(description="references")
    def reference_keys(self, condition):
        return ", ".join(reference.key for reference in condition.references.all())

    @admin.display(description="criteria for every condition (they apply here too)")
    def criteria_for_every_condition(self, condition):
        criteria = (
            Criterion.objects.filter(conditions=None).select_related("question").order_by("order")
        )
        if not criteria:
            return "None."
        rows = (
            (
                reverse("admin:conditions_criterion_change", args=[criterion.pk]),
                criterion.key,
                f"{criterion.get_effect_display()}: {criterion.rule_text()}",
                "" if criterion.active else " (inactive)",
            )
            for criterion in criteria
        )
        return format_html(
            "<ul>{}</ul>", format_html_join("", '<li><a href="{}">{}</a>: {}{}</li>', rows)
        )

    def save_formset(self, request, form, formset, change):
        """Record a history row for each criterion whose conditions changed here.

        The inline saves link rows directly, which bypasses the many-to-many
        signal that writes the criterion's history, so save each touched
        criterion once more to keep who changed its scope and when.
        """
        super().save_formset(request, form, formset, change)
        if formset.model is not Criterion.conditions.through:
            return
        touched = {link.criterion_id for link in formset.new_objects + formset.deleted_objects}
        touched |= {link.criterion_id for link, _ in formset.changed_objects}
        touched |= {
            inline_form.initial["criterion"]
            for inline_form in formset.initial_forms
            if "criterion" in inline_form.changed_data
        }
        for criterion in Criterion.objects.filter(pk__in=touched):
            criterion._history_user = request.user
            criterion._change_reason = f"Conditions edited on the {form.instance.slug} page"
            criterion.save()


@admin.register(Question)
class QuestionAdmin(TolerantAutocompleteMixin, HistoryAdmin):
    form = QuestionForm
    list_display = ["question", "kind", "section", "order", "enable_when", "calculation"]
    list_filter = ["section", "kind", "calculation"]
    list_select_related = ["section", "enable_when_question"]
    search_fields = ["text", "code"]
    ordering = ["section__order", "order", "code"]
    autocomplete_fields = ["section", "enable_when_question", "inputs"]
    fieldsets = [
        (None, {"fields": ["code", "text", "help_text", "section", "order"]}),
        ("Answer", {"fields": ["kind", "choices", "min_value", "max_value", "unit"]}),
        ("Enable when", {
            "fields": ["enable_when_question", "enable_when_operator", "enable_when_value"],
            "description": "Ask this question only when another question's answer passes a test.",
        }),
        ("Calculation", {
            "fields": ["calculation", "inputs"],
            "description": (
                "A calculated question is worked out from its inputs (an instrument's total from its "
                "items; the count of adequate failed trials from the trials question). Criteria read "
                "it like any answer; a total typed by the clinician is used only when no input is answered."
            ),
        }),
        ("Complete when", {
            "fields": ["complete_when"],
            "description": (
                "A trials question only: the yes/no question the clinician answers yes once every trial "
                "is listed. Until then a count that falls short is unknown, never a fail."
            ),
        }),
    ]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly.append("code")  # saved answers are keyed by it
        return readonly

    @admin.display(description="question", ordering="text")
    def question(self, item):
        return question_html(item)

    @admin.display(description="enable when", ordering="enable_when_question__text")
    def enable_when(self, item):
        parent = item.enable_when_question
        if parent is None:
            return "—"
        words = Operator(item.enable_when_operator).label if item.enable_when_operator in Operator.values else ""
        value = item.enable_when_value
        value = "" if value is None else ", ".join(map(str, value)) if isinstance(value, list) else value
        return format_html("{} {} {}<br><small class=\"quiet\">{}</small>", parent.text, words, value, parent.code)


def question_html(question):
    """A question as leads know it: its text, its code small underneath."""
    return format_html('{}<br><small class="quiet">{}</small>', question.text, question.code)


@admin.register(Criterion)
class CriterionAdmin(TolerantAutocompleteMixin, HistoryAdmin):
    form = CriterionForm
    list_display = ["key", "effect", "rule", "basis_display", "applies_to", "active", "order", review_due_display]
    list_filter = ["effect", "basis", "conditions", "active", ReviewOverdueFilter]
    list_select_related = ["question", "when_question"]
    search_fields = ["key", "message", "question__text", "question__code"]
    ordering = ["order", "key"]
    autocomplete_fields = ["question", "when_question"]
    filter_horizontal = ["conditions", "references"]
    readonly_fields = ["message_as_shown"]
    fieldsets = [
        (None, {"fields": ["key", "question", "operator", "value", "effect", "message", "message_as_shown"]}),
        ("Where it applies", {
            "fields": ["when_question", "when_operator", "when_value"],
            "description": "Optional. Leave empty for a criterion that applies to every patient screened for "
                           "its conditions. Where the test is answered and fails, the criterion does not apply "
                           "(it never changes a status); while it is unanswered, the result is incomplete.",
        }),
        ("Scope and evidence", {"fields": ["basis", "conditions", "references", "order", "active"]}),
        REVIEW_FIELDSET,
    ]

    @admin.display(description="message as clinicians read it")
    def message_as_shown(self, criterion):
        if criterion.pk is None:
            return "Shown once the criterion is saved."
        drift = criterion.message_drift()
        if drift:
            return format_html('{}<br><strong class="errornote">{}</strong>', criterion.message_text(), drift)
        return criterion.message_text()

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        drift = obj.message_drift()
        if drift:
            messages.warning(request, drift)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("question").prefetch_related("conditions")

    @admin.display(description="rule", ordering="question__code")
    def rule(self, criterion):
        when = criterion.when_text()
        if when:
            return format_html('{}<br><small class="quiet">only when {}</small>', criterion.rule_text(), when)
        return criterion.rule_text()

    @admin.display(description="basis", ordering="basis")
    def basis_display(self, criterion):
        return criterion.get_basis_display() if criterion.basis else "Not specified"

    @admin.display(description="applies to")
    def applies_to(self, criterion):
        return ", ".join(c.name for c in criterion.conditions.all()) or "Every condition"


# Scored instruments and the formulary ------------------------------------------

WHOLE_NUMBER = re.compile(r"^-?\d{1,15}$")
LONGEST_CELL = 300  # characters of a label in a row
DECIMAL_NUMBER = re.compile(r"^\d{1,15}(\.\d{1,6})?$")


class RowsWidget(forms.Widget):
    """A list of small records (an instrument's options or bands) as rows of
    inputs, one column per part, with BLANK_ROWS blank rows to add more;
    static/js/admin_rows.js adds rows on request."""

    template_name = "conditions/widgets/rows.html"

    def __init__(self, columns, help_text="", attrs=None):
        super().__init__(attrs)
        self.columns = [_column(column) for column in columns]
        self.help_text = help_text

    class Media:
        css = {"all": ["css/admin.css"]}
        js = ["js/admin_rows.js"]

    def value_from_datadict(self, data, files, name):
        try:
            count = min(int(data.get(f"{name}-rows", 0)), MOST_ROWS)
        except (TypeError, ValueError):
            count = 0
        return [
            {column["part"]: str(data.get(f"{name}-{index}-{column['part']}", "")).strip() for column in self.columns}
            for index in range(count)
        ]

    def value_omitted_from_data(self, data, files, name):
        return f"{name}-rows" not in data

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        columns = self.columns
        rows = [row for row in (value if isinstance(value, list) else []) if isinstance(row, dict)]
        while rows and all(v in ("", None) for v in rows[-1].values()):
            rows.pop()  # the blank rows posted: as many are offered again, not more
        rows += [{} for _ in range(BLANK_ROWS)]
        context["widget"].update({
            "columns": columns, "help": self.help_text, "blank_rows": BLANK_ROWS,
            "rows": [
                [_shown_cell(column, row.get(column["part"])) for column in columns]
                for row in rows
            ],
        })
        return context


def _shown_cell(column, value):
    value = "" if value is None else str(value)
    return {**column, "value": value, "known": any(value == offered for offered, _ in column["choices"])}


def _column(column):
    """(part, heading, kind[, choices]) as the rows template reads it; kind is
    "number" (a whole number), "decimal", "text" or "select"."""
    part, heading, kind, *choices = column
    return {
        "part": part, "heading": heading, "kind": kind, "choices": (choices[0] if choices else None) or [],
        "type": "number" if kind in ("number", "decimal") else kind,
        "step": "any" if kind == "decimal" else "1",
        "css": "ks-number" if kind in ("number", "decimal") else "",
    }


class RowsField(ParsedRowsField):
    """Rows of a RowsWidget as the list of dicts the model stores: number
    parts as whole numbers, text parts as written; blank rows left out.
    Each problem names its row."""

    def __init__(self, columns, noun, help_text="", **kwargs):
        self.columns, self.noun = [_column(column) for column in columns], noun
        kwargs.setdefault("widget", RowsWidget(columns, help_text))
        super().__init__(**kwargs)

    def to_python(self, rows):
        if not rows:
            return []
        kept, problems = [], []
        for number, row in enumerate(rows, 1):
            if all(row.get(column["part"], "") == "" for column in self.columns):
                continue
            record = {}
            for column in self.columns:
                part, text = column["part"], row.get(column["part"], "")
                value, problem = _cell(column, text, self.noun)
                if problem:
                    problems.append(f"Row {number}: {problem}")
                else:
                    record[part] = value
            kept.append(record)
        if problems:
            raise ValidationError(problems)
        return kept



def _cell(column, text, noun):
    """A cell as stored, and "" or what is wrong with it."""
    kind, heading = column["kind"], column["heading"]
    if kind == "number":
        if not text:
            return None, f"give the {heading} as a whole number, e.g. 1."
        if not WHOLE_NUMBER.match(text):
            return None, f"the {heading} “{_shown(text)}” is not a whole number; write one, e.g. 1."
        return int(text), ""
    if kind == "decimal":
        if not text:
            return None, f"give the {heading}."
        try:
            number = float(text) if DECIMAL_NUMBER.match(text) else math.nan
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or abs(number) >= LARGEST_NUMBER:
            return None, f"the {heading} “{_shown(text)}” is not a number; write one, e.g. 7.5."
        if number < 0:
            return None, f"the {heading} cannot be below 0."
        return _whole(number), ""
    if kind == "select":
        offered = [value for value, _ in column["choices"] if value]
        if not text:
            return None, f"choose the {heading}."
        if text not in offered:
            return None, f"“{_shown(text)}” is not a {heading} to choose."
        return text, ""
    if not text:
        return None, f"give the {noun} its {heading}."
    if len(text) > LONGEST_CELL:
        return None, f"the {heading} is longer than {LONGEST_CELL} characters; shorten it."
    try:
        check_plain_json(text)
    except ValidationError as error:
        return None, error.messages[0]
    return text, ""


def _shown(text, limit=20):
    """What a lead typed, cut short for an error message."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


OPTION_COLUMNS = [("score", "score", "number"), ("label", "label", "text")]
BAND_COLUMNS = [("min", "lowest total", "number"), ("max", "highest total", "number"), ("label", "label", "text")]


class InstrumentForm(forms.ModelForm):
    options = RowsField(
        OPTION_COLUMNS, "option", required=False, label="options",
        widget=RowsWidget(OPTION_COLUMNS, (
            "The answers every item offers, lowest score first: scores 0, 1, 2 …, each with the words "
            "the patient reads (e.g. 0, Not at all)."
        )),
    )
    bands = RowsField(
        BAND_COLUMNS, "band", required=False, label="bands",
        widget=RowsWidget(BAND_COLUMNS, (
            "The severity bands of the total, lowest first, from 0 to the highest total without gaps "
            "or overlaps (e.g. 0 to 4, Minimal; 5 to 9, Mild)."
        )),
    )

    class Meta:
        model = Instrument
        fields = ["code", "name", "total", "options", "bands", "extra_items", "references", "licence", "order"]

    def clean_options(self):
        if not self.cleaned_data["options"]:
            raise ValidationError(
                "Fill in the options as rows, lowest score first: a score and a label each "
                "(0, Not at all; 1, Several days …)."
            )
        return self.cleaned_data["options"]

    def clean_bands(self):
        if not self.cleaned_data["bands"]:
            raise ValidationError(
                "Fill in the severity bands as rows, lowest first: the lowest and highest total and a "
                "label each (0 to 4, Minimal; 5 to 9, Mild …)."
            )
        return self.cleaned_data["bands"]


@admin.register(Instrument)
class InstrumentAdmin(TolerantAutocompleteMixin, HistoryAdmin):
    """A scored instrument: its items are its total's inputs (edit them on
    the total question's page); here its options, bands, references and licence."""

    form = InstrumentForm
    list_display = ["name", "code", "total_question", "item_count", "band_labels"]
    list_select_related = ["total"]
    search_fields = ["code", "name"]
    ordering = ["order", "code"]
    autocomplete_fields = ["total", "extra_items"]
    filter_horizontal = ["references"]
    readonly_fields = ["items"]
    fieldsets = [
        (None, {"fields": ["code", "name", "total", "items", "extra_items", "order"]}),
        ("Scoring", {
            "fields": ["options", "bands"],
            "description": "Every item offers the same options; the total's bands run from 0 to the highest total.",
        }),
        ("Sources and licence", {"fields": ["references", "licence"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(item_count=Count("total__inputs"))

    @admin.display(description="total", ordering="total__code")
    def total_question(self, instrument):
        return instrument.total.code

    @admin.display(description="items", ordering="item_count")
    def item_count(self, instrument):
        return instrument.item_count

    @admin.display(description="bands")
    def band_labels(self, instrument):
        bands = instrument.bands if isinstance(instrument.bands, list) else []
        return ", ".join(
            f"{b.get('label')} {b.get('min')}–{b.get('max')}" for b in bands if isinstance(b, dict)
        )

    @admin.display(description="items (the total's inputs)")
    def items(self, instrument):
        if instrument.pk is None:
            return "The items are the inputs of the total question: choose the total, then save."
        rows = (
            (reverse("admin:conditions_question_change", args=[item.pk]), item.code, item.text)
            for item in instrument.items().only("pk", "code", "text")
        )
        return format_html("<ol>{}</ol>", format_html_join("", '<li><a href="{}">{}</a>: {}</li>', rows))


@admin.register(Drug)
class DrugAdmin(HistoryAdmin):
    list_display = ["name", "key", "drug_class", "min_daily_dose_mg", "counts_as_trial", "reference_keys"]
    list_filter = ["drug_class", "counts_as_trial"]
    search_fields = ["key", "name"]
    ordering = ["order", "name"]
    filter_horizontal = ["references"]
    fields = ["key", "name", "drug_class", "min_daily_dose_mg", "counts_as_trial", "references", "note", "order"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("references")

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly.append("key")  # saved trials name the drug by it
        return readonly

    @admin.display(description="references")
    def reference_keys(self, drug):
        return ", ".join(reference.key for reference in drug.references.all())


@admin.register(FormularySettings)
class FormularySettingsAdmin(HistoryAdmin):
    """The one row of formulary-wide rules."""

    list_display = ["__str__", "reference_keys"]
    filter_horizontal = ["references"]
    fields = ["min_trial_weeks", "count", "partial_response_counts", "references"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("references")

    def add_view(self, request, form_url="", extra_context=None):
        """There is one row: once it exists, adding goes to it."""
        existing = FormularySettings.objects.filter(pk=1).values_list("pk", flat=True).first()
        if existing is not None:
            return redirect(reverse("admin:conditions_formularysettings_change", args=[existing]))
        return super().add_view(request, form_url, extra_context)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="references")
    def reference_keys(self, settings):
        return ", ".join(reference.key for reference in settings.references.all())


@admin.register(RetiredQuestion)
class RetiredQuestionAdmin(SimpleHistoryAdmin):
    """Questions an older edition asked, and how their answers are read now."""

    list_display = ["code", "text", "mapped_answers"]
    search_fields = ["code", "text"]
    fields = ["code", "text", "maps", "order"]

    @admin.display(description="answers it can read")
    def mapped_answers(self, retired):
        maps = retired.maps if isinstance(retired.maps, list) else []
        return ", ".join(
            json.dumps(m.get("answer")) for m in maps if isinstance(m, dict)
        ) or "none"
