"""The rulebook: the knowledge base as an engine snapshot, built and cached.

Two rulebooks matter. The *working copy* is the knowledge base as the admin
has left it: `build_rulebook()` reads it in a fixed number of queries and
`working_rulebook()` keeps it in Django's cache, keyed by a token that every
save or delete of a knowledge-base row (and every change to their
many-to-many links) replaces in the database. The *current* rulebook is the
last version a clinical lead published (rulebook.publishing):
`current_rulebook()` returns it from the cache by its version, which names
one content for ever. Clinicians, the questionnaire and `screen` use the
current rulebook only, so an admin edit reaches them when it is published.
"""

import uuid

from django.core.cache import cache
from django.db.models import F, Prefetch

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
from rulebook.models import KnowledgeBaseRevision, PublishedRulebook, RulebookSnapshot
from rules import engine


def _number(value):
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def build_rulebook() -> engine.Rulebook:
    """The active knowledge base as a Rulebook, in 17 queries however large
    it is (fewer when a part is empty): sections; questions (with their
    sections and enable-when parents); their inputs; active criteria (with
    their questions and `when` questions); their conditions; their
    references; active
    conditions; their references; their evidence grades (with their
    sources); instruments (with their totals); their extra items; their
    references; formulary drugs; their references; the formulary settings;
    their references; retired questions. References are read through those
    prefetches, not a query of their own."""
    sections = list(Section.objects.order_by("order", "key"))
    questions = list(
        Question.objects.select_related("enable_when_question", "section")
        .prefetch_related(Prefetch("inputs", queryset=Question.objects.only("code")))
        .order_by("section__order", "section__key", "order", "code")
    )
    criteria = list(
        Criterion.objects.filter(active=True)
        .select_related("question", "when_question")
        .prefetch_related(
            Prefetch("conditions", queryset=Condition.objects.only("slug")),
            Prefetch("references", queryset=Reference.objects.order_by()),
        )
        .order_by("order", "key")
    )
    conditions = list(
        Condition.objects.filter(active=True)
        .prefetch_related(
            Prefetch("references", queryset=Reference.objects.order_by()),
            Prefetch(
                "evidence_grades",
                queryset=EvidenceGrade.objects.select_related("source").order_by("order", "id"),
            ),
        )
        .order_by("order", "slug")
    )
    instruments = list(
        Instrument.objects.select_related("total")
        .prefetch_related(
            Prefetch("extra_items", queryset=Question.objects.only("code")),
            Prefetch("references", queryset=Reference.objects.order_by()),
        )
        .order_by("order", "code")
    )
    drugs = list(
        Drug.objects.prefetch_related(Prefetch("references", queryset=Reference.objects.order_by()))
        .order_by("order", "name", "key")
    )
    settings = list(
        FormularySettings.objects.prefetch_related(Prefetch("references", queryset=Reference.objects.order_by()))
    )
    settings = settings[0] if settings else FormularySettings()
    retired = list(RetiredQuestion.objects.order_by("order", "code"))
    active_slugs = {c.slug for c in conditions}

    criterion_specs = []
    for criterion in criteria:
        applies = {c.slug for c in criterion.conditions.all()}
        if applies and not applies & active_slugs:
            continue  # every condition it applies to is inactive
        criterion_specs.append(engine.CriterionSpec(
            key=criterion.key, question=criterion.question.code, operator=criterion.operator,
            value=engine._freeze(criterion.value), effect=criterion.effect,
            message=criterion.message_text(), conditions=frozenset(applies & active_slugs),
            references=tuple(sorted(r.key for r in criterion.references.all())),
            when=None if criterion.when_question is None else engine.EnableWhen(
                question=criterion.when_question.code, operator=criterion.when_operator,
                value=engine._freeze(criterion.when_value),
            ),
            basis=criterion.basis,
        ))
    cited = {}
    for item in [*criteria, *conditions, *instruments, *drugs]:
        for reference in item.references.all():
            cited[reference.key] = reference
    for condition in conditions:
        for grade in condition.evidence_grades.all():
            cited[grade.source.key] = grade.source
    trial_references = list(settings.references.all()) if settings.pk else []
    for reference in trial_references:
        cited[reference.key] = reference
    order = {q.code: index for index, q in enumerate(questions)}

    return engine.Rulebook(
        sections=tuple(engine.Section(key=s.key, title=s.title) for s in sections),
        questions=tuple(_question_spec(q, order) for q in questions),
        criteria=tuple(criterion_specs),
        conditions=tuple(
            engine.ConditionSpec(
                slug=c.slug, name=c.name, description=c.description, guidance=c.guidance,
                references=tuple(sorted(r.key for r in c.references.all())),
                licensing=c.licensing,
                evidence=tuple(
                    engine.EvidenceSpec(grade=g.grade, source=g.source.key, applies_to=g.applies_to, note=g.note)
                    for g in c.evidence_grades.all()
                ),
            )
            for c in conditions
        ),
        references=tuple(
            engine.ReferenceSpec(
                key=r.key, authors=r.authors, title=r.title, source=r.source, doi=r.doi,
                pmid=r.pmid, url=r.url, verified=r.verified, note=r.note,
            )
            for r in sorted(cited.values(), key=lambda r: r.key)
        ),
        instruments=tuple(_instrument_spec(i, {q.pk: q for q in questions}, order) for i in instruments),
        formulary=tuple(
            engine.DrugSpec(
                key=d.key, name=d.name, drug_class=d.drug_class,
                min_daily_dose_mg=_number(d.min_daily_dose_mg), counts_as_trial=d.counts_as_trial,
                references=tuple(sorted(r.key for r in d.references.all())),
            )
            for d in drugs
        ),
        min_trial_weeks=settings.min_trial_weeks,
        trial_references=tuple(sorted(r.key for r in trial_references)),
        trial_count=settings.count,
        partial_response_counts=settings.partial_response_counts,
        retired_questions=tuple(
            engine.RetiredQuestion(
                code=r.code, text=r.text,
                maps=tuple(
                    engine.RetiredMapping(
                        answer=engine._freeze(m["answer"]),
                        to=tuple((code, engine._freeze(value)) for code, value in m["to"].items()),
                    )
                    for m in r.maps or ()
                ),
            )
            for r in retired
        ),
    )


