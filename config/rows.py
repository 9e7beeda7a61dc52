"""Model instances from hand-written SQL, converted as the ORM converts them.

The reads every signed-in page makes (its session and user, its screening)
are written in SQL by hand: building them through the ORM takes longer than
the database takes to answer. This is the one place that turns such a row
back into what the ORM would have returned (SQLite, for one, returns
datetimes and JSON as text).
"""

from functools import cache

from django.db import connection


def fetch_one(sql: str, params) -> tuple | None:
    """The first row `sql` returns, or None."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def fetch_all(sql: str, params=()) -> list[tuple]:
    """Every row `sql` returns."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def value_from_db(field, value):
    """`value`, read from `field`'s column, as the ORM would convert it."""
    converters, column = _converters(field)
    for converter in converters:
        value = converter(value, column, connection)
    return value


class Shape:
    """Rows of some `fields` of `model`, in that order, made into instances
    as the ORM loads them (the model's other fields deferred). Worked out
    once per query: making an instance is then a loop over its values."""

    def __init__(self, model, fields):
        fields = tuple(fields)
        position = {field.attname: i for i, field in enumerate(fields)}
        concrete = model._meta.concrete_model
        if len(position) != len(fields) or any(f.model._meta.concrete_model is not concrete for f in fields):
            raise ValueError(f"Not distinct fields of {model.__name__}: {fields}")
        self.model = model
        self.fields = fields
        # Model.from_db takes the values in the model's own order of fields.
        in_order = [field for field in model._meta.concrete_fields if field.attname in position]
        self._names = [field.attname for field in in_order]
        self._readers = [(position[field.attname], *_converters(field)) for field in in_order]

    def __len__(self):
        return len(self.fields)

    def instance(self, values):
        """An instance from `values`, one per field, as read."""
        loaded = []
        for i, converters, column in self._readers:
            value = values[i]
            for converter in converters:
                value = converter(value, column, connection)
            loaded.append(value)
        return self.model.from_db(connection.alias, self._names, loaded)


@cache
def _converters(field):
    column = field.get_col(field.model._meta.db_table)
    return tuple(connection.ops.get_db_converters(column) + column.get_db_converters(connection)), column
