"""How fast the PDF export is: a final screening of all 8 conditions
rendered to PDF by our code (context, template, WeasyPrint) against
WeasyPrint alone rendering the same HTML with the same parsed stylesheet;
then downloads of the stored PDF through the test client.

Target: our render / WeasyPrint alone <= 1.2 (medians), i.e. our code adds
little to the renderer. Run with `make bench` or `.venv/bin/python -m bench.pdf`.
"""

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time

from bench._django import setup_with_knowledge_base
from bench.report import write_result

TARGET_RATIO = 1.2

# Answers that bring every status, a safety alert and a caution.
ANSWERS = {
    "age": 45, "pregnant": False, "breastfeeding": False,
    "pregnancy_possible_without_contraception": False, "psychosis_history": False,
    "bipolar_history": False, "suicidal_ideation": "active_no_plan", "systolic_bp": 130,
    "diastolic_bp": 85, "vascular_contraindication": False, "raised_icp": False,
    "unstable_cardiac": False, "ketamine_misuse_history": False, "hepatic_impairment": "none",
    "current_other_sud": False, "interacting_medicines": ["none"], "mdd_current": True,
    "failed_antidepressant_trials": 3, "phq9_total": 18, "ptsd_diagnosis": True, "pcl5_total": 45,
    "ptsd_first_line_failed": True, "anxiety_disorders": ["gad"], "failed_anxiety_treatments": 2,
    "pain_duration_months": 24, "pain_intensity": 6, "pain_type": "nociceptive",
    "failed_analgesic_classes": 3, "opioid_daily_use": False, "ocd_diagnosis": True,
    "ybocs_total": 10, "ocd_first_line_failed": True, "aud_diagnosis": True, "abstinence_goal": True,
    "sud_substances": ["cocaine"], "acute_intoxication_or_withdrawal": True,
    "psychotherapy_engaged": True,
}


def final_screening():
    from django.contrib.auth import get_user_model

    from rulebook.versions import current_rulebook
    from screening import selectors, services

    user = get_user_model().objects.create_user("bench", first_name="Bench", last_name="Clinician")
    draft = services.screening_create(
        owner=user, patient_reference="BENCH-1", year_of_birth=1980,
        conditions=[c.slug for c in current_rulebook().conditions], answers=ANSWERS,
    )
    services.screening_finalise(screening=draft, user=user, reason="Benchmark: finalised as it stands.")
    return user, selectors.screening_detail(draft.pk)


def timed_medians(first, second, repeats):
    """Median time of each over `repeats` runs, alternating which goes first
    (A B, B A, ...): on a shared machine both then meet the same noise."""
    times = {first: [], second: []}
    for repeat in range(repeats):
        for function in (first, second) if repeat % 2 == 0 else (second, first):
            start = time.perf_counter()
            function()
            times[function].append(time.perf_counter() - start)
    return statistics.median(times[first]), statistics.median(times[second])


def download_rate(user, screening, seconds):
    """Requests per second for the stored PDF through the test client (the
    whole Django stack but the network), over about `seconds`."""
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(user)
    url = reverse("screening:pdf", args=[screening.pk])
    first = client.get(url)
    assert first.status_code == 200, first.status_code
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        response = client.get(url)
        assert response.content == first.content
        count += 1
    return count / (time.perf_counter() - start), len(first.content)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--renders", type=int, default=20)
    parser.add_argument("--download-seconds", type=float, default=5.0)
    # `make bench` hands every benchmark the same BENCH_ARGS; ignore the others'.
    args, _ = parser.parse_known_args()

    os.environ["MEDIA_ROOT"] = tempfile.mkdtemp(prefix="ketascreen-bench-media-")
    setup_with_knowledge_base()
    logging.getLogger().setLevel(logging.WARNING)  # not a line per render, sign-in and download
    from django.test.utils import setup_test_environment
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    from screening import pdf

    setup_test_environment()  # the test client's host name is allowed
    user, screening = final_screening()
    html = pdf.render_html(screening)
    fonts = FontConfiguration()
    stylesheet = CSS(filename=pdf.STYLESHEET, font_config=fonts)
    pages = len(pdf.layout(html).pages)  # also warms both: fonts, stylesheet, templates

    def ours():
        pdf.render_pdf(screening)

    def weasyprint_alone():
        HTML(string=html).write_pdf(stylesheets=[stylesheet], font_config=fonts)

    weasyprint_alone()
    ours_seconds, alone_seconds = timed_medians(ours, weasyprint_alone, args.renders)
    ratio = ours_seconds / alone_seconds
    rate, size = download_rate(user, screening, args.download_seconds)

    statuses = sorted({result["status"] for result in screening.result["results"]})
    print(f"final screening: {len(screening.conditions)} conditions ({', '.join(statuses)}), "
          f"{screening.alert_count} alert, {pages} pages")
    print(f"our render (context, template, WeasyPrint): {ours_seconds * 1000:,.0f} ms "
          f"(median of {args.renders})")
    print(f"WeasyPrint alone, same HTML and stylesheet: {alone_seconds * 1000:,.0f} ms")
    print(f"ratio ours / WeasyPrint alone: {ratio:.2f} (target <= {TARGET_RATIO})")
    print(f"stored PDF downloads through the test client: {rate:,.0f} requests/s ({size / 1024:,.0f} KiB each)")
    write_result("pdf", {"ratio": ratio, "target": TARGET_RATIO})
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
