"""The rows that loading the shipped knowledge base makes, captured once per
test session and written back for each test that needs them.

`capture()` runs the real `load_knowledge_base` command inside a transaction
that is rolled back, and keeps the contents of every table the command
changed (the knowledge base, its simple_history history, the published
rulebook and its snapshot, the revision token). The audit tables are left
out: their rows are keyed hash chains, which tests make for themselves.

`ShippedRows.write()` puts those rows back with `bulk_create` (and
`bulk_update` for a row that exists with other values, as the revision
token does), keeping their primary keys. On PostgreSQL the sequences are
already past those keys: `nextval` is never rolled back, and a flush
between transactional tests does not reset sequences. SQLite numbers a new
row after the largest key in its table.
"""

import io

from django.apps import apps
from django.core.management import call_command
from django.db import transaction

AUDIT_TABLES = {"screening.auditevent", "screening.auditchainhead"}


def _models():
    return [
        model for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy and model._meta.label_lower not in AUDIT_TABLES
    ]


def _columns(model):
    return [field.attname for field in model._meta.concrete_fields]


def _contents(model):
    columns = _columns(model)
    pk = model._meta.pk.attname
    return {row[pk]: row for row in model._base_manager.order_by().values(*columns)}


class ShippedRows:
    def __init__(self, tables):
        self.tables = tables  # [(model, {pk: {column: value}})]

    def write(self):
        with transaction.atomic():
            for model, rows in self.tables:
                self._write_table(model, rows)

    @staticmethod
    def _write_table(model, rows):
        manager = model._base_manager
        pk = model._meta.pk.attname
        present = {
            row[pk]: row for row in manager.filter(pk__in=list(rows)).values(*_columns(model))
        }
        missing = [model(**row) for key, row in rows.items() if key not in present]
        if missing:
            manager.bulk_create(missing)
        changed = [(row, present[key]) for key, row in rows.items() if key in present and present[key] != row]
        if changed:
            fields = sorted({
                column for row, old in changed for column in row if row[column] != old[column]
            })
            manager.bulk_update([model(**row) for row, _ in changed], _field_names(model, fields))


def _field_names(model, columns):
    by_attname = {field.attname: field.name for field in model._meta.concrete_fields}
    return [by_attname.get(column, column) for column in columns]


def capture() -> ShippedRows:
    """Runs `load_knowledge_base` in a transaction that is rolled back and
    returns the contents of every table it changed."""
    models = _models()
    with transaction.atomic():
        before = {model: _contents(model) for model in models}
        call_command("load_knowledge_base", stdout=io.StringIO())
        tables = []
        for model in models:
            after = _contents(model)
            if after != before[model]:
                tables.append((model, after))
        transaction.set_rollback(True)
    return ShippedRows(tables)
