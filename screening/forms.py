"""Forms for the clinician's way through a screening.

The questionnaire is not written by hand: `QuestionnaireForm` builds one
field per question of the rulebook (field name = question code) through
`FIELD_FOR_KIND`, and every answer passes `engine.clean_answer`, so the web
form and the `screen` command refuse the same values with the same words.
"""

import hashlib
import json
from functools import partial
from typing import NamedTuple

from crispy_forms.bootstrap import AppendedText, InlineRadios
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Field, Fieldset, Layout, LayoutObject
from crispy_forms.utils import TEMPLATE_PACK
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.forms import formset_factory
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import escape

from rules import engine
from rules.vocabulary import TrialOutcome
from screening.age import AGE_QUESTION, age_from_year_of_birth, with_age
from screening.models import AGAINST_THE_ADVICE, Decision, Status, new_patient_reference_validator
from screening.services import (
    AMEND_REASON_NEEDED,
    OVERRIDE_REASON_NEEDED,
    Override,
    decision_field,
    reason_field,
)
from screening.summary import instrument_short_name, status_label

MISSING_ANSWER = "Answer this question to see the summary."
MISSING_ITEMS = "Answer every item above to see the summary, or enter the total if the items were not collected."
MISSING_TRIALS = "List the trials above to see the summary, or enter the number if they were not collected."
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
        label="Patient reference", max_length=64, validators=[new_patient_reference_validator],
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
    rulebook: engine.Rulebook | None = None

    def clean(self, value):
        value = super().clean(value)
        if value in (None, "", []):
            return None
        try:
            return engine.clean_answer(self.question, value, self.rulebook)
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


class ItemAnswerField(AnswerField, forms.TypedChoiceField):
    """An item of a scored instrument: one of its options, by score."""


# --- antidepressant trials: a table of rows, one Django formset per question

DRUG_CLASS_LABELS = {
    "ssri": "SSRIs", "snri": "SNRIs", "tca": "Tricyclics", "maoi": "MAOIs", "nassa": "NaSSA",
    "other": "Other antidepressants", "augmentation": "Augmenting agents",
}
# Blank rows offered without JavaScript (the script adds and removes rows instead).
BLANK_TRIAL_ROWS = 4
TRIALS_OUT_OF_DATE = "This table of trials is out of date or incomplete; reload the page."
TRIAL_ROW_PROBLEM = "Check the trials marked below: each needs its drug, daily dose, weeks and outcome."
MISSING_TRIAL_PART = {
    "drug": "Choose the drug.",
    "daily_dose_mg": "Give the daily dose in mg.",
    "weeks": "Give the weeks at that dose.",
    "outcome": "Choose the outcome.",
}


def drug_choices(rulebook: engine.Rulebook):
    """The formulary as the drug select's options, grouped by class in formulary order."""
    groups = {}
    for drug in rulebook.formulary:
        label = DRUG_CLASS_LABELS.get(drug.drug_class, drug.drug_class.replace("_", " ").capitalize())
        groups.setdefault(label, []).append((drug.key, drug.name))
    return [("", "Choose a drug"), *groups.items()]


def _whole(number):
    """150.0 -> 150: a dose or a number of weeks as a clinician wrote it."""
    return int(number) if isinstance(number, float) and number.is_integer() else number


