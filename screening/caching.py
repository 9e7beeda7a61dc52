"""Rendered markup the screening pages reuse, kept in each server process.

Nothing here can go stale, because every key is made of facts that never
change once written: a rulebook version is the hash of the rulebook's
content, and a screening's markup is keyed by its id together with its
revision and last-saved time (both move on every save, and a final
screening is never saved again) and every other value that markup shows.
So several gunicorn workers or hosts, each with its own copy, always agree
with the database; a deploy starts with empty caches, so changed templates
show at once. Entries are evicted least recently used first.

The caches hold markup only. Access checks and audit events run on every
request, outside them. A whole page (`page`) is keyed by everything it
shows, the viewer included, and is never kept with messages in it; each
response gets its own CSRF token, filled into the page's hole for it.
"""

import secrets
import threading
from collections import OrderedDict
from functools import partial

from django.contrib.messages import get_messages
from django.db import transaction
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from config import rows as config_rows
from screening import engine, selectors
from screening.forms import QuestionnaireMarkup
from screening.models import Screening
from screening.summary import summary_context


class BoundedCache:
    """A thread-safe least-recently-used mapping of at most `size` entries."""

    def __init__(self, size: int):
        self.size = size
        self._entries = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def set(self, key, value):
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def set_once_committed(self, key, value):
        """`set` once the current transaction commits (at once outside
        one): a row read or written in a transaction that rolls back never
        existed, so it must never be kept."""
        transaction.on_commit(partial(self.set, key, value))

    def clear(self):
        with self._lock:
            self._entries.clear()

    def __len__(self):
        return len(self._entries)


# A questionnaire template is a few tens of kilobytes; there is one per
# rulebook version and set of conditions in use.
questionnaires = BoundedCache(size=128)
# A summary body is 5 to 50 kilobytes: at most about 25 MB per process.
summary_bodies = BoundedCache(size=500)
# A row of the screening list is under a kilobyte.
list_row_cache = BoundedCache(size=5000)
# Whole pages, each for one state of what it shows and one viewer. A
# page is 10 to 60 kilobytes: at most about 18 MB per process.
pages = BoundedCache(size=300)
# Stored PDFs' rows (file name, SHA-256, size), by screening id: a final
# screening's PDF is stored once and its row can be neither changed nor
# deleted, so a row once read is the row. A few hundred bytes each.
stored_pdfs = BoundedCache(size=10000)
# Stored rulebook snapshots' ids, by rulebook version: a snapshot is stored
# once per version and never changed or deleted (screening.rulebook).
snapshot_ids = BoundedCache(size=64)


def clear():
    """Empty every cache of this module (tests; never needed for correctness)."""
    questionnaires.clear()
    summary_bodies.clear()
    pages.clear()
    list_row_cache.clear()
    stored_pdfs.clear()
    snapshot_ids.clear()


def questionnaire(rulebook: engine.Rulebook, conditions) -> QuestionnaireMarkup:
    """The questionnaire markup for this rulebook version and these
    conditions (in any order: the questionnaire is the same). No query."""
    key = (rulebook.version, frozenset(conditions))
    markup = questionnaires.get(key)
    if markup is None:
        markup = QuestionnaireMarkup(rulebook, conditions)
        questionnaires.set(key, markup)
    return markup


def _display_name(user):
    return _name(user.first_name, user.last_name, user.get_username()) if user is not None else ""


def _name(first_name: str, last_name: str, username: str) -> str:
    """A user's name as shown: their full name, else their username
    (User.get_full_name() or get_username())."""
    return f"{first_name} {last_name}".strip() or username


def list_rows(rows: list[selectors.ListRow], *, condition_names: dict, show_owner: bool) -> str:
    """The rows of the screening list (templates/screening/_list_row.html),
    one after the other, for rows read by `selectors.screening_list`. No
    query. Each row is keyed by its screening's revision and last-saved
    time, the names of its conditions and owner as they are now, and the
    time zone."""
    zone = timezone.get_current_timezone_name()
    conditions_field = Screening._meta.get_field("conditions")
    markup = []
    for row in rows:
        slugs = config_rows.value_from_db(conditions_field, row.conditions)
        conditions = ", ".join(condition_names.get(slug, slug) for slug in slugs)
        owner = _name(row.owner_first_name, row.owner_last_name, row.owner_username) if show_owner else None
        key = (row.id, row.revision, row.updated_at, conditions, owner, zone)
        html = list_row_cache.get(key)
        if html is None:
            html = render_to_string("screening/_list_row.html", {
                "screening": selectors.listed_screening(row), "conditions": conditions, "owner": owner,
                "show_owner": show_owner,
            })
            list_row_cache.set(key, html)
        markup.append(html)
    return mark_safe("".join(markup))


