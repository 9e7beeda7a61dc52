"""Reads that the screening pages share; each says how many queries it makes."""

from functools import cache
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection

from conditions.models import Condition
from config import rows
from screening.models import Screening, Status

VIEW_ALL_PERMISSION = "screening.view_all_screenings"


class ListRow(NamedTuple):
    """A screening of the list, its columns as the database returned them
    (JSON and, on SQLite, datetimes still text): see `listed_screening`."""

    id: int
    patient_reference: str
    conditions: str
    worst_status: str
    alert_count: int
    status: str
    revision: int
    created_at: object
    updated_at: object
    owner_id: int
    owner_username: str
    owner_first_name: str
    owner_last_name: str


LIST_SCREENING_FIELDS = ListRow._fields[:10]


def can_view_all(user) -> bool:
    """Whether `user` may read every clinician's screenings: an active
    superuser, or an active user granted `view_all_screenings` directly or
    through a group, as Django's ModelBackend decides it.

    Superusers and inactive users: no query. Others: 1 the first time per
    request (`user.has_perm` makes 2, loading every permission of the user
    and of their groups), then remembered on the user object, which lives
    for one request.
    """
    if not user.is_active:
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_ketascreen_view_all", None)
    if cached is None:
        app_label, codename = VIEW_ALL_PERMISSION.split(".")
        cached = rows.fetch_one(_permission_sql(), [app_label, codename, user.pk, user.pk]) is not None
        user._ketascreen_view_all = cached
    return cached


@cache
def _permission_sql():
    """Whether a user holds a permission directly or through a group, in
    hand-written SQL: the ORM takes several times longer to build these
    joins than the database takes to answer."""
    qn = connection.ops.quote_name
    user_model = get_user_model()
    permission, content_type = qn(Permission._meta.db_table), qn(ContentType._meta.db_table)
    user_permissions = user_model.user_permissions.through._meta.db_table
    user_groups = user_model.groups.through._meta.db_table
    group_permissions = Group.permissions.through._meta.db_table
    return (
        f"SELECT 1 FROM {permission} p INNER JOIN {content_type} ct ON ct.{qn('id')} = p.{qn('content_type_id')} "
        f"WHERE ct.{qn('app_label')} = %s AND p.{qn('codename')} = %s AND ("
        f"EXISTS (SELECT 1 FROM {qn(user_permissions)} up "
        f"WHERE up.{qn('permission_id')} = p.{qn('id')} AND up.{qn('user_id')} = %s) "
        f"OR EXISTS (SELECT 1 FROM {qn(group_permissions)} gp "
        f"INNER JOIN {qn(user_groups)} ug ON ug.{qn('group_id')} = gp.{qn('group_id')} "
        f"WHERE gp.{qn('permission_id')} = p.{qn('id')} AND ug.{qn('user_id')} = %s))"
    )


def screening_detail(pk) -> Screening | None:
    """One query: the screening with its owner, finaliser, snapshot and the
    screening it amends, or None."""
    return (
        Screening.objects.select_related("owner", "finalised_by", "snapshot", "amends")
        .filter(pk=pk)
        .first()
    )


USER_NAME_FIELDS = ("username", "first_name", "last_name")


@cache
def _page_query():
    """The shape of the screening's fields but its stored result (the large
    value only a summary not rendered before needs), and the SELECT of them with the
    names of its owner and finaliser, when the screening it amends was
    created, and whether any screening amends it."""
    qn = connection.ops.quote_name
    screening, user = qn(Screening._meta.db_table), qn(get_user_model()._meta.db_table)
    fields = tuple(field for field in Screening._meta.concrete_fields if field.name != "result")
    names = ", ".join(f"{alias}.{qn(column)}" for alias in ("o", "f") for column in USER_NAME_FIELDS)
    return rows.Shape(Screening, fields), (
        f"SELECT {', '.join(f's.{qn(field.column)}' for field in fields)}, {names}, a.{qn('created_at')}, "
        f"EXISTS (SELECT 1 FROM {screening} x WHERE x.{qn('amends_id')} = s.{qn('id')}) "
        f"FROM {screening} s "
        f"INNER JOIN {user} o ON o.{qn('id')} = s.{qn('owner_id')} "
        f"LEFT OUTER JOIN {user} f ON f.{qn('id')} = s.{qn('finalised_by_id')} "
        f"LEFT OUTER JOIN {screening} a ON a.{qn('id')} = s.{qn('amends_id')} "
        f"WHERE s.{qn('id')} = %s"
    )


