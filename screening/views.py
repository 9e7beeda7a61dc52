"""The clinician's pages: thin views over selectors, services and the engine.

Access to one screening is decided in `_screening_for` and nowhere else.
Each change and each summary view is audited (screening.audit) here, where
the request is known, in the same transaction as the change.

A summary's body is kept in Django's cache per screening revision
(screening.summary.summary_body); everything else is rendered per request.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from screening import pdf, publishing, selectors, services
from screening.audit import audit
from screening.forms import FinaliseForm, NewScreeningForm, QuestionnaireForm, ScreeningFilterForm
from screening.models import AuditAction, FinalScreeningError, Screening
from screening.rulebook import current_rulebook
from screening.summary import summary_body

PAGE_SIZE = 25
LAST_PAGE = 10**6  # no deeper page: its OFFSET would make the database walk 25 million rows
FINAL_REFUSAL = "This screening is final and its answers cannot be changed. Amend it to record a correction."


def _screening_for(request, pk, *, edit=False, load=selectors.screening_detail) -> Screening:
    """The screening `pk` as the signed-in user may use it.

    Its owner may do anything with it; a holder of `view_all_screenings`
    (or a superuser) may read it, and is refused (403) when `edit` is set;
    to anyone else it does not exist (404). Loads it with `load` (by
    default with its owner, finaliser, snapshot and amended screening;
    `selectors.screening_page` leaves out the result and snapshot): 1 query,
    plus 2 for the permissions of a user who is not the owner.
    """
    screening = load(pk)
    if screening is None:
        raise Http404("No such screening.")
    if screening.owner_id == request.user.pk:
        return screening
    if not selectors.can_view_all(request.user):
        raise Http404("No such screening.")
    if edit:
        raise PermissionDenied("Only the clinician who started this screening can change, finalise or amend it.")
    return screening


def _add_errors(form, error: ValidationError):
    """A service's ValidationError shown on the form, beside its field when there is one."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, messages_ in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages_)


class ListPage:
    """One page of the screening list: PAGE_SIZE rows, newest first, read
    with one row more to tell whether older ones follow. The list is never
    counted: a COUNT takes longer the more screenings there are, and a
    clinician pages with Newer and Older, not with a total."""

    def __init__(self, screenings, *, number: int):
        start = (number - 1) * PAGE_SIZE
        rows = list(screenings[start:start + PAGE_SIZE + 1])
        self.number = number
        self.rows = rows[:PAGE_SIZE]
        self.has_next = len(rows) > PAGE_SIZE
        self.has_previous = number > 1
        self.next_page_number = number + 1
        self.previous_page_number = number - 1
        self.past_the_end = self.has_previous and not self.rows


def _page_link(filters: dict) -> str:
    """The start of a link to another page of the list, keeping the search:
    the page's number goes at the end."""
    search = {"q": filters["query"], "status": filters["status"]}
    return "?" + urlencode({**{name: value for name, value in search.items() if value}, "page": ""})


