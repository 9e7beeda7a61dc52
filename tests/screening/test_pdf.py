"""The PDF of the advisory summary: what it says, read back with pypdf; how
a final screening's PDF is stored once and served as stored; who may
download it; the file name; and that rendering fetches nothing."""

import base64
import hashlib
import io
import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from unittest import mock
from urllib.parse import unquote

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import dateformat, timezone
from pypdf import PdfReader

from conditions.models import Criterion, Question
from rulebook.publishing import rulebook_publish
from rulebook.versions import current_rulebook
from screening import pdf, services
from screening.models import AuditAction, AuditEvent, Screening, StoredPdf
from screening.summary import summary_context
from tests.answers import TRD_ELIGIBLE

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("module_knowledge_base"),
]

DISCLAIMER = "KetaScreen gives advisory screening support; it does not replace clinical judgement."


# Every condition of the default knowledge base, answered so that the
# results cover every status, with a safety alert and a caution.
ALL_CONDITIONS = [
    "trd", "ptsd", "anxiety", "chronic-pain", "ocd", "bipolar-depression",
    "alcohol-use-disorder", "other-substance-use-disorder",
]
MIXED_ANSWERS = {
    **TRD_ELIGIBLE, "suicidal_ideation": "active_no_plan", "systolic_bp": 130, "diastolic_bp": 85,
    "failed_antidepressant_trials": 3, "phq9_total": 18,
    "ptsd_diagnosis": True, "pcl5_total": 45, "ptsd_first_line_failed": True,
    "anxiety_disorders": ["gad"], "failed_anxiety_treatments": 2,
    "pain_duration_months": 24, "pain_intensity": 6, "pain_type": "nociceptive",
    "failed_analgesic_classes": 3, "opioid_daily_use": False,
    "ocd_diagnosis": True, "ybocs_total": 10, "ocd_first_line_failed": True,
    "aud_diagnosis": True, "abstinence_goal": True, "sud_substances": ["cocaine"],
    "acute_intoxication_or_withdrawal": True, "psychotherapy_engaged": True,
}


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def ada(clinician):
    clinician.first_name, clinician.last_name = "Ada", "Lovelace"
    clinician.save()
    return clinician


def draft_for(user, conditions=("trd",), reference="A-1027", answers=None, year_of_birth=1980):
    return services.screening_create(
        owner=user, patient_reference=reference, year_of_birth=year_of_birth,
        conditions=list(conditions), answers=answers,
    )


def final_for(user, **kwargs):
    screening = draft_for(user, answers=kwargs.pop("answers", TRD_ELIGIBLE), **kwargs)
    return services.screening_finalise(screening=screening, user=user)


def download(client, screening):
    response = client.get(reverse("screening:pdf", args=[screening.pk]))
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment; ")
    return response.content


def running_text(screening):
    """What every page repeats around its content: header, footer, watermark."""
    return [
        "KetaScreen · advisory screening summary", f"Patient {screening.patient_reference}",
        DISCLAIMER, "DRAFT — not finalised", "DRAFT — notfinalised",
    ]


def pages(content):
    """Each page's text with whitespace collapsed, and a word broken after
    its hyphen at a line end joined up again ("treatment- resistant")."""
    return [
        re.sub(r"(?<=\w-) (?=\w)", "", " ".join(page.extract_text().split()))
        for page in PdfReader(io.BytesIO(content)).pages
    ]


def body_text(content, screening):
    """The document's words without what each page repeats, so that a
    paragraph running over a page break reads as one."""
    text = []
    for page in pages(content):
        for repeated in running_text(screening):
            page = page.replace(repeated, " ")
        text.append(re.sub(r"Page \d+ of \d+", " ", page))
    return " ".join(" ".join(text).split())


def local_date(value, format_):
    return dateformat.format(timezone.localtime(value), format_)


# --- what the PDF says ---------------------------------------------------------