def screening_page(pk) -> Screening | None:
    """One query: the screening without its stored result (loaded on
    access, or from screening.caching), with its owner and finaliser (their
    names only) and the screening it amends (when it was created only), and
    `has_amendments`; or None.

    What `Screening.objects.select_related(...).only(...)` with an Exists
    annotation would give, in hand-written SQL (config.rows): the ORM takes
    three times as long to build that query as the database takes to answer
    it, on the pages every clinician opens most.
    """
    low, high = connection.ops.integer_field_range(Screening._meta.pk.get_internal_type())
    if not low <= pk <= high:
        return None  # as the ORM does: no such row can exist
    shape, sql = _page_query()
    row = rows.fetch_one(sql, [pk])
    if row is None:
        return None
    n = len(shape)
    screening = shape.instance(row)
    owner, finaliser = row[n : n + 3], row[n + 3 : n + 6]
    amends_created_at, has_amendments = row[n + 6 :]
    screening.owner = _user_name_shape().instance([screening.owner_id, *owner])
    if screening.finalised_by_id is not None:
        screening.finalised_by = _user_name_shape().instance([screening.finalised_by_id, *finaliser])
    if screening.amends_id is not None:
        screening.amends = _amended_shape().instance([screening.amends_id, amends_created_at])
    screening.has_amendments = bool(has_amendments)
    return screening


def screening_list(*, user, query: str = "", status: str = "", start: int = 0, stop: int) -> list[ListRow]:
    """One query, after `can_view_all`'s: the screenings `user` may see,
    newest first, optionally narrowed to a patient reference
    (case-insensitive, any part of it) and a status; rows start to stop.

    Hand-written SQL, read as tuples: through the ORM, building the query
    and making model instances of its rows took longer than the rest of the
    list page, and a row whose markup is cached (screening.caching) needs
    no instance. `listed_screening` makes one when it is needed.
    """
    every_owner = can_view_all(user)
    status = status if status in Status.values else ""
    params = [] if every_owner else [user.pk]
    if query:
        params.append(f"%{connection.ops.prep_for_like_query(query)}%")
    if status:
        params.append(status)
    found = rows.fetch_all(_list_sql(every_owner, bool(query), bool(status)), [*params, stop - start, start])
    return [ListRow._make(row) for row in found]


@cache
def _list_sql(every_owner: bool, search: bool, status: bool) -> str:
    """The list's SELECT, narrowed as asked: to one owner, a search of the
    patient reference (as the ORM's icontains writes it for this database),
    a status."""
    qn = connection.ops.quote_name
    screening, user = qn(Screening._meta.db_table), qn(get_user_model()._meta.db_table)
    columns = [f"s.{qn(Screening._meta.get_field(name.removesuffix('_id')).column)}" for name in LIST_SCREENING_FIELDS]
    columns += [f"o.{qn(name)}" for name in USER_NAME_FIELDS]
    where = []
    if not every_owner:
        where.append(f"s.{qn('owner_id')} = %s")
    if search:
        reference = connection.ops.lookup_cast("icontains", "CharField") % f"s.{qn('patient_reference')}"
        where.append(f"{reference} {connection.operators['icontains'] % '%s'}")
    if status:
        where.append(f"s.{qn('status')} = %s")
    return (
        f"SELECT {', '.join(columns)} FROM {screening} s INNER JOIN {user} o ON o.{qn('id')} = s.{qn('owner_id')} "
        + (f"WHERE {' AND '.join(where)} " if where else "")
        + f"ORDER BY s.{qn('created_at')} DESC, s.{qn('id')} DESC LIMIT %s OFFSET %s"
    )


def listed_screening(row: ListRow) -> Screening:
    """The screening of a list row (with its owner's name), as the ORM
    would have loaded it with only the list's columns."""
    screening = _list_shape().instance(row)
    screening.owner = _user_name_shape().instance(
        [row.owner_id, row.owner_username, row.owner_first_name, row.owner_last_name]
    )
    return screening


@cache
def _list_shape():
    fields = (Screening._meta.get_field(name.removesuffix("_id")) for name in LIST_SCREENING_FIELDS)
    return rows.Shape(Screening, fields)


@cache
def _user_name_shape():
    """A user's id and the fields of their name (USER_NAME_FIELDS)."""
    meta = get_user_model()._meta
    return rows.Shape(get_user_model(), (meta.pk, *(meta.get_field(name) for name in USER_NAME_FIELDS)))


@cache
def _amended_shape():
    return rows.Shape(Screening, (Screening._meta.pk, Screening._meta.get_field("created_at")))


def condition_names() -> dict[str, str]:
    """One query: slug -> name of every condition, active or not, for lists
    that show the conditions of past screenings. Hand-written SQL, as for
    the other reads every list page makes."""
    return dict(rows.fetch_all(_condition_names_sql()))


@cache
def _condition_names_sql():
    qn = connection.ops.quote_name
    meta = Condition._meta
    return f"SELECT {qn(meta.get_field('slug').column)}, {qn(meta.get_field('name').column)} FROM {qn(meta.db_table)}"


def amendments_of(screening: Screening) -> list[Screening]:
    """One query: the screenings that amend this one, oldest first."""
    return list(screening.amendments.only("id", "status", "created_at", "amends_id").order_by("created_at", "id"))
