"""The rulebook's own records: the knowledge base's revision (what the
working copy's cache is keyed by), the snapshots of each version of the
rules, and the versions a clinical lead published.

Their tables keep the names they were made with in `screening` (db_table),
so moving them here changed no table and no row.
"""

import uuid

from django.conf import settings
from django.db import models

from rules import engine


class KnowledgeBaseRevision(models.Model):
    """A single row whose counter moves, and whose token is replaced, with
    every knowledge-base change. The cached rulebook is keyed by the token
    (see rulebook.versions), so no process can read a stale one: a token
    names one state of the knowledge base, in any database, for ever.
    """

    revision = models.PositiveBigIntegerField(default=0)
    token = models.UUIDField(default=uuid.uuid4)

    class Meta:
        db_table = "screening_knowledgebaserevision"  # made before the rulebook had an app of its own

    def __str__(self):
        return f"knowledge base revision {self.revision}"


class RulebookSnapshot(models.Model):
    """One version of the rulebook, stored once and shared by every screening
    evaluated against it; past summaries render from it."""

    version = models.CharField(max_length=12, unique=True)
    content = models.TextField(help_text="The rulebook's canonical JSON.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "screening_rulebooksnapshot"

    def __str__(self):
        return self.version

    def rulebook(self) -> engine.Rulebook:
        return engine.Rulebook.from_json(self.content)


class PublishedRulebook(models.Model):
    """A version of the rulebook that a clinical lead published: what
    clinicians, the questionnaire and `screen` use until the next one.

    Numbered 1, 2, 3… in publishing order; the snapshot holds its content.
    Never changed or deleted: the list of versions is part of the record.
    """

    number = models.PositiveIntegerField(unique=True)
    snapshot = models.ForeignKey(RulebookSnapshot, on_delete=models.PROTECT, related_name="publications")
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    published_at = models.DateTimeField(auto_now_add=True)
    note = models.TextField(blank=True, help_text="What changed and why.")

    class Meta:
        db_table = "screening_publishedrulebook"
        ordering = ["-number"]
        verbose_name = "published rulebook version"

    def __str__(self):
        return f"version {self.number}"
