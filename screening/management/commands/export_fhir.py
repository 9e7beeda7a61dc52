"""`manage.py export_fhir [--number N]`: the questionnaire as a FHIR R4 SDC Questionnaire."""

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from rulebook.versions import published_rulebook
from screening import fhir, selectors


class Command(BaseCommand):
    help = (
        "Print the questionnaire of the published rulebook version in force (or of version --number N) "
        "as a FHIR R4 Questionnaire following Structured Data Capture (docs/fhir.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--number", type=int, metavar="N",
                            help="The published version's number (default: the version in force).")

    def handle(self, *args, number, **options):
        publication = selectors.publication(number)
        if publication is None:
            if number is None:
                raise CommandError("Nothing is published yet: publish the rules first (publish_rulebook).")
            raise CommandError(f"No published version {number}.")
        resource = fhir.questionnaire(
            published_rulebook(publication.snapshot), base=settings.FHIR_BASE_URL, number=publication.number,
            published_at=publication.published_at.isoformat(),
        )
        self.stdout.write(json.dumps(resource, ensure_ascii=False, indent=2))
