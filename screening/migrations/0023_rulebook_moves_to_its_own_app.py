"""The rulebook's models now live in the `rulebook` app (its 0001): the
screening's snapshot points there, and `screening` forgets the three
models. State only: no table or row changes."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("screening", "0022_fill_condition_outcomes"),
        ("rulebook", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="screening",
                    name="snapshot",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="screenings",
                        to="rulebook.rulebooksnapshot",
                    ),
                ),
                migrations.DeleteModel(name="PublishedRulebook"),
                migrations.DeleteModel(name="RulebookSnapshot"),
                migrations.DeleteModel(name="KnowledgeBaseRevision"),
            ],
            database_operations=[],
        ),
    ]
