"""Knowledge-base changes a clinical lead makes in the tests, each published
at once, as a lead publishes an edit before clinicians see it."""

from conditions.models import Condition, Criterion, Question, Section
from rulebook.publishing import rulebook_publish


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


def without_shipped_duties_and_evidence(publish=True):
    """The shipped duties, licensing texts and evidence grades (second
    edition of the knowledge base, issue 18) removed, so that a test sees
    only the ones it adds; published unless `publish` is false."""
    from conditions.models import EvidenceGrade

    Criterion.objects.filter(effect="duty").delete()
    EvidenceGrade.objects.all().delete()
    Condition.objects.update(licensing="")
    if publish:
        rulebook_publish(note="Without the shipped duties and evidence grades.")


def add_duties_and_evidence():
    """Two duties (blood pressure for every condition; an ECG for chronic
    pain only, at 65 or older), licensing text for treatment-resistant
    depression and chronic pain, and evidence grades for chronic pain,
    published, in place of the shipped ones. Test content: the shipped
    wording is the knowledge base's."""
    from conditions.models import EvidenceGrade, Reference

    without_shipped_duties_and_evidence(publish=False)
    bp = Criterion.objects.create(
        key="all-bp-monitoring-duty", question=Question.objects.get(code="systolic_bp"), operator="gte",
        value=60, effect="duty", order=1000,
        message="Measure blood pressure before dosing, at about 40 minutes and before discharge.",
    )
    bp.references.add(Reference.objects.get(key="spravato-pi"))
    ecg = Criterion.objects.create(
        key="pain-ecg-duty", question=Question.objects.get(code="age"), operator="gte", value=65,
        effect="duty", order=1001, message="Record an ECG before the first infusion.",
    )
    ecg.conditions.add(Condition.objects.get(slug="chronic-pain"))
    ecg.references.add(Reference.objects.get(key="cohen-2018"))
    trd = Condition.objects.get(slug="trd")
    trd.licensing = "Esketamine nasal spray is licensed with an oral antidepressant; other routes are off-label."
    trd.save()
    pain = Condition.objects.get(slug="chronic-pain")
    pain.licensing = "Off-label for every route."
    pain.save()
    cohen = Reference.objects.get(key="cohen-2018")
    EvidenceGrade.objects.create(condition=pain, grade="Moderate", applies_to="CRPS", source=cohen, order=1)
    EvidenceGrade.objects.create(
        condition=pain, grade="Weak", applies_to="Fibromyalgia", source=cohen, order=2,
        note="Short-term relief at best.",
    )
    rulebook_publish(note="Treatment-session duties and evidence grades.")
