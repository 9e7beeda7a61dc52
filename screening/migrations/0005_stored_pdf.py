"""Stored PDFs of final screenings. On PostgreSQL the database itself refuses
to change or delete one, as it does for final screenings (0003)."""

import django.db.models.deletion
from django.db import migrations, models

GUARD = """
CREATE OR REPLACE FUNCTION ketascreen_refuse_stored_pdf_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'stored PDF % is part of the record and cannot be changed', OLD.id
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER storedpdf_is_immutable
    BEFORE UPDATE OR DELETE ON screening_storedpdf
    FOR EACH ROW EXECUTE FUNCTION ketascreen_refuse_stored_pdf_change();
"""

DROP_GUARD = """
DROP TRIGGER IF EXISTS storedpdf_is_immutable ON screening_storedpdf;
DROP FUNCTION IF EXISTS ketascreen_refuse_stored_pdf_change();
"""


def add_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(GUARD, params=None)


def drop_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_GUARD, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('screening', '0004_screening_owner_status_index'),
    ]

    operations = [
        migrations.CreateModel(
            name='StoredPdf',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('file', models.FileField(max_length=200, upload_to='screening-pdfs/')),
                ('sha256', models.CharField(help_text='SHA-256 of the stored bytes, in hex.', max_length=64)),
                ('size', models.PositiveIntegerField(help_text='Bytes.')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('screening', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='stored_pdf', to='screening.screening')),
            ],
            options={
                'verbose_name': 'stored PDF',
            },
        ),
        migrations.RunPython(add_guard, drop_guard),
    ]
