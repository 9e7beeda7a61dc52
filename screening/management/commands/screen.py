"""`manage.py screen`: screen patients in bulk from JSON: native records or FHIR
QuestionnaireResponses (formats: docs/batch.md)."""

import json
import sys

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from rulebook.versions import current_rulebook
from screening.batch import dumps, malformed_line, screen_record
from screening.models import new_patient_reference_validator
from screening.services import screening_create


class MalformedLine:
    """A line of JSON Lines input that is not JSON: its number, and why."""

    def __init__(self, number: int, problem: str):
        self.number, self.problem = number, problem


def json_problem(error: Exception, *, one_line: bool = False) -> str:
    """Why the parser could not take the input, in one short line: a
    RecursionError (nesting deeper than Python recurses) or a ValueError
    (not JSON, not UTF-8, or a number of thousands of digits)."""
    if isinstance(error, RecursionError):
        return "it is nested too deeply"
    if isinstance(error, UnicodeDecodeError):
        return "it is not UTF-8 text"
    if isinstance(error, json.JSONDecodeError):
        return str(error) if not one_line else f"{error.msg} at column {error.pos + 1}"
    return "a number in it has too many digits"


class Command(BaseCommand):
    help = (
        "Screen patients from JSON: an object or an array of objects "
        '({"patient": "A-1027", "conditions": ["trd"], "answers": {...}}) or FHIR '
        "QuestionnaireResponses (told apart by resourceType; docs/fhir.md), from FILE or "
        "standard input. Writes a JSON array of results in the same order. Exits 1 when "
        "any record has errors (with --jsonl, a line that is not JSON is such a record), 2 when "
        "the input is not valid JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", default="-", help="JSON file; - or absent for standard input.")
        parser.add_argument("--jsonl", action="store_true", help="Read and write JSON Lines, one record per line, streaming.")
        parser.add_argument("--save", action="store_true", help="Store each valid screening as a draft.")
        parser.add_argument("--user", help="With --save: the username that owns the drafts.")

    def handle(self, *args, file, jsonl, save, user, **options):
        owner = self._owner(user) if save else None
        if user and not save:
            raise CommandError("--user goes with --save.")
        rulebook = current_rulebook()
        today = timezone.localdate()
        stream = sys.stdin.buffer if file == "-" else self._open(file)
        out = self.stdout
        failures = 0
        try:
            records = self._lines(stream) if jsonl else self._document(stream)
            if not jsonl:
                out.write("[", ending="\n")
            for index, record in enumerate(self._progress(records, options)):
                if isinstance(record, MalformedLine):
                    result, validation = malformed_line(rulebook, record.number, record.problem), None
                else:
                    result, validation = screen_record(rulebook, record, on=today)
                if "errors" not in result and owner is not None:
                    result = self._save(owner, record, validation, result, rulebook)
                failures += "errors" in result
                text = dumps(result)
                if jsonl:
                    out.write(text)
                else:
                    out.write(("  " if index == 0 else ",\n  ") + text, ending="")
            if not jsonl:
                out.write("\n]")
        finally:
            out.flush()
            if stream is not sys.stdin.buffer:
                stream.close()
        if failures:
            raise CommandError(f"{failures} record(s) have errors; see their \"errors\".", returncode=1)

    def _progress(self, records, options):
        """`records`, with a progress bar on standard error when that is a
        terminal; a pipe or a file gets nothing."""
        stderr = options.get("stderr") or sys.stderr  # what self.stderr writes to
        return tqdm(
            records, total=len(records) if isinstance(records, list) else None,
            file=stderr, disable=not stderr.isatty(), unit=" records", leave=False,
        )

    def _owner(self, username):
        if not username:
            raise CommandError("--save needs --user USERNAME: the clinician who owns the drafts.")
        try:
            return get_user_model().objects.get_by_natural_key(username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None

    def _open(self, path):
        try:
            return open(path, "rb")
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}.", returncode=2) from None

    def _document(self, stream):
        try:
            data = json.loads(stream.read())
        except (ValueError, RecursionError) as error:
            raise CommandError(f"Input is not valid JSON: {json_problem(error)}.", returncode=2) from None
        return data if isinstance(data, list) else [data]

    def _lines(self, stream):
        """Each line's record; a line that is not JSON becomes a
        MalformedLine, and the lines after it are read on."""
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except (ValueError, RecursionError) as error:
                yield MalformedLine(number, json_problem(error, one_line=True))

    def _save(self, owner, record, validation, result, rulebook):
        try:
            new_patient_reference_validator(result["patient"])
            # Its own transaction (a savepoint inside one around this command,
            # which a refused record leaves usable for the next), with the
            # event the web writes for a new screening; no request, so no address.
            screening = screening_create(
                owner=owner, patient_reference=result["patient"],
                year_of_birth=record.get("year_of_birth"), conditions=validation.conditions,
                answers=validation.answers, rulebook=rulebook,
            )
        except ValidationError as error:
            problems = error.message_dict if hasattr(error, "error_dict") else {"patient_reference": error.messages}
            messages = [f"{field}: {m}" for field, ms in problems.items() for m in ms]
            return {"patient": result["patient"], "rulebook_version": rulebook.version, "errors": messages}
        return {**result, "screening": screening.pk}
