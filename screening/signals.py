"""Signals: every knowledge-base change is audited (its revision moves in
rulebook.signals); sign-ins, sign-in failures and lockouts are audited."""

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from simple_history.models import HistoricalRecords
from simple_history.signals import post_create_historical_record

from rulebook.signals import KNOWLEDGE_BASE_MODELS


def knowledge_base_change_audited(sender, instance, history_instance, history_user=None, **kwargs):
    from screening.audit import audit
    from screening.models import AuditAction

    request = getattr(HistoricalRecords.context, "request", None)
    key = (
        getattr(instance, "key", None) or getattr(instance, "slug", None) or getattr(instance, "code", None)
        or getattr(instance, "audit_key", "")
    )
    audit(
        AuditAction.KNOWLEDGE_BASE_CHANGED, request=request, user=history_user,
        object_type=instance._meta.model_name, object_key=str(key),
        history_id=history_instance.pk,
    )


def signed_in(sender, request, user, **kwargs):
    from config.middleware import mark_session_active
    from screening.audit import audit
    from screening.models import AuditAction

    if request is not None and hasattr(request, "session"):
        mark_session_active(request.session)
    audit(AuditAction.SIGN_IN, request=request, user=user)


def signed_out(sender, request, user, **kwargs):
    from screening.audit import audit
    from screening.models import AuditAction

    if user is not None:
        audit(AuditAction.SIGN_OUT, request=request, user=user)


def sign_in_failed(sender, credentials, request=None, second_factor=False, **kwargs):
    """A wrong password, or (second_factor, sent by accounts.views) a wrong
    code after a right password."""
    from screening.audit import audit
    from screening.models import AuditAction

    action = AuditAction.SECOND_FACTOR_FAILED if second_factor else AuditAction.SIGN_IN_FAILED
    audit(action, request=request, username=str(credentials.get("username", ""))[:150])


def locked_out(sender, request, username, ip_address, **kwargs):
    """django-axes locks a username out for an address: audited once, when
    the lock begins. Each refused attempt during it is a failed sign-in
    (axes sends this signal again for each, with a higher count)."""
    from screening.audit import audit
    from screening.models import AuditAction

    if getattr(request, "axes_failures_since_start", None) == settings.AXES_FAILURE_LIMIT:
        audit(AuditAction.LOCKED_OUT, request=request, username=str(username or "")[:150])


def connect():
    for model in KNOWLEDGE_BASE_MODELS:
        post_create_historical_record.connect(
            knowledge_base_change_audited, sender=model.history.model,
            dispatch_uid=f"kb-audit-{model.__name__}",
        )
    user_logged_in.connect(signed_in, dispatch_uid="audit-sign-in")
    user_logged_out.connect(signed_out, dispatch_uid="audit-sign-out")
    user_login_failed.connect(sign_in_failed, dispatch_uid="audit-sign-in-failed")
    user_locked_out.connect(locked_out, dispatch_uid="audit-locked-out")
