"""Criterion attrition: what became of a team's final screenings, per
condition, as OHDSI ATLAS shows a cohort's attrition.

Finalising a screening writes one `ConditionOutcome` per condition (its
advisory status, the clinician's decision, the owner's team, when) and one
`DecidingCriterion` per criterion that decided it (`record_outcomes`, in the
finalising transaction). The page's figures are then three GROUP BY queries
over those rows (`attrition`), whatever the number of screenings:

- per condition, how many final screenings reached each status;
- per condition and status, how often each criterion decided it;
- per condition and advisory status, how often the clinician decided
  against the advice, and which way.

Only the newest final of a record counts: a final that a final amendment
replaces is left out. The figures name no patient; a count of 1 to 4 is
never shown, nor a count from which one could be worked out (`Figure`):
see docs/records.md.
"""

import datetime
from dataclasses import dataclass
from typing import NamedTuple

from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from rules.vocabulary import Status as AdvisoryStatus
from screening.models import ConditionOutcome, DecidingCriterion, Decision, Screening, Status

# The funnel's order: the engine's precedence (an exclusion first, then an
# unmet requirement, then what is unanswered, then cautions).
FUNNEL = (
    AdvisoryStatus.EXCLUDED, AdvisoryStatus.NOT_MET, AdvisoryStatus.INCOMPLETE,
    AdvisoryStatus.CAUTION, AdvisoryStatus.ELIGIBLE,
)
SMALLEST_SHOWN = 5
FEWER_THAN = "fewer than 5"
FEWER_THAN_CSV = "<5"
NOT_SHOWN = "not shown"
PERIOD_DAYS = 90


# --- writing: one outcome per condition of a final --------------------------------------------


def outcomes_of(result: dict) -> list[tuple[str, str, list[str]]]:
    """(condition, status, deciding criterion keys) for each condition of a
    stored result (`Advisory.to_dict`), in its order. Plain data: the data
    migration that fills the rows for older finals reads results with it too."""
    return [
        (r["condition"], r["status"], list(dict.fromkeys(reason["criterion"] for reason in r.get("reasons", ()))))
        for r in result.get("results", ())
    ]


def record_outcomes(*, screening: Screening, team_id, overrides) -> list[ConditionOutcome]:
    """The outcome rows of a screening just finalised, with the decisions
    against the advice among `overrides` (AdvisoryOverride rows or anything
    with `condition` and `decision`): 2 queries (1 when nothing decided any
    condition, none when it screened none). The caller's transaction."""
    decisions = {override.condition: override.decision for override in overrides}
    found = outcomes_of(screening.result)
    if not found:
        return []
    outcomes = ConditionOutcome.objects.bulk_create([
        ConditionOutcome(
            screening=screening, condition=condition, status=status,
            decision=decisions.get(condition, Decision.FOLLOW), team_id=team_id,
            finalised_at=screening.finalised_at,
        )
        for condition, status, _criteria in found
    ])
    deciding = [
        DecidingCriterion(outcome=outcome, criterion=key)
        for outcome, (_condition, _status, criteria) in zip(outcomes, found, strict=True)
        for key in criteria
    ]
    if deciding:
        DecidingCriterion.objects.bulk_create(deciding)
    return outcomes


# --- reading: the figures of a team and a period ----------------------------------------------


class Period(NamedTuple):
    """Finalised from the start of `first` to the end of `last`, in the clinic's time zone."""

    first: datetime.date
    last: datetime.date

    @classmethod
    def default(cls, today: datetime.date | None = None) -> "Period":
        """The last PERIOD_DAYS days, today included."""
        today = today or timezone.localdate()
        return cls(today - datetime.timedelta(days=PERIOD_DAYS - 1), today)

    def bounds(self) -> tuple[datetime.datetime, datetime.datetime]:
        start = datetime.datetime.combine(self.first, datetime.time.min)
        end = datetime.datetime.combine(self.last + datetime.timedelta(days=1), datetime.time.min)
        zone = timezone.get_current_timezone()
        return timezone.make_aware(start, zone), timezone.make_aware(end, zone)


@dataclass(frozen=True)
class Figure:
    """A count as shown: a count of 1 to 4 only as "fewer than 5"; a count
    that would give such a count away (by subtraction) as "not shown"."""

    count: int
    small: bool = False
    hidden: bool = False

    @classmethod
    def of(cls, count: int) -> "Figure":
        return cls(count, small=0 < count < SMALLEST_SHOWN)

    def hide(self) -> "Figure":
        """This figure, not shown when it would have been."""
        return self if self.suppressed else Figure(self.count, hidden=True)

    @property
    def suppressed(self) -> bool:
        return self.small or self.hidden

    @property
    def text(self) -> str:
        return FEWER_THAN if self.small else NOT_SHOWN if self.hidden else str(self.count)

    @property
    def csv(self) -> str:
        return FEWER_THAN_CSV if self.small else NOT_SHOWN if self.hidden else str(self.count)

    @property
    def drawn(self) -> int:
        """What a chart may draw: nothing of a suppressed count."""
        return 0 if self.suppressed else self.count


@dataclass(frozen=True)
class Funnel:
    """One condition's finals: how many were screened and how many reached each status."""

    condition: str
    name: str
    screened: Figure
    statuses: tuple[tuple[str, Figure], ...]   # (status, figure) in FUNNEL order


class Decided(NamedTuple):
    condition: str
    name: str
    status: str
    criterion: str
    wording: str  # the criterion's message as the knowledge base words it now
    figure: Figure

    @property
    def status_label(self) -> str:
        return status_label(self.status)


class Overridden(NamedTuple):
    condition: str
    name: str
    status: str
    decision: str
    figure: Figure

    @property
    def status_label(self) -> str:
        return status_label(self.status)

    @property
    def decision_label(self) -> str:
        return decision_label(self.decision)


