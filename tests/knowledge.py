"""Knowledge-base changes a clinical lead makes in the tests, each published
at once, as a lead publishes an edit before clinicians see it."""

from conditions.models import Condition, Criterion, Question, Section
from screening.publishing import rulebook_publish


def raise_trd_threshold():
    """Three failed trials instead of two, published."""
    criterion = Criterion.objects.get(key="trd-two-failed-trials-require")
    criterion.value = 3
    criterion.save()
    rulebook_publish(note="Three failed trials for treatment-resistant depression.")


def add_trd_question():
    """A new TRD question with a requirement reading it, published."""
    question = Question.objects.create(
        code="ect_considered", text="Has ECT been considered?", kind="boolean",
        section=Section.objects.order_by("order").first(), order=99,
    )
    criterion = Criterion.objects.create(
        key="trd-ect-considered-require", question=question, operator="is_true", effect="require",
        message="ECT should have been considered first.",
    )
    criterion.conditions.add(Condition.objects.get(slug="trd"))
    rulebook_publish(note="Ask whether ECT was considered.")
