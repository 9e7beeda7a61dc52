"""The audit trail becomes a hash chain (see AuditEvent): the events
recorded so far are chained in the order they were written, and the chain's
head row is made. On PostgreSQL the append-only trigger is set aside for
this one rewrite, by the owner role that runs migrations."""

import django.utils.timezone
from django.db import migrations, models


def chain_existing_events(apps, schema_editor):
    from screening.models import AuditEvent as CurrentAuditEvent

    AuditEvent = apps.get_model("screening", "AuditEvent")
    AuditChainHead = apps.get_model("screening", "AuditChainHead")
    on_postgresql = schema_editor.connection.vendor == "postgresql"
    if on_postgresql:
        schema_editor.execute("ALTER TABLE screening_auditevent DISABLE TRIGGER auditevent_append_only")
    previous, last_id, batch = "", None, []
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        event.previous_hash = previous
        event.hash = previous = CurrentAuditEvent.content_hash(event)
        last_id = event.pk
        batch.append(event)
        if len(batch) == 2000:
            AuditEvent.objects.bulk_update(batch, ["previous_hash", "hash"])
            batch = []
    AuditEvent.objects.bulk_update(batch, ["previous_hash", "hash"])
    if on_postgresql:
        schema_editor.execute("ALTER TABLE screening_auditevent ENABLE TRIGGER auditevent_append_only")
    AuditChainHead.objects.update_or_create(pk=1, defaults={"last_event_id": last_id, "last_hash": previous})


class Migration(migrations.Migration):

    dependencies = [
        ('screening', '0007_knowledge_base_token'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditChainHead',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('last_event_id', models.BigIntegerField(null=True)),
                ('last_hash', models.CharField(blank=True, max_length=64)),
            ],
            options={
                'verbose_name': 'audit chain head',
            },
        ),
        migrations.AddField(
            model_name='auditevent',
            name='hash',
            field=models.CharField(blank=True, help_text='SHA-256 of this event and the previous hash.', max_length=64),
        ),
        migrations.AddField(
            model_name='auditevent',
            name='previous_hash',
            field=models.CharField(blank=True, help_text="The previous event's hash.", max_length=64),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='action',
            field=models.CharField(choices=[('sign_in', 'Signed in'), ('sign_in_failed', 'Sign-in failed'), ('sign_out', 'Signed out'), ('screening_created', 'Screening created'), ('answers_saved', 'Answers saved'), ('finalised', 'Finalised'), ('amended', 'Amended'), ('viewed', 'Summary viewed'), ('pdf_downloaded', 'PDF downloaded'), ('knowledge_base_changed', 'Knowledge base changed'), ('access_denied', 'Access refused'), ('locked_out', 'Locked out after failed sign-ins'), ('pdf_failed', 'PDF could not be produced')], db_index=True, max_length=30),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='at',
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now),
        ),
        migrations.RunPython(chain_existing_events, migrations.RunPython.noop),
    ]
