"""`python manage.py knowledge_base_schema [--write]`: the JSON Schema of a knowledge-base file.

Generated from the pydantic models in conditions/kb_schema.py, which the
loader checks every file with. Prints it, or with `--write` writes it to
docs/knowledge-base.schema.json, the copy editors point at (a test fails
when that copy is stale).
"""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from conditions.kb_schema import json_schema

SCHEMA_FILE = Path(settings.BASE_DIR) / "docs" / "knowledge-base.schema.json"


def schema_text():
    """The schema as the committed file holds it."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


class Command(BaseCommand):
    help = (
        "Print the JSON Schema of a knowledge-base file, generated from the loader's own format; "
        f"with --write, write it to docs/{SCHEMA_FILE.name}."
    )

    def add_arguments(self, parser):
        parser.add_argument("--write", action="store_true", help=f"write docs/{SCHEMA_FILE.name} instead of printing")

    def handle(self, *args, write=False, **options):
        text = schema_text()
        if write:
            SCHEMA_FILE.write_text(text, encoding="utf-8")
            self.stdout.write(f"Wrote {SCHEMA_FILE.relative_to(settings.BASE_DIR)}.")
        else:
            self.stdout.write(text, ending="")
