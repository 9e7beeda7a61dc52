"""A patient's history (/patients/<reference>/): the clinician's own
screenings of one patient (everyone's for a reader of every screening),
their instrument totals charted over time and in a table, and nothing
about patients they may not see."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from screening import services
from screening.models import AuditAction, AuditEvent, Screening
from tests.answers import TRD_ELIGIBLE
from tests.markup import parse

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("module_knowledge_base"),
]


def screen(user, reference="P-100", answers=None, conditions=("trd",), days_ago=0):
    screening = services.screening_create(
        owner=user, patient_reference=reference, year_of_birth=None, conditions=list(conditions),
        answers={**TRD_ELIGIBLE, **(answers or {})},
    )
    if days_ago:
        Screening.objects.filter(pk=screening.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return screening


def history(client, reference="P-100"):
    return client.get(reverse("screening:patient", args=[reference]))


def screenings_table(response):
    """The page's first table: its caption, its column headers, and each row
    of cells (a row's own header cell too) as words."""
    table = parse(response.content).select_one("table")
    rows = [[cell.text() for cell in row.select("td, th:not([scope=col])")] for row in table.select("tr")]
    return {
        "caption": table.select_one("caption").text(),
        "headers": [header.text() for header in table.select("th[scope=col]")],
        "rows": [row for row in rows if row],
    }


def chart(response):
    """The page's one chart, an SVG image."""
    (svg,) = parse(response.content).select("svg")
    return svg


def test_a_patients_history_lists_the_clinicians_screenings_with_their_totals(clinician_client, clinician):
    older = screen(clinician, answers={"phq9_total": 18}, days_ago=60)
    newer = screen(clinician, answers={"phq9_total": 9}, days_ago=3)
    elsewhere = screen(clinician, reference="P-999", answers={"phq9_total": 27})

    response = history(clinician_client)

    assert response.status_code == 200
    table = screenings_table(response)
    assert "2 screenings of P-100, newest first" in table["caption"]
    assert table["headers"][:3] == ["Screening", "Started", "PHQ-9"]
    first, second = table["rows"]
    assert first[0] == f"#{newer.pk}" and first[2] == "9 Mild (total entered)"
    assert second[0] == f"#{older.pk}" and second[2] == "18 Moderately severe (total entered)"
    assert f"#{elsewhere.pk}" not in response.content.decode()


def test_the_chart_is_an_image_with_a_title_and_a_description(clinician_client, clinician):
    screen(clinician, answers={"phq9_total": 18}, days_ago=60)
    screen(clinician, answers={"phq9_total": 9}, days_ago=3)

    svg = chart(history(clinician_client))

    assert svg.get("role") == "img"
    title_id, description_id = svg.get("aria-labelledby").split()
    title, description = svg.select_one(f"title#{title_id}"), svg.select_one(f"desc#{description_id}")
    assert "PHQ-9" in title.text()
    assert "2 totals" in description.text() and "the latest is 9" in description.text()
    assert len(svg.select("circle")) == 2
    assert svg.select_one("polyline")


def test_an_older_total_is_charted_to_the_left_and_a_higher_one_higher(clinician_client, clinician):
    screen(clinician, answers={"phq9_total": 18}, days_ago=60)
    screen(clinician, answers={"phq9_total": 9}, days_ago=3)

    svg = chart(history(clinician_client))

    (x1, y1), (x2, y2) = [(float(point.get("cx")), float(point.get("cy"))) for point in svg.select("circle")]
    assert x1 < x2  # time runs left to right
    assert y1 < y2  # 18 is drawn above 9: SVG's y grows downwards


def test_a_total_worked_out_from_the_items_is_not_marked_entered(clinician_client, clinician):
    items = dict(zip([f"phq9_{n}" for n in range(1, 10)], [3, 3, 2, 2, 2, 2, 1, 2, 0], strict=True))
    answers = {code: value for code, value in TRD_ELIGIBLE.items() if code != "phq9_total"}
    services.screening_create(
        owner=clinician, patient_reference="P-100", year_of_birth=None, conditions=["trd"], answers={**answers, **items},
    )

    row = screenings_table(history(clinician_client))["rows"][0]

    assert row[2] == "17 Moderately severe"


def test_the_bands_are_shaded_behind_the_totals_and_named_beside_the_chart(clinician_client, clinician):
    screen(clinician, answers={"phq9_total": 12})

    response = history(clinician_client)

    bands = [band.get("data-band") for band in chart(response).select("[data-band]")]
    assert bands == ["Minimal", "Mild", "Moderate", "Moderately severe", "Severe"]
    legend = [item.text() for item in parse(response.content).select("ul.ks-chart-legend li")]
    assert "20–27: Severe" in legend and "0–4: Minimal" in legend


def test_without_instruments_in_the_newest_screenings_rules_the_totals_have_no_bands(clinician_client, clinician):
    from dataclasses import replace

    from rulebook.versions import current_rulebook, snapshot_for

    screening = screen(clinician, answers={"phq9_total": 12})
    first_edition = replace(current_rulebook(), instruments=())
    snapshot = snapshot_for(first_edition)
    Screening.objects.filter(pk=screening.pk).update(snapshot=snapshot, rulebook_version=snapshot.version)

    response = history(clinician_client)

    assert screenings_table(response)["rows"][0][2] == "12 (total entered)"
    assert "data-band" not in response.content.decode()


def test_only_totals_that_were_recorded_get_a_column(clinician_client, clinician):
    screen(clinician, answers={"phq9_total": 12})

    table = screenings_table(history(clinician_client))

    assert "PHQ-9" in table["headers"]
    assert "GAD-7" not in table["headers"] and "PCL-5" not in table["headers"]


def test_a_patient_without_any_total_has_a_table_and_no_chart(clinician_client, clinician):
    services.screening_create(
        owner=clinician, patient_reference="P-100", year_of_birth=None, conditions=["trd"], answers={"age": 40},
    )
    response = history(clinician_client)
    assert response.status_code == 200
    page = response.content.decode()
    assert "<svg" not in page
    assert "None of these screenings recorded" in page
    assert len(screenings_table(response)["rows"]) == 1


def test_another_clinicians_patient_does_not_exist_and_the_refusal_is_audited(
    clinician_client, clinician, other_clinician
):
    screen(other_clinician)
    response = history(clinician_client)
    assert response.status_code == 404
    assert "P-100" not in response.content.decode()
    refusal = AuditEvent.objects.get(action=AuditAction.ACCESS_DENIED)
    assert (refusal.username, refusal.object_type, refusal.object_key) == ("clinician", "patient", "P-100")


def test_a_clinician_sees_only_their_own_screenings_of_a_shared_patient(clinician_client, clinician, other_clinician):
    mine = screen(clinician, answers={"phq9_total": 12})
    screen(other_clinician, answers={"phq9_total": 25})

    table = screenings_table(history(clinician_client))

    assert [row[0] for row in table["rows"]] == [f"#{mine.pk}"]
    assert "Clinician" not in table["headers"]


def test_a_reader_of_every_screening_sees_every_clinicians_with_their_names(
    client, auditor, clinician, other_clinician
):
    screen(clinician, answers={"phq9_total": 12}, days_ago=10)
    screen(other_clinician, answers={"phq9_total": 25})
    client.force_login(auditor)

    table = screenings_table(history(client))

    assert "Clinician" in table["headers"]
    names = [row[table["headers"].index("Clinician")] for row in table["rows"]]
    assert names == ["other-clinician", "clinician"]


def test_discarded_drafts_are_left_out_and_replaced_ones_say_so(clinician_client, clinician):
    discarded = screen(clinician, answers={"phq9_total": 20}, days_ago=30)
    services.screening_discard(screening=discarded)
    final = services.screening_finalise(screening=screen(clinician, answers={"phq9_total": 14}, days_ago=5), user=clinician)
    amendment = services.screening_amend(screening=final, user=clinician, reason="A correction.")

    response = history(clinician_client)

    rows = screenings_table(response)["rows"]
    assert [row[0] for row in rows] == [f"#{amendment.pk}", f"#{final.pk}"]
    assert f"Replaced by #{amendment.pk}" in rows[1][-1]
    # The chart shows the amendment's total, not the replaced one as well.
    assert len(chart(response).select("circle")) == 1


def test_only_discarded_drafts_is_no_history(clinician_client, clinician):
    services.screening_discard(screening=screen(clinician))
    assert history(clinician_client).status_code == 404


def test_viewing_a_history_is_audited_with_the_patient(clinician_client, clinician):
    newest = screen(clinician)
    history(clinician_client)
    event = AuditEvent.objects.get(action=AuditAction.PATIENT_VIEWED)
    assert (event.username, event.patient_reference, event.object_key, event.screening_id) == (
        "clinician", "P-100", "P-100", newest.pk,
    )


def test_no_browser_or_proxy_keeps_a_copy(clinician_client, clinician):
    screen(clinician)
    directives = {part.strip() for part in history(clinician_client)["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= directives


def test_anonymous_visitors_are_sent_to_sign_in(client, clinician):
    screen(clinician)
    response = history(client)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("reference", ["A/12:3#4", "x.y_z-1"])
def test_a_reference_with_any_allowed_character_has_its_history(clinician_client, clinician, reference):
    screen(clinician, reference=reference)
    url = reverse("screening:patient", args=[reference])
    assert "%23" in url or "#" not in reference
    response = clinician_client.get(url)
    assert response.status_code == 200
    assert reference in response.content.decode()


@pytest.mark.parametrize("reference", [
    "..", "a b", "<script>", "Jane Doe", "x" * 5000, "%00", "A-1027%0A", "é", "A-1027/../B",
])
def test_a_junk_reference_is_simply_not_found(clinician_client, clinician, reference):
    screen(clinician, reference="A-1027")
    response = clinician_client.get("/patients/" + reference + "/")
    assert response.status_code == 404
    # Refusals are audited (a newline never reaches the page: no URL matches it), in printable words.
    refusals = list(AuditEvent.objects.filter(action=AuditAction.ACCESS_DENIED))
    assert len(refusals) == (0 if "%0A" in reference else 1)
    assert all(refusal.object_key.isprintable() for refusal in refusals)


def test_the_summary_links_to_the_patients_history(clinician_client, clinician):
    screening = screen(clinician, reference="A/12#3")
    page = parse(clinician_client.get(reverse("screening:summary", args=[screening.pk])).content)
    link = reverse("screening:patient", args=["A/12#3"])
    assert page.select_one(f'a[href="{link}"]')
    assert clinician_client.get(link).status_code == 200


def test_a_history_is_read_only(clinician_client, clinician):
    screen(clinician)
    assert clinician_client.post(reverse("screening:patient", args=["P-100"])).status_code == 405


@pytest.mark.parametrize("count", [1, 12])
def test_a_history_makes_the_same_queries_however_many_screenings(
    clinician, client, assert_queries, count
):
    for n in range(count):
        screen(clinician, answers={"phq9_total": n % 28}, days_ago=count - n)
    client.force_login(clinician)
    history(client)  # the rulebook of the newest snapshot is now in the cache, as after any earlier page
    with assert_queries(7):
        # 1. the signed-in user
        # 2-3. may they view every screening? their own permissions, then their groups'
        # 4. the patient's screenings: the columns shown, the owner's names, the snapshot's version,
        #    the calculated values of the stored result, and the amendment replacing each
        # 5. the audit chain's head, locked FOR UPDATE
        # 6. INSERT the audit event "patient history viewed", chained to the head's hash
        # 7. UPDATE the head to this event
        response = history(client)
    assert response.status_code == 200
    assert len(screenings_table(response)["rows"]) == count
