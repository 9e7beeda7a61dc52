"""What an advisory summary shows, ready for a template.

The summary page and the PDF render the same context from different
templates. Everything comes from the screening's stored rulebook snapshot
and stored result, never from the live knowledge base, so editing a
criterion later never changes a past summary. The page's body is kept in
Django's cache per screening revision (`summary_body`).
"""

import dataclasses
from dataclasses import dataclass

from django.core.cache import cache
from django.core.cache.utils import make_template_fragment_key
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe

from conditions.citations import vancouver_html
from rules import engine
from rules.vocabulary import (
    UNSPECIFIED,
    Effect,
    Outcome,
    Status,
    TrialOutcome,
    basis_description,
    basis_label,
)
from screening import selectors
from screening.age import AGE_QUESTION
from screening.models import Screening

# The outcomes of a trial in words, as the questionnaire offers them.
TRIAL_OUTCOMES = TrialOutcome.choices

# Bootstrap's text-bg-* classes; the words (Status labels) carry the meaning, colour only helps.
STATUS_STYLES = {
    Status.ELIGIBLE: "success",
    Status.CAUTION: "warning",
    Status.NOT_MET: "secondary",
    Status.EXCLUDED: "danger",
    Status.INCOMPLETE: "info",
}
OUTCOME_LABELS = {
    (Effect.REQUIRE, Outcome.HOLDS): "Requirement met",
    (Effect.REQUIRE, Outcome.FAILS): "Requirement not met",
    (Effect.REQUIRE, Outcome.SKIPPED): "Requirement not met (question not asked)",
    (Effect.EXCLUDE, Outcome.HOLDS): "Exclusion applies",
    (Effect.CAUTION, Outcome.HOLDS): "Caution",
    (Effect.ALERT, Outcome.HOLDS): "Safety alert",
    (Effect.DUTY, Outcome.HOLDS): "At the treatment session",
}
AWAITING_ANSWER = Outcome.UNKNOWN.label


def status_label(status: str) -> str:
    """A status as people read it (the vocabulary's one set of labels)."""
    return Status.label_of(status)


def status_style(status: str) -> str:
    return STATUS_STYLES.get(status, "secondary")


@dataclass(frozen=True)
class ReasonRow:
    message: str
    question: str               # the question's text
    outcome: str                # in words, e.g. "Requirement met"
    references: tuple[int, ...]  # numbers in the summary's reference list
    answer: str = ""            # the patient's answer, with its unit; "" when unanswered
    basis: str = UNSPECIFIED  # what the criterion rests on (a Basis, or UNSPECIFIED)

    @property
    def basis_label(self) -> str:
        """The basis as a short badge, e.g. "Label" or "Local policy"."""
        return basis_label(self.basis)

    @property
    def basis_description(self) -> str:
        return basis_description(self.basis)


@dataclass(frozen=True)
class EvidenceRow:
    grade: str
    applies_to: str              # "" for the whole condition
    note: str
    references: tuple[int, ...]  # the source's number in the summary's reference list


@dataclass(frozen=True)
class ConditionCard:
    slug: str
    name: str
    status: str
    status_label: str
    status_style: str
    reasons: tuple[ReasonRow, ...]
    cautions: tuple[ReasonRow, ...]     # cautions beside a status that is not "caution"
    missing: tuple[tuple[str, str], ...]  # (question code, question text)
    guidance: str
    references: tuple[int, ...]
    shared_cautions: int = 0            # how many of the screening-wide cautions apply to it
    licensing: str = ""                 # whether, and for which route, the treatment is licensed
    evidence: tuple[EvidenceRow, ...] = ()  # evidence grades, shown next to the status
    # Eligible or caution: every requirement it met, with the patient's values
    # (a caution card's `reasons` are its cautions, so these are listed apart).
    met: tuple[ReasonRow, ...] = ()


@dataclass(frozen=True)
class ReferenceRow:
    number: int
    key: str
    citation: str  # safe HTML, Vancouver style
    verified: bool
    note: str


