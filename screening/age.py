"""The patient's age worked out from the year of birth, when the clinician
has not answered the `age` question (docs/architecture.md, "Age from the
year of birth").

A year of birth only bounds the age: on a given day someone born in 1981 is
44 (birthday still to come) or 45 (birthday passed); only on 31 December, or
in the year of birth itself, is the age certain. So the age is used only
when every rule that reads it for the chosen conditions reads the possible
ages alike; otherwise it stays unanswered and the clinician is asked. For
"under 18" that means a patient who may be 17 or 18 is never taken for an
adult: the screening waits for the age.

Standard library and the engine only; the caller gives the date (the
clinic's today), so the rules stay pure and a test can name the day.
"""

from datetime import date
from typing import NamedTuple

from rules import engine

AGE_QUESTION = "age"


class AgeFromYear(NamedTuple):
    """An age worked out from a year of birth on a day."""

    year_of_birth: int
    on: date
    possible: tuple[int, ...]  # the ages the year of birth allows that day, youngest first
    used: int | None           # the answer the rules read; None when they read the possible ages differently

    def to_dict(self) -> dict:
        return {
            "year_of_birth": self.year_of_birth, "on": self.on.isoformat(),
            "possible": list(self.possible), "used": self.used,
        }

    @classmethod
    def from_dict(cls, data) -> "AgeFromYear | None":
        if not data:
            return None
        return cls(
            year_of_birth=data["year_of_birth"], on=date.fromisoformat(data["on"]),
            possible=tuple(data["possible"]), used=data["used"],
        )

    @property
    def words(self) -> str:
        """The possible ages, e.g. "44 or 45"."""
        return " or ".join(str(age) for age in self.possible)


def possible_ages(year_of_birth: int, on: date) -> tuple[int, ...]:
    """The ages someone born in `year_of_birth` can be on `on`, youngest
    first: one on 31 December (every birthday of the year has passed) or
    in the year of birth itself (age 0); else two; none for a year still to come."""
    years = on.year - year_of_birth
    if years < 0:
        return ()
    if years == 0 or (on.month, on.day) == (12, 31):
        return (years,)
    return (years - 1, years)


def age_from_year_of_birth(
    rulebook: engine.Rulebook, conditions, answers, year_of_birth: int | None, on: date,
) -> AgeFromYear | None:
    """The age to evaluate with, worked out from `year_of_birth` on `on`;
    None when there is nothing to work out: no year of birth, the age is
    answered, or these conditions never ask it. Its `used` is None when
    the possible ages fall on different sides of a rule (or outside the
    question's range): then the age stays unanswered."""
    question = rulebook.question.get(AGE_QUESTION)
    if year_of_birth is None or question is None or answers.get(AGE_QUESTION) is not None:
        return None
    if question not in rulebook.questions_for(conditions):
        return None
    possible = possible_ages(year_of_birth, on)
    if not possible:
        return None
    try:
        for age in possible:
            engine.clean_answer(question, age)
    except ValueError:
        return AgeFromYear(year_of_birth, on, possible, None)
    alike = engine.read_alike(rulebook, conditions, AGE_QUESTION, possible)
    return AgeFromYear(year_of_birth, on, possible, possible[0] if alike else None)


def with_age(answers: dict, age: AgeFromYear | None) -> dict:
    """`answers` with the worked-out age, when there is one to use and the
    age is not answered (a typed age always wins)."""
    if age is None or age.used is None or answers.get(AGE_QUESTION) is not None:
        return answers
    return {**answers, AGE_QUESTION: age.used}
