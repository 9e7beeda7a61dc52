"""The audit trail: one call per event, from views, services and signals."""

import logging
from functools import cache

from django.db import connection
from django.db.models import CharField
from django.utils import timezone

from screening.models import AuditAction, AuditEvent

logger = logging.getLogger("ketascreen.audit")


def client_address(request):
    """The client's address as the web server saw it (the proxy sets REMOTE_ADDR
    correctly when configured; we never trust X-Forwarded-For ourselves)."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


# Reading a record changes nothing, so the event is all its transaction
# writes, and on PostgreSQL that transaction commits without waiting for the
# disk (asynchronous commit): a summary view or a download does not wait for
# a flush of the write-ahead log. The event is committed, and visible, at
# once; only a crash of the database server within a fraction of a second
# (three times wal_writer_delay, 0.6 s by default) could lose the last few.
# A change's event is never written so: it is flushed with the change,
# in the change's transaction.
READ_ACTIONS = frozenset({AuditAction.VIEWED, AuditAction.PDF_DOWNLOADED})


def _insert(event: AuditEvent):
    """INSERT the event in hand-written SQL: every page view writes one, and
    the ORM's create() takes longer to build the statement than the
    database takes to run it. The row is what create() would write; the
    event's id is left unread."""
    fields, sql, unflushed_sql = _insert_sql()
    if event.action in READ_ACTIONS and unflushed_sql and not connection.in_atomic_block:
        sql = unflushed_sql
    with connection.cursor() as cursor:
        cursor.execute(sql, [field.get_db_prep_save(getattr(event, field.attname), connection) for field in fields])


@cache
def _insert_sql():
    """The event's fields; the INSERT; and on PostgreSQL the same INSERT
    committing asynchronously (set_config(..., true) lasts until the end of
    the statement's own transaction), else None."""
    qn = connection.ops.quote_name
    fields = [field for field in AuditEvent._meta.concrete_fields if not field.primary_key]
    into = f"INSERT INTO {qn(AuditEvent._meta.db_table)} ({', '.join(qn(field.column) for field in fields)})"
    sql = f"{into} VALUES ({', '.join(['%s'] * len(fields))})"
    if connection.vendor != "postgresql":
        return fields, sql, None
    # Typed as the columns are (a parameter in a SELECT list has no type of
    # its own), but text as text: a cast to varchar(n) would cut a long
    # value short where the INSERT must refuse it.
    values = ", ".join(
        f"CAST(%s AS {'text' if isinstance(field, CharField) else field.cast_db_type(connection)})" for field in fields
    )
    unflushed = f"{into} SELECT {values} WHERE set_config('synchronous_commit', 'off', true) IS NOT NULL"
    return fields, sql, unflushed


def audit(action: AuditAction, *, request=None, user=None, username="", screening=None,
          object_type="", object_key="", history_id=None) -> AuditEvent:
    """Append one event. The user defaults to the request's signed-in user."""
    if user is None and request is not None and getattr(request, "user", None) is not None:
        user = request.user if request.user.is_authenticated else None
    event = AuditEvent(
        at=timezone.now(),
        user=user,
        username=username or (user.get_username() if user is not None else ""),
        action=action,
        screening=screening,
        patient_reference=screening.patient_reference if screening is not None else "",
        object_type=object_type,
        object_key=object_key,
        history_id=history_id,
        ip_address=client_address(request),
    )
    _insert(event)
    # Knowledge-base edits come in bursts (a file load writes hundreds) and
    # their detail is in the history tables; the rest are worth a log line.
    level = logging.DEBUG if action == AuditAction.KNOWLEDGE_BASE_CHANGED else logging.INFO
    logger.log(
        level, "%s user=%s screening=%s object=%s:%s ip=%s", action, event.username or "-",
        event.screening_id or "-", object_type or "-", object_key or "-", event.ip_address or "-",
    )
    return event