@dataclass(frozen=True)
class AnswerRow:
    code: str
    question: str
    answer: str
    calculated: bool = False  # worked out (the age from the year of birth), not typed


@dataclass(frozen=True)
class CalculatedRow:
    """A value worked out from other answers (or typed because they were not collected)."""

    code: str
    name: str           # e.g. "PHQ-9 total"
    value: int | float
    band: str           # the instrument's severity band, or ""
    entered: bool       # typed, the items (or trials) not collected

    instrument: bool = True

    def __str__(self):
        """ "PHQ-9 total 17 — moderately severe", "… trials: 2"; "(total entered)" when typed."""
        text = f"{self.name} {self.value}" if self.instrument else f"{self.name}: {self.value}"
        if self.band:
            band = self.band[:1].lower() + self.band[1:] if self.band[1:2].islower() else self.band
            text += f" — {band}"
        return text + (f" ({self.entered_words})" if self.entered else "")

    @property
    def entered_words(self):
        return "total entered" if self.instrument else "number entered"


@dataclass(frozen=True)
class TrialRow:
    drug: str
    daily_dose_mg: str
    weeks: str
    outcome: str
    counted: bool
    reason: str


class _Numbering:
    """Reference numbers in order of first citation."""

    def __init__(self, rulebook: engine.Rulebook):
        self.rulebook = rulebook
        self.numbers: dict[str, int] = {}

    def __call__(self, keys) -> tuple[int, ...]:
        for key in keys:
            if key in self.rulebook.reference and key not in self.numbers:
                self.numbers[key] = len(self.numbers) + 1
        return tuple(sorted({self.numbers[key] for key in keys if key in self.numbers}))

    def rows(self) -> list[ReferenceRow]:
        rows = []
        for key, number in self.numbers.items():
            ref = self.rulebook.reference[key]
            rows.append(ReferenceRow(
                number=number, key=key, verified=ref.verified, note=ref.note,
                citation=vancouver_html(
                    authors=ref.authors, title=ref.title, source=ref.source,
                    doi=ref.doi, pmid=ref.pmid, url=ref.url,
                ),
            ))
        return rows


def _question_text(rulebook, code):
    question = rulebook.question.get(code)
    return question.text if question else code


def _reason_row(rulebook, numbering, reason: engine.Reason, answers: dict, worked_out=None) -> ReasonRow:
    """A criterion as the summary shows it; `worked_out` maps a question
    code to the words of an answer the app worked out (the age)."""
    outcome = (
        AWAITING_ANSWER if reason.outcome == Outcome.UNKNOWN
        else OUTCOME_LABELS.get((reason.effect, reason.outcome), reason.outcome)
    )
    question = rulebook.question.get(reason.question)
    value = answers.get(reason.question)
    answer = answer_text(question, value) if question is not None and value is not None else ""
    if worked_out and reason.question in worked_out:
        answer = worked_out[reason.question]
    return ReasonRow(
        message=reason.message, question=question.text if question else reason.question,
        outcome=outcome, references=numbering(reason.references), answer=answer, basis=reason.basis,
    )


def age_words(age, question: engine.QuestionSpec | None) -> str:
    """A worked-out age as the summary shows it, e.g. "44 or 45 years,
    worked out from the year of birth (1981) on 30 Nov 2026"."""
    unit = f" {question.unit}" if question is not None and question.unit else ""
    day = f"{age.on.day} {age.on:%b %Y}"
    return f"{age.words}{unit}, worked out from the year of birth ({age.year_of_birth}) on {day}"


def shared_caution_keys(advisory: engine.Advisory) -> list[str]:
    """The cautions that hold for every chosen condition, when there are
    two or more: shown once above the conditions rather than in each."""
    if len(advisory.results) < 2:
        return []
    first, *others = advisory.results
    return [
        caution.criterion for caution in first.cautions
        if all(any(c.criterion == caution.criterion for c in other.cautions) for other in others)
    ]


