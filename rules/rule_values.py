"""What a rule's value must be for its operator and its question's kind.

A rule is a criterion, a criterion's `when` or a question's enable-when:
{question, operator, value}. This is the one check of its operator and
value; the models' `clean()` (so the admin) and the knowledge-base loader
both call it, through `conditions.models.clean_rule_value`. Pure: standard
library and the vocabulary only.
"""

from decimal import Decimal, InvalidOperation

from rules.vocabulary import (
    LIST_OPERATORS,
    NO_VALUE_OPERATORS,
    NUMBER_KINDS,
    NUMBER_OPERATORS,
    OPERATORS_FOR_KIND,
    Kind,
    Operator,
)

# Answers are bounded by the questions' min and max (12 digits); a rule value
# beyond this is a typing error, and a huge integer could not be stored as JSON.
LARGEST_NUMBER = 10**12


class RuleValueError(ValueError):
    """A rule's operator or value does not fit; `field` is "operator" or "value"."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def operator_words(operator) -> str:
    """An operator as leads read it, quoted, e.g. “at least”."""
    return f"“{Operator(operator).label}”" if operator in Operator.values else f"“{operator}”"


def _words_list(operators) -> str:
    names = [operator_words(o) for o in Operator.values if o in operators]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def clean_rule_value(kind, operator, value, *, code: str, choices=(), unit: str = ""):
    """The operator and value of a rule on a question of this `kind` (its
    `code`, its choice values and unit for messages and checks).

    Returns the value in canonical form (numbers as int or float, lists in
    the question's choice order, None for an operator that takes no value).
    Raises RuleValueError naming the field and saying what to write instead.
    """
    allowed = OPERATORS_FOR_KIND.get(kind, frozenset())
    if operator not in allowed:
        kind_words = Kind.label_of(kind).lower()
        raise RuleValueError("operator", (
            f"{operator_words(operator)} does not fit a {kind_words} question "
            f"({code}); use {_words_list(allowed)}."
        ))
    if operator in NO_VALUE_OPERATORS:
        if value not in (None, "", []):
            raise RuleValueError("value", f"{operator_words(operator)} takes no value: leave the value empty.")
        return None
    if value is None or value == "" or value == []:
        raise RuleValueError("value", f"The operator {operator_words(operator)} needs a value: "
                                      f"{_value_wanted(kind, operator, unit)}")
    if operator in NUMBER_OPERATORS or (
        operator in {Operator.EQ, Operator.NE} and kind in NUMBER_KINDS
    ):
        return _clean_number(kind, code, value)
    if operator in {Operator.EQ, Operator.NE} and kind == Kind.BOOLEAN:
        if not isinstance(value, bool):
            raise RuleValueError("value", "Choose yes or no.")
        return value
    if operator in {Operator.EQ, Operator.NE}:
        _check_choice_values(code, choices, [value])
        return value
    # A list operator on a choice kind.
    if not isinstance(value, list) or not value:
        raise RuleValueError("value", (
            f"The operator {operator_words(operator)} needs one or more of the question's choices: "
            "tick at least one."
        ))
    _check_choice_values(code, choices, value)
    order = {choice: index for index, choice in enumerate(choices)}
    return sorted(set(value), key=order.__getitem__)


def _value_wanted(kind, operator, unit) -> str:
    if kind in NUMBER_KINDS:
        return f"enter a number{' in ' + unit if unit else ''}."
    if kind == Kind.BOOLEAN:
        return "choose yes or no."
    if operator in LIST_OPERATORS:
        return "tick one or more of the question's choices."
    return "choose one of the question's choices."


def _clean_number(kind, code, value):
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise RuleValueError("value", "Write a number, e.g. 18 or 2.5.")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise RuleValueError("value", f"“{value}” is not a number; write e.g. 18 or 2.5.") from None
    if not number.is_finite() or abs(number) > LARGEST_NUMBER:
        raise RuleValueError("value", f"Write a number between -{LARGEST_NUMBER} and {LARGEST_NUMBER}, e.g. 18.")
    if kind == Kind.INTEGER and number != number.to_integral_value():
        raise RuleValueError("value", f"{code} takes whole numbers; write e.g. {int(number)}.")
    return int(number) if number == number.to_integral_value() else float(number)


def _check_choice_values(code, choices, values):
    for value in values:
        if not isinstance(value, str) or value not in choices:
            raise RuleValueError("value", (
                f"“{value}” is not a choice of {code}; its choices are: {', '.join(choices)}."
            ))
