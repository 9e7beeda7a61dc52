"""`python manage.py load_knowledge_base [FILE]`: load the clinical content.

Validates the whole file first and loads nothing if any item is invalid;
otherwise creates or updates rows by their stable keys in one transaction,
then publishes what it loaded as a new rulebook version (the screening
app's `publish_rulebook`), unless `--draft` is given.
"""

from collections import Counter
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from conditions.loader import (
    DEFAULT_FILE,
    InvalidKnowledgeBase,
    KnowledgeBaseFileError,
    knowledge_base_load,
    read_knowledge_base,
)
from conditions.models import Condition


class Command(BaseCommand):
    help = (
        "Load the knowledge base (sections, references, conditions, questions, criteria, "
        "instruments, formulary) "
        "from a YAML file, creating or updating rows by their stable keys."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "file", nargs="?", default=str(DEFAULT_FILE),
            help="The YAML file to load (default: the knowledge base KetaScreen ships with).",
        )
        parser.add_argument(
            "--if-empty", action="store_true",
            help="Load only into an empty knowledge base, so that edits made in the admin "
                 "are never overwritten (what `make run` uses).",
        )
        parser.add_argument(
            "--draft", action="store_true",
            help="Load into the working copy only; clinicians keep the published rules until "
                 "a clinical lead previews and publishes them.",
        )

    def handle(self, *args, file, if_empty, draft, **options):
        path = Path(file)
        if if_empty and Condition.objects.exists():
            if options["verbosity"]:
                self.stdout.write("The knowledge base is already loaded; leaving it as it is.")
            return
        try:
            data = read_knowledge_base(path)
            counts = knowledge_base_load(data, reason=f"Loaded from {path.name}")
        except KnowledgeBaseFileError as error:
            raise CommandError(str(error)) from None
        except InvalidKnowledgeBase as error:
            for problem in error.problems:
                self.stderr.write(problem)
            raise CommandError(
                f"{len(error.problems)} problem(s) in {path}; nothing was loaded."
            ) from None

        if options["verbosity"]:
            self._report(path, counts)
        if not draft:
            # Publishing belongs to the screening app, which this app never imports.
            call_command(
                "publish_rulebook", note=f"Loaded from {path.name}", if_changed=True,
                verbosity=options["verbosity"], stdout=self.stdout._out, stderr=self.stderr._out,
            )

    def _report(self, path, counts):
        total = Counter()
        for group, count in counts.items():
            self.stdout.write(f"{group.capitalize()}: {_summary(count)}.")
            total.update(count)
        self.stdout.write(self.style.SUCCESS(f"Loaded {path}: {_summary(total)}."))


def _summary(count):
    return f"{count['created']} created, {count['updated']} updated, {count['unchanged']} unchanged"