def answer_text(question: engine.QuestionSpec, value, rulebook: engine.Rulebook | None = None) -> str:
    """An answer as a clinician reads it: Yes / No, choice labels, an
    instrument item's option label with its score, number and unit."""
    if question.kind == engine.TRIALS:
        count = len(value) if isinstance(value, list) else 0
        return f"{count} trial{'s' if count != 1 else ''}, listed under “Antidepressant trials”"
    instrument = next(
        (i for i in (rulebook.instruments if rulebook is not None else ()) if question.code in i.items), None,
    )
    if instrument is not None:
        label = next((o.label for o in instrument.options if o.score == value), "")
        return f"{label} ({value})" if label else str(value)
    if question.kind == engine.BOOLEAN:
        return "Yes" if value else "No"
    if question.kind == engine.CHOICE:
        return question.choice_label(value)
    if question.kind == engine.MULTI_CHOICE:
        return ", ".join(question.choice_label(item) for item in value)
    return f"{value} {question.unit}".strip()


def _number(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value)


def calculated_rows(rulebook: engine.Rulebook, advisory: engine.Advisory, answers: dict) -> list[CalculatedRow]:
    """Each calculated question with a value, in questionnaire order: worked
    out from its inputs, or typed when they were not collected (with the
    instrument's band, if it has one)."""
    rows = []
    for question in rulebook.calculated_questions:
        entered = question.code in advisory.entered
        value = answers.get(question.code) if entered else advisory.calculated.get(question.code)
        if value is None:
            continue
        instrument = rulebook.instrument_for_total.get(question.code)
        band = instrument.band(value) if instrument is not None else None
        rows.append(CalculatedRow(
            code=question.code, name=f"{instrument_short_name(instrument)} total" if instrument else question.text,
            value=value, band=band.label if band else "", entered=entered, instrument=instrument is not None,
        ))
    return rows


def short_name(name: str, code: str) -> str:
    """ "Patient Health Questionnaire-9 (PHQ-9)" -> "PHQ-9"."""
    if name.endswith(")") and "(" in name:
        return name[name.rindex("(") + 1:-1]
    return name or code


def instrument_short_name(instrument: engine.InstrumentSpec) -> str:
    return short_name(instrument.name, instrument.code)


def _with_counted_trials(rulebook: engine.Rulebook, advisory: engine.Advisory, row: ReasonRow) -> ReasonRow:
    """A met requirement on the count of adequate failed trials names the
    antidepressants counted: "2 (sertraline, venlafaxine)"."""
    counted = [trial for trial in advisory.trials if trial.counted]
    counts = {
        q.text for q in rulebook.calculated_questions
        if q.calculation == engine.ADEQUATE_FAILED_TRIALS and q.code in advisory.calculated
    }
    if not counted or row.question not in counts or not row.answer:
        return row
    names = []
    for trial in counted:
        drug = rulebook.drug.get(trial.drug)
        name = engine._lower(drug.name) if drug else str(trial.drug)
        if name not in names:
            names.append(name)
    return dataclasses.replace(row, answer=f"{row.answer} ({', '.join(names)})")


def trial_rows(rulebook: engine.Rulebook, advisory: engine.Advisory) -> list[TrialRow]:
    """Every antidepressant trial as judged, in the order given."""
    outcomes = dict(TRIAL_OUTCOMES)
    rows = []
    for trial in advisory.trials:
        drug = rulebook.drug.get(trial.drug)
        reason = trial.reason
        if trial.counted and reason.startswith("counted: "):
            reason = reason[len("counted: "):]
        rows.append(TrialRow(
            drug=drug.name if drug else str(trial.drug), daily_dose_mg=_number(trial.daily_dose_mg),
            weeks=_number(trial.weeks), outcome=outcomes.get(trial.outcome, str(trial.outcome or "")),
            counted=trial.counted, reason=reason[:1].upper() + reason[1:],
        ))
    return rows


