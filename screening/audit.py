"""The audit trail: one call per event, from views, services and signals."""

import logging

from django.utils import timezone

from screening.models import AuditAction, AuditEvent

logger = logging.getLogger("ketascreen.audit")


def client_address(request):
    """The client's address as the web server saw it (the proxy sets REMOTE_ADDR
    correctly when configured; we never trust X-Forwarded-For ourselves)."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def audit(action: AuditAction, *, request=None, user=None, username="", screening=None,
          object_type="", object_key="", history_id=None) -> AuditEvent:
    """Append one event. The user defaults to the request's signed-in user."""
    if user is None and request is not None and getattr(request, "user", None) is not None:
        user = request.user if request.user.is_authenticated else None
    event = AuditEvent.objects.create(
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
    # Knowledge-base edits come in bursts (a file load writes hundreds) and
    # their detail is in the history tables; the rest are worth a log line.
    level = logging.DEBUG if action == AuditAction.KNOWLEDGE_BASE_CHANGED else logging.INFO
    logger.log(
        level, "%s user=%s screening=%s object=%s:%s ip=%s", action, event.username or "-",
        event.screening_id or "-", object_type or "-", object_key or "-", event.ip_address or "-",
    )
    return event
