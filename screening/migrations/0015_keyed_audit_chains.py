"""The audit trail becomes keyed chains (see screening.audit): each event
names its chain and the key its HMAC was made with. The unkeyed events
written so far are sealed by a keyed "key introduced" event carrying their
last hash, and every chain's head starts from it."""

from django.db import migrations, models


def seal(apps, schema_editor):
    from screening.audit import make_chain_heads, seal_unkeyed_chain

    head_model = apps.get_model("screening", "AuditChainHead")
    if seal_unkeyed_chain(apps.get_model("screening", "AuditEvent"), head_model) is None:
        make_chain_heads(head_model, start=False)


class Migration(migrations.Migration):

    dependencies = [
        ('screening', '0014_patient_viewed_audit'),
    ]

    operations = [
        migrations.AddField(
            model_name='auditchainhead',
            name='chain',
            field=models.PositiveSmallIntegerField(null=True, unique=True),
        ),
        migrations.AddField(
            model_name='auditevent',
            name='chain',
            field=models.PositiveSmallIntegerField(blank=True, help_text='The chain it belongs to; none for unkeyed events and the seal.', null=True),
        ),
        migrations.AddField(
            model_name='auditevent',
            name='key_id',
            field=models.CharField(blank=True, help_text='The audit key its hash was made with.', max_length=16),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='action',
            field=models.CharField(choices=[('sign_in', 'Signed in'), ('sign_in_failed', 'Sign-in failed'), ('sign_out', 'Signed out'), ('screening_created', 'Screening created'), ('answers_saved', 'Answers saved'), ('finalised', 'Finalised'), ('finalised_incomplete', 'Finalised while incomplete, with a reason'), ('reevaluated', 'Re-evaluated under new rules'), ('details_corrected', 'Patient details or conditions corrected'), ('discarded', 'Draft discarded'), ('amended', 'Amended'), ('viewed', 'Summary viewed'), ('compared', 'Compared with the current rules'), ('patient_viewed', 'Patient history viewed'), ('pdf_downloaded', 'PDF downloaded'), ('knowledge_base_changed', 'Knowledge base changed'), ('access_denied', 'Access refused'), ('locked_out', 'Locked out after failed sign-ins'), ('pdf_failed', 'PDF could not be produced'), ('key_introduced', 'Audit key introduced: the unkeyed events before it sealed')], db_index=True, max_length=30),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='hash',
            field=models.CharField(blank=True, help_text='HMAC-SHA256 of this event and the previous hash (SHA-256 for an unkeyed event).', max_length=64),
        ),
        migrations.RunPython(seal, migrations.RunPython.noop),
    ]
