"""Every knowledge-base change (a row saved or deleted, a many-to-many link
changed) moves the revision that the working copy's cache is keyed by
(rulebook.versions). The audit of those changes is the clinical record's
(screening.signals)."""

from django.db.models.signals import m2m_changed, post_delete, post_save

from conditions.models import (
    Condition,
    Criterion,
    Drug,
    EvidenceGrade,
    FormularySettings,
    Instrument,
    Question,
    Reference,
    RetiredQuestion,
    Section,
)
from rulebook.versions import bump_knowledge_base_revision

KNOWLEDGE_BASE_MODELS = (
    Section, Reference, Condition, Question, Criterion, EvidenceGrade, Instrument, Drug, FormularySettings,
    RetiredQuestion,
)
KNOWLEDGE_BASE_LINKS = (
    Condition.references.through,
    Criterion.conditions.through,
    Criterion.references.through,
    Question.inputs.through,
    Instrument.extra_items.through,
    Instrument.references.through,
    Drug.references.through,
    FormularySettings.references.through,
)


def knowledge_base_changed(sender, **kwargs):
    if kwargs.get("raw"):
        return  # fixtures loading; the revision moves with the next real change
    if "action" in kwargs and not kwargs["action"].startswith("post_"):
        return
    bump_knowledge_base_revision()


def connect():
    for model in KNOWLEDGE_BASE_MODELS:
        post_save.connect(knowledge_base_changed, sender=model, dispatch_uid=f"kb-save-{model.__name__}")
        post_delete.connect(knowledge_base_changed, sender=model, dispatch_uid=f"kb-delete-{model.__name__}")
    for through in KNOWLEDGE_BASE_LINKS:
        m2m_changed.connect(knowledge_base_changed, sender=through, dispatch_uid=f"kb-link-{through.__name__}")
