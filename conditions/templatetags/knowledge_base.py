"""What the admin home page shows about the knowledge base."""

from django import template

from conditions.models import Criterion, Reference

register = template.Library()


@register.simple_tag
def overdue_reviews():
    """How many criteria and references are past their review date: 2 queries."""
    return {"criteria": Criterion.objects.overdue().count(), "references": Reference.objects.overdue().count()}
