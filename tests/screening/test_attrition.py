"""Criterion attrition: a clinical lead reads, per condition, what became of
their team's final screenings in a period, which criteria decided them and
how often the clinicians decided against the advice; as a page with a chart
and as CSV with the same figures. No patient is named and a count of 1 to 4
is never shown."""

import csv
import datetime
import importlib
import io
import itertools
from collections import Counter

import pytest
from django.apps import apps as django_apps
from django.urls import reverse
from django.utils import timezone

from conditions.models import Criterion
from rulebook.versions import current_rulebook, snapshot_for
from screening import attrition, services
from screening.models import (
    AuditAction,
    AuditEvent,
    ConditionOutcome,
    DecidingCriterion,
    Screening,
    Status,
)
from teams.models import Membership, Team
from tests.answers import TRD_ELIGIBLE
from tests.conftest import Client, user_in_role
from tests.markup import parse

# A criterion of the shipped knowledge base (its wording is shown); the other keys below
# stand for criteria deleted since ("no longer in the knowledge base").
TRIALS = "trd-two-failed-trials-require"
GONE = attrition.NO_LONGER_IN_THE_KNOWLEDGE_BASE

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("module_knowledge_base", "quick_password_hashing"),
]

STATUS_LABELS = {s: attrition.status_label(s) for s in attrition.FUNNEL}
CONDITIONS = {"trd": "Treatment-resistant depression", "bipolar-depression": "Bipolar depression and cyclothymia"}

# --- making finals fast ----------------------------------------------------------------------


def in_team(name, *users):
    team, _ = Team.objects.get_or_create(name=name)
    for user in users:
        Membership.objects.create(user=user, team=team)
    return team


def result_of(outcomes):
    """A stored result with these (condition, status, [criterion keys])."""
    return {"alerts": [], "duties": [], "calculated": {}, "entered": [], "trials": [], "results": [
        {"condition": condition, "status": status, "missing": [], "references": [], "cautions": [],
         "reasons": [{"criterion": key, "question": "q", "effect": "require", "outcome": "fails",
                      "message": "m", "references": [], "basis": ""} for key in keys]}
        for condition, status, keys in outcomes
    ]}


def bulk_finals(owner, team, rows, *, snapshot, days_ago=1):
    """Final screenings of `owner`, one per row of (condition, status,
    [criterion keys], decision) lists, with their outcome rows, as
    finalising writes them; `days_ago`: when they were finalised."""
    finalised_at = timezone.now() - datetime.timedelta(days=days_ago)
    screenings = Screening.objects.bulk_create(
        Screening(
            owner=owner, patient_reference=f"BULK-{n}", conditions=[c for c, *_ in outcomes],
            snapshot=snapshot, rulebook_version=snapshot.version,
            result=result_of([(c, s, k) for c, s, k, _d in outcomes]), status=Status.FINAL,
            finalised_at=finalised_at, finalised_by=owner,
        )
        for n, outcomes in enumerate(rows)
    )
    made = ConditionOutcome.objects.bulk_create(
        ConditionOutcome(screening=screening, condition=c, status=s, decision=d, team=team, finalised_at=finalised_at)
        for screening, outcomes in zip(screenings, rows, strict=True) for c, s, _k, d in outcomes
    )
    keys = [k for outcomes in rows for _c, _s, k, _d in outcomes]
    DecidingCriterion.objects.bulk_create(
        DecidingCriterion(outcome=outcome, criterion=key) for outcome, ks in zip(made, keys, strict=True) for key in ks
    )
    return screenings


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def lead_of(team_name, username):
    lead = user_in_role(username, "Clinical leads", is_staff=True)
    return lead, in_team(team_name, lead)


# --- the 10,000 finals, made once for the module --------------------------------------------