def _in_order(codes, order):
    """Question codes in questionnaire order."""
    return tuple(sorted(codes, key=lambda code: order.get(code, len(order))))


def _instrument_spec(i: Instrument, questions_by_pk, order) -> engine.InstrumentSpec:
    total = questions_by_pk[i.total_id]  # read with its inputs
    return engine.InstrumentSpec(
        code=i.code, name=i.name, total=i.total.code,
        items=_in_order([q.code for q in total.inputs.all()], order),
        extra_items=_in_order([q.code for q in i.extra_items.all()], order),
        options=tuple(engine.ScoreOption(score=o["score"], label=o["label"]) for o in i.options or ()),
        bands=tuple(engine.Band(min=b["min"], max=b["max"], label=b["label"]) for b in i.bands or ()),
        references=tuple(sorted(r.key for r in i.references.all())), licence=i.licence,
    )


def _question_spec(q: Question, order) -> engine.QuestionSpec:
    parent = q.enable_when_question
    return engine.QuestionSpec(
        code=q.code, text=q.text, kind=q.kind, section=q.section.key, help_text=q.help_text,
        choices=tuple(engine.Choice(value=c["value"], label=c["label"]) for c in q.choices or ()),
        min=_number(q.min_value), max=_number(q.max_value), unit=q.unit,
        enable_when=None if parent is None else engine.EnableWhen(
            question=parent.code, operator=q.enable_when_operator,
            value=engine._freeze(q.enable_when_value),
        ),
        calculation=q.calculation,
        inputs=_in_order([i.code for i in q.inputs.all()], order) if q.calculation else (),
        complete_when=q.complete_when,
    )


# --- the current rulebook ---------------------------------------------------


def knowledge_base_state():
    """One query: the token that every knowledge-base change replaces, or
    None before the first change."""
    return KnowledgeBaseRevision.objects.filter(pk=1).values_list("token", flat=True).first()


