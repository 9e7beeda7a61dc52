"""The rules' vocabulary: every word the rules are written, stored and shown in.

Each word is defined here once, as a member of a `StrEnum`: its value is what
the knowledge-base file, the database, stored results and `screen` output
hold (a member *is* that string, so it compares, hashes and serialises as
one), and its `label` is how people read it. The engine works in these
words; the models take their `choices` from them (`Kind.choices`); the
loader, the summary, the PDF and the templates take their wording from them.

Standard library only (import-linter enforces it), like the rest of `rules`.
"""

from enum import EnumType, StrEnum


class _VocabularyType(EnumType):
    """`Kind.choices` and `Kind.values` read as Django's TextChoices do."""

    @property
    def choices(cls) -> list[tuple[str, str]]:
        """(value, label) pairs for a model field's or a form's `choices`."""
        return [(member.value, member.choice_label) for member in cls]

    @property
    def values(cls) -> tuple[str, ...]:
        return tuple(member.value for member in cls)


class Vocabulary(StrEnum, metaclass=_VocabularyType):
    """A word of the rules with its label for people.

    Written `NAME = "value", "Label"` (or with a third item, a longer
    `choice_label` for pick lists where the short label alone is unclear,
    and a fourth, a `description` in a sentence).
    """

    def __new__(cls, value, label="", choice_label="", description=""):
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label or value
        member.choice_label = choice_label or member.label
        member.description = description
        return member

    @classmethod
    def label_of(cls, value, default=None) -> str:
        """The label of a stored value; `default` (else the value itself) for
        a value that is not a word of this vocabulary."""
        try:
            return cls(value).label
        except ValueError:
            return str(value) if default is None else default


class Kind(Vocabulary):
    """What kind of answer a question takes."""

    BOOLEAN = "boolean", "Yes / no"
    INTEGER = "integer", "Whole number"
    DECIMAL = "decimal", "Decimal number"
    CHOICE = "choice", "One choice"
    MULTI_CHOICE = "multi_choice", "Several choices"
    # A list of antidepressant trials, each {"drug", "daily_dose_mg", "weeks", "outcome"}.
    TRIALS = "trials", "Antidepressant trials"


class Operator(Vocabulary):
    """How a rule (a criterion, its `when`, an enable-when) tests an answer."""

    IS_TRUE = "is_true", "is yes"
    IS_FALSE = "is_false", "is no"
    EQ = "eq", "is"
    NE = "ne", "is not"
    LT = "lt", "less than"
    LTE = "lte", "at most"
    GT = "gt", "more than"
    GTE = "gte", "at least"
    IN = "in", "is one of"
    NOT_IN = "not_in", "is none of"
    ANY_OF = "any_of", "includes any of"
    ALL_OF = "all_of", "includes all of"
    NONE_OF = "none_of", "includes none of"


class Effect(Vocabulary):
    """What a criterion does when it holds (docs/architecture.md, "The rule semantics")."""

    REQUIRE = "require", "Require"
    EXCLUDE = "exclude", "Exclude"
    CAUTION = "caution", "Caution"
    ALERT = "alert", "Alert"
    # Something to do at the treatment session (blood pressure at 40 minutes,
    # two hours' observation). Collected once per screening, like an alert;
    # it never changes a status.
    DUTY = "duty", "Duty at the treatment session"


class Outcome(Vocabulary):
    """A criterion's outcome for a patient's answers. NOT_APPLICABLE: its
    `when` is answered and does not hold (or its question is disabled), so
    the criterion does not apply; unlike SKIPPED it never counts as "does not
    hold" (a require that does not apply is not unmet), and it is never a
    reason."""

    HOLDS = "holds", "Holds"
    FAILS = "fails", "Does not hold"
    UNKNOWN = "unknown", "Awaiting an answer"
    SKIPPED = "skipped", "Question not asked"
    NOT_APPLICABLE = "not_applicable", "Does not apply"


class Status(Vocabulary):
    """A condition's result, labelled as clinicians, leads, the PDF and the
    admin read it."""

    ELIGIBLE = "eligible", "Meets screening criteria"
    CAUTION = "caution", "Eligible with cautions"
    NOT_MET = "not_met", "Criteria not met"
    EXCLUDED = "excluded", "Not advised: exclusion present"
    INCOMPLETE = "incomplete", "Incomplete"


# From best to worst, for summaries that need one status for many conditions.
STATUS_ORDER = (Status.ELIGIBLE, Status.CAUTION, Status.INCOMPLETE, Status.NOT_MET, Status.EXCLUDED)