@dataclass(frozen=True)
class Attrition:
    funnels: tuple[Funnel, ...]
    criteria: tuple[Decided, ...]
    overrides: tuple[Overridden, ...]


def funnel_figures(screened: int, counts: dict[str, int]) -> tuple[Figure, tuple[tuple[str, Figure], ...]]:
    """The screened total and each status's figure. A count of 1 to 4 is
    suppressed; and since the statuses add up to the total, when exactly
    one status is suppressed the smallest other count above 0 is not shown
    either (else it could be worked out by subtraction)."""
    figures = {status: Figure.of(counts.get(status, 0)) for status in FUNNEL}
    small = [status for status, figure in figures.items() if figure.small]
    if len(small) == 1:
        others = [s for s in FUNNEL if s not in small and figures[s].count > 0]
        if others:
            smallest = min(others, key=lambda s: (figures[s].count, FUNNEL.index(s)))
            figures[smallest] = figures[smallest].hide()
    return Figure.of(screened), tuple(figures.items())


def _current(*, team_id, period: Period, via: str = ""):
    """Filters for the team's outcomes of finals in `period` that no final
    amendment replaces; `via`: the path to the outcome ("outcome__")."""
    start, end = period.bounds()
    replaced = Screening.objects.filter(amends=OuterRef(f"{via}screening_id"), status=Status.FINAL)
    return (
        Q(**{f"{via}team_id": team_id, f"{via}finalised_at__gte": start, f"{via}finalised_at__lt": end}),
        ~Exists(replaced),
    )


def attrition(*, team_id, period: Period, names: dict[str, str], wordings: dict[str, str]) -> Attrition:
    """The team's figures for `period`: 2 queries (the outcomes by
    condition, status and decision; the deciding criteria by condition,
    status and criterion). `names`: condition slug -> name; `wordings`:
    criterion key -> message."""
    outcomes = ConditionOutcome.objects.filter(*_current(team_id=team_id, period=period))
    by_status: dict[str, dict[str, int]] = {}
    by_decision: dict[tuple[str, str, str], int] = {}
    for row in outcomes.values("condition", "status", "decision").annotate(n=Count("id")).order_by():
        statuses = by_status.setdefault(row["condition"], {})
        statuses[row["status"]] = statuses.get(row["status"], 0) + row["n"]
        if row["decision"] != Decision.FOLLOW:
            by_decision[(row["condition"], row["status"], row["decision"])] = row["n"]

    def order(condition):
        return (names.get(condition, condition).lower(), condition)

    funnels, hidden = [], set()
    for condition in sorted(by_status, key=order):
        counts = by_status[condition]
        screened, statuses = funnel_figures(sum(counts.values()), counts)
        funnels.append(Funnel(condition, names.get(condition, condition), screened, statuses))
        hidden |= {(condition, status) for status, figure in statuses if figure.suppressed}

    def figure(condition, status, count):
        """A row's figure; not shown for a status whose count the funnel
        hides, which a criterion deciding every one of them would give away."""
        shown = Figure.of(count)
        return shown.hide() if (condition, status) in hidden else shown

    criteria_rows = (
        DecidingCriterion.objects.filter(*_current(team_id=team_id, period=period, via="outcome__"))
        .values("outcome__condition", "outcome__status", "criterion").annotate(n=Count("id")).order_by()
    )
    criteria = sorted(
        (
            Decided(row["outcome__condition"], names.get(row["outcome__condition"], row["outcome__condition"]),
                    row["outcome__status"], row["criterion"], wordings.get(row["criterion"], NO_LONGER_IN_THE_KNOWLEDGE_BASE),
                    figure(row["outcome__condition"], row["outcome__status"], row["n"]))
            for row in criteria_rows
        ),
        key=lambda d: (order(d.condition), _status_order(d.status), -d.figure.count, d.criterion),
    )
    overrides = sorted(
        (
            Overridden(condition, names.get(condition, condition), status, decision, figure(condition, status, n))
            for (condition, status, decision), n in by_decision.items()
        ),
        key=lambda o: (order(o.condition), _status_order(o.status), o.decision),
    )
    return Attrition(tuple(funnels), tuple(criteria), tuple(overrides))


def _status_order(status: str) -> int:
    return FUNNEL.index(status) if status in FUNNEL else len(FUNNEL)


def status_label(status: str) -> str:
    try:
        return AdvisoryStatus(status).label
    except ValueError:
        return status


def decision_label(decision: str) -> str:
    try:
        return Decision(decision).label
    except ValueError:
        return decision


# The wording shown for a criterion deleted from the knowledge base since.
NO_LONGER_IN_THE_KNOWLEDGE_BASE = "(no longer in the knowledge base)"

# The CSV's header, and the rows a page's tables show, figure for figure.
CSV_HEADER = ("table", "condition", "status", "criterion", "criterion wording", "decision", "count")


def table_rows(figures: Attrition) -> list[tuple[str, ...]]:
    """Every figure of the page's tables as a CSV row (CSV_HEADER), in the
    page's order: the funnel (screened, then each status), the deciding
    criteria, the decisions against the advice."""
    rows = []
    for funnel in figures.funnels:
        rows.append(("funnel", funnel.name, "Screened", "", "", "", funnel.screened.csv))
        rows += [("funnel", funnel.name, status_label(s), "", "", "", f.csv) for s, f in funnel.statuses]
    rows += [
        ("deciding criterion", d.name, d.status_label, d.criterion, d.wording, "", d.figure.csv)
        for d in figures.criteria
    ]
    rows += [
        ("decision against the advice", o.name, o.status_label, "", "", o.decision_label, o.figure.csv)
        for o in figures.overrides
    ]
    return rows
