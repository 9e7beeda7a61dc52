"""The advisory summary as a PDF for the patient record.

Renders templates/screening/pdf.html from the same context as the summary
page (`summary_context`: the screening's stored snapshot and result, never
the live knowledge base) with WeasyPrint and static/css/pdf.css.

Nothing is fetched over the network while rendering: the stylesheet is read
from disk and parsed once, fonts come from the system (DejaVu Sans), and the
URL fetcher refuses everything but data: URLs. A PDF view that fetched its
own stylesheet from the server would wait on a worker of the same small
pool, and could deadlock it.

A draft's PDF is rendered on request and kept in Django's cache per
screening revision (a revision never changes once saved), never stored. A
final screening's PDF is rendered once, on its first download, and stored
(default storage) with its SHA-256 in a StoredPdf row beside the screening,
whose own row stays untouched; later downloads serve those bytes.

Rendering is the slowest thing the app does (seconds for a long draft), so
it is bounded: each user may start PDF_DRAFT_RENDERS_PER_MINUTE draft
renders a minute, and a render running longer than
PDF_RENDER_TIMEOUT_SECONDS is stopped (see `_time_limit`).
"""

import atexit
import functools
import hashlib
import re
import signal
import threading
import unicodedata
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from screening import selectors
from screening.models import Screening, StoredPdf
from screening.summary import summary_context

TEMPLATE = "screening/pdf.html"
STYLESHEET = Path(settings.BASE_DIR) / "static" / "css" / "pdf.css"


class PdfError(Exception):
    """A PDF could not be produced; the message says why, for the user."""


class StoredPdfError(PdfError):
    """A stored PDF is missing or its bytes no longer match their SHA-256."""


class RenderTimedOut(PdfError):
    """A render ran past PDF_RENDER_TIMEOUT_SECONDS and was stopped."""


class TooManyRenders(Exception):
    """The user started PDF_DRAFT_RENDERS_PER_MINUTE draft renders within a minute."""


class _Alarm(BaseException):
    """Raised inside a render by the timer. A BaseException, so no
    `except Exception` within WeasyPrint can swallow it and carry on."""


@functools.cache
def _weasyprint():
    """WeasyPrint's HTML class, a URL fetcher, the font configuration and
    our parsed stylesheet, made once per process: a shared font
    configuration keeps its caches, which makes each render about a sixth
    faster.

    The fetcher allows data: URLs only: the stylesheet is read from its file
    here, fonts come from the system, and anything else a page might point
    to (http(s) above all, or a local file) is refused with a warning while
    the rest renders. WeasyPrint is imported here rather than at the top as
    it takes about a second to import, which only a process that renders a
    PDF should pay.
    """
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration
    from weasyprint.urls import URLFetcher

    fetcher = URLFetcher(allowed_protocols={"data"}, allow_redirects=False)
    fonts = FontConfiguration()
    stylesheet = CSS(filename=STYLESHEET, url_fetcher=fetcher, font_config=fonts)
    return HTML, fetcher, fonts, stylesheet


# Let the font configuration go while WeasyPrint can still tidy up after it.
atexit.register(_weasyprint.cache_clear)

# The font configuration (Pango's font map) is not for two threads at once.
# Rendering is mostly Python, bound by the GIL, so taking turns costs a
# threaded server little.
_rendering = threading.Lock()


@contextmanager
def _time_limit(seconds: float):
    """Stops the block with RenderTimedOut after `seconds`, on the main thread.

    A SIGALRM timer raises inside the render itself, so a stopped render
    frees its worker and the CPU at once; a render moved to another thread
    and waited on with a timeout would run on, unseen, in the background,
    holding the renderer (and its lock) from the next request. Gunicorn's
    sync workers, which production runs (README), and the test client
    serve each request on the main thread; where there is no main thread
    to interrupt (the development server's threads) renders are not timed.
    """
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    armed = True

    def ring(signum, frame):
        if armed:
            raise _Alarm

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _Alarm:
        raise RenderTimedOut(
            f"The PDF took longer than {seconds:g} seconds to produce and was stopped."
        ) from None
    finally:
        armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _layout(html: str):
    html_class, fetcher, fonts, stylesheet = _weasyprint()
    document = html_class(string=html, base_url=str(STYLESHEET.parent) + "/", url_fetcher=fetcher)
    return document.render(stylesheets=[stylesheet], font_config=fonts)


def layout(html: str):
    """The laid-out pages (a weasyprint.Document): our stylesheet and
    fetcher, nothing else. Relative URLs would resolve beside the stylesheet."""
    with _rendering:
        return _layout(html)


def html_to_pdf(html: str) -> bytes:
    """The PDF of `html`; RenderTimedOut past PDF_RENDER_TIMEOUT_SECONDS
    (WeasyPrint is loaded before the timer starts)."""
    _weasyprint()
    with _rendering, _time_limit(settings.PDF_RENDER_TIMEOUT_SECONDS):
        return _layout(html).write_pdf()


# A finaliser's role on the signature block, from the groups that grant it.
ROLE_FOR_GROUP = {"Clinical leads": "Clinical lead", "Clinicians": "Clinician"}


def signing_role(user) -> str:
    """The role printed beside a finaliser's name: 1 query."""
    groups = set(user.groups.values_list("name", flat=True))
    return next((role for group, role in ROLE_FOR_GROUP.items() if group in groups), "Clinician")


def render_html(screening: Screening) -> str:
    """The PDF's HTML. Makes no query for a draft loaded by
    `selectors.screening_detail` (see `summary_context`); 1 for a final
    screening, to read its finaliser's role for the signature block."""
    context = summary_context(screening)
    context["produced_at"] = timezone.now()
    if screening.is_final and screening.finalised_by is not None:
        context["finaliser_role"] = signing_role(screening.finalised_by)
    return render_to_string(TEMPLATE, context)