# (condition, status, deciding criteria, decision) combinations, dealt out in turn.
PATTERNS = [
    [("trd", "eligible", ["trd-age", TRIALS], "follow")],
    [("trd", "excluded", ["psychosis-exclude"], "follow"), ("bipolar-depression", "not_met", ["bd-episode"], "follow")],
    [("trd", "not_met", [TRIALS], "proceed")],
    [("trd", "caution", ["bp-caution"], "do_not_proceed"), ("bipolar-depression", "eligible", ["bd-episode"], "follow")],
    [("trd", "incomplete", ["trd-age", "bp-caution"], "follow")],
    [("bipolar-depression", "excluded", ["psychosis-exclude"], "follow")],
    [("trd", "eligible", ["trd-age", TRIALS], "follow")],
]
FINALS = 10_000


@pytest.fixture(scope="module")
def big_clinic(module_knowledge_base, django_db_blocker):
    """Two teams' 10,000 finals (North 7,000, South 3,000) with their
    outcome rows, in the module's transaction: (north lead, north team,
    south team, expected North figures)."""
    from django.db import transaction

    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            snapshot = snapshot_for(current_rulebook())
            north_lead, north = lead_of("Big North", "north-lead")
            north_clinician = user_in_role("north-clinician", "Clinicians")
            Membership.objects.create(user=north_clinician, team=north)
            south_clinician = user_in_role("south-clinician", "Clinicians")
            south = in_team("Big South", south_clinician)
            rows = list(itertools.islice(itertools.cycle(PATTERNS), FINALS))
            bulk_finals(north_clinician, north, rows[:7000], snapshot=snapshot, days_ago=10)
            # South: everything turned the other way, so any of its numbers on North's page would show.
            bulk_finals(south_clinician, south, [[("trd", "excluded", ["south-only"], "proceed")]] * 3000,
                        snapshot=snapshot, days_ago=10)
            expected = Counter((c, s) for outcomes in rows[:7000] for c, s, _k, _d in outcomes)
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    yield north_lead, north, south, expected
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)


# --- reading the page and the CSV -------------------------------------------------------------


def page_rows(response) -> list[tuple[str, ...]]:
    """Every figure of the page's tables, as the CSV's rows are."""
    page = parse(response.content)
    header = [th.text() for th in page.select('[data-testid="funnel"] thead th')][1:]
    rows = []
    for tr in page.select('[data-testid="funnel"] tbody tr'):
        name, cells = tr.select_one("th").text(), [td.text() for td in tr.select("td")]
        rows += [("funnel", name, label, "", "", "", cell) for label, cell in zip(header, cells, strict=True)]
    for tr in page.select('[data-testid="criteria"] tbody tr'):
        cells = [td.text() for td in tr.select("td")]
        if len(cells) == 5:
            rows.append(("deciding criterion", cells[0], cells[1], cells[2], cells[3], "", cells[4]))
    for tr in page.select('[data-testid="overrides"] tbody tr'):
        cells = [td.text() for td in tr.select("td")]
        if len(cells) == 4:
            rows.append(("decision against the advice", cells[0], cells[1], "", "", cells[2], cells[3]))
    return [tuple(attrition.FEWER_THAN_CSV if cell == attrition.FEWER_THAN else cell for cell in row) for row in rows]


def csv_rows(response) -> list[tuple[str, ...]]:
    assert response["Content-Type"].startswith("text/csv")
    header, *rows = csv.reader(io.StringIO(response.content.decode()))
    assert tuple(header) == attrition.CSV_HEADER
    return [tuple(row) for row in rows]


def funnel(response) -> dict[str, dict[str, str]]:
    table = {}
    for _table, name, label, _criterion, _wording, _decision, count in page_rows(response):
        if _table == "funnel":
            table.setdefault(name, {})[label] = count
    return table


# --- the page at scale ------------------------------------------------------------------------