def bump_knowledge_base_revision():
    """Called (through signals) on every knowledge-base change, inside its transaction."""
    updated = KnowledgeBaseRevision.objects.filter(pk=1).update(revision=F("revision") + 1, token=uuid.uuid4())
    if not updated:
        KnowledgeBaseRevision.objects.get_or_create(pk=1, defaults={"revision": 1})


def working_rulebook() -> engine.Rulebook:
    """The working copy: the knowledge base as it is now, from the cache by
    the knowledge base's state token (a key no other content can ever
    have): 1 query when cached, 19 when built (state, 17 to build, state
    again). A change committed while the rulebook was read would leave a
    mixed snapshot, and moves the token: then it is read again."""
    state = knowledge_base_state()
    key = f"rulebook:{state}"
    rulebook = cache.get(key)
    while rulebook is None:
        rulebook = build_rulebook()
        after = knowledge_base_state()
        if after != state:
            state, key, rulebook = after, f"rulebook:{after}", None
    cache.add(key, rulebook)
    return rulebook


def latest_publication() -> PublishedRulebook | None:
    """One query: the newest published version with its snapshot's version
    (its content left unread), or None before anything is published."""
    return (
        PublishedRulebook.objects.select_related("snapshot")
        .only("id", "number", "published_at", "snapshot__id", "snapshot__version")
        .order_by("-number").first()
    )


def current_rulebook() -> engine.Rulebook:
    """The rulebook clinicians use: the last published version, from the
    cache by its version: 1 query when cached, 2 when read from its
    snapshot. Before anything is published (an install that predates
    publishing) it is the working copy, as it always was."""
    publication = latest_publication()
    if publication is None:
        return working_rulebook()
    return published_rulebook(publication.snapshot)


def published_rulebook(snapshot: RulebookSnapshot) -> engine.Rulebook:
    """The rulebook of a stored snapshot, from the cache by its version
    (immutable content): no query when cached, 1 otherwise."""
    key = f"rulebook:version:{snapshot.version}"
    rulebook = cache.get(key)
    if rulebook is None:
        content = RulebookSnapshot.objects.filter(pk=snapshot.pk).values_list("content", flat=True).get()
        rulebook = engine.Rulebook.from_json(content)
        # Its version (a hash of its whole canonical JSON) worked out once
        # and cached with it, not again on every request that reads it.
        rulebook.version  # noqa: B018
        cache.add(key, rulebook)
    return rulebook


def snapshot_for(rulebook: engine.Rulebook) -> RulebookSnapshot:
    """The stored snapshot of this rulebook version, created once, with its
    (large) content left unread: 1 query when it exists, 2 or 3 the first time."""
    snapshot = RulebookSnapshot.objects.only("id", "version").filter(version=rulebook.version).first()
    if snapshot is None:
        snapshot, _ = RulebookSnapshot.objects.get_or_create(
            version=rulebook.version, defaults={"content": rulebook.to_json()}
        )
    return snapshot


SHORT_VERSION = 7  # characters of a version's hash shown beside its number


def version_label(version: str) -> str:
    """The one wording of a rulebook version, wherever a person reads it
    (summary, questionnaire, PDF, catalogue, admin): "Rules version 3
    (a1b2c3d)" once published, "Rules working copy (a1b2c3d)" before. A
    version keeps the number it was first published as for good, so a
    published label is cached by the version for ever: no query then, 1
    otherwise. `screen` keeps the bare version, for machines."""
    key = f"rulebook:version-number:{version}"
    number = cache.get(key)
    if number is None:
        number = (
            PublishedRulebook.objects.filter(snapshot__version=version)
            .order_by("number").values_list("number", flat=True).first()
        )
        if number is not None:
            cache.add(key, number, timeout=None)
    return describe_version(number, version)


def describe_version(number: int | None, version: str) -> str:
    """ "Rules version 3 (a1b2c3d)", or "Rules working copy (a1b2c3d)" for a version never published."""
    short = version[:SHORT_VERSION]
    return f"Rules working copy ({short})" if number is None else f"Rules version {number} ({short})"