def summary_body_key(screening: Screening, *, can_edit: bool) -> tuple:
    """Everything the summary body depends on besides the screening's own
    stored (and, for a given revision, unchanging) content: the names of its
    clinician and finaliser, who may be renamed; whether the viewer may edit
    it (a draft links its missing questions to the questionnaire for its
    owner only); the time zone its times are shown in."""
    return (
        screening.pk, screening.revision, screening.updated_at, screening.status,
        _display_name(screening.owner), _display_name(screening.finalised_by),
        can_edit and not screening.is_final, timezone.get_current_timezone_name(),
    )


class SummaryBody:
    """The advisory summary's markup (templates/screening/_summary_body.html),
    the top of its page (_summary_head.html: steps, title, the record it
    amends), and what the page around them needs: how many answers are
    missing, and the addresses of the screening's actions."""

    __slots__ = ("head", "html", "missing_count", "urls")

    def __init__(self, head: str, html: str, missing_count: int, urls: dict):
        self.head = mark_safe(head)
        self.html = mark_safe(html)
        self.missing_count = missing_count
        self.urls = urls


ACTIONS = ("questionnaire", "finalise", "amend")


def summary_body(screening: Screening, *, can_edit: bool) -> SummaryBody:
    """The summary body of `screening`, as loaded by `selectors.screening_page`.

    No query when it was rendered before for the same key (see
    `summary_body_key`); otherwise 1, to load the stored result, answers and
    rulebook snapshot (`selectors.screening_detail`). Were the screening saved
    between the two queries, the body is that of the newer row and is cached
    under the newer row's key, never under this one's.
    """
    key = summary_body_key(screening, can_edit=can_edit)
    body = summary_bodies.get(key)
    if body is not None:
        return body
    full = selectors.screening_detail(screening.pk) or screening
    context = summary_context(full)
    context["can_edit"] = can_edit
    head = render_to_string("screening/_summary_head.html", {
        "screening": full, "step": "final" if full.is_final else "summary",
    })
    urls = {action: reverse(f"screening:{action}", args=[full.pk]) for action in ACTIONS}
    body = SummaryBody(
        head, render_to_string("screening/_summary_body.html", context), context["missing_count"], urls,
    )
    summary_bodies.set(summary_body_key(full, can_edit=can_edit), body)
    return body


# Stands in for the CSRF token in a kept page: random, so that nothing else
# in a page can be mistaken for it.
_CSRF_HOLE = f"csrf-token-{secrets.token_hex(16)}"


def page(request, key: tuple, template_name: str, context) -> str:
    """`template_name` rendered for `request` with the dict `context()`
    returns, reusing the markup rendered before under `key`, which must
    name everything the page shows but its CSRF token: the viewer too.

    Each response gets a token of its own, masked afresh as Django masks
    one for every response; the page keeps only the hole it goes in. A
    request with messages to show gets its page rendered afresh, and not
    kept: showing messages uses them up.
    """
    if get_messages(request):
        return render_to_string(template_name, context(), request)
    html = pages.get(key)
    if html is None:
        html = render_to_string(template_name, {**context(), "csrf_token": _CSRF_HOLE}, request)
        pages.set(key, html)
    if _CSRF_HOLE in html:
        html = html.replace(_CSRF_HOLE, get_token(request))
    return html


def _viewer(request) -> tuple:
    """The signed-in user as every page shows them (base.html's navigation bar)."""
    user = request.user
    return user.pk, _display_name(user), user.is_staff


def summary_page_key(request, screening: Screening, *, can_edit: bool, amendments) -> tuple:
    """Everything the summary page shows: its body (`summary_body_key`),
    what the viewer may do with it, who the viewer is, and the screenings
    that amend it."""
    return (
        "summary", summary_body_key(screening, can_edit=can_edit), can_edit, _viewer(request),
        tuple((amendment.pk, amendment.status, amendment.created_at) for amendment in amendments),
    )


def list_page_key(request, *, search: tuple, number: int, has_next: bool, show_owner: bool, rows: str) -> tuple:
    """Everything a page of the screening list shows: who the viewer is,
    the search as typed, which page, whether older ones follow, and its
    rows' markup (`list_rows`), which is made of everything they show."""
    return ("list", _viewer(request), search, number, has_next, show_owner, rows)