def test_the_page_shows_the_teams_funnel_in_a_fixed_number_of_queries(big_clinic, assert_queries):
    north_lead, north, _south, expected = big_clinic
    client = signed_in(north_lead)
    with assert_queries(11):
        # 1. the signed-in user
        # 2-3. may they see attrition? their own permissions, then their groups' (remembered for the request)
        # 4. the teams they may pick, each with whether they are in it
        # 5. condition slugs and names
        # 6. criterion keys and their wording
        # 7. the outcomes of the period's current finals by condition, status and decision
        # 8. the deciding criteria of the same outcomes by condition, status and criterion
        # 9-11. the audit chain's head locked FOR UPDATE, INSERT "criterion attrition viewed", UPDATE the head
        response = client.get(reverse("screening:attrition"))
    assert response.status_code == 200
    shown = funnel(response)
    for slug, name in CONDITIONS.items():
        counts = {STATUS_LABELS[s]: str(expected[(slug, s)]) for s in attrition.FUNNEL}
        assert shown[name] == {"Screened": str(sum(expected[(slug, s)] for s in attrition.FUNNEL)), **counts}
    rows = page_rows(response)
    wording = Criterion.objects.get(key=TRIALS).message
    assert ("deciding criterion", CONDITIONS["trd"], STATUS_LABELS["eligible"], TRIALS, wording, "", "2000") in rows
    assert ("deciding criterion", CONDITIONS["trd"], STATUS_LABELS["eligible"], "trd-age", GONE, "", "2000") in rows
    assert ("decision against the advice", CONDITIONS["trd"], STATUS_LABELS["not_met"], "", "",
            "Proceed despite the advice", "1000") in rows
    assert not any("south-only" in row for row in rows)
    # The chart draws each condition's funnel, every bar in proportion to those screened.
    charts = parse(response.content).select('[data-testid="funnel-chart"]')
    assert [chart.get("data-condition") for chart in charts] == ["bipolar-depression", "trd"]
    trd_bars = {rect.get("class").split()[-1]: float(rect.get("width")) for rect in charts[1].select("rect")}
    assert trd_bars["ks-funnel-screened"] == 300.0
    trd_screened = sum(expected[("trd", s)] for s in attrition.FUNNEL)
    assert trd_bars["ks-funnel-eligible"] == round(300 * expected[("trd", "eligible")] / trd_screened, 1)


def test_the_csv_holds_exactly_the_tables_figures(big_clinic, assert_queries):
    north_lead, north, _south, _expected = big_clinic
    client = signed_in(north_lead)
    page = client.get(reverse("screening:attrition"), {"team": north.pk})
    link = parse(page.content).select_one('[data-testid="attrition-csv"]').get("href")
    with assert_queries(11):
        # as the page
        download = client.get(link)
    assert download.status_code == 200
    assert "attachment" in download["Content-Disposition"]
    assert csv_rows(download) == page_rows(page)
    assert "BULK-" not in download.content.decode()  # no patient reference


# --- who sees what ----------------------------------------------------------------------------


def test_a_lead_never_sees_another_teams_numbers(big_clinic):
    north_lead, north, south, _expected = big_clinic
    client = signed_in(north_lead)
    page = parse(client.get(reverse("screening:attrition")).content)
    assert [option.text() for option in page.select("#id_team option")] == ["Big North"]
    refused = client.get(reverse("screening:attrition"), {"team": south.pk})
    assert refused.status_code == 200
    assert "Choose one of the teams listed." in parse(refused.content).text()
    assert not parse(refused.content).select('[data-testid="funnel"]')
    assert client.get(reverse("screening:attrition_csv"), {"team": south.pk}).status_code == 400


def test_a_reader_of_every_screening_may_pick_any_team(big_clinic, auditor):
    _lead, north, south, _expected = big_clinic
    auditor.user_permissions.add(*_permissions("view_attrition"))
    client = signed_in(auditor)
    page = parse(client.get(reverse("screening:attrition")).content)
    assert {"Big North", "Big South"} <= {option.text() for option in page.select("#id_team option")}
    south_page = client.get(reverse("screening:attrition"), {"team": south.pk})
    assert funnel(south_page)[CONDITIONS["trd"]]["Screened"] == "3000"
    assert funnel(south_page)[CONDITIONS["trd"]][STATUS_LABELS["excluded"]] == "3000"