def render_pdf(screening: Screening) -> bytes:
    return html_to_pdf(render_html(screening))


def stored_pdf(screening: Screening) -> StoredPdf:
    """The stored PDF of a final screening, rendered and stored on first use.

    1 query when it is stored already. Two first downloads at once store one file: on
    PostgreSQL the second waits on the screening's row lock and then finds
    the first one's PDF; without row locks (SQLite) the unique screening
    column refuses the second row, and its file is removed again.
    """
    if not screening.is_final:
        raise ValueError("Only a final screening's PDF is stored; a draft's is rendered on request.")
    stored = StoredPdf.objects.filter(screening=screening).first()
    if stored is not None:
        return stored
    with transaction.atomic():
        # NO KEY UPDATE: waits for another first download, yet lets rows
        # that point to this screening (its PDF, an amendment) be inserted.
        list(Screening.objects.select_for_update(no_key=True).filter(pk=screening.pk).values_list("pk"))
        stored = StoredPdf.objects.filter(screening=screening).first()
        if stored is not None:
            return stored
        return _store(screening, render_pdf(_in_full(screening)))


def _store(screening: Screening, data: bytes) -> StoredPdf:
    """The file first, then the row, so a row never points to a missing file."""
    digest = hashlib.sha256(data).hexdigest()
    field = StoredPdf._meta.get_field("file")
    name = field.storage.save(
        field.generate_filename(None, f"{screening.pk}-{digest[:16]}.pdf"), ContentFile(data)
    )
    try:
        with transaction.atomic():
            return StoredPdf.objects.create(screening=screening, file=name, sha256=digest, size=len(data))
    except IntegrityError:
        field.storage.delete(name)
        return StoredPdf.objects.get(screening=screening)
    except BaseException:
        field.storage.delete(name)
        raise


def stored_bytes(stored: StoredPdf) -> bytes:
    """The stored file's bytes, checked against the SHA-256 recorded with them."""
    try:
        with stored.file.open("rb") as file:
            data = file.read()
    except FileNotFoundError as error:
        raise StoredPdfError(f"The stored PDF of screening {stored.screening_id} is missing.") from error
    if hashlib.sha256(data).hexdigest() != stored.sha256:
        raise StoredPdfError(f"The stored PDF of screening {stored.screening_id} does not match its SHA-256.")
    return data


def pdf_bytes(screening: Screening, *, user=None) -> bytes:
    """What a download sends: a draft rendered now, a final screening's stored PDF.

    `screening` may come without its stored result and snapshot
    (`selectors.screening_page`): they are loaded only to render, so a
    stored PDF is sent without reading them. A draft's render counts
    against `user`'s limit (see `draft_pdf`).
    """
    if screening.is_final:
        return stored_bytes(stored_pdf(screening))
    return draft_pdf(screening, user=user)


def draft_pdf(screening: Screening, *, user=None) -> bytes:
    """A draft's PDF, from the cache when this revision was rendered before,
    else rendered now. Rendering counts against `user`'s renders for the
    minute: TooManyRenders when they are used up."""
    key = f"draft-pdf:{screening.pk}:{screening.revision}"
    content = cache.get(key)
    if content is None:
        if user is not None and not _render_allowed(user):
            raise TooManyRenders
        content = render_pdf(_in_full(screening))
        cache.set(key, content)
    return content


def _render_allowed(user) -> bool:
    """Counts one draft render for `user` and says whether it is within the
    limit. The count lives in Django's cache (shared by every process with
    REDIS_URL) under a key per user that lasts a minute from their first
    render in it."""
    key = f"draft-pdf-renders:{user.pk}"
    if cache.add(key, 1, timeout=60):
        return 1 <= settings.PDF_DRAFT_RENDERS_PER_MINUTE
    try:
        count = cache.incr(key)
    except ValueError:  # the minute ended between the two calls
        cache.add(key, 1, timeout=60)
        count = 1
    return count <= settings.PDF_DRAFT_RENDERS_PER_MINUTE


def _in_full(screening: Screening) -> Screening:
    """`screening` with what rendering reads: itself when loaded by
    `selectors.screening_detail`, else loaded so (1 query)."""
    if "result" in screening.get_deferred_fields() or not Screening.snapshot.is_cached(screening):
        return selectors.screening_detail(screening.pk)
    return screening


def _safe_name(text: str, *, ascii_only: bool) -> str:
    """Letters, digits, - and _ only; any run of other characters becomes one -."""
    if ascii_only:
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
        text = re.sub(r"[^A-Za-z0-9_-]+", "-", text)
    else:
        text = "".join(c if c.isalnum() or c in "-_" else "-" for c in unicodedata.normalize("NFC", text))
        text = re.sub(r"-{2,}", "-", text)
    return text.strip("-")[:64].strip("-")


def download_name(screening: Screening, *, ascii_only: bool = True) -> str:
    """`ketascreen-<patient reference>-<draft|final>-<screening date>.pdf`,
    safe as a file name: a draft's never passes for the final record."""
    reference = _safe_name(screening.patient_reference, ascii_only=ascii_only) or f"screening-{screening.pk}"
    state = "final" if screening.is_final else "draft"
    return f"ketascreen-{reference}-{state}-{timezone.localdate(screening.created_at):%Y-%m-%d}.pdf"


def content_disposition(screening: Screening) -> str:
    """An attachment with an ASCII file name, plus the UTF-8 one (RFC 6266
    `filename*`) when the patient reference has letters beyond ASCII."""
    plain = download_name(screening)
    header = f'attachment; filename="{plain}"'
    full = download_name(screening, ascii_only=False)
    if full != plain:
        header += f"; filename*=UTF-8''{quote(full, safe='')}"
    return header
