"""The rulebook in templates: a version as people read it and a result
status's label (the admin's preview and the screening pages share them),
and what the admin's home page says is due for review."""

from django import template

from conditions.models import Criterion, Reference
from rulebook.versions import version_label
from rules.vocabulary import Status

register = template.Library()


@register.filter
def rules_version(version):
    """A rulebook version as people read it: "Rules version 3 (a1b2c3d)"."""
    return version_label(version) if version else ""


@register.filter
def status_label(status):
    """A result status in words, e.g. "Meets screening criteria"."""
    return Status.label_of(status) if status else ""


@register.simple_tag
def overdue_reviews():
    """How many criteria and references are past their review date: 2 queries."""
    return {"criteria": Criterion.objects.overdue().count(), "references": Reference.objects.overdue().count()}