def test_draft_pdf_of_every_condition_holds_the_whole_summary_over_several_pages(client, ada):
    screening = draft_for(ada, conditions=ALL_CONDITIONS, answers=MIXED_ANSWERS)
    client.force_login(ada)
    content = download(client, screening)

    every_page = pages(content)
    assert len(every_page) >= 3
    for number, page in enumerate(every_page, start=1):
        assert f"Page {number} of {len(every_page)}" in page
        assert "DRAFT" in page
        assert DISCLAIMER in page
        assert "Patient A-1027" in page

    text = body_text(content, screening)
    assert "Patient reference A-1027" in text
    assert "Year of birth 1980" in text
    assert "Clinician Ada Lovelace" in text
    assert f"Screening date {local_date(screening.created_at, 'j F Y')}" in text
    assert "Status Draft, not finalised" in text
    assert f"Rules version 1 ({screening.rulebook_version[:7]}): the criteria" in text

    context = summary_context(screening)
    statuses = {card.status for card in context["results"]}
    # Third edition (issue 24; Spravato label boxed warning): with active suicidal thoughts no
    # condition reads eligible, so these answers show every other status.
    assert statuses == {"caution", "incomplete", "not_met", "excluded"}
    for card in context["results"]:
        assert f"{card.name} {card.status_label}" in text
        for reason in card.reasons:
            assert f"{reason.outcome}: {reason.message}" in text
        for caution in card.cautions:
            assert caution.message in text
    assert "Active suicidal thoughts reported: complete a structured risk assessment" in text
    assert text.index("Safety alert") < text.index("Treatment-resistant depression Eligible with cautions")

    rulebook = current_rulebook()
    squeezed = "".join(text.split())
    assert context["references"]
    for row in context["references"]:
        reference = rulebook.reference[row.key]
        assert f"{row.number}. {reference.authors}" in text
        assert reference.title.rstrip(".") in text
        if reference.doi:
            assert f"doi:{reference.doi}" in squeezed

    for row in (
        "Age 45 years", "Resting systolic blood pressure 130 mmHg", "Diagnosis of alcohol use disorder Yes",
        "Takes opioid medicines every day No", "Substances in the use disorder being treated Cocaine",
        "Anxiety disorders diagnosed Generalised anxiety disorder",
        "Current suicidal thoughts Active thoughts without plan or intent",
    ):
        assert row in text


def test_final_pdf_says_who_finalised_it_and_carries_no_draft_mark(client, ada):
    screening = final_for(ada)
    client.force_login(ada)
    content = download(client, screening)
    text = " ".join(pages(content))
    finalised = local_date(screening.finalised_at, "j F Y, H:i")
    assert f"Status Final: finalised {finalised} by Ada Lovelace" in text
    assert "DRAFT" not in text and "not finalised" not in text
    assert "Treatment-resistant depression Meets screening criteria" in text
    assert "Requirement met: Requires a current unipolar major depressive episode." in text
    assert DISCLAIMER in text


def test_a_draft_without_answers_says_so(client, clinician):
    screening = draft_for(clinician, year_of_birth=None)
    client.force_login(clinician)
    text = " ".join(pages(download(client, screening)))
    assert "Year of birth Not recorded" in text
    assert "Clinician clinician" in text
    assert "No answers have been recorded yet." in text
    assert "Treatment-resistant depression Incomplete" in text
    assert "Still to answer" in text and "PHQ-9 total score" in text


def test_pdf_of_an_amendment_names_the_screening_it_amends(client, clinician):
    original = final_for(clinician)
    amendment = services.screening_amend(screening=original, user=clinician, reason="A correction.")
    client.force_login(clinician)
    text = " ".join(pages(download(client, amendment)))
    assert f"Amends the final screening of {local_date(original.created_at, 'j F Y, H:i')}" in text


def test_pdf_keeps_the_wording_the_screening_was_evaluated_with(client, clinician):
    screening = draft_for(clinician, answers=TRD_ELIGIBLE)
    criterion = Criterion.objects.get(key="trd-mdd-current-require")
    criterion.message = "Needs a current depressive episode (reworded by the clinical lead)."
    criterion.save()
    client.force_login(clinician)
    text = " ".join(pages(download(client, screening)))
    assert "Requires a current unipolar major depressive episode." in text
    assert "reworded by the clinical lead" not in text


def test_markup_typed_into_the_knowledge_base_or_a_reference_is_printed_as_typed(client, clinician):
    criterion = Criterion.objects.get(key="trd-mdd-current-require")
    criterion.message = 'Requires a <b>current</b> episode & "no" <script>document.write("gone")</script>.'
    criterion.save()
    question = Question.objects.get(code="mdd_current")
    question.text = "Current <i>major</i> depressive episode"
    question.save()
    rulebook_publish(note="Markup typed by a lead.")
    screening = draft_for(clinician, answers=TRD_ELIGIBLE)
    Screening.objects.filter(pk=screening.pk).update(patient_reference="<b>x</b>")
    client.force_login(clinician)
    response = client.get(reverse("screening:pdf", args=[screening.pk]))
    text = " ".join(pages(response.content))
    assert 'Requires a <b>current</b> episode & "no" <script>document.write("gone")</script>.' in text
    assert "Question: Current <i>major</i> depressive episode" in text
    assert "Patient reference <b>x</b>" in text
    assert 'filename="ketascreen-b-x-b-' in response["Content-Disposition"]


