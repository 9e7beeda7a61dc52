"""The audit trail: one call per event, from views, services and signals.

Events are appended to one of CHAINS hash chains, each with its own head
row. An append locks one head row until its transaction ends, so that two
writers never chain to the same event; with one chain every audited request
would queue behind that one row's lock (held through each COMMIT). With
several, a writer takes its own chain's head, or the next one nobody holds
(SKIP LOCKED), so concurrent requests append side by side. Each chain is
checked on its own by `manage.py verify_audit`: links, keyed hashes, times
that never go backwards, and its head; every chain starts at the same
point (the seal of the unkeyed events, or nothing), so none can be cut off
at its start either.
"""

import logging
import os
import threading
import zlib

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Mod, Now
from django.utils import timezone
from ipware.ip import get_client_ip

from screening.models import AuditAction, AuditChainHead, AuditEvent

logger = logging.getLogger("ketascreen.audit")

# How many chains new events are spread over. Changing it later is safe:
# verify_audit checks whatever chains the events name.
CHAINS = 8


class DatabaseClock(Now):
    """The database server's clock as the query runs: one clock for every
    app host, so a chain's times follow the order its events were written.
    PostgreSQL's clock_timestamp() (its now() would be the transaction's
    start, and a long transaction's events would share it); elsewhere
    Django's Now()."""


    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="CLOCK_TIMESTAMP()", **extra_context)


def _preferred_chain() -> int:
    """The chain this process and thread try first: requests from one
    worker follow each other on one chain, and different workers mostly
    meet different chains, so they rarely even try each other's lock."""
    return zlib.crc32(f"{os.getpid()}:{threading.get_ident()}".encode()) % CHAINS


def chains_start() -> str:
    """The hash every keyed chain starts from: the seal's (the "key
    introduced" event after the unkeyed events), or "" when there were none."""
    seal = AuditEvent.objects.filter(action=AuditAction.KEY_INTRODUCED).order_by("id").values_list("hash", flat=True)
    return seal.first() or ""


def _lock_a_head() -> AuditChainHead:
    """A chain's head row, locked until the transaction ends, with `now`,
    the database's clock read once the lock was held. 1 query: the
    preferred chain's head, or the next one that no other transaction holds.
    Only when every head is held (or none exists yet) does it wait for the
    preferred one, making it if need be (2 to 4 queries)."""
    preferred = _preferred_chain()
    head = (
        AuditChainHead.objects.select_for_update(skip_locked=True)
        .filter(chain__isnull=False, chain__lt=CHAINS)
        .annotate(now=DatabaseClock())
        # The preferred chain first, then the ones after it, round.
        .order_by(Mod(F("chain") + (CHAINS - preferred), CHAINS))
        .first()
    )
    if head is not None:
        return head
    head, _created = AuditChainHead.objects.select_for_update().get_or_create(
        chain=preferred, defaults={"last_hash": chains_start()},
    )
    head.now = AuditChainHead.objects.filter(pk=head.pk).annotate(now=DatabaseClock()).values_list("now", flat=True).get()
    return head


def seal_unkeyed_chain(event_model, head_model):
    """Seal the unkeyed chain written before the audit key: a keyed "key
    introduced" event carrying its last hash (as its head row recorded it),
    from which every keyed chain then starts. Nothing when there is no
    unkeyed event. Takes the models as arguments so a migration can pass
    its own; returns the seal or None."""
    legacy_head = head_model.objects.filter(chain__isnull=True).first()
    last_hash = legacy_head.last_hash if legacy_head is not None else ""
    if not last_hash:
        last_hash = (
            event_model.objects.filter(key_id="").order_by("-id").values_list("hash", flat=True).first() or ""
        )
    head_model.objects.filter(chain__isnull=True).delete()
    if not last_hash:
        return None
    if event_model.objects.exclude(key_id="").exists():
        raise RuntimeError("The audit trail already has keyed events: the unkeyed ones were sealed before.")
    head_model.objects.all().delete()  # chain heads made before any keyed event start afresh from the seal
    key_id = settings.AUDIT_KEY_ID
    # The database's clock (DatabaseClock), read with the last unkeyed event, as audit() reads it with a head.
    now = event_model.objects.filter(key_id="").annotate(now=DatabaseClock()).values_list("now", flat=True).last()
    seal = event_model(
        at=now or timezone.now(), action=AuditAction.KEY_INTRODUCED, object_type="audit key", object_key=key_id,
        previous_hash=last_hash, key_id=key_id, chain=None,
    )
    seal.hash = AuditEvent.keyed_hash(seal, settings.AUDIT_KEYS[key_id])
    seal.save(force_insert=True)
    make_chain_heads(head_model, start=seal)
    return seal