def summary_context(screening: Screening) -> dict:
    """The summary of one screening, from its snapshot and stored result.

    Makes no query when the screening was loaded with its owner, finaliser,
    snapshot and amended screening (`selectors.screening_detail`). Returns
    `alerts` (ReasonRow), `shared_cautions` (ReasonRow: the cautions that
    hold for every chosen condition, shown once), `results` (ConditionCard,
    in the order chosen, without the shared cautions, each with its
    licensing and evidence grades), `duties` (ReasonRow: the checklist "At
    the treatment session", after the conditions),
    `references` (ReferenceRow, numbered in order of first citation),
    `answers` (AnswerRow, questionnaire order), `missing_count`, and the
    screening's facts for the record.
    """
    rulebook = screening.rulebook()
    advisory = screening.advisory()
    number = _Numbering(rulebook)
    # Criteria read calculated values like answers: show them beside the criteria too.
    given = {**screening.evaluated_answers(), **advisory.calculated}
    age = screening.age_worked_out()
    worked_out = {}
    missing_text = {}
    if age is not None and age.used is not None:
        worked_out[AGE_QUESTION] = age_words(age, rulebook.question.get(AGE_QUESTION))
    elif age is not None:
        missing_text[AGE_QUESTION] = (
            f"{_question_text(rulebook, AGE_QUESTION)} (the year of birth, {age.year_of_birth}, "
            f"allows {age.words}, which the screening criteria read differently)"
        )

    alerts = [_reason_row(rulebook, number, alert, given, worked_out) for alert in advisory.alerts]
    shared = shared_caution_keys(advisory)
    shared_cautions = [
        _reason_row(rulebook, number, caution, given, worked_out)
        for caution in (advisory.results[0].cautions if shared else ())
        if caution.criterion in shared
    ]
    cards = []
    for result in advisory.results:
        condition = rulebook.condition.get(result.condition)
        # Numbered first within the card: the grades are shown next to the status.
        evidence = tuple(
            EvidenceRow(grade=e.grade, applies_to=e.applies_to, note=e.note, references=number((e.source,)))
            for e in (condition.evidence if condition else ())
        )
        reasons = tuple(
            _reason_row(rulebook, number, r, given, worked_out) for r in result.reasons
            if not (result.status == Status.CAUTION and r.criterion in shared)
        )
        met = ()
        if result.status == Status.CAUTION:
            met = tuple(
                _with_counted_trials(rulebook, advisory, _reason_row(rulebook, number, r, given, worked_out))
                for r in engine.met_requirements(rulebook, result.condition, screening.evaluated_answers())
            )
        elif result.status == engine.ELIGIBLE:
            reasons = tuple(_with_counted_trials(rulebook, advisory, row) for row in reasons)
        cautions = () if result.status == Status.CAUTION else tuple(
            _reason_row(rulebook, number, r, given, worked_out) for r in result.cautions if r.criterion not in shared
        )
        cards.append(ConditionCard(
            slug=result.condition,
            name=condition.name if condition else result.condition,
            status=result.status,
            status_label=status_label(result.status),
            status_style=status_style(result.status),
            reasons=reasons,
            cautions=cautions,
            missing=tuple((code, missing_text.get(code) or _question_text(rulebook, code)) for code in result.missing),
            guidance=condition.guidance if condition else "",
            references=number(result.references),
            shared_cautions=len(shared),
            licensing=condition.licensing if condition else "",
            evidence=evidence,
            met=met,
        ))
    duties = [_reason_row(rulebook, number, duty, given, worked_out) for duty in advisory.duties]
    entered = set(advisory.entered)
    answers = [
        AnswerRow(
            code=q.code, question=q.text,
            answer=answer_text(q, screening.answers[q.code], rulebook) + (
                (" (total entered)" if q.code in rulebook.instrument_for_total else " (number entered)")
                if q.code in entered else ""
            ),
        )
        if screening.answers.get(q.code) is not None
        else AnswerRow(code=q.code, question=q.text, answer=worked_out[q.code], calculated=True)
        for q in rulebook.questions
        if screening.answers.get(q.code) is not None or q.code in worked_out
    ]
    owner = screening.owner
    finaliser = screening.finalised_by
    # The record's own parts (what an amendment changed, decisions against
    # the advice): screening.amendments, which imports this module.
    from screening.amendments import record_context

    return {
        **record_context(screening, rulebook),
        "screening": screening,
        "alerts": alerts,
        "results": cards,
        "duties": duties,
        "references": number.rows(),
        "answers": answers,
        "age_from_year_of_birth": age,
        "calculated": calculated_rows(rulebook, advisory, screening.answers),
        "trials": trial_rows(rulebook, advisory),
        "trial_references": number(rulebook.trial_references) if advisory.trials else (),
        "min_trial_weeks": _number(rulebook.min_trial_weeks),
        "partial_response_counts": rulebook.partial_response_counts,
        "distinct_drugs": rulebook.trial_count == engine.COUNT_DISTINCT_DRUGS,
        "shared_cautions": shared_cautions,
        # The statuses by name, so templates compare with the vocabulary's words.
        "statuses": {status.name: status for status in Status},
        "missing_count": len({code for card in cards for code, _ in card.missing}),
        "incomplete": any(card.status == Status.INCOMPLETE for card in cards),
        # The checklist for the treatment session only when some condition may be treated.
        "treatment_indicated": any(card.status in (Status.ELIGIBLE, Status.CAUTION) for card in cards),
        "worst_status": screening.worst_status,
        "worst_status_label": status_label(screening.worst_status) if screening.worst_status else "",
        "rulebook_version": screening.rulebook_version,
        "clinician": owner.get_full_name() or owner.get_username(),
        "finalised_by": (finaliser.get_full_name() or finaliser.get_username()) if finaliser else "",
    }