class Basis(Vocabulary):
    """What a criterion rests on. A criterion without one (a file before the
    third edition) reads as UNSPECIFIED, which is not a choice; every basis
    but LOCAL_POLICY needs a verified reference."""

    LABEL = (
        "label", "Label", "Label (SmPC or prescribing information)",
        "Rests on a product's licence: its SmPC or prescribing information.",
    )
    GUIDELINE = "guideline", "Guideline", "", "Rests on a clinical guideline."
    TRIAL = "trial", "Trial", "", "Rests on the eligibility criteria or findings of a clinical trial."
    CONSENSUS = "consensus", "Consensus", "", "Rests on a published expert consensus."
    LOCAL_POLICY = "local_policy", "Local policy", "", "The clinic's own policy; no published source sets it."


UNSPECIFIED = "unspecified"
UNSPECIFIED_LABEL = "Basis not specified"
UNSPECIFIED_DESCRIPTION = "The knowledge base does not say what this rests on."


def basis_label(basis: str) -> str:
    """A basis as a short badge; an unspecified or unknown one as such."""
    return Basis(basis).label if basis in Basis.values else UNSPECIFIED_LABEL


def basis_description(basis: str) -> str:
    return Basis(basis).description if basis in Basis.values else UNSPECIFIED_DESCRIPTION


class Calculation(Vocabulary):
    """How a calculated question's value is worked out from its inputs."""

    SUM = "sum", "Sum of its items (whole-number questions)"
    ADEQUATE_FAILED_TRIALS = "adequate_failed_trials", "Adequate failed trials (from a trials question)"


class TrialOutcome(Vocabulary):
    """How an antidepressant trial ended; only the first two make a failed trial."""

    NO_RESPONSE = "no_response", "No response"
    PARTIAL_RESPONSE = "partial_response", "Partial response"
    RESPONSE = "response", "Responded"
    STOPPED_SIDE_EFFECTS = "stopped_side_effects", "Stopped for side effects"
    STOPPED_OTHER = "stopped_other", "Stopped for another reason"


class TrialCount(Vocabulary):
    """How the adequate failed trials are counted (the formulary's `count`)."""

    TRIALS = "trials", "Every adequate failed trial"
    DISTINCT_DRUGS = "distinct_drugs", "Each different drug once"


class DrugClass(Vocabulary):
    SSRI = "ssri", "Selective serotonin reuptake inhibitor (SSRI)"
    SNRI = "snri", "Serotonin–noradrenaline reuptake inhibitor (SNRI)"
    TCA = "tca", "Tricyclic antidepressant"
    MAOI = "maoi", "Monoamine oxidase inhibitor (MAOI)"
    NASSA = "nassa", "Noradrenergic and specific serotonergic antidepressant (mirtazapine)"
    OTHER = "other", "Other antidepressant (e.g. bupropion, vortioxetine)"
    AUGMENTATION = "augmentation", "Augmenting agent (lithium, atypical antipsychotic)"


# Which operators read which kind of question, and what value they take
# (docs/architecture.md, "The rule semantics"; checked by `rules.rule_values`).
NUMBER_KINDS = frozenset({Kind.INTEGER, Kind.DECIMAL})
CHOICE_KINDS = frozenset({Kind.CHOICE, Kind.MULTI_CHOICE})
NO_VALUE_OPERATORS = frozenset({Operator.IS_TRUE, Operator.IS_FALSE})
NUMBER_OPERATORS = frozenset({Operator.LT, Operator.LTE, Operator.GT, Operator.GTE})
LIST_OPERATORS = frozenset({
    Operator.IN, Operator.NOT_IN, Operator.ANY_OF, Operator.ALL_OF, Operator.NONE_OF,
})
OPERATORS_FOR_KIND = {
    Kind.BOOLEAN: frozenset({Operator.IS_TRUE, Operator.IS_FALSE, Operator.EQ, Operator.NE}),
    Kind.INTEGER: frozenset({Operator.EQ, Operator.NE, *NUMBER_OPERATORS}),
    Kind.DECIMAL: frozenset({Operator.EQ, Operator.NE, *NUMBER_OPERATORS}),
    Kind.CHOICE: frozenset({Operator.EQ, Operator.NE, Operator.IN, Operator.NOT_IN}),
    Kind.MULTI_CHOICE: frozenset({Operator.ANY_OF, Operator.ALL_OF, Operator.NONE_OF}),
    Kind.TRIALS: frozenset(),  # read through a calculated question, never by a rule of its own
}