class TrialForm(forms.Form):
    """One row of the trials table. Every part is optional to Django: a
    blank row is no trial; a row begun needs all four parts (`clean`)."""

    drug = forms.ChoiceField(label="Drug", required=False, error_messages=NOT_A_CHOICE)
    daily_dose_mg = forms.FloatField(
        label="Daily dose (mg)", required=False, min_value=0, widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal", "min": 0}),
        error_messages={"invalid": "Give the dose as a number of mg.", "min_value": "The dose cannot be below 0."},
    )
    weeks = forms.FloatField(
        label="Weeks at that dose", required=False, min_value=0, widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal", "min": 0}),
        error_messages={"invalid": "Give the weeks as a number.", "min_value": "The weeks cannot be below 0."},
    )
    outcome = forms.ChoiceField(
        label="Outcome", required=False, choices=[("", "Choose the outcome"), *TrialOutcome.choices], error_messages=NOT_A_CHOICE,
    )

    def __init__(self, *args, drugs=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["drug"].choices = drugs
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs["class"] = css

    def clean(self):
        cleaned = super().clean()
        given = [name for name in MISSING_TRIAL_PART if cleaned.get(name) not in (None, "")]
        if given and not self.errors:
            for name, message in MISSING_TRIAL_PART.items():
                if name not in given:
                    self.add_error(name, message)
        return cleaned

    def _post_clean(self):
        super()._post_clean()
        for name in self.errors:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                attrs["class"] += " is-invalid"
                attrs["aria-invalid"] = "true"
                attrs["aria-describedby"] = f"{self[name].auto_id}_error"

    def trial(self) -> dict | None:
        """The row as the engine takes a trial, or None when it is blank."""
        data = self.cleaned_data
        if all(data.get(name) in (None, "") for name in MISSING_TRIAL_PART):
            return None
        return {
            "drug": data["drug"], "daily_dose_mg": _whole(data["daily_dose_mg"]),
            "weeks": _whole(data["weeks"]), "outcome": data["outcome"],
        }


class BaseTrialFormSet(forms.BaseFormSet):
    default_error_messages = {
        "missing_management_form": TRIALS_OUT_OF_DATE,
        "too_many_forms": f"List at most {engine.MOST_TRIALS} trials.",
        "too_few_forms": "",
    }

    def clean(self):
        if self.management_form.cleaned_data.get("TOTAL_FORMS", 0) < 0:
            raise ValidationError(TRIALS_OUT_OF_DATE, code="tampered")

    def trials(self) -> list[dict]:
        """The rows filled in, in order, after `is_valid()`."""
        return [trial for form in self.forms if (trial := form.trial()) is not None]


TrialFormSet = formset_factory(
    TrialForm, formset=BaseTrialFormSet, extra=0, max_num=engine.MOST_TRIALS, validate_max=True,
    absolute_max=engine.MOST_TRIALS,
)


def trial_formset(rulebook, prefix, *, data=None, trials=None):
    """The trials table of question `prefix`: bound to `data`, or showing
    `trials` (the stored answer) followed by blank rows."""
    drugs = drug_choices(rulebook)
    if data is not None:
        return TrialFormSet(data, prefix=prefix, form_kwargs={"drugs": drugs})
    rows = [
        {name: trial.get(name) for name in MISSING_TRIAL_PART}
        for trial in (trials if isinstance(trials, list) else []) if isinstance(trial, dict)
    ]
    formset = TrialFormSet(prefix=prefix, initial=rows, form_kwargs={"drugs": drugs})
    formset.extra = BLANK_TRIAL_ROWS
    return formset


class TrialsWidget(forms.Widget):
    """Reads a trials table's rows from the posted data as a bound formset
    (None when the page sent no table at all, as a form posted without
    it, or `screen`-shaped data, would). Rendered by TrialsTable, not here."""

    rulebook = None

    def value_from_datadict(self, data, files, name):
        if not any(key.startswith(f"{name}-") for key in data):
            return None
        return trial_formset(self.rulebook, name, data=data)

    def value_omitted_from_data(self, data, files, name):
        return not any(key.startswith(f"{name}-") for key in data)

    def render(self, name, value, attrs=None, renderer=None):
        return ""


class TrialsAnswerField(AnswerField, forms.Field):
    """A list of antidepressant trials, from the rows of its table."""

    widget = TrialsWidget

    def to_python(self, value):
        if value is None:
            return None
        if not value.is_valid():
            problems = value.non_form_errors()
            raise ValidationError(
                problems[0] if problems else TRIAL_ROW_PROBLEM, code="trials",
            )
        return value.trials() or None

    def prepare_value(self, value):
        """The table to show: the posted rows, or the stored trials."""
        if isinstance(value, forms.BaseFormSet):
            return value
        return trial_formset(self.rulebook, self.question.code, trials=value)


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


def _yes_no_choices():
    return YES_NO


def _yes_no(value):
    return value == "yes"


# Every field is optional to Django: "Save draft" keeps partial answers, and
# "Show summary" asks for exactly the questions enable-when leaves enabled.
# Choices are given as callables, which Django reads only when a field is
# rendered or its answer checked: the form is built on every request, most
# often to show markup kept in the cache or to check a few answers.
FIELD_FOR_KIND = {
    engine.BOOLEAN: lambda q: BooleanAnswerField(
        choices=_yes_no_choices, coerce=_yes_no, empty_value=None,
        widget=forms.RadioSelect, error_messages=NOT_A_CHOICE,
    ),
    engine.INTEGER: lambda q: IntegerAnswerField(
        widget=forms.NumberInput(attrs=_number_attrs(q, step=1)),
    ),
    engine.DECIMAL: lambda q: DecimalAnswerField(
        widget=forms.NumberInput(attrs=_number_attrs(q, step="any")),
    ),
    engine.CHOICE: lambda q: ChoiceAnswerField(
        choices=partial(_choices, q), widget=forms.RadioSelect, error_messages=NOT_A_CHOICE,
    ),
    engine.MULTI_CHOICE: lambda q: MultiChoiceAnswerField(
        choices=partial(_choices, q), widget=forms.CheckboxSelectMultiple, error_messages=NOT_A_CHOICE,
    ),
    engine.TRIALS: lambda q: TrialsAnswerField(),
}


def _option_choices(instrument):
    return [(str(option.score), option.label) for option in instrument.options]


def item_field(instrument: engine.InstrumentSpec) -> forms.Field:
    """An instrument's item: its options as radios, valued by score."""
    return ItemAnswerField(
        choices=partial(_option_choices, instrument), coerce=int,
        empty_value=None, widget=forms.RadioSelect, error_messages=NOT_A_CHOICE,
    )


# What a calculated question's own input is for: a value given directly,
# when its inputs were not collected.
ENTERED_INSTEAD = {
    engine.SUM: ("{text}: only if the items were not collected",
                 "Worked out from the items above; type it only when they were not asked."),
    engine.ADEQUATE_FAILED_TRIALS: ("{text}: only if the trials were not collected",
                                    "Worked out from the trials listed above; type it only when they were not."),
}


def answer_field(question: engine.QuestionSpec, rulebook: engine.Rulebook | None = None,
                 instrument: engine.InstrumentSpec | None = None) -> forms.Field:
    """The form field of one question; an instrument's item when `instrument` is given."""
    field = item_field(instrument) if instrument is not None else FIELD_FOR_KIND[question.kind](question)
    field.question = question
    field.rulebook = rulebook
    field.widget.rulebook = rulebook
    field.required = False
    field.label = question.text
    # crispy renders help text unescaped; knowledge-base text is data, not HTML.
    field.help_text = escape(question.help_text)
    if question.calculation in ENTERED_INSTEAD:
        label, help_text = ENTERED_INSTEAD[question.calculation]
        field.label = label.format(text=question.text)
        field.help_text = escape(question.help_text or help_text)
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
    """A section of the questionnaire (templates/screening/_section.html):
    hidden while none of its questions is enabled. Its `data-state` names
    what the engine enabled in it, so a refresh (views.screening_questions)
    replaces only the sections whose questions changed."""

    template = "screening/_section.html"

    def __init__(self, legend, *fields, key, state, hidden, oob=False, **kwargs):
        super().__init__(legend, *fields, **kwargs)
        self.key, self.state, self.hidden, self.oob = key, state, hidden, oob

    def render(self, form, context, template_pack=None, **kwargs):
        return render_to_string(self.template, {
            "key": self.key, "legend": self.legend, "state": self.state, "hidden": self.hidden,
            "oob": self.oob, "fields": self.get_rendered_fields(form, context, template_pack, **kwargs),
        })


class YesNoCells(forms.RadioSelect):
    """A yes/no question as two cells of a table row (the matrix of a
    section's yes/no questions): templates/screening/widgets/."""

    template_name = "screening/widgets/yes_no_cells.html"
    option_template_name = "screening/widgets/yes_no_cell.html"


class YesNoMatrix(LayoutObject):
    """A section's yes/no questions as one table (templates/screening/_yes_no_matrix.html):
    a row per question, Yes and No as columns, and "No to all unanswered",
    which answers only the rows left blank, only when pressed."""

    template = "screening/_yes_no_matrix.html"

    def __init__(self, section, codes, enabled):
        self.section = section
        self.codes = codes
        self.enabled = enabled
        self.fields = []

    def render(self, form, context, template_pack=TEMPLATE_PACK, **kwargs):
        rows = []
        for code in self.codes:
            bound = form[code]
            rows.append({
                "code": code, "field": bound, "text": form.rulebook.question[code].text,
                "help": form.rulebook.question[code].help_text, "errors": bound.errors,
                "hidden": self.enabled[code] is not True,
            })
        return render_to_string(self.template, {
            "section": self.section, "rows": rows, "hidden": all(row["hidden"] for row in rows),
        })


class SectionProgress(NamedTuple):
    """A section in the questionnaire's navigation: answered of the
    questions "Show summary" needs there, and the first still unanswered."""

    key: str
    title: str
    answered: int
    total: int
    first_unanswered: str | None


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
        # An answer stored under a question this edition has retired is
        # shown as the answers its mapping gives; one no mapping reads is
        # named (as an error) on the questions that replaced it.
        answers, self.unread_retired = engine.retired_answers(rulebook, answers or {})
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
        self.instrument_of = {
            code: instrument for instrument in rulebook.instruments
            for code in (*instrument.items, *instrument.extra_items, instrument.total)
        }
        for question in self.questions:
            instrument = self.instrument_of.get(question.code)
            is_item = instrument is not None and question.code in instrument.items
            self.fields[question.code] = answer_field(question, rulebook, instrument if is_item else None)
        if self.age is not None and AGE_QUESTION in self.fields:
            self.fields[AGE_QUESTION].help_text = escape(age_help(self.age))
        for questions in self._grouped().values():
            for code in self.yes_no_codes(questions):
                self.fields[code].widget = YesNoCells(choices=_yes_no_choices)
        # A refresh (views.screening_questions) sends its sections to replace those on the page.
        self.refreshing = False
        self._states = None
        self.not_applying = {}
        # Answers saved in another window since the page's revision (screening.differences.Conflict).
        self.conflict = None

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
        # Answers given on the page to questions that no longer apply: dropped
        # here, as the engine drops them, and named by the page (not_applying).
        self.not_applying = {}
        for code, state in enabled.items():
            if state is False:
                if code in answers:
                    self.not_applying[code] = answers.pop(code)
                self.errors.pop(code, None)
                cleaned.pop(code, None)
        # A total typed with its items (or a count with its trials) must agree with them.
        agreement = engine.validate_answers(self.rulebook, self.conditions, answers)
        for code, problems in agreement.errors.items():
            if code in self.fields and code not in self.errors and self.rulebook.question[code].calculation:
                self.add_error(code, [_sentence(problem) for problem in problems])
                answers.pop(code, None)
        self._name_unread_retired_answers(answers, enabled)
        if self.require_complete:
            for code in engine.unanswered_questions(self.rulebook, self.conditions, with_age(answers, self.age)):
                if code not in self.errors:
                    self.add_error(code, self._missing_message(code))
        self.answers = answers
        return cleaned

    def _name_unread_retired_answers(self, answers, enabled):
        """An answer to a retired question that no mapping reads: each of
        the questions that replaced it, still unanswered, says so."""
        for code in self.unread_retired:
            retired = next(r for r in self.rulebook.retired_questions if r.code == code)
            for target in retired.replaced_by:
                if target in self.fields and target not in answers and target not in self.errors and (
                    enabled.get(target) is not False
                ):
                    self.add_error(target, (
                        f"The earlier answer to “{retired.text or code}” cannot say how to answer this "
                        "question: ask it again."
                    ))

    def _missing_message(self, code):
        calculation = self.rulebook.question[code].calculation
        if calculation == engine.SUM:
            return MISSING_ITEMS
        if calculation == engine.ADEQUATE_FAILED_TRIALS:
            return MISSING_TRIALS
        return MISSING_ANSWER

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
        # A calculated question's refused value is not kept: its inputs, saved
        # now, decide it, and a stored total beside them could contradict them.
        kept = {q.code for q in self.questions if q.code in refused and not q.calculation}
        return {
            q.code: self.answers[q.code] if q.code in self.answers else stored[q.code]
            for q in self.questions
            if q.code in self.answers or (q.code in kept and stored.get(q.code) is not None)
        }

    def error_fields(self):
        """(code, question text) of each question with an error, in page order."""
        return [(q.code, q.text) for q in self.questions if q.code in self.errors]

    def states(self) -> dict:
        """`enabled()` for the form's answers, worked out once per form:
        the layout, the navigation and the matrices all read it."""
        if self._states is None or self._states[0] is not self.answers:
            self._states = (self.answers, self.enabled())
        return self._states[1]

    def _grouped(self):
        grouped = {}
        for question in self.questions:
            grouped.setdefault(question.section, []).append(question)
        return grouped

    def yes_no_codes(self, questions) -> list[str]:
        """The yes/no questions of a section asked in its matrix: every
        boolean question, when the section has two or more."""
        codes = [q.code for q in questions if q.kind == engine.BOOLEAN and q.code not in self.instrument_of]
        return codes if len(codes) >= 2 else []

    def no_to_unanswered(self, section: str) -> list[str]:
        """The yes/no questions of `section`'s matrix that are enabled and
        have no answer: what "No to all unanswered" answers."""
        states = self.states()
        codes = self.yes_no_codes(self._grouped().get(section, []))
        return [code for code in codes if states.get(code) is True and self.answers.get(code) is None]

    def progress(self) -> list[SectionProgress]:
        """Per section shown: how many of the questions "Show summary" needs
        there are answered, of how many, and the first unanswered."""
        states = self.states()
        missing = set(engine.unanswered_questions(self.rulebook, self.conditions, with_age(self.answers, self.age)))
        titles = {section.key: section.title for section in self.rulebook.sections}
        sections = []
        for key, questions in self._grouped().items():
            shown = [q.code for q in questions if states[q.code] is True]
            unanswered = [code for code in shown if code in missing]
            answered = [code for code in shown if code not in missing and self.answers.get(code) is not None]
            if shown:
                sections.append(SectionProgress(
                    key, titles.get(key, key), len(answered), len(answered) + len(unanswered),
                    unanswered[0] if unanswered else None,
                ))
        return sections

    @property
    def helper(self):
        helper = FormHelper()
        helper.form_tag = False
        helper.disable_csrf = True
        enabled = self.states()
        sections = {section.key: section.title for section in self.rulebook.sections}
        helper.layout = Layout(
            "revision",
            *(
                SectionFieldset(
                    sections.get(key, key),
                    *self._section_layouts(key, questions, enabled),
                    key=key,
                    state=hashlib.sha256(" ".join(
                        f"{q.code}={enabled[q.code]}" for q in questions
                    ).encode()).hexdigest()[:16],
                    hidden=not any(enabled[q.code] for q in questions),
                    oob=self.refreshing,
                )
                for key, questions in self._grouped().items()
            ),
        )
        return helper

    def _section_layouts(self, key, questions, enabled):
        """A section's questions in order; an instrument's items, extra
        items and total as one matrix where the first of them comes, the
        section's yes/no questions as one matrix where the first of them
        comes, and a trials question as its table."""
        layouts, placed = [], set()
        asked = {q.code for q in self.questions}
        yes_no = self.yes_no_codes(questions)
        for question in questions:
            instrument = self.instrument_of.get(question.code)
            if instrument is not None and instrument.total in asked:
                if instrument.code not in placed:
                    placed.add(instrument.code)
                    layouts.append(InstrumentMatrix(self, instrument, enabled))
            elif question.code in yes_no:
                if "yes-no" not in placed:
                    placed.add("yes-no")
                    layouts.append(YesNoMatrix(key, yes_no, enabled))
            elif question.kind == engine.TRIALS:
                layouts.append(TrialsTable(question, enabled[question.code]))
            else:
                layouts.append(self._question_layout(question, enabled[question.code]))
        return layouts

    @staticmethod
    def _question_layout(question, enabled):
        if question.unit and question.kind in (engine.INTEGER, engine.DECIMAL):
            field = AppendedText(question.code, question.unit, wrapper_class="ks-number")
        elif question.kind == engine.BOOLEAN:
            field = InlineRadios(question.code)
        else:
            field = Field(question.code)
        return Div(
            field, css_id=f"question-{question.code}", css_class="ks-question",
            hidden=enabled is not True, data_question=question.code, data_kind=question.kind,
        )


class InstrumentMatrix(LayoutObject):
    """A scored instrument as one compact matrix (templates/screening/_instrument.html):
    a row per item, named by its legend, with the options as radios
    (their labels shown as column heads on wide screens, beside each radio
    on a phone); then the items asked with it, its total "only if the items
    were not collected", and the total and band worked out as it is filled in."""

    template = "screening/_instrument.html"

    def __init__(self, form, instrument: engine.InstrumentSpec, enabled):
        self.instrument = instrument
        asked = {q.code for q in form.questions}
        self.items = [code for code in instrument.items if code in asked]
        self.fields = [
            form._question_layout(form.rulebook.question[code], enabled[code])
            for code in (*instrument.extra_items, instrument.total) if code in asked
        ]
        self.enabled = enabled

    def render(self, form, context, template_pack=TEMPLATE_PACK, **kwargs):
        instrument = self.instrument
        helps = [form.rulebook.question[code].help_text for code in self.items]
        shared_help = max(set(helps), key=helps.count) if helps else ""
        rows = []
        for number, code in enumerate(self.items, start=1):
            bound = form[code]
            value = bound.value()
            help_text = form.rulebook.question[code].help_text
            rows.append({
                "code": code, "number": number, "text": bound.label, "errors": bound.errors,
                "value": "" if value is None else str(value), "hidden": self.enabled[code] is not True,
                "help": help_text.replace(shared_help, "").strip() if shared_help else help_text,
            })
        options = [{"value": str(option.score), "label": option.label} for option in instrument.options]
        return render_to_string(self.template, {
            "instrument": instrument, "rows": rows, "options": options, "shared_help": shared_help,
            "short_name": instrument_short_name(instrument),
            "after": self.get_rendered_fields(form, context, template_pack, **kwargs),
            "items_json": json.dumps(self.items),
            "bands_json": json.dumps([{"min": b.min, "max": b.max, "label": b.label} for b in instrument.bands]),
        })


class TrialsTable(LayoutObject):
    """A trials question as its table of rows (templates/screening/_trials.html)."""

    template = "screening/_trials.html"

    def __init__(self, question: engine.QuestionSpec, enabled):
        self.question = question
        self.enabled = enabled
        self.fields = []

    def render(self, form, context, template_pack=TEMPLATE_PACK, **kwargs):
        bound = form[self.question.code]
        formset = bound.value()
        return render_to_string(self.template, {
            "question": self.question, "field": bound, "formset": formset, "hidden": self.enabled is not True,
            "empty_row": formset.empty_form, "most": engine.MOST_TRIALS,
        })


class FinaliseForm(forms.Form):
    """Finalising, with the revision whose summary the clinician read: a
    screening that changed since is not finalised (services.screening_finalise).
    An incomplete screening needs a reason, in the clinician's words.

    Per condition (`conditions`: slug, name and advisory status, the status
    "" when not known here), the clinician may decide against the advice
    (`decision-<slug>`), giving their reason (`decision_reason-<slug>`),
    required unless they follow it. The choices offered are those that go
    against the condition's status (models.AGAINST_THE_ADVICE); the service
    checks them again against the stored result."""

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

    def __init__(self, *args, conditions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.conditions = list(conditions)
        for slug, name, status in self.conditions:
            against = AGAINST_THE_ADVICE.get(status, (Decision.PROCEED, Decision.DO_NOT_PROCEED))
            self.fields[decision_field(slug)] = forms.ChoiceField(
                label=f"Your decision for {name}", required=False, initial=Decision.FOLLOW,
                choices=[(Decision.FOLLOW.value, Decision.FOLLOW.label)] + [(d.value, d.label) for d in against],
                widget=forms.RadioSelect, error_messages=NOT_A_CHOICE,
                help_text=f"The advice: {status_label(status)}." if status else "",
            )
            self.fields[reason_field(slug)] = forms.CharField(
                label=f"Your reason for {name}", required=False, max_length=2000,
                widget=forms.Textarea(attrs={"rows": 2}),
                help_text="Required when you decide against the advice; shown beside it on the summary and the PDF.",
            )

    def decision_rows(self):
        """(condition name, advisory status label, decision field, reason field) per condition."""
        return [
            (name, status_label(status) if status else "", self[decision_field(slug)], self[reason_field(slug)])
            for slug, name, status in self.conditions
        ]

    def clean(self):
        cleaned = super().clean()
        for slug, _name, _status in self.conditions:
            decision = cleaned.get(decision_field(slug)) or Decision.FOLLOW
            if decision != Decision.FOLLOW and not (cleaned.get(reason_field(slug)) or "").strip():
                self.add_error(reason_field(slug), OVERRIDE_REASON_NEEDED)
        return cleaned

    def decisions(self) -> dict[str, Override]:
        """The decisions by condition slug, "Follow the advice" included."""
        return {
            slug: Override(
                self.cleaned_data.get(decision_field(slug)) or Decision.FOLLOW,
                self.cleaned_data.get(reason_field(slug)) or "",
            )
            for slug, _name, _status in self.conditions
        }


class AmendForm(forms.Form):
    """Amending a final screening: the clinician says why."""

    reason = forms.CharField(
        label="Why amend it?", max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Shown on the amendment's summary and PDF, beside what changed.",
        error_messages={"required": AMEND_REASON_NEEDED},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False


class DetailsForm(NewScreeningForm):
    """Correcting a draft's patient reference, year of birth and conditions."""

    def __init__(self, *args, rulebook: engine.Rulebook, **kwargs):
        super().__init__(*args, rulebook=rulebook, **kwargs)
        # The draft's own reference stays acceptable as it is: an amendment
        # carries the reference of the final it amends, whatever rule for new
        # references held when that was made.
        current = self.initial.get("patient_reference")

        def new_or_unchanged(value):
            if value != current:
                new_patient_reference_validator(value)

        self.fields["patient_reference"].validators = [new_or_unchanged]
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