# --- stored once, served as stored ------------------------------------------------


def test_a_final_pdf_is_rendered_once_stored_and_served_byte_identical(client, clinician, media_root):
    screening = final_for(clinician)
    client.force_login(clinician)
    with mock.patch.object(pdf, "render_pdf", wraps=pdf.render_pdf) as render:
        first = download(client, screening)
        second = download(client, screening)
    assert first == second
    assert render.call_count == 1
    stored = StoredPdf.objects.get(screening=screening)
    assert stored.sha256 == hashlib.sha256(first).hexdigest() and stored.size == len(first)
    files = list(media_root.rglob("*.pdf"))
    assert [path.read_bytes() for path in files] == [first]
    assert "A-1027" not in files[0].name


def test_a_stored_pdf_stays_as_it_was_when_the_clinicians_name_changes(client, ada):
    screening = final_for(ada)
    client.force_login(ada)
    first = download(client, screening)
    ada.first_name = "Augusta"
    ada.save()
    assert download(client, screening) == first
    assert "Ada Lovelace" in " ".join(pages(first))


def test_a_draft_pdf_follows_the_answers_and_is_never_stored(client, clinician, media_root):
    screening = draft_for(clinician, answers=TRD_ELIGIBLE)
    client.force_login(clinician)
    with mock.patch.object(pdf, "render_pdf", wraps=pdf.render_pdf) as render:
        before = " ".join(pages(download(client, screening)))
        services.screening_save_answers(screening=screening, answers={**TRD_ELIGIBLE, "raised_icp": True})
        after = " ".join(pages(download(client, screening)))
    assert render.call_count == 2
    assert "Treatment-resistant depression Meets screening criteria" in before
    assert "Treatment-resistant depression Not advised: exclusion present" in after
    assert not StoredPdf.objects.exists()
    assert not list(media_root.rglob("*"))


def test_when_another_download_stores_the_pdf_first_its_file_is_the_only_one_kept(clinician, media_root):
    screening = final_for(clinician)
    theirs = b"%PDF-1.7 the other download's copy"
    render_pdf = pdf.render_pdf

    def render_while_another_download_stores_its_copy(screening):
        name = default_storage.save(f"screening-pdfs/{screening.pk}-theirs.pdf", ContentFile(theirs))
        StoredPdf.objects.create(
            screening=screening, file=name, sha256=hashlib.sha256(theirs).hexdigest(), size=len(theirs)
        )
        return render_pdf(screening)

    with mock.patch.object(pdf, "render_pdf", side_effect=render_while_another_download_stores_its_copy):
        assert pdf.pdf_bytes(screening) == theirs
    assert StoredPdf.objects.count() == 1
    assert [path.read_bytes() for path in media_root.rglob("*.pdf")] == [theirs]


def test_a_stored_pdf_whose_bytes_changed_is_refused_not_served(clinician, media_root):
    screening = final_for(clinician)
    stored = pdf.stored_pdf(screening)
    path = media_root / stored.file.name
    path.write_bytes(path.read_bytes()[:-16] + b"%%EOF tampered\n")
    with pytest.raises(pdf.StoredPdfError, match="does not match"):
        pdf.pdf_bytes(screening)


def test_a_stored_pdf_cannot_be_changed_or_deleted(clinician):
    stored = pdf.stored_pdf(final_for(clinician))
    stored.sha256 = "0" * 64
    with pytest.raises(PermissionError):
        stored.save()
    with pytest.raises(PermissionError):
        stored.delete()
    with pytest.raises(PermissionError):
        StoredPdf.objects.filter(pk=stored.pk).update(sha256="0" * 64)
    with pytest.raises(PermissionError):
        StoredPdf.objects.filter(pk=stored.pk).delete()


def test_on_postgresql_the_database_refuses_to_change_or_delete_a_stored_pdf(clinician):
    if connection.vendor != "postgresql":
        pytest.skip("the database guard is PostgreSQL's; other databases rely on the model")
    stored = pdf.stored_pdf(final_for(clinician))
    # The ORM refuses first (AppendOnlyModel); raw SQL reaches the trigger.
    table = StoredPdf._meta.db_table
    for sql in (f"UPDATE {table} SET sha256 = 'x' WHERE id = %s", f"DELETE FROM {table} WHERE id = %s"):
        # refused by the app role's privileges when it has its own role, else by the trigger
        with pytest.raises(DatabaseError, match="part of the record|permission denied"), \
                transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [stored.pk])
    assert StoredPdf.objects.get(pk=stored.pk).sha256 == stored.sha256


