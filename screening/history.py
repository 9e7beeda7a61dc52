"""What a patient's history shows: each screening's instrument totals, and
a chart of them over time with the severity bands shaded.

The totals come from each screening's stored result: the values it worked
out from the items (`calculated`), else the total typed as an answer
(screenings made before instruments were asked item by item, or where the
items were not collected), marked "total entered". The bands are those of
the newest screening's rulebook snapshot; a rulebook without instruments
shows the three totals with no bands.

The chart is drawn here as plain numbers (coordinates in an SVG viewBox)
for templates/screening/_score_chart.html: no chart library, nothing
fetched from elsewhere. A table beside it gives every figure in words.
"""

from dataclasses import dataclass

from django.utils import formats, timezone

from rules import engine
from screening.summary import short_name

# The instruments asked before they were knowledge-base data: name and total's
# question code. Shown, without bands, when a rulebook names no instruments.
TYPED_TOTALS = (
    ("phq9", "PHQ-9", "phq9_total"),
    ("gad7", "GAD-7", "gad7_total"),
    ("pcl5", "PCL-5", "pcl5_total"),
)

# The chart's viewBox and the margins around its plotting area.
WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 12, 34


@dataclass(frozen=True)
class InstrumentColumn:
    code: str
    name: str          # short, for a column heading: "PHQ-9"
    full_name: str
    total: str         # the total's question code
    bands: tuple       # engine.Band, lowest first
    maximum: float     # the highest total possible


@dataclass(frozen=True)
class Score:
    value: int | float
    entered: bool      # typed as a total, not worked out from the items
    band: str          # the band's label, or ""

    def __str__(self):
        return f"{self.value} ({self.band})" if self.band else str(self.value)


@dataclass(frozen=True)
class HistoryRow:
    screening: object
    scores: tuple      # Score or None, one per column
    columns: tuple = ()

    @property
    def cells(self):
        """(column, score or None) pairs, for the table."""
        return tuple(zip(self.columns, self.scores, strict=True))


@dataclass(frozen=True)
class BandShade:
    y: float
    height: float
    label: str
    range: str         # e.g. "10–14"
    css_class: str


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    text: str          # e.g. "12 Mar 2026: 17 (Moderately severe)"


@dataclass(frozen=True)
class Chart:
    code: str
    name: str
    title: str
    description: str
    bands: tuple
    points: tuple
    line: str          # the points of an SVG polyline
    y_ticks: tuple     # (y, label)
    x_labels: tuple    # (x, label, text-anchor)
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_top: int = TOP
    plot_bottom: int = HEIGHT - BOTTOM

    @property
    def plot_width(self):
        return self.plot_right - self.plot_left

    @property
    def tick_x(self):
        return self.plot_left - 6

    @property
    def date_y(self):
        return self.plot_bottom + 20


def instrument_columns(rulebook: engine.Rulebook) -> tuple[InstrumentColumn, ...]:
    """The instruments whose totals a history shows, from the rulebook."""
    if rulebook.instruments:
        specs = [(i.code, i.name, i.total, tuple(i.bands)) for i in rulebook.instruments]
    else:
        specs = [(code, name, total, ()) for code, name, total in TYPED_TOTALS]
    columns = []
    for code, name, total, bands in specs:
        question = rulebook.question.get(total)
        highest = question.max if question is not None and question.max is not None else None
        if highest is None:
            highest = max((band.max for band in bands), default=0)
        columns.append(InstrumentColumn(
            code=code, name=short_name(name, code), full_name=name, total=total,
            bands=tuple(sorted(bands, key=lambda band: band.min)), maximum=highest,
        ))
    return tuple(columns)


def band_label(column: InstrumentColumn, value) -> str:
    for band in column.bands:
        if band.min <= value <= band.max:
            return band.label
    return ""


