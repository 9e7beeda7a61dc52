"""`manage.py publish_rulebook --note "…"`: make the working copy the rules clinicians use."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from rulebook.management.commands.preview_rulebook import write_summary
from rulebook.publishing import NothingToPublish, rulebook_preview, rulebook_publish


class Command(BaseCommand):
    help = (
        "Publish the knowledge base as it is now (the working copy) as the next numbered "
        "version: new screenings, the questionnaire and `screen` then use it. Prints what it "
        "changes on recent final screenings and the case library first. When library cases fail, "
        "the note must say why they may be published anyway."
    )

    def add_arguments(self, parser):
        parser.add_argument("--note", required=True, help="What changed and why; kept with the version.")
        parser.add_argument("--user", help="The username of the clinical lead publishing it.")
        parser.add_argument(
            "--if-changed", action="store_true",
            help="Do nothing (and succeed) when the working copy is already published.",
        )

    def handle(self, *args, note, user, if_changed, **options):
        publisher = None
        if user:
            publisher = get_user_model().objects.filter(username=user).first()
            if publisher is None:
                raise CommandError(f"No user “{user}”.")
        preview = rulebook_preview()
        if preview.unchanged and preview.published is not None:
            if if_changed:
                return
            raise CommandError("The working copy is already published; there is nothing to publish.")
        if options["verbosity"]:
            write_summary(self.stdout, preview)
        try:
            published = rulebook_publish(user=publisher, note=note, preview=preview)
        except NothingToPublish as error:
            if if_changed:
                return
            raise CommandError(error.message) from None
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        if options["verbosity"]:
            self.stdout.write(self.style.SUCCESS(
                f"Published version {published.number} ({published.snapshot.version})."
            ))
