"""Every knowledge-base change moves the revision the rulebook cache checks."""

from django.db.models.signals import m2m_changed, post_delete, post_save

from conditions.models import Condition, Criterion, Question, Reference, Section

KNOWLEDGE_BASE_MODELS = (Section, Reference, Condition, Question, Criterion)
KNOWLEDGE_BASE_LINKS = (
    Condition.references.through,
    Criterion.conditions.through,
    Criterion.references.through,
)


def knowledge_base_changed(sender, **kwargs):
    if kwargs.get("raw"):
        return  # fixtures loading; the revision moves with the next real change
    if "action" in kwargs and not kwargs["action"].startswith("post_"):
        return
    from screening.rulebook import bump_knowledge_base_revision

    bump_knowledge_base_revision()


def connect():
    for model in KNOWLEDGE_BASE_MODELS:
        post_save.connect(knowledge_base_changed, sender=model, dispatch_uid=f"kb-save-{model.__name__}")
        post_delete.connect(knowledge_base_changed, sender=model, dispatch_uid=f"kb-delete-{model.__name__}")
    for through in KNOWLEDGE_BASE_LINKS:
        m2m_changed.connect(knowledge_base_changed, sender=through, dispatch_uid=f"kb-link-{through.__name__}")