def make_chain_heads(head_model=AuditChainHead, *, start=None):
    """Make the head row of every chain that has none, starting from the
    seal `start` (or the one in the database) or, with no seal, from
    nothing; so that appends find every head there and never need to make
    one (migration 0015, and after `migrate` and `flush`)."""
    if start is None:
        start = AuditEvent.objects.filter(action=AuditAction.KEY_INTRODUCED).order_by("id").first()
    head_model.objects.bulk_create(
        [head_model(chain=chain, last_event_id=start.pk if start else None, last_hash=start.hash if start else "")
         for chain in range(CHAINS)],
        ignore_conflicts=True,
    )


def client_address(request):
    """The client's address, found by django-ipware exactly as django-axes
    finds it (the same settings, see TRUSTED_PROXY_COUNT in config.settings):
    behind N trusted proxies, the N-th address from the right of
    X-Forwarded-For; with none, the connection's own address."""
    if request is None:
        return None
    address, _routable = get_client_ip(
        request,
        proxy_order=settings.AXES_IPWARE_PROXY_ORDER,
        proxy_count=settings.AXES_IPWARE_PROXY_COUNT,
        request_header_order=settings.AXES_IPWARE_META_PRECEDENCE_ORDER,
    )
    return address


def audit(action: AuditAction, *, request=None, user=None, username="", screening=None,
          object_type="", object_key="", history_id=None) -> AuditEvent:
    """Append one event to a chain. The user defaults to the request's
    signed-in user.

    3 queries: lock a chain's head row (reading the database's clock),
    insert the event, move the head on (see _lock_a_head for the rare
    extra ones). The lock is held until the caller's transaction ends, so
    events are chained one after another even from many processes; it is
    taken last, after the change the event records, to keep it short.
    With settings.AUDIT_ENABLED off (measurement only) nothing is written.
    """
    if user is None and request is not None and getattr(request, "user", None) is not None:
        user = request.user if request.user.is_authenticated else None
    event = AuditEvent(
        user=user,
        username=username or (user.get_username() if user is not None else ""),
        action=action,
        screening=screening,
        patient_reference=screening.patient_reference if screening is not None else "",
        object_type=object_type,
        object_key=object_key[:100],
        history_id=history_id,
        ip_address=client_address(request),
        key_id=settings.AUDIT_KEY_ID,
    )
    if not settings.AUDIT_ENABLED:
        return event
    # No savepoint of its own inside the caller's transaction: a failed
    # append fails the change it records.
    with transaction.atomic(savepoint=False):
        head = _lock_a_head()
        event.chain, event.at, event.previous_hash = head.chain, head.now, head.last_hash
        event.hash = event.keyed_hash(settings.AUDIT_KEYS[event.key_id])
        event.save(force_insert=True)
        head.last_event_id, head.last_hash = event.pk, event.hash
        head.save(update_fields=["last_event_id", "last_hash"])
    # Knowledge-base edits come in bursts (a file load writes hundreds) and
    # their detail is in the history tables; the rest are worth a log line.
    level = logging.DEBUG if action == AuditAction.KNOWLEDGE_BASE_CHANGED else logging.INFO
    logger.log(
        level, "%s user=%s screening=%s object=%s:%s ip=%s", action, event.username or "-",
        event.screening_id or "-", object_type or "-", object_key or "-", event.ip_address or "-",
    )
    return event
