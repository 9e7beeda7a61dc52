"""Forms for the clinician's way through a screening.

The questionnaire is not written by hand: `QuestionnaireForm` builds one
field per question of the rulebook (field name = question code) through
`FIELD_FOR_KIND`, and every answer passes `engine.clean_answer`, so the web
form and the `screen` command refuse the same values with the same words.
"""

import json

from crispy_forms.bootstrap import AppendedText, InlineRadios
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Field, Fieldset, Layout
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import escape

from screening import engine
from screening.age import AGE_QUESTION, age_from_year_of_birth, with_age
from screening.models import Status, patient_reference_validator

MISSING_ANSWER = "Answer this question to see the summary."
OUT_OF_DATE = "This form is out of date; reload the page."
NOT_A_CHOICE = {"invalid_choice": "Choose one of the options shown."}


def _sentence(message):
    """Engine messages start in lower case (they follow a field name in the CLI)."""
    return message[:1].upper() + message[1:]


# --- starting a screening -----------------------------------------------


class ConditionCheckboxes(forms.CheckboxSelectMultiple):
    """Checkboxes that carry each condition's description and an id for it;
    the template links it to the box with aria-describedby, so a screen
    reader reads the description with the name."""

    def __init__(self, *args, descriptions=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.descriptions = descriptions or {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        option["description"] = self.descriptions.get(value, "")
        if option["description"] and option["attrs"].get("id"):
            option["description_id"] = f"{option['attrs']['id']}_description"
        return option


class NewScreeningForm(forms.Form):
    patient_reference = forms.CharField(
        label="Patient reference", max_length=64, validators=[patient_reference_validator],
        help_text="The clinic's identifier for this patient, for example A-1027. Never a name.",
    )
    year_of_birth = forms.IntegerField(
        label="Year of birth", required=False, min_value=1900,
        help_text="Optional. While the age question is unanswered, the age is worked out from it "
                  "where the screening criteria allow.",
    )
    conditions = forms.MultipleChoiceField(
        label="Conditions to screen for",
        help_text="Choose every condition the patient presents with.",
        error_messages={"required": "Choose at least one condition."},
    )

    def __init__(self, *args, rulebook: engine.Rulebook, **kwargs):
        super().__init__(*args, **kwargs)
        this_year = timezone.localdate().year
        year = self.fields["year_of_birth"]
        year.validators.append(MaxValueValidator(
            this_year, message=f"The year of birth cannot be after {this_year}."
        ))
        year.widget.attrs["max"] = this_year
        conditions = self.fields["conditions"]
        conditions.choices = [(c.slug, c.name) for c in rulebook.conditions]
        conditions.widget = ConditionCheckboxes(
            descriptions={c.slug: c.description for c in rulebook.conditions},
        )
        conditions.widget.choices = conditions.choices
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            Field("patient_reference", autocomplete="off"),
            Field("year_of_birth", css_class="ks-year"),
            Field("conditions", template="screening/_condition_checkboxes.html"),
        )


# --- the questionnaire ----------------------------------------------------


class AnswerField:
    """Mixed into each field: after the field has parsed the input, the
    engine's own rule checks the answer (range, choices, "None of these")."""

    question: engine.QuestionSpec

    def clean(self, value):
        value = super().clean(value)
        if value in (None, "", []):
            return None
        try:
            return engine.clean_answer(self.question, value)
        except ValueError as error:
            raise ValidationError(_sentence(str(error)), code="answer") from None


class BooleanAnswerField(AnswerField, forms.TypedChoiceField):
    pass


class IntegerAnswerField(AnswerField, forms.IntegerField):
    pass


class DecimalAnswerField(AnswerField, forms.FloatField):
    pass


class ChoiceAnswerField(AnswerField, forms.ChoiceField):
    pass


class MultiChoiceAnswerField(AnswerField, forms.MultipleChoiceField):
    pass


def _number_attrs(question, step):
    attrs = {"step": step, "inputmode": "numeric" if step == 1 else "decimal"}
    if question.min is not None:
        attrs["min"] = question.min
    if question.max is not None:
        attrs["max"] = question.max
    return attrs


YES_NO = [("yes", "Yes"), ("no", "No")]


def _choices(question):
    return [(choice.value, choice.label) for choice in question.choices]


def _yes_no(value):
    return value == "yes"


# Every field is optional to Django: "Save draft" keeps partial answers, and
# "Show summary" asks for exactly the questions enable-when leaves enabled.
FIELD_FOR_KIND = {
    engine.BOOLEAN: lambda q: BooleanAnswerField(
        choices=YES_NO, coerce=_yes_no, empty_value=None,
        widget=forms.RadioSelect, error_messages=NOT_A_CHOICE,
    ),
    engine.INTEGER: lambda q: IntegerAnswerField(
        widget=forms.NumberInput(attrs=_number_attrs(q, step=1)),
    ),
    engine.DECIMAL: lambda q: DecimalAnswerField(
        widget=forms.NumberInput(attrs=_number_attrs(q, step="any")),
    ),
    engine.CHOICE: lambda q: ChoiceAnswerField(
        choices=_choices(q), widget=forms.RadioSelect, error_messages=NOT_A_CHOICE,
    ),
    engine.MULTI_CHOICE: lambda q: MultiChoiceAnswerField(
        choices=_choices(q), widget=forms.CheckboxSelectMultiple, error_messages=NOT_A_CHOICE,
    ),
}


def answer_field(question: engine.QuestionSpec) -> forms.Field:
    field = FIELD_FOR_KIND[question.kind](question)
    field.question = question
    field.required = False
    field.label = question.text
    # crispy renders help text unescaped; knowledge-base text is data, not HTML.
    field.help_text = escape(question.help_text)
    return field


def initial_from_answers(answers: dict) -> dict:
    """Stored answers as the form's initial values (booleans as yes / no)."""
    return {
        code: ("yes" if value else "no") if isinstance(value, bool) else value
        for code, value in answers.items()
    }


def age_help(age) -> str:
    """What the age field says when the year of birth is known."""
    if age.used is not None:
        return (
            f"Leave blank to use the age worked out from the year of birth ({age.year_of_birth}): "
            f"{age.words} today, which the screening criteria read alike. Enter the exact age if you know it."
        )
    return (
        f"The year of birth ({age.year_of_birth}) makes the patient {age.words} today, and the screening "
        "criteria read those ages differently: enter the exact age."
    )


class SectionFieldset(Fieldset):
    """A fieldset whose legend is plain text: crispy renders a Fieldset's
    legend as a template, and a knowledge-base section title is data."""

    def render(self, form, context, template_pack=None, **kwargs):
        fields = self.get_rendered_fields(form, context, template_pack, **kwargs)
        context.update({"fieldset": self, "legend": escape(self.legend), "fields": fields})
        return render_to_string(self.get_template_name(template_pack), context.flatten())


class QuestionnaireForm(forms.Form):
    """The questionnaire for a screening's conditions, from a rulebook.

    After `is_valid()`, `answers` holds the cleaned answers of the enabled
    questions, keyed by code in questionnaire order (booleans as True /
    False), ready for `services.screening_save_answers`. Answers and errors
    of questions that enable-when disables are dropped, as the engine does.
    With `require_complete` ("Show summary"), every enabled question needs
    an answer. An age left blank is worked out from `year_of_birth` when
    the rules can use it (screening.age): enable-when and "Show summary"
    then read it as the service will, and the age field says what it is.
    """

    revision = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args, rulebook: engine.Rulebook, conditions, answers=None,
                 require_complete=False, year_of_birth=None, today=None, **kwargs):
        answers = answers or {}
        kwargs.setdefault("initial", {}).update(initial_from_answers(answers))
        super().__init__(*args, **kwargs)
        self.rulebook = rulebook
        self.conditions = list(conditions)
        self.require_complete = require_complete
        self.questions = rulebook.questions_for(self.conditions)
        self.answers = dict(answers)
        # The age as the year of birth gives it, for when the age is left blank.
        self.age = age_from_year_of_birth(
            rulebook, self.conditions, {}, year_of_birth, today or timezone.localdate(),
        )
        for question in self.questions:
            self.fields[question.code] = answer_field(question)
        if self.age is not None and AGE_QUESTION in self.fields:
            self.fields[AGE_QUESTION].help_text = escape(age_help(self.age))

    def clean(self):
        cleaned = super().clean()
        if self.errors.pop("revision", None):
            # Only a tampered or truncated page lacks a good revision; a hidden
            # field has nowhere to show an error, so the form's top says it.
            self.add_error(None, OUT_OF_DATE)
        answers = {
            q.code: cleaned[q.code] for q in self.questions if cleaned.get(q.code) is not None
        }
        enabled = self.enabled(answers)
        for code, state in enabled.items():
            if state is False:
                answers.pop(code, None)
                self.errors.pop(code, None)
                cleaned.pop(code, None)
        if self.require_complete:
            for code in engine.unanswered_questions(self.rulebook, self.conditions, with_age(answers, self.age)):
                if code not in self.errors:
                    self.add_error(code, MISSING_ANSWER)
        self.answers = answers
        return cleaned

    def enabled(self, answers=None) -> dict:
        """Question code -> True, False (disabled) or None (waits on an unanswered question)."""
        answers = with_age(self.answers if answers is None else answers, self.age)
        return {
            q.code: state
            for q, state in engine.enabled_questions(self.rulebook, self.conditions, answers)
        }

    def can_save_in_part(self) -> bool:
        """After `is_valid()` failed: whether only answers were wrong (or
        missing), so the valid ones can be stored all the same."""
        return not self.non_field_errors() and "revision" in self.cleaned_data

    def invalid_fields(self):
        """(code, question text) of each question whose typed answer was
        refused, in page order: these are not saved."""
        return [
            (q.code, q.text) for q in self.questions
            if q.code in self.errors and self[q.code].value() not in (None, "", [])
        ]

    def answers_to_store(self, stored: dict) -> dict:
        """The answers to save: every valid one, and for each refused one
        the answer stored before, so a typing slip never deletes it."""
        refused = {code for code, _ in self.invalid_fields()}
        return {
            q.code: self.answers[q.code] if q.code in self.answers else stored[q.code]
            for q in self.questions
            if q.code in self.answers or (q.code in refused and stored.get(q.code) is not None)
        }

    def error_fields(self):
        """(code, question text) of each question with an error, in page order."""
        return [(q.code, q.text) for q in self.questions if q.code in self.errors]

    @property
    def helper(self):
        helper = FormHelper()
        helper.form_tag = False
        helper.disable_csrf = True
        enabled = self.enabled()
        sections = {section.key: section.title for section in self.rulebook.sections}
        grouped = {}
        for question in self.questions:
            grouped.setdefault(question.section, []).append(question)
        helper.layout = Layout(
            "revision",
            *(
                SectionFieldset(
                    sections.get(key, key),
                    *(self._question_layout(q, enabled[q.code]) for q in questions),
                    css_class="ks-section mb-4",
                    data_section=key,
                    hidden=not any(enabled[q.code] for q in questions),
                )
                for key, questions in grouped.items()
            ),
        )
        return helper

    @staticmethod
    def _question_layout(question, enabled):
        if question.unit and question.kind in (engine.INTEGER, engine.DECIMAL):
            field = AppendedText(question.code, question.unit, wrapper_class="ks-number")
        elif question.kind == engine.BOOLEAN:
            field = InlineRadios(question.code)
        else:
            field = Field(question.code)
        attrs = {"data_question": question.code, "data_kind": question.kind}
        if question.enable_when is not None:
            rule = question.enable_when
            value = list(rule.value) if isinstance(rule.value, tuple) else rule.value
            attrs["data_enable_when"] = json.dumps({
                "question": rule.question, "operator": rule.operator, "value": value,
            })
        return Div(
            field, css_id=f"question-{question.code}", css_class="ks-question",
            hidden=enabled is not True, **attrs,
        )


