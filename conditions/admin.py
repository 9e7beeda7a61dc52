"""The knowledge base in the admin, where clinical leads edit it.

Validation is the models' own `clean()`, so a malformed rule comes back as a
form error. Every change is kept with who made it (SimpleHistoryAdmin, and
the history middleware in settings). List pages make a fixed number of
queries however many rows they show.
"""

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from conditions.models import (
    Condition,
    Criterion,
    Question,
    Reference,
    RuleCase,
    RuleCaseExpectation,
    Section,
)

VALUE_JSON_ERROR = (
    "This is not valid JSON. Write numbers and true / false as they are (18, 2.5, true), "
    'text in double quotes ("severe"), and lists in square brackets (["manic", "mixed"]); '
    "leave it empty for is_true / is_false."
)
CHOICES_JSON_ERROR = (
    "This is not valid JSON. Write a list of choices in square brackets, each with a value "
    'and a label in double quotes, e.g. [{"value": "none", "label": "None"}, '
    '{"value": "mild", "label": "Mild"}].'
)


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


class QuestionForm(forms.ModelForm):
    class Meta:
        model = Question
        fields = [
            "code", "text", "help_text", "section", "order", "kind", "choices", "min_value",
            "max_value", "unit", "enable_when_question", "enable_when_operator", "enable_when_value",
        ]
        error_messages = {
            "choices": {"invalid": CHOICES_JSON_ERROR},
            "enable_when_value": {"invalid": VALUE_JSON_ERROR},
        }


class CriterionForm(forms.ModelForm):
    class Meta:
        model = Criterion
        fields = [
            "key", "question", "operator", "value", "effect", "message", "conditions",
            "references", "order", "active",
        ]
        error_messages = {"value": {"invalid": VALUE_JSON_ERROR}}

ANSWERS_JSON_ERROR = (
    "This is not valid JSON. Write the answers in curly brackets, each question code in double "
    'quotes with its answer, e.g. {"age": 45, "mdd_current": true, "suicidal_ideation": "none", '
    '"interacting_medicines": ["none"]}.'
)


class RuleCaseForm(forms.ModelForm):
    class Meta:
        model = RuleCase
        fields = ["name", "description", "answers"]
        error_messages = {"answers": {"invalid": ANSWERS_JSON_ERROR}}
        widgets = {"answers": forms.Textarea(attrs={"rows": 12, "cols": 80})}


class RuleCaseExpectationInline(admin.TabularInline):
    model = RuleCaseExpectation
    extra = 1
    min_num = 1
    verbose_name = "expected status"
    verbose_name_plural = "expected status per condition"


@admin.register(RuleCase)
class RuleCaseAdmin(SimpleHistoryAdmin):
    """The case library a preview checks before publishing."""

    form = RuleCaseForm
    list_display = ["name", "expected"]
    search_fields = ["name", "description"]
    ordering = ["name"]
    inlines = [RuleCaseExpectationInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("expectations__condition")

    @admin.display(description="expected")
    def expected(self, case):
        return "; ".join(
            f"{e.condition.slug}: {e.get_status_display().lower()}" for e in case.expectations.all()
        )


@admin.register(Section)
class SectionAdmin(SimpleHistoryAdmin):
    list_display = ["title", "key", "order", "question_count"]
    search_fields = ["key", "title"]
    ordering = ["order", "key"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(question_count=Count("questions"))

    @admin.display(description="questions", ordering="question_count")
    def question_count(self, section):
        return section.question_count


@admin.register(Reference)
class ReferenceAdmin(SimpleHistoryAdmin):
    list_display = ["key", "details", "authors", "title", "source"]
    list_filter = ["verified"]
    search_fields = ["key", "authors", "title", "source", "doi", "pmid"]
    ordering = ["verified", "key"]
    readonly_fields = ["citation"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fields = [
        "key", "authors", "title", "source", "doi", "pmid", "url", "verified", "note", "citation",
    ]

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


@admin.register(Condition)
class ConditionAdmin(SimpleHistoryAdmin):
    list_display = ["name", "slug", "order", "active", "criterion_count", "reference_keys"]
    list_filter = ["active"]
    search_fields = ["slug", "name", "description"]
    ordering = ["order", "slug"]
    filter_horizontal = ["references"]
    readonly_fields = ["criteria_for_every_condition"]
    fields = [
        "slug", "name", "description", "guidance", "references", "order", "active",
        "criteria_for_every_condition",
    ]
    inlines = [ConditionCriteriaInline]

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
class QuestionAdmin(TolerantAutocompleteMixin, SimpleHistoryAdmin):
    form = QuestionForm
    list_display = ["code", "text", "kind", "section", "order", "enable_when_question"]
    list_filter = ["section", "kind"]
    list_select_related = ["section", "enable_when_question"]
    search_fields = ["code", "text"]
    ordering = ["section__order", "order", "code"]
    autocomplete_fields = ["section", "enable_when_question"]
    fieldsets = [
        (None, {"fields": ["code", "text", "help_text", "section", "order"]}),
        ("Answer", {"fields": ["kind", "choices", "min_value", "max_value", "unit"]}),
        ("Enable when", {
            "fields": ["enable_when_question", "enable_when_operator", "enable_when_value"],
            "description": "Ask this question only when another question's answer passes a test.",
        }),
    ]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly.append("code")  # saved answers are keyed by it
        return readonly


@admin.register(Criterion)
class CriterionAdmin(TolerantAutocompleteMixin, SimpleHistoryAdmin):
    form = CriterionForm
    list_display = ["key", "effect", "rule", "applies_to", "active", "order"]
    list_filter = ["effect", "conditions", "active"]
    list_select_related = ["question"]
    search_fields = ["key", "message", "question__code"]
    ordering = ["order", "key"]
    autocomplete_fields = ["question"]
    filter_horizontal = ["conditions", "references"]
    fieldsets = [
        (None, {"fields": ["key", "question", "operator", "value", "effect", "message"]}),
        ("Scope and evidence", {"fields": ["conditions", "references", "order", "active"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("question").prefetch_related("conditions")

    @admin.display(description="rule", ordering="question__code")
    def rule(self, criterion):
        return criterion.rule_text()

    @admin.display(description="applies to")
    def applies_to(self, criterion):
        return ", ".join(c.name for c in criterion.conditions.all()) or "Every condition"
