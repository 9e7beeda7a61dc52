"""`manage.py preview_rulebook [--json] [--limit N]`: what publishing the working copy would change.

The JSON format is documented in docs/rulebook-versions.md.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from rulebook.publishing import Preview, rulebook_preview


def write_summary(out, preview: Preview):
    """The preview as lines a clinical lead reads."""
    published = preview.published or "nothing published yet"
    out.write(f"Published: {published}. Working copy: {preview.working}.")
    out.write(
        f"Compared on {preview.screenings} final screening(s) and {preview.cases} library case(s)."
    )
    if not preview.changes:
        out.write("No result would change.")
    for change in preview.changes:
        where = f"screening {change.screening}" if change.screening is not None else f"case “{change.case}”"
        criteria = ", ".join(change.criteria) or "no single criterion"
        out.write(f"  {where}, {change.condition}: {change.before} → {change.after} ({criteria})")
    if not preview.failing_cases:
        out.write("Every library case gives its expected status.")
    for failing in preview.failing_cases:
        out.write(
            f"  FAILING case “{failing.case}”, {failing.condition}: expected {failing.expected}, "
            f"got {failing.got}"
        )


class Command(BaseCommand):
    help = (
        "Evaluate the working copy of the knowledge base against the published version on "
        "final screenings of the last 12 months (or the newest N) and on the case library; "
        "list each result that would change and each library case whose expectation fails. "
        "Exits 0 whether or not anything changes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print one JSON object (see docs/rulebook-versions.md).")
        parser.add_argument("--limit", type=int, help="Compare the newest N final screenings instead of the last 12 months'.")

    def handle(self, *args, as_json, limit, **options):
        if limit is not None and limit < 0:
            raise CommandError("--limit is a number of screenings, 0 or more.")
        preview = rulebook_preview(limit=limit)
        if as_json:
            self.stdout.write(json.dumps(preview.to_dict(), ensure_ascii=False))
        else:
            write_summary(self.stdout, preview)