# --- who may download it, and the record of it ------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client, clinician):
    url = reverse("screening:pdf", args=[final_for(clinician).pk])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


def test_another_clinicians_pdf_does_not_exist_nothing_is_stored_and_the_refusal_is_audited(
    clinician_client, other_clinician
):
    screening = final_for(other_clinician)
    assert clinician_client.get(reverse("screening:pdf", args=[screening.pk])).status_code == 404
    assert not StoredPdf.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.PDF_DOWNLOADED).exists()
    refusals = AuditEvent.objects.filter(action=AuditAction.ACCESS_DENIED)
    assert list(refusals.values_list("username", "object_key")) == [("clinician", str(screening.pk))]


def test_view_all_permission_may_download_another_clinicians_pdf(client, auditor, other_clinician):
    screening = draft_for(other_clinician, answers=TRD_ELIGIBLE)
    client.force_login(auditor)
    assert "A-1027" in " ".join(pages(download(client, screening)))


def test_the_pdf_is_downloaded_with_get_only(clinician_client, clinician):
    screening = draft_for(clinician)
    assert clinician_client.post(reverse("screening:pdf", args=[screening.pk])).status_code == 405


def test_every_download_is_audited_with_who_downloaded_it(client, clinician, auditor):
    screening = final_for(clinician)
    client.force_login(clinician)
    download(client, screening)
    download(client, screening)
    client.force_login(auditor)
    download(client, screening)
    events = AuditEvent.objects.filter(screening=screening, action=AuditAction.PDF_DOWNLOADED)
    assert sorted(events.values_list("username", "patient_reference")) == [
        ("auditor", "A-1027"), ("clinician", "A-1027"), ("clinician", "A-1027"),
    ]


def test_the_pdf_is_not_kept_in_caches(clinician_client, clinician):
    response = clinician_client.get(reverse("screening:pdf", args=[draft_for(clinician).pk]))
    assert set(response["Cache-Control"].split(", ")) == {"private", "no-store"}


def test_downloading_a_stored_pdf_makes_a_fixed_number_of_queries(
    clinician_client, clinician, django_assert_num_queries
):
    screening = final_for(clinician)
    pdf.stored_pdf(screening)
    with django_assert_num_queries(6):
        # 1. the session, and the signed-in user with it
        # 2. the screening without its stored result and snapshot, which a stored PDF does not need
        # 3. its stored PDF
        # 4. the audit chain's head, locked FOR UPDATE
        # 6. INSERT the audit event "PDF downloaded", chained to the head's hash
        # 7. UPDATE the head to this event
        response = clinician_client.get(reverse("screening:pdf", args=[screening.pk]))
    assert response.status_code == 200


def test_downloading_a_draft_pdf_makes_a_fixed_number_of_queries(
    clinician_client, clinician, django_assert_num_queries
):
    screening = draft_for(clinician, conditions=ALL_CONDITIONS, answers=MIXED_ANSWERS)
    with django_assert_num_queries(7):
        # 1. the session, and the signed-in user with it
        # 2. the screening without its stored result and snapshot (all a stored PDF needs)
        # 3. a draft's is rendered: the screening with its result, snapshot, owner, finaliser
        #    and amended screening
        # 4. the number its rules version was published as ("Rules version 1 (…)"), cached for good once read
        # 5. the audit chain's head, locked FOR UPDATE
        # 6. INSERT the audit event "PDF downloaded", chained to the head's hash
        # 7. UPDATE the head to this event
        response = clinician_client.get(reverse("screening:pdf", args=[screening.pk]))
    assert response.status_code == 200


# --- the file name ------------------------------------------------------------------


def disposition(header):
    """(filename, filename* decoded or None) from a Content-Disposition header."""
    plain = re.search(r'filename="([^"]*)"', header).group(1)
    extended = re.search(r"filename\*=UTF-8''([^;\s]+)", header)
    return plain, unquote(extended.group(1)) if extended else None


