"""Model instances from hand-written SQL, converted as the ORM converts them.

The reads every signed-in page makes (its user, its screening) are written
in SQL by hand: building them through the ORM takes longer than the
database takes to answer. This is the one place that turns such a row back
into what the ORM would have returned (SQLite, for one, returns datetimes
and JSON as text).
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


def instance(model, fields, values):
    """An instance of `model` as loaded from the database, with only
    `fields` (the rest deferred), from their `values` as read, in any order."""
    names, order = _layout(model, tuple(fields))
    return model.from_db(connection.alias, names, [value_from_db(fields[i], values[i]) for i in order])


@cache
def _layout(model, fields):
    """The attribute names of `fields` and their positions, in the model's
    own order of fields, which Model.from_db takes its values in."""
    position = {field.attname: i for i, field in enumerate(fields)}
    if len(position) != len(fields) or any(field.model._meta.concrete_model is not model._meta.concrete_model
                                            for field in fields):
        raise ValueError(f"Not distinct fields of {model.__name__}: {fields}")
    names = [field.attname for field in model._meta.concrete_fields if field.attname in position]
    return names, [position[name] for name in names]


@cache
def _converters(field):
    column = field.get_col(field.model._meta.db_table)
    return tuple(connection.ops.get_db_converters(column) + column.get_db_converters(connection)), column