def _page_number(value) -> int:
    """The page asked for in the query string; 1 when it is not a number."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return 1
    return min(max(number, 1), LAST_PAGE)


@login_required
def screening_list(request):
    filter_form = ScreeningFilterForm(request.GET)
    filters = filter_form.filters()
    screenings = selectors.screening_list(user=request.user, **filters)
    page = ListPage(screenings, number=_page_number(request.GET.get("page")))
    names = selectors.condition_names()
    for screening in page.rows:
        screening.condition_names = ", ".join(names.get(slug, slug) for slug in screening.conditions)
    return render(request, "screening/list.html", {
        "page": page,
        "filter_form": filter_form,
        "filtered": any(filters.values()),
        "page_link": _page_link(filters),
        "show_owner": selectors.can_view_all(request.user),
    })


@login_required
def screening_new(request):
    rulebook = current_rulebook()
    form = NewScreeningForm(request.POST if request.method == "POST" else None, rulebook=rulebook)
    if form.is_bound and form.is_valid():
        try:
            with transaction.atomic():
                screening = services.screening_create(owner=request.user, rulebook=rulebook, **form.cleaned_data)
                audit(AuditAction.SCREENING_CREATED, request=request, screening=screening)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            return redirect("screening:questionnaire", screening.pk)
    return render(request, "screening/new.html", {"form": form, "step": "patient"})


@login_required
def screening_questionnaire(request, pk):
    screening = _screening_for(request, pk, edit=True, load=selectors.screening_page)
    if screening.is_final:
        messages.info(request, FINAL_REFUSAL)
        return redirect(screening)
    rulebook = current_rulebook()
    action = request.POST.get("action")
    form = QuestionnaireForm(
        request.POST if request.method == "POST" else None, rulebook=rulebook,
        conditions=screening.conditions, answers=screening.answers,
        initial={"revision": screening.revision}, require_complete=action == "summary",
    )
    if form.is_bound and form.is_valid():
        response = _save_answers(request, screening, form, rulebook, show_summary=action == "summary")
        if response is not None:
            return response
    return render(request, "screening/questionnaire.html", {
        "screening": screening, "form": form, "step": "questionnaire",
    })


def _save_answers(request, screening, form, rulebook, *, show_summary):
    """Store the form's answers; a redirect when saved or refused, None to re-render."""
    try:
        with transaction.atomic():
            services.screening_save_answers(
                screening=screening, answers=form.answers, expected_revision=form.cleaned_data["revision"],
                rulebook=rulebook,
            )
            audit(AuditAction.ANSWERS_SAVED, request=request, screening=screening)
    except FinalScreeningError:
        messages.error(request, FINAL_REFUSAL)
        return redirect(screening)
    except ValidationError as error:
        _add_errors(form, error)
        return None
    if show_summary:
        return redirect(screening)
    messages.success(request, "Draft saved. The summary lists any questions still unanswered.")
    return redirect("screening:questionnaire", screening.pk)


@login_required
def screening_summary(request, pk):
    screening = _screening_for(request, pk, load=selectors.screening_page)
    audit(AuditAction.VIEWED, request=request, screening=screening)
    can_edit = screening.owner_id == request.user.pk
    return render(request, "screening/summary.html", {
        "screening": screening,
        "step": "final" if screening.is_final else "summary",
        "body": summary_body(screening, can_edit=can_edit),
        "can_edit": can_edit,
        "amendments": selectors.amendments_of(screening) if screening.has_amendments else [],
        "finalise_form": FinaliseForm() if can_edit and not screening.is_final else None,
    })


@login_required
@require_POST
def screening_finalise(request, pk):
    screening = _screening_for(request, pk, edit=True, load=selectors.screening_page)
    form = FinaliseForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.errors["confirm"][0])
        return redirect(screening)
    try:
        with transaction.atomic():
            services.screening_finalise(screening=screening, user=request.user)
            audit(AuditAction.FINALISED, request=request, screening=screening)
    except FinalScreeningError as error:
        messages.info(request, error.message)
    else:
        messages.success(request, "Screening finalised. It is now part of the record; amend it to correct it.")
    return redirect(screening)


@login_required
@require_POST
def screening_amend(request, pk):
    screening = _screening_for(request, pk, edit=True, load=selectors.screening_page)
    try:
        with transaction.atomic():
            amendment = services.screening_amend(screening=screening, user=request.user)
            audit(AuditAction.AMENDED, request=request, screening=screening)
            audit(AuditAction.SCREENING_CREATED, request=request, screening=amendment)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(screening)
    messages.success(request, "A new draft amends the final screening. Correct the answers, then finalise it.")
    return redirect("screening:questionnaire", amendment.pk)


@login_required
@require_GET
def screening_pdf(request, pk):
    """The summary as a PDF attachment: a draft's rendered now, a final
    screening's as stored on its first download (screening.pdf)."""
    screening = _screening_for(request, pk, load=selectors.screening_page)
    content = pdf.pdf_bytes(screening)
    audit(AuditAction.PDF_DOWNLOADED, request=request, screening=screening)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = pdf.content_disposition(screening)
    patch_cache_control(response, private=True, no_store=True)
    return response


@login_required
@require_GET
def screening_compare(request, pk):
    """A final screening beside the result today's published rules would
    give for the same answers; read-only, the record never changes."""
    screening = _screening_for(request, pk)
    if not screening.is_final:
        messages.info(request, "A draft already follows the current rules; compare once it is final.")
        return redirect(screening)
    current = current_rulebook()
    return render(request, "screening/compare.html", {
        "screening": screening, "current_version": current.version,
        "comparisons": publishing.screening_comparison(screening, current),
    })
