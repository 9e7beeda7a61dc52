"""The audit trail: one call per event, from views, services and signals."""

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from ipware.ip import get_client_ip

from screening.models import AuditAction, AuditChainHead, AuditEvent

logger = logging.getLogger("ketascreen.audit")


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
    """Append one event to the chain. The user defaults to the request's
    signed-in user.

    3 queries: lock the chain's head row, insert the event, move the head
    on (plus 1 to make the head on the very first event). The lock is held
    until the caller's transaction ends, so events are chained one after
    another even from many processes; it is taken last, after the change
    the event records, to keep it short.
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
    )
    # No savepoint of its own inside the caller's transaction: a failed
    # append fails the change it records.
    with transaction.atomic(savepoint=False):
        head, _created = AuditChainHead.objects.select_for_update().get_or_create(pk=1)
        event.at = timezone.now()
        event.previous_hash = head.last_hash
        event.hash = event.content_hash()
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
