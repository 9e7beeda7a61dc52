"""Small pieces the screening templates (and the PDF) share."""

from django import template
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from rulebook.templatetags.rulebook_tags import rules_version, status_label
from screening import summary

register = template.Library()
register.filter(rules_version)  # the rulebook's words, for the screening pages too
register.filter(status_label)


@register.filter
def status_style(status):
    return summary.status_style(status)


@register.simple_tag
def reference_markers(numbers):
    """`[1] [3]`, each a link to its entry in the summary's reference list."""
    return format_html_join(
        " ", '<a href="#ref-{0}" class="ks-ref">[{0}]</a>', ((number,) for number in numbers)
    )


@register.inclusion_tag("screening/_status_badge.html")
def status_badge(status):
    return {"status": status, "label": status_label(status), "style": status_style(status)}


@register.simple_tag
def step_class(step, current, order=("patient", "questionnaire", "summary", "final")):
    if step == current:
        return "active"
    if current in order and order.index(step) < order.index(current):
        return "done"
    return "todo"


@register.simple_tag
def aria_current(step, current):
    return mark_safe(' aria-current="step"') if step == current else ""
