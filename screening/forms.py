"""Forms for the clinician's way through a screening.

The questionnaire is not written by hand: `QuestionnaireForm` builds one
field per question of the rulebook (field name = question code) through
`FIELD_FOR_KIND`, and every answer passes `engine.clean_answer`, so the web
form and the `screen` command refuse the same values with the same words.
"""

import html
import json
import re

from crispy_forms.bootstrap import AppendedText, InlineRadios
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Field, Fieldset, Layout
from crispy_forms.utils import render_crispy_form
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.choices import BaseChoiceIterator
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from screening import engine
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
        help_text="Optional.",
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


class FixedChoices(BaseChoiceIterator):
    """(value, label) pairs of strings, as Django's choices are once
    normalised. Django leaves an iterator of choices as it is, where it
    would normalise a list again for every field and widget made: for the
    forty questions of a questionnaire that took longer than validating
    their answers."""

    def __init__(self, pairs):
        self.pairs = tuple(pairs)

    def __iter__(self):
        return iter(self.pairs)


YES_NO = FixedChoices([("yes", "Yes"), ("no", "No")])


def _choices(question):
    return FixedChoices((choice.value, choice.label) for choice in question.choices)


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
    an answer.
    """

    revision = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args, rulebook: engine.Rulebook, conditions, answers=None,
                 require_complete=False, **kwargs):
        answers = answers or {}
        kwargs.setdefault("initial", {}).update(initial_from_answers(answers))
        super().__init__(*args, **kwargs)
        self.rulebook = rulebook
        self.conditions = list(conditions)
        self.require_complete = require_complete
        self.questions = rulebook.questions_for(self.conditions)
        self.answers = dict(answers)
        for question in self.questions:
            self.fields[question.code] = answer_field(question)

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
            for code in engine.unanswered_questions(self.rulebook, self.conditions, answers):
                if code not in self.errors:
                    self.add_error(code, MISSING_ANSWER)
        self.answers = answers
        return cleaned

    def enabled(self, answers=None) -> dict:
        """Question code -> True, False (disabled) or None (waits on an unanswered question)."""
        answers = self.answers if answers is None else answers
        return {
            q.code: state
            for q, state in engine.enabled_questions(self.rulebook, self.conditions, answers)
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


class QuestionnaireMarkup:
    """The markup of an unbound questionnaire for one rulebook and set of
    conditions, laid out by crispy-forms once and filled in per screening.

    Laying out a questionnaire of forty questions through crispy-forms'
    templates takes tens of milliseconds, yet for an unbound form (a page
    showing saved answers) only a few spots depend on the screening: the
    revision's value, each number's value, each radio's and checkbox's
    `checked`, and the `hidden` of each question and section that
    enable-when hides. So the form is rendered once with nothing answered
    and everything shown, and cut at exactly those spots; `render()` joins
    the pieces with one screening's values. The result is the markup
    `{% crispy form %}` gives for that screening's unbound QuestionnaireForm
    (tests compare the two, byte for byte, on many sets of answers). A form
    with errors changes far more than that, and is laid out by crispy-forms.
    Knows nothing of the database: key it by the rulebook's version
    (screening.caching).
    """

    # Kinds of spot: (kind, question code or section key, choice value).
    REVISION, VALUE, CHECKED, QUESTION_HIDDEN, SECTION_HIDDEN = range(5)

    def __init__(self, rulebook: engine.Rulebook, conditions):
        self.rulebook = rulebook
        self.conditions = list(conditions)
        form = _EverythingShown(rulebook=rulebook, conditions=self.conditions)
        # Radios with no answer check a choice whose value is "", if there
        # is one; an initial value matching no choice leaves every one unchecked.
        form.initial.update({
            q.code: _NO_CHOICE for q in form.questions if q.kind in (engine.BOOLEAN, engine.CHOICE)
        })
        self.questions = form.questions
        self.sections = {}
        for question in self.questions:
            self.sections.setdefault(question.section, []).append(question.code)
        self.multiple = {q.code for q in self.questions if q.kind == engine.MULTI_CHOICE}
        self.choosing = [
            q.code for q in self.questions if q.kind in (engine.BOOLEAN, engine.CHOICE, engine.MULTI_CHOICE)
        ]
        self.pieces = self._cut(str(render_crispy_form(form)))

    def _cut(self, markup):
        """The markup as a list of strings and spots, in order. A spot is
        where an attribute goes: `value="..."` right after an input's name,
        as Django writes it; `checked` and `hidden` last in their tag, as
        Django and crispy-forms write boolean attributes."""
        codes = {q.code for q in self.questions}
        spots = []  # (offset, kind, code or key, choice value)
        for tag in re.finditer(r"<input\b[^>]*>", markup):
            attrs = dict(re.findall(r'\s([\w-]+)="([^"]*)"', tag.group(0)))
            name = attrs.get("name")
            if name == "revision" or name in codes and attrs.get("type") not in ("radio", "checkbox"):
                after_name = tag.start() + tag.group(0).index(f'name="{name}"') + len(f'name="{name}"')
                spots.append((after_name, self.REVISION if name == "revision" else self.VALUE, name, None))
            elif name in codes:
                spots.append((tag.end() - 1, self.CHECKED, name, html.unescape(attrs["value"])))
        for question in self.questions:
            tag = re.search(rf'<div id="question-{re.escape(question.code)}"[^>]*>', markup)
            spots.append((tag.end() - 1, self.QUESTION_HIDDEN, question.code, None))
        for key in self.sections:
            tag = re.search(rf'<fieldset\b[^>]*data-section="{re.escape(escape(key))}"[^>]*>', markup)
            spots.append((tag.end() - 1, self.SECTION_HIDDEN, key, None))
        for offset, *_ in spots:
            tag = markup[markup.rindex("<", 0, offset):markup.index(">", offset) + 1]
            if re.search(r"\s(checked|hidden)(?=[\s>])", re.sub(r'"[^"]*"', '""', tag)):
                raise ValueError(f"expected no checked or hidden yet in {tag}")
        spots.sort(key=lambda spot: spot[0])
        pieces, start = [], 0
        for offset, *spot in spots:
            pieces.append(markup[start:offset])
            pieces.append(tuple(spot))
            start = offset
        pieces.append(markup[start:])
        return pieces

    def render(self, *, answers: dict, revision) -> SafeString:
        """The markup for these saved answers and this revision."""
        initial = initial_from_answers(answers)
        enabled = {
            q.code: state for q, state in engine.enabled_questions(self.rulebook, self.conditions, answers)
        }
        chosen = {code: _chosen_values(initial.get(code), code in self.multiple) for code in self.choosing}
        radio_checked = set()  # a radio group checks its first option that matches, as Django does
        out = []
        for piece in self.pieces:
            if type(piece) is str:
                out.append(piece)
                continue
            kind, code, choice = piece
            if kind == self.CHECKED:
                if code in radio_checked or choice not in chosen[code]:
                    continue
                if code not in self.multiple:
                    radio_checked.add(code)
                out.append(" checked")
            elif kind == self.VALUE or kind == self.REVISION:
                value = _input_value(revision if kind == self.REVISION else initial.get(code))
                if value is not None:
                    out.append(f' value="{escape(value)}"')
            elif kind == self.QUESTION_HIDDEN:
                if enabled[code] is not True:
                    out.append(" hidden")
            elif not any(enabled[c] for c in self.sections[code]):
                out.append(" hidden")
        return mark_safe("".join(out))


_NO_CHOICE = object()


class _EverythingShown(QuestionnaireForm):
    """Unanswered, with every question and section shown: what
    QuestionnaireMarkup cuts."""

    def enabled(self, answers=None):
        return {q.code: True for q in self.questions}


def _input_value(value):
    """What Django's Input widget puts in `value`: None leaves the attribute out."""
    if value is None or value == "":
        return None
    return str(value)


def _chosen_values(value, multiple):
    """The values Django's choice widgets show as chosen for an initial value."""
    if value is None and multiple:
        return []
    if not isinstance(value, list | tuple):
        value = [value]
    return [str(v) if v is not None else "" for v in value]


class FinaliseForm(forms.Form):
    confirm = forms.BooleanField(
        label="I have reviewed this summary; finalise it as part of the patient record.",
        error_messages={"required": "Tick the box to confirm before finalising."},
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