class FinaliseForm(forms.Form):
    """Finalising, with the revision whose summary the clinician read: a
    screening that changed since is not finalised (services.screening_finalise).
    An incomplete screening needs a reason, in the clinician's words."""

    confirm = forms.BooleanField(
        label="I have reviewed this summary; finalise it as part of the patient record.",
        error_messages={"required": "Tick the box to confirm before finalising."},
    )
    revision = forms.IntegerField(widget=forms.HiddenInput, min_value=1, error_messages={
        "required": OUT_OF_DATE, "invalid": OUT_OF_DATE, "min_value": OUT_OF_DATE,
    })
    reason = forms.CharField(
        label="Why finalise it while it is incomplete?", required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required for an incomplete screening; shown on the summary and the PDF.",
    )


class DetailsForm(NewScreeningForm):
    """Correcting a draft's patient reference, year of birth and conditions."""

    def __init__(self, *args, rulebook: engine.Rulebook, **kwargs):
        super().__init__(*args, rulebook=rulebook, **kwargs)
        self.fields["conditions"].help_text = (
            "Choose every condition the patient presents with. Answers to questions that only a "
            "condition you remove asked are no longer kept."
        )


class ScreeningFilterForm(forms.Form):
    """The list page's search; invalid values are ignored, never an error page."""

    q = forms.CharField(label="Patient reference", max_length=64, required=False)
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "Any status"), *Status.choices],
    )

    def filters(self) -> dict:
        if self.is_valid():
            return {"query": self.cleaned_data["q"].strip(), "status": self.cleaned_data["status"]}
        return {
            "query": self.cleaned_data.get("q", "").strip(),
            "status": self.cleaned_data.get("status", ""),
        }
