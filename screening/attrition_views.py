"""The criterion attrition page and its CSV (screening.attrition): for
clinical leads (`view_attrition`), their team's figures for a period; a
reader of every screening (`selectors.can_view_all`) picks any team.
Viewing and downloading are audited, naming the team and the period."""

import csv
from dataclasses import dataclass

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_safe

from screening import attrition, selectors
from screening.audit import audit
from screening.models import AuditAction
from teams.models import Membership, Team

PERMISSION = "screening.view_attrition"
REFUSAL = "Criterion attrition is for clinical leads."


def teams_for(user, *, view_all: bool) -> list[Team]:
    """1 query: the teams whose figures `user` may see, each with `mine`
    (whether they are in it): every team for a reader of every
    screening, else their own (none when they are in no team)."""
    teams = Team.objects.annotate(mine=Exists(Membership.objects.filter(team=OuterRef("pk"), user=user)))
    if not view_all:
        teams = teams.filter(memberships__user=user)
    return list(teams.order_by("name", "pk"))


class AttritionFilterForm(forms.Form):
    """The team and the period, from the query string; the period defaults
    to the last 90 days, the team to the user's own (else the first)."""

    team = forms.TypedChoiceField(coerce=int, label="Team")
    first = forms.DateField(label="Finalised from", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    last = forms.DateField(label="to", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data, *, teams: list[Team]):
        default = attrition.Period.default()
        own = next((team for team in teams if team.mine), teams[0] if teams else None)
        initial = {"team": own.pk if own else None, "first": default.first, "last": default.last}
        super().__init__({**initial, **{key: value for key, value in data.items() if value}}, initial=initial)
        self.fields["team"].choices = [(team.pk, team.name) for team in teams]
        self.teams = {team.pk: team for team in teams}

    def clean(self):
        cleaned = super().clean()
        first, last = cleaned.get("first"), cleaned.get("last")
        if first and last and first > last:
            self.add_error("last", "The end of the period must not come before its start.")
        return cleaned

    @property
    def chosen(self) -> tuple[Team, attrition.Period]:
        data = self.cleaned_data
        return self.teams[data["team"]], attrition.Period(data["first"], data["last"])


@dataclass(frozen=True)
class Bar:
    label: str
    figure: attrition.Figure
    css_class: str
    y: int
    width: float


@dataclass(frozen=True)
class FunnelChart:
    """One condition's funnel as SVG geometry: a bar per step, as long as
    its share of those screened. A suppressed count draws no bar."""

    funnel: attrition.Funnel
    bars: tuple[Bar, ...]

    WIDTH = 640
    LABEL_WIDTH = 200
    PLOT_WIDTH = 300
    ROW = 26
    BAR = 18

    @classmethod
    def of(cls, funnel: attrition.Funnel) -> "FunnelChart":
        total = funnel.screened.drawn
        steps = [("Screened", funnel.screened, "ks-funnel-screened")] + [
            (attrition.status_label(status), figure, f"ks-funnel-{status}") for status, figure in funnel.statuses
        ]
        bars = tuple(
            Bar(label, figure, css_class, y=n * cls.ROW,
                width=round(cls.PLOT_WIDTH * figure.drawn / total, 1) if total else 0)
            for n, (label, figure, css_class) in enumerate(steps)
        )
        return cls(funnel, bars)

    @property
    def height(self) -> int:
        return self.ROW * len(self.bars)

    @property
    def value_x(self) -> float:
        return self.LABEL_WIDTH + self.PLOT_WIDTH + 8


def _refuse_unless_permitted(request):
    """2 queries (the user's permissions, remembered for the request); a refusal is audited."""
    if request.user.has_perm(PERMISSION):
        return
    audit(AuditAction.ACCESS_DENIED, request=request, object_type="attrition", object_key="")
    raise PermissionDenied(REFUSAL)


def _filters(request):
    view_all = selectors.can_view_all(request.user)
    teams = teams_for(request.user, view_all=view_all)
    return AttritionFilterForm(request.GET, teams=teams), teams


def _audit_key(team: Team, period: attrition.Period) -> str:
    return f"team {team.pk}: {period.first.isoformat()} to {period.last.isoformat()}"


@login_required
@require_safe
def attrition_page(request):
    """Per condition, the funnel of the team's final screenings in the
    period; how often each criterion decided a result; how often the
    clinicians decided against the advice."""
    _refuse_unless_permitted(request)
    form, teams = _filters(request)
    context = {"form": form, "teams": teams, "fewer_than": attrition.FEWER_THAN, "not_shown": attrition.NOT_SHOWN}
    if teams and form.is_valid():
        team, period = form.chosen
        figures = attrition.attrition(team_id=team.pk, period=period, names=selectors.condition_names(),
                                        wordings=selectors.criterion_wordings())
        audit(AuditAction.ATTRITION_VIEWED, request=request, object_type="attrition", object_key=_audit_key(team, period))
        context.update({
            "team": team, "period": period, "figures": figures,
            "charts": [FunnelChart.of(funnel) for funnel in figures.funnels],
            "statuses": [attrition.status_label(status) for status in attrition.FUNNEL],
            "csv_query": request.GET.urlencode() or f"team={team.pk}",
        })
    return render(request, "screening/attrition.html", context)


@login_required
@require_safe
def attrition_csv(request):
    """The page's figures, exactly as its tables show them, as CSV."""
    _refuse_unless_permitted(request)
    form, teams = _filters(request)
    if not teams or not form.is_valid():
        return HttpResponseBadRequest("Choose one of your teams and a period.", content_type="text/plain")
    team, period = form.chosen
    figures = attrition.attrition(team_id=team.pk, period=period, names=selectors.condition_names(),
                                        wordings=selectors.criterion_wordings())
    audit(AuditAction.ATTRITION_DOWNLOADED, request=request, object_type="attrition", object_key=_audit_key(team, period))
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="attrition-team-{team.pk}-{period.first.isoformat()}-{period.last.isoformat()}.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(attrition.CSV_HEADER)
    writer.writerows(attrition.table_rows(figures))
    return response
