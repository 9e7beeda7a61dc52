"""The rulebook's three models move here from `screening`, tables and rows
untouched: each keeps its table (db_table), so this migration only tells
Django's state where they live now (SeparateDatabaseAndState), and moves
their content types, so every permission granted on them (the clinical
leads' "view" and "add" published versions) stays granted."""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MOVED = ["knowledgebaserevision", "rulebooksnapshot", "publishedrulebook"]


def move_content_types(apps, schema_editor):
    """A database migrated before the move has these models' content types
    (and their permissions, with the groups that hold them) under
    `screening`: they are relabelled, not made anew. A fresh database has
    none yet; Django makes them after migrating."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in MOVED:
        if not ContentType.objects.using(db).filter(app_label="rulebook", model=model).exists():
            ContentType.objects.using(db).filter(app_label="screening", model=model).update(app_label="rulebook")


def move_content_types_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in MOVED:
        if not ContentType.objects.using(db).filter(app_label="screening", model=model).exists():
            ContentType.objects.using(db).filter(app_label="rulebook", model=model).update(app_label="screening")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("screening", "0022_fill_condition_outcomes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="KnowledgeBaseRevision",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("revision", models.PositiveBigIntegerField(default=0)),
                        ("token", models.UUIDField(default=uuid.uuid4)),
                    ],
                    options={"db_table": "screening_knowledgebaserevision"},
                ),
                migrations.CreateModel(
                    name="RulebookSnapshot",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("version", models.CharField(max_length=12, unique=True)),
                        ("content", models.TextField(help_text="The rulebook's canonical JSON.")),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={"db_table": "screening_rulebooksnapshot"},
                ),
                migrations.CreateModel(
                    name="PublishedRulebook",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("number", models.PositiveIntegerField(unique=True)),
                        ("published_at", models.DateTimeField(auto_now_add=True)),
                        ("note", models.TextField(blank=True, help_text="What changed and why.")),
                        ("published_by", models.ForeignKey(
                            blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+",
                            to=settings.AUTH_USER_MODEL,
                        )),
                        ("snapshot", models.ForeignKey(
                            on_delete=django.db.models.deletion.PROTECT, related_name="publications",
                            to="rulebook.rulebooksnapshot",
                        )),
                    ],
                    options={
                        "verbose_name": "published rulebook version",
                        "ordering": ["-number"],
                        "db_table": "screening_publishedrulebook",
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