def _number(value):
    """A stored total, or None for anything that is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def score(column: InstrumentColumn, screening) -> Score | None:
    """A screening's total for one instrument: worked out from its items
    when its stored result says so, else typed as an answer, else None."""
    calculated = screening.calculated if isinstance(screening.calculated, dict) else {}
    value = _number(calculated.get(column.total))
    entered = False
    if value is None:
        value = _number((screening.answers or {}).get(column.total))
        entered = True
    if value is None:
        return None
    return Score(value=value, entered=entered, band=band_label(column, value))


def _date(moment) -> str:
    return formats.date_format(timezone.localtime(moment), "j M Y")


def _chart(column: InstrumentColumn, dated_scores) -> Chart:
    """One instrument's chart: totals over time (x proportional to the
    date), the bands as shaded strips behind them."""
    plot_left, plot_right, plot_top, plot_bottom = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM
    top_value = max([column.maximum, *(s.value for _, s in dated_scores)]) or 1

    def y(value):
        return round(plot_bottom - (plot_bottom - plot_top) * value / top_value, 1)

    times = [moment.timestamp() for moment, _ in dated_scores]
    first, span = min(times), max(times) - min(times)

    def x(moment):
        if not span:
            return round((plot_left + plot_right) / 2, 1)
        inset = 8
        return round(plot_left + inset + (plot_right - plot_left - 2 * inset) * (moment.timestamp() - first) / span, 1)

    shades = []
    for index, band in enumerate(column.bands):
        following = column.bands[index + 1].min if index + 1 < len(column.bands) else top_value
        low, high = max(band.min, 0), min(following, top_value)
        if high <= low:
            continue
        shades.append(BandShade(
            y=y(high), height=round(y(low) - y(high), 1), label=band.label,
            range=f"{band.min}–{band.max}", css_class=f"ks-band-{min(index, 5)}",
        ))
    points = tuple(
        Point(x=x(moment), y=y(s.value), text=f"{_date(moment)}: {s}{' (total entered)' if s.entered else ''}")
        for moment, s in dated_scores
    )
    edges = sorted({0, top_value, *(band.min for band in column.bands if 0 < band.min < top_value)})
    if len(edges) == 2:
        edges = sorted({0, round(top_value / 2), top_value})
    ticks = []
    for edge in edges:  # no two labels on top of each other
        if not ticks or y(ticks[-1]) - y(edge) >= 14:
            ticks.append(edge)
        elif edge == top_value:
            ticks[-1] = edge
    dates = [moment for moment, _ in dated_scores]
    labelled = dates if len(dates) <= 4 else [dates[0], dates[-1]]
    placed = dict.fromkeys((x(moment), _date(moment)) for moment in labelled)
    # Dates at the ends of the axis are set inside it, so none is cut off.
    x_labels = tuple(
        (position, text, "middle" if not span else "start" if position == min(placed)[0]
         else "end" if position == max(placed)[0] else "middle")
        for position, text in placed
    )
    latest_moment, latest = dated_scores[-1]
    description = (
        f"{len(dated_scores)} total{'s' if len(dated_scores) != 1 else ''} of {column.maximum:g} possible, "
        f"from {_date(dated_scores[0][0])} to {_date(latest_moment)}; the latest is {latest}. "
        + ("Shaded strips show the severity bands. " if column.bands else "")
        + "The table below gives every figure."
    )
    return Chart(
        code=column.code, name=column.name, title=f"{column.full_name} totals over time",
        description=description, bands=tuple(shades), points=points,
        line=" ".join(f"{p.x},{p.y}" for p in points),
        y_ticks=tuple((y(edge), f"{edge:g}") for edge in ticks), x_labels=x_labels,
    )


def patient_history(screenings, rulebook: engine.Rulebook) -> dict:
    """The history of one patient's screenings (oldest first, as from
    `selectors.patient_screenings`) read with `rulebook`'s instruments.
    Returns `columns` (InstrumentColumn), `rows` (HistoryRow, newest
    first, every screening), and `charts` (Chart, one per instrument with
    a total; a screening replaced by an amendment is left out, its
    amendment stands for it). Makes no query."""
    columns = [
        column for column in instrument_columns(rulebook)
        if any(score(column, s) is not None for s in screenings)
    ]
    rows = [
        HistoryRow(screening=s, scores=tuple(score(c, s) for c in columns), columns=tuple(columns))
        for s in screenings
    ]
    charts = []
    for index, column in enumerate(columns):
        dated = [
            (row.screening.created_at, row.scores[index]) for row in rows
            if row.scores[index] is not None and not row.screening.replaced_by
        ]
        if dated:
            charts.append(_chart(column, dated))
    return {"columns": columns, "rows": rows[::-1], "charts": charts}