@pytest.mark.parametrize("reference, name, unicode_name", [
    ("A-1027", "A-1027", None),
    ("NHS 943/476#5919", "NHS-943-476-5919", None),
    ("clinic:ward.7/_bed_", "clinic-ward-7-_bed_", None),
    ('say "hi"; filename=evil.exe', "say-hi-filename-evil-exe", None),
    ("../../etc/passwd", "etc-passwd", None),
    ("Müller-Ödegaard", "Muller-Odegaard", "Müller-Ödegaard"),
    ("患者-42", "42", "患者-42"),
    ("患者", "", "患者"),
    ("\u202egpj.exe", "gpj-exe", None),
    ("line\r\nbreak", "line-break", None),
])
def test_the_file_name_is_safe_whatever_the_patient_reference(clinician, reference, name, unicode_name):
    screening = draft_for(clinician)
    Screening.objects.filter(pk=screening.pk).update(patient_reference=reference)
    screening.refresh_from_db()
    day = timezone.localdate(screening.created_at).isoformat()
    plain, extended = disposition(pdf.content_disposition(screening))
    expected = f"ketascreen-{name or f'screening-{screening.pk}'}-draft-{day}.pdf"
    assert plain == expected
    assert re.fullmatch(r"ketascreen-[A-Za-z0-9_-]+-draft-\d{4}-\d{2}-\d{2}\.pdf", plain)
    assert extended == (f"ketascreen-{unicode_name}-draft-{day}.pdf" if unicode_name else None)


def test_the_download_is_named_after_the_patient_reference_and_screening_date(clinician_client, clinician):
    screening = draft_for(clinician, reference="A-10/27")
    response = clinician_client.get(reverse("screening:pdf", args=[screening.pk]))
    day = timezone.localdate(screening.created_at).isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="ketascreen-A-10-27-draft-{day}.pdf"'


# --- how it is laid out and what rendering may touch ---------------------------------


def page_of(document, anchor):
    return next(number for number, page in enumerate(document.pages) if anchor in page.anchors)


def laid_out_below(filler_mm, html):
    return pdf.layout(f'<div style="height: {filler_mm}mm"></div>{html}')


@pytest.mark.parametrize("filler_mm", range(220, 256, 3))
def test_page_breaks_never_strand_a_heading_nor_split_a_card_or_a_table_row(filler_mm):
    """Pushes each piece down the first page, 3 mm at a time, past its foot
    (the page holds 255 mm): wherever the page ends, a heading shares its
    page with what follows it, and a card or a row shorter than a page
    stays whole."""
    items = "".join(f"<li>Criterion message {n}, long enough to take a whole line of the page.</li>" for n in range(6))
    card = laid_out_below(filler_mm, f"""
        <section class="condition"><h2 id="start">Chronic pain</h2><p class="status">Incomplete</p>
        <h3>What decided this</h3><ul>{items}</ul><p id="end">Guidance.</p></section>""")
    assert page_of(card, "start") == page_of(card, "end")

    heading = laid_out_below(filler_mm, f"""
        <h2 id="h2">References</h2><h3 id="h3">What decided this</h3><ul><li id="next">First</li>{items}</ul>""")
    assert page_of(heading, "h2") == page_of(heading, "h3") == page_of(heading, "next")

    table = laid_out_below(filler_mm, f"""
        <h2 id="heading">Answers recorded</h2>
        <table class="answers"><thead><tr><th>Question</th><th>Answer</th></tr></thead><tbody>
        <tr><td><span id="row">{"A long question that wraps over several lines. " * 6}</span>
        <span id="row-end">End.</span></td><td>Yes</td></tr></tbody></table>""")
    assert page_of(table, "heading") == page_of(table, "row") == page_of(table, "row-end")


class _CountingHandler(BaseHTTPRequestHandler):
    requests = []

    def do_GET(self):
        self.requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.end_headers()
        self.wfile.write(b"p { color: red }")

    def log_message(self, *args):
        pass


PIXEL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def test_rendering_fetches_nothing_over_http_nor_from_local_files(tmp_path):
    server = HTTPServer(("127.0.0.1", 0), _CountingHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    image = tmp_path / "pixel.png"
    image.write_bytes(base64.b64decode(PIXEL.split(",", 1)[1]))
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        content = pdf.html_to_pdf(f"""
            <link rel="stylesheet" href="{url}/static/css/ketascreen.css">
            <style>@import url("{url}/import.css"); @font-face {{ font-family: X; src: url("{url}/x.woff") }}</style>
            <img src="{url}/logo.png"><img src="https://127.0.0.1:{server.server_port}/s.png">
            <img src="{image.as_uri()}"><img src="relative.png"><img src="{PIXEL}">
            <p>Still renders.</p>
        """)
    finally:
        server.shutdown()
        server.server_close()
    assert _CountingHandler.requests == []
    page = PdfReader(io.BytesIO(content)).pages[0]
    assert "Still renders." in page.extract_text()
    assert len(page.images) == 1, "only the data: image is drawn"