def _permissions(*codenames):
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(content_type__app_label="screening", codename__in=codenames)


@pytest.mark.parametrize("name", ["screening:attrition", "screening:attrition_csv"])
def test_a_clinician_without_the_permission_is_refused_and_it_is_audited(clinician_client, name):
    response = clinician_client.get(reverse(name))
    assert response.status_code == 403
    assert "Criterion attrition is for clinical leads." in parse(response.content).text()
    assert AuditEvent.objects.filter(action=AuditAction.ACCESS_DENIED, object_type="attrition").count() == 1


def test_the_clinical_leads_have_the_permission_and_a_link_to_the_page(lead, clinician):
    assert parse(signed_in(lead).get(reverse("screening:list")).content).select_one(
        f'nav a[href="{reverse("screening:attrition")}"]'
    ) is not None
    assert parse(signed_in(clinician).get(reverse("screening:list")).content).select_one(
        f'nav a[href="{reverse("screening:attrition")}"]'
    ) is None


def test_a_lead_in_no_team_is_told_so(lead_client):
    response = lead_client.get(reverse("screening:attrition"))
    assert response.status_code == 200
    assert parse(response.content).select_one('[data-testid="no-team"]') is not None


def test_viewing_and_downloading_are_audited_with_the_team_and_period(lead, lead_client):
    team = in_team("Audited", lead)
    lead_client.get(reverse("screening:attrition"), {"first": "2026-01-01", "last": "2026-03-31"})
    lead_client.get(reverse("screening:attrition_csv"), {"first": "2026-01-01", "last": "2026-03-31"})
    assert list(
        AuditEvent.objects.filter(object_type="attrition").order_by("id").values_list("action", "object_key", "username")
    ) == [
        (AuditAction.ATTRITION_VIEWED, f"team {team.pk}: 2026-01-01 to 2026-03-31", "lead"),
        (AuditAction.ATTRITION_DOWNLOADED, f"team {team.pk}: 2026-01-01 to 2026-03-31", "lead"),
    ]


# --- what is counted --------------------------------------------------------------------------


@pytest.fixture
def small_team(lead):
    team = in_team("Small", lead)
    clinician = user_in_role("small-clinician", "Clinicians")
    Membership.objects.create(user=clinician, team=team)
    return team, clinician, snapshot_for(current_rulebook())


def test_small_counts_are_shown_only_as_fewer_than_five(small_team, lead_client):
    team, clinician, snapshot = small_team
    bulk_finals(clinician, team, [[("trd", "excluded", ["psychosis-exclude"], "proceed")]] * 3
                + [[("trd", "not_met", [TRIALS], "follow")]] * 6
                + [[("trd", "eligible", ["trd-age"], "follow")]] * 20, snapshot=snapshot)
    page = lead_client.get(reverse("screening:attrition"))
    trd = funnel(page)[CONDITIONS["trd"]]
    assert trd["Screened"] == "29"
    assert trd[STATUS_LABELS["excluded"]] == "<5"
    # 29 - 20 - 0 - 0 would give the 3 away: the smallest other count is not shown either,
    # nor the criterion that decided every one of those.
    assert trd[STATUS_LABELS["not_met"]] == "not shown"
    assert trd[STATUS_LABELS["eligible"]] == "20"
    assert trd[STATUS_LABELS["incomplete"]] == trd[STATUS_LABELS["caution"]] == "0"
    rows = page_rows(page)
    wording = Criterion.objects.get(key=TRIALS).message
    assert ("deciding criterion", CONDITIONS["trd"], STATUS_LABELS["excluded"], "psychosis-exclude", GONE, "",
            "<5") in rows
    assert ("deciding criterion", CONDITIONS["trd"], STATUS_LABELS["not_met"], TRIALS, wording, "", "not shown") in rows
    assert ("deciding criterion", CONDITIONS["trd"], STATUS_LABELS["eligible"], "trd-age", GONE, "", "20") in rows
    assert ("decision against the advice", CONDITIONS["trd"], STATUS_LABELS["excluded"], "", "",
            "Proceed despite the advice", "<5") in rows
    assert "fewer than 5" in parse(page.content).text()
    download = lead_client.get(reverse("screening:attrition_csv"))
    assert csv_rows(download) == rows
    assert not any(row[-1] in {"1", "2", "3", "4", "6"} for row in rows)
    # The chart draws no bar for a hidden count.
    chart = parse(page.content).select_one('[data-testid="funnel-chart"][data-condition="trd"]')
    assert {rect.get("class").split()[-1] for rect in chart.select("rect")} == {"ks-funnel-screened", "ks-funnel-eligible"}


