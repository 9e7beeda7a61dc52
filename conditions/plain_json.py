"""One check for every value the admin stores as JSON, and the form field
that applies it to JSON typed by a clinical lead (docs/security.md, "Limits
on input").

JSON's grammar, and Python's parser, allow more than a database column or
a rule can hold: "\\u0000" (PostgreSQL stores no NUL), "\\ud800" (a lone
surrogate, which no text encoding holds, so the page showing it cannot be
sent), NaN and Infinity (not JSON at all, but Python reads them), numbers of
thousands of digits (Python refuses to convert them) and nesting deeper than
Python recurses. Each becomes a form error that says what to change.
"""

import json
import math

from django import forms
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput, JSONString

MAX_TEXT = 100_000  # characters of JSON in one field
MAX_DEPTH = 20  # lists and objects within each other
LARGEST_NUMBER = 10**15

NOT_A_NUMBER = "NaN and Infinity are not numbers a rule can use; write a number."
TOO_LARGE = f"A number is too large: numbers here stay below {LARGEST_NUMBER:,}."
NESTED = f"The JSON is nested more than {MAX_DEPTH} levels deep; nothing here needs that."
NUL = "A text holds a NUL character (\\u0000), which cannot be stored; remove it."
SURROGATE = (
    "A text holds a lone surrogate (an escape such as \\ud800 that stands for no character); "
    "write the character itself, or both halves of its pair."
)


def check_plain_json(value):
    """Raise ValidationError (one message) unless `value`, read from JSON,
    holds only what can be stored and used: texts and keys without NUL or
    lone surrogates, finite numbers below LARGEST_NUMBER, nesting at most
    MAX_DEPTH deep. A loop, not recursion, whatever the depth."""
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, bool) or item is None:
            continue
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, int | float):
            if isinstance(item, float) and not math.isfinite(item):
                raise ValidationError(NOT_A_NUMBER, code="not_a_number")
            if abs(item) >= LARGEST_NUMBER:
                raise ValidationError(TOO_LARGE, code="too_large")
        elif isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise ValidationError(NESTED, code="nested")
            if isinstance(item, dict):
                for key in item:
                    _check_text(str(key))
                children = item.values()
            else:
                children = item
            pending.extend((child, depth + 1) for child in children)


def _check_text(text):
    if "\x00" in text:
        raise ValidationError(NUL, code="nul")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(SURROGATE, code="surrogate") from None


class _NotANumber(ValueError):
    pass


def _refuse_constant(name):
    raise _NotANumber(name)


def parse_plain_json(text):
    """The value of JSON `text`, checked by check_plain_json; ValidationError
    (code "invalid" when it is not JSON at all) otherwise."""
    if len(text) > MAX_TEXT:
        raise ValidationError(
            f"This is {len(text):,} characters long; the most a field here takes is {MAX_TEXT:,}.", code="too_long"
        )
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except _NotANumber:
        raise ValidationError(NOT_A_NUMBER, code="not_a_number") from None
    except RecursionError:
        raise ValidationError(NESTED, code="nested") from None
    except json.JSONDecodeError:
        raise ValidationError("Enter a valid JSON.", code="invalid") from None
    except ValueError:  # int() of more digits than Python converts
        raise ValidationError(TOO_LARGE, code="too_large") from None
    check_plain_json(value)
    return value


class PlainJSONField(forms.JSONField):
    """Django's JSON form field, through parse_plain_json: every admin form
    whose model field is a JSONField edited as JSON text uses it. What was
    typed is shown again as typed when it is refused."""

    def to_python(self, value):
        if self.disabled or value in self.empty_values or not isinstance(value, str):
            return super().to_python(value)
        try:
            converted = parse_plain_json(value)
        except ValidationError as error:
            if error.code == "invalid":
                raise ValidationError(self.error_messages["invalid"], code="invalid") from None
            raise
        return JSONString(converted) if isinstance(converted, str) else converted

    def bound_data(self, data, initial):
        if self.disabled or data is None:
            return super().bound_data(data, initial)
        try:
            return parse_plain_json(data)
        except ValidationError:
            return InvalidJSONInput(data)

    def has_changed(self, initial, data):
        try:
            return super().has_changed(initial, data)
        except ValidationError:
            return True
