"""The rulebook: the knowledge base as an engine snapshot, built and cached.

`build_rulebook()` reads the database in a fixed number of queries.
`current_rulebook()` returns a cached rulebook and rebuilds it only when the
knowledge base has changed since: every save or delete of a knowledge-base
row (and every change to their many-to-many links) bumps a revision counter
in the database, which each process checks with one small query. So an edit
in the admin shows on the next new questionnaire in every server process.
"""

import threading
from functools import cache

from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import F, Prefetch

from conditions.models import Condition, Criterion, Question, Reference, Section
from config import rows
from screening import engine
from screening.models import KnowledgeBaseRevision, RulebookSnapshot


def _number(value):
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def build_rulebook() -> engine.Rulebook:
    """The active knowledge base as a Rulebook, in 7 queries however large it
    is: sections; questions (with their sections and enable-when parents);
    active criteria (with their questions); their conditions; their
    references; active conditions; their references. References are read
    through those prefetches, not a query of their own."""
    sections = list(Section.objects.order_by("order", "key"))
    questions = list(
        Question.objects.select_related("enable_when_question", "section")
        .order_by("section__order", "section__key", "order", "code")
    )
    criteria = list(
        Criterion.objects.filter(active=True)
        .select_related("question")
        .prefetch_related(
            Prefetch("conditions", queryset=Condition.objects.only("slug")),
            Prefetch("references", queryset=Reference.objects.order_by()),
        )
        .order_by("order", "key")
    )
    conditions = list(
        Condition.objects.filter(active=True)
        .prefetch_related(Prefetch("references", queryset=Reference.objects.order_by()))
        .order_by("order", "slug")
    )
    active_slugs = {c.slug for c in conditions}

    criterion_specs = []
    for criterion in criteria:
        applies = {c.slug for c in criterion.conditions.all()}
        if applies and not applies & active_slugs:
            continue  # every condition it applies to is inactive
        criterion_specs.append(engine.CriterionSpec(
            key=criterion.key, question=criterion.question.code, operator=criterion.operator,
            value=engine._freeze(criterion.value), effect=criterion.effect,
            message=criterion.message, conditions=frozenset(applies & active_slugs),
            references=tuple(sorted(r.key for r in criterion.references.all())),
        ))
    cited = {}
    for item in [*criteria, *conditions]:
        for reference in item.references.all():
            cited[reference.key] = reference

    return engine.Rulebook(
        sections=tuple(engine.Section(key=s.key, title=s.title) for s in sections),
        questions=tuple(_question_spec(q) for q in questions),
        criteria=tuple(criterion_specs),
        conditions=tuple(
            engine.ConditionSpec(
                slug=c.slug, name=c.name, description=c.description, guidance=c.guidance,
                references=tuple(sorted(r.key for r in c.references.all())),
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
    )


def _question_spec(q: Question) -> engine.QuestionSpec:
    parent = q.enable_when_question
    return engine.QuestionSpec(
        code=q.code, text=q.text, kind=q.kind, section=q.section.key, help_text=q.help_text,
        choices=tuple(engine.Choice(value=c["value"], label=c["label"]) for c in q.choices or ()),
        min=_number(q.min_value), max=_number(q.max_value), unit=q.unit,
        enable_when=None if parent is None else engine.EnableWhen(
            question=parent.code, operator=q.enable_when_operator,
            value=engine._freeze(q.enable_when_value),
        ),
    )


# --- the cache ------------------------------------------------------------

_cache_lock = threading.Lock()
_cached = {"revision": None, "rulebook": None}


def knowledge_base_revision() -> int:
    """One query: the counter every knowledge-base change bumps. In SQL by
    hand: every questionnaire asks, and the ORM takes longer to build the
    query than the database takes to answer it."""
    row = rows.fetch_one(_revision_sql(), [1])
    return row[0] if row else 0


@cache
def _revision_sql():
    qn = connection.ops.quote_name
    meta = KnowledgeBaseRevision._meta
    return (
        f"SELECT {qn(meta.get_field('revision').column)} FROM {qn(meta.db_table)} "
        f"WHERE {qn(meta.pk.column)} = %s"
    )


def bump_knowledge_base_revision():
    """Called (through signals) on every knowledge-base change, inside its transaction."""
    updated = KnowledgeBaseRevision.objects.filter(pk=1).update(revision=F("revision") + 1)
    if not updated:
        KnowledgeBaseRevision.objects.get_or_create(pk=1, defaults={"revision": 1})


def current_rulebook() -> engine.Rulebook:
    """The rulebook of the knowledge base as it is now: 1 query when cached,
    9 when it is rebuilt (revision, 7 to build, revision again)."""
    revision = knowledge_base_revision()
    with _cache_lock:
        if _cached["revision"] == revision:
            return _cached["rulebook"]
    while True:
        rulebook = build_rulebook()
        # A change committed while we read would leave a mixed snapshot;
        # the revision moves with every such commit, so read it again.
        after = knowledge_base_revision()
        if after == revision:
            break
        revision = after
    with _cache_lock:
        _cached["revision"], _cached["rulebook"] = revision, rulebook
    return rulebook


def clear_cache():
    with _cache_lock:
        _cached["revision"], _cached["rulebook"] = None, None


def snapshot_for(rulebook: engine.Rulebook) -> RulebookSnapshot:
    """The stored snapshot of this rulebook version, created once, with its
    (large) content left unread until it is needed. 1 query when it exists;
    none once this process has seen it committed (screening.caching)."""
    from screening import caching

    snapshot_id = caching.snapshot_ids.get(rulebook.version)
    if snapshot_id is not None:
        return RulebookSnapshot.from_db(DEFAULT_DB_ALIAS, ["id", "version"], [snapshot_id, rulebook.version])
    snapshot = RulebookSnapshot.objects.only("id", "version").filter(version=rulebook.version).first()
    if snapshot is None:
        snapshot, _ = RulebookSnapshot.objects.get_or_create(
            version=rulebook.version, defaults={"content": rulebook.to_json()}
        )
    caching.snapshot_ids.set_once_committed(rulebook.version, snapshot.pk)
    return snapshot