BODY_TEMPLATE = "screening/_summary_body.html"


def _body_key(screening: Screening, *, can_edit: bool) -> str:
    """Everything the summary body shows besides the screening's stored
    content, which does not change within a revision: the names of its
    clinician and finaliser (who may be renamed), whether its missing
    questions link to the questionnaire (a draft, for its owner), and the
    time zone of its times. Its duties, evidence grades, licensing and
    worked-out age come from the stored result, snapshot and age, which
    change only with the revision."""
    finaliser = screening.finalised_by
    return make_template_fragment_key("summary-body", [
        screening.pk, screening.revision, can_edit and not screening.is_final,
        timezone.get_current_timezone_name(), screening.owner.get_full_name(), screening.owner.get_username(),
        finaliser.get_full_name() if finaliser else "", finaliser.get_username() if finaliser else "",
    ])


def summary_body(screening: Screening, *, can_edit: bool) -> dict:
    """The summary body's markup (`html`), how many questions it lists as
    still to answer (`missing_count`) and whether any condition is
    `incomplete`, from the cache by screening
    revision. `screening` needs its owner and finaliser loaded.

    No query when cached; otherwise 1, to load the stored result and
    snapshot (`selectors.screening_detail`). Were the screening saved in
    between, the body is that of the newer row, cached under its own key.
    """
    body = cache.get(_body_key(screening, can_edit=can_edit))
    if body is None:
        full = selectors.screening_detail(screening.pk) or screening
        context = {**summary_context(full), "can_edit": can_edit}
        body = {
            "html": render_to_string(BODY_TEMPLATE, context), "missing_count": context["missing_count"],
            "incomplete": context["incomplete"],
            # What the finalise form offers a decision for: (slug, name, advisory status).
            "conditions": [(card.slug, card.name, card.status) for card in context["results"]],
        }
        cache.set(_body_key(full, can_edit=can_edit), body)
    return {**body, "html": mark_safe(body["html"])}