def test_the_period_filter_counts_finals_finalised_within_it(small_team, lead_client):
    team, clinician, snapshot = small_team
    bulk_finals(clinician, team, [[("trd", "eligible", [], "follow")]] * 5, snapshot=snapshot, days_ago=2)
    bulk_finals(clinician, team, [[("trd", "excluded", [], "follow")]] * 7, snapshot=snapshot, days_ago=120)
    # By default the last 90 days.
    assert funnel(lead_client.get(reverse("screening:attrition")))[CONDITIONS["trd"]]["Screened"] == "5"
    today = timezone.localdate()
    old = {"first": (today - datetime.timedelta(days=200)).isoformat(),
           "last": (today - datetime.timedelta(days=100)).isoformat()}
    shown = funnel(lead_client.get(reverse("screening:attrition"), old))[CONDITIONS["trd"]]
    assert (shown["Screened"], shown[STATUS_LABELS["excluded"]]) == ("7", "7")
    both = {"first": old["first"], "last": today.isoformat()}
    assert funnel(lead_client.get(reverse("screening:attrition"), both))[CONDITIONS["trd"]]["Screened"] == "12"
    backwards = lead_client.get(reverse("screening:attrition"), {"first": today.isoformat(), "last": old["last"]})
    assert "The end of the period must not come before its start." in parse(backwards.content).text()
    assert not parse(backwards.content).select('[data-testid="funnel"]')


def test_an_amended_final_counts_once_as_its_newest_version(small_team, lead_client):
    team, clinician, _snapshot = small_team
    for n in range(5):
        first = services.screening_create(
            owner=clinician, patient_reference=f"AM-{n}", year_of_birth=None, conditions=["trd"], answers={"age": 45},
        )
        first = services.screening_finalise(screening=first, user=clinician, reason="Seen in clinic.")
        amendment = services.screening_amend(screening=first, user=clinician, reason="Answers completed.")
        amendment = services.screening_save_answers(screening=amendment, answers=TRD_ELIGIBLE)
        services.screening_finalise(screening=amendment, user=clinician)
    # A draft amendment does not replace its final yet.
    draft_amendment_of = services.screening_finalise(
        screening=services.screening_create(owner=clinician, patient_reference="AM-X", year_of_birth=None,
                                            conditions=["trd"], answers=TRD_ELIGIBLE),
        user=clinician,
    )
    services.screening_amend(screening=draft_amendment_of, user=clinician, reason="Checking.")
    trd = funnel(lead_client.get(reverse("screening:attrition")))[CONDITIONS["trd"]]
    assert trd["Screened"] == "6"
    assert trd[STATUS_LABELS["eligible"]] == "6"
    assert trd[STATUS_LABELS["incomplete"]] == "0"


# --- where the rows come from -----------------------------------------------------------------


