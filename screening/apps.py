from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.db.models.signals import post_migrate


class ScreeningConfig(AppConfig):
    name = "screening"
    verbose_name = "Screening"

    def ready(self):
        from screening import checks, signals  # noqa: F401 (checks registers itself)

        signals.connect()
        post_migrate.connect(after_migrate, sender=self)
        checks.register(auditing_on, checks.Tags.security, deploy=True)


def auditing_on(app_configs, **kwargs):
    """`check --deploy` warns while auditing is switched off (it is there to measure its cost)."""
    if settings.AUDIT_ENABLED:
        return []
    return [checks.Warning(
        "AUDIT_ENABLED is off: nothing is written to the audit trail.",
        hint="Unset AUDIT_ENABLED; switching it off is for measuring what auditing costs.",
        id="ketascreen.W001",
    )]


def after_migrate(sender, using="default", **kwargs):
    """After `migrate` and `flush` (which empties the tables): every audit
    chain has its head row, so no append has to make one; and every history
    table, a later migration's too, is insert-only for the app role."""
    from django.apps import apps
    from django.db import connections

    from config.database import app_role_append_only, history_tables
    from screening.audit import make_chain_heads
    from screening.models import AuditChainHead

    connection = connections[using]
    table = AuditChainHead._meta.db_table
    if table not in connection.introspection.table_names():
        return  # migrated back before the audit trail
    with connection.cursor() as cursor:
        if "chain" not in {column.name for column in connection.introspection.get_table_description(cursor, table)}:
            return  # migrated back before the keyed chains
    make_chain_heads()
    app_role_append_only(connection, history_tables(apps))