def test_finalising_writes_each_conditions_outcome_with_its_deciding_criteria(small_team):
    team, clinician, _snapshot = small_team
    draft = services.screening_create(
        owner=clinician, patient_reference="OUT-1", year_of_birth=None, conditions=["trd", "bipolar-depression"],
        answers=TRD_ELIGIBLE,
    )
    final = services.screening_finalise(
        screening=draft, user=clinician, reason="Bipolar questions to follow.",
        decisions={"trd": services.Override("do_not_proceed", "Patient prefers to wait.")},
    )
    final.refresh_from_db()
    stored = {r["condition"]: r for r in final.result["results"]}
    outcomes = {o.condition: o for o in ConditionOutcome.objects.filter(screening=final)}
    assert set(outcomes) == {"trd", "bipolar-depression"}
    for condition, outcome in outcomes.items():
        assert outcome.status == stored[condition]["status"]
        assert outcome.team_id == team.pk
        assert outcome.finalised_at == final.finalised_at
        assert list(outcome.deciding_criteria.order_by("id").values_list("criterion", flat=True)) == list(
            dict.fromkeys(reason["criterion"] for reason in stored[condition]["reasons"])
        )
    assert outcomes["trd"].status == "eligible" and outcomes["trd"].decision == "do_not_proceed"
    assert outcomes["bipolar-depression"].decision == "follow"
    with pytest.raises(PermissionError):
        outcomes["trd"].save()


def test_a_draft_writes_no_outcome(small_team):
    _team, clinician, _snapshot = small_team
    draft = services.screening_create(owner=clinician, patient_reference="D-1", year_of_birth=None, conditions=["trd"])
    assert not ConditionOutcome.objects.filter(screening=draft).exists()


def test_the_data_migration_fills_the_rows_of_earlier_finals_once(small_team, lead):
    team, clinician, snapshot = small_team
    fill = importlib.import_module("screening.migrations.0022_fill_condition_outcomes").fill_outcomes
    earlier = Screening.objects.bulk_create([
        Screening(owner=clinician, patient_reference=f"OLD-{n}", conditions=["trd"], snapshot=snapshot,
                  rulebook_version=snapshot.version, status=Status.FINAL, finalised_at=timezone.now(),
                  result=result_of([("trd", "not_met", [TRIALS, "trd-age"])]))
        for n in range(5)
    ])
    Screening.objects.bulk_create([  # a draft has none
        Screening(owner=clinician, patient_reference="OLD-D", conditions=["trd"], snapshot=snapshot,
                  rulebook_version=snapshot.version, result=result_of([("trd", "eligible", [])]))
    ])
    from screening.models import AdvisoryOverride

    AdvisoryOverride.objects.create(screening=earlier[0], condition="trd", advisory_status="not_met",
                                    decision="proceed", reason="Specialist advice.", decided_by=clinician)
    fill(django_apps)
    fill(django_apps)  # again: nothing more
    outcomes = ConditionOutcome.objects.filter(screening__in=earlier)
    assert outcomes.count() == ConditionOutcome.objects.filter(team=team).count() == 5
    assert set(outcomes.values_list("status", "team_id")) == {("not_met", team.pk)}
    assert sorted(outcomes.values_list("decision", flat=True)) == ["follow"] * 4 + ["proceed"]
    assert Counter(
        DecidingCriterion.objects.filter(outcome__team=team).values_list("criterion", flat=True)
    ) == {TRIALS: 5, "trd-age": 5}


def test_the_app_role_may_only_add_outcome_rows(small_team):
    from django.conf import settings
    from django.db import DatabaseError, connection, transaction

    if connection.vendor != "postgresql" or not settings.DATABASE_ROLES:
        pytest.skip("the app role is PostgreSQL's, with MIGRATE_DATABASE_URL set")
    team, clinician, snapshot = small_team
    bulk_finals(clinician, team, [[("trd", "eligible", ["trd-age"], "follow")]], snapshot=snapshot)
    for sql in ("UPDATE screening_conditionoutcome SET status = 'excluded'",
                "DELETE FROM screening_conditionoutcome",
                "UPDATE screening_decidingcriterion SET criterion = 'other'",
                "DELETE FROM screening_decidingcriterion",
                "TRUNCATE screening_decidingcriterion"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert ConditionOutcome.objects.filter(team=team, status="eligible").count() == 1
