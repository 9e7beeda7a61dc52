"""The clinician's pages: thin views over selectors, services and the engine.

Access to one screening is decided in `_screening_for` and nowhere else,
which audits each refusal. Each change is one call of a service
(screening.services), given the request: the service audits it in the
change's own transaction. What is only read (a summary, a PDF, a
comparison, a history) is audited here. Every view names the HTTP methods
it serves.

A summary's body is kept in Django's cache per screening revision
(screening.summary.summary_body); everything else is rendered per request.
"""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from rulebook.versions import current_rulebook, published_rulebook
from screening import catalogue, comparison, differences, fhir, pdf, selectors, services
from screening.audit import audit
from screening.forms import (
    AmendForm,
    DetailsForm,
    FinaliseForm,
    NewScreeningForm,
    QuestionnaireForm,
    ScreeningFilterForm,
)
from screening.history import patient_history as history_of
from screening.models import (
    AuditAction,
    FinalScreeningError,
    Screening,
    patient_reference_validator,
)
from screening.summary import summary_body
from teams.models import team_mates

logger = logging.getLogger(__name__)

PAGE_SIZE = 25
LAST_PAGE = 10**6  # no deeper page: its OFFSET would make the database walk 25 million rows
FINAL_REFUSAL = "This screening is final and its answers cannot be changed. Amend it to record a correction."
SESSION_ENDED = (
    "Your session has ended, so this was not saved. Sign in again: what you typed is kept in this "
    "browser and put back on the questionnaire."
)
CHANGED_ELSEWHERE = (
    "These answers were changed in another window since this page was opened, so this was not saved. "
    "What you typed is kept on this page: choose, question by question, which answer to keep, then save."
)


def _screening_for(request, pk, *, edit=False, load=selectors.screening_detail) -> Screening:
    """The screening `pk` as the signed-in user may use it.

    Its owner may do anything with it; a holder of `view_all_screenings`
    (or a superuser) may read it, and so may a clinician in the owner's team
    once it is final (`Screening.objects.visible_to` says the same for
    lists); either is refused (403) when `edit` is set. To anyone else it
    does not exist (404): a team-mate's draft too. Loads it with `load` (by
    default with its owner, finaliser, snapshot and amended screening;
    `selectors.screening_page` leaves out the result and snapshot,
    `selectors.questionnaire_screening` the people too): 1 query,
    plus 2 for the permissions of a user who is not the owner, and 1 for
    the team of one who may not read every screening. A refusal is audited
    as `access_denied`.
    """
    screening = load(pk)
    if screening is not None and screening.owner_id == request.user.pk:
        return screening
    if screening is None or not (
        selectors.can_view_all(request.user)
        or (screening.is_final and team_mates(request.user, screening.owner_id))
    ):
        _refused(request, pk, screening)
        raise Http404("No such screening.")
    if edit:
        _refused(request, pk, screening)
        raise PermissionDenied("Only the clinician who started this screening can change, finalise or amend it.")
    return screening


def _refused(request, pk, screening):
    """A refusal is part of the record: who asked for which screening (by
    the id asked for, and its patient reference when it exists)."""
    audit(AuditAction.ACCESS_DENIED, request=request, screening=screening,
          object_type="screening", object_key=str(pk))


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
@require_safe
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
        "show_owner": selectors.can_view_all(request.user)
        or any(screening.owner_id != request.user.pk for screening in page.rows),
    })


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def screening_new(request):
    """Start a screening. When the clinician already has an open draft for
    the patient, the form says so and links to it, keeping what was typed;
    pressing "Start a new screening anyway" starts one all the same."""
    rulebook = current_rulebook()
    form = NewScreeningForm(request.POST if request.method == "POST" else None, rulebook=rulebook)
    open_draft = None
    if form.is_bound and form.is_valid():
        if not request.POST.get("start_anyway"):
            open_draft = selectors.open_draft(user=request.user, reference=form.cleaned_data["patient_reference"])
        if open_draft is None:
            try:
                screening = services.screening_create(
                    owner=request.user, rulebook=rulebook, request=request, **form.cleaned_data
                )
            except ValidationError as error:
                _add_errors(form, error)
            else:
                return redirect("screening:questionnaire", screening.pk)
    return render(request, "screening/new.html", {"form": form, "step": "patient", "open_draft": open_draft})


def _not_editable(request, screening):
    """A redirect to the summary, with why, when the screening's answers can no longer change."""
    if screening.is_final or screening.is_discarded:
        messages.info(request, FINAL_REFUSAL if screening.is_final else services.DISCARDED_REFUSAL)
        return redirect(screening)
    return None


def _bring_up_to_date(request, screening, rulebook, *, load=selectors.screening_page) -> Screening:
    """A draft evaluated under older rules than `rulebook`, evaluated again
    under it (audited) and read again with `load`; the page then says so,
    naming both versions. No query when it is current."""
    if screening.rulebook_version == rulebook.version:
        return screening
    if services.screening_reevaluate(screening=screening, rulebook=rulebook, request=request) is None:
        return screening
    return load(screening.pk)


def _questionnaire_form(data, screening, rulebook, *, require_complete=False, today=None):
    return QuestionnaireForm(
        data, rulebook=rulebook, conditions=screening.conditions, answers=screening.answers,
        initial={"revision": screening.revision}, require_complete=require_complete,
        year_of_birth=screening.year_of_birth, today=today,
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def screening_questionnaire(request, pk):
    screening = _screening_for(request, pk, edit=True, load=selectors.questionnaire_screening)
    if refused := _not_editable(request, screening):
        return refused
    rulebook = current_rulebook()
    screening = _bring_up_to_date(request, screening, rulebook, load=selectors.questionnaire_screening)
    action = request.POST.get("action")
    data = request.POST if request.method == "POST" else None
    if data is not None and data.get("no_to_unanswered"):
        # "No to all unanswered" without a script: those rows answered "no", then saved as a draft.
        data = _no_to_unanswered(data, screening, rulebook, data["no_to_unanswered"])
        action = "save"
    today = timezone.localdate()
    form = _questionnaire_form(data, screening, rulebook, require_complete=action == "summary", today=today)
    saved_at = None
    if form.is_bound and form.is_valid():
        response = _save_answers(request, screening, form, rulebook, show_summary=action == "summary")
        if response is not None:
            return response
    elif form.is_bound and form.can_save_in_part():
        form, saved_at = _save_valid_answers(request, screening, form, rulebook)
    not_saved = form.invalid_fields() if form.is_bound else []
    return render(request, "screening/questionnaire.html", {
        "screening": screening, "form": form, "step": "questionnaire", "saved_at": saved_at,
        # What an unbound form's markup is kept in the cache by, besides the screening's revision.
        "rules_version": rulebook.version, "today": today,
        "not_saved": not_saved, **_progress(form), "conflict": form.conflict,
        "cleared": differences.cleared_answers(form) if form.is_bound else [],
        "to_check": [field for field in form.error_fields() if field not in not_saved] if form.is_bound else [],
    })


def _no_to_unanswered(data, screening, rulebook, section):
    """The posted answers with "no" given to each yes/no question of
    `section`'s matrix that is enabled and was left blank."""
    form = _questionnaire_form(data, screening, rulebook)
    form.is_valid()
    data = data.copy()
    for code in form.no_to_unanswered(section):
        data[code] = "no"
    return data


@login_required
@require_POST
def screening_questions(request, pk):
    """The questionnaire's sections and navigation for the answers on the
    page, not saved (htmx, on each change: static/js/questionnaire.js):
    the engine decides which questions are enabled, and the page replaces
    the sections whose questions changed. Saving is the autosave's."""
    screening = _screening_for(request, pk, edit=True, load=selectors.questionnaire_screening)
    if screening.is_final or screening.is_discarded:
        return HttpResponse(status=204)
    form = _questionnaire_form(request.POST, screening, current_rulebook())
    form.is_valid()
    form.refreshing = True
    return render(request, "screening/_questionnaire_refresh.html", {
        "screening": screening, "form": form, **_progress(form),
        "cleared": differences.cleared_answers(form),
    })


def _progress(form):
    """The section navigation's figures: each section's progress and the first question unanswered."""
    progress = form.progress()
    return {
        "progress": progress,
        "next_unanswered": next((s.first_unanswered for s in progress if s.first_unanswered), None),
    }


def _store_answers(request, screening, form, rulebook) -> Screening:
    """Store the form's valid answers (a wrong one keeps the answer stored
    before), audited; raises what the service raises. When another window
    saved since the page's revision, and saved exactly these answers, they
    are stored again over its revision; when it saved others, `form.conflict`
    says which (screening.differences) and StaleScreeningError is raised."""
    try:
        return _store_answers_once(request, screening, form, rulebook)
    except services.StaleScreeningError:
        current = selectors.questionnaire_screening(screening.pk)
        form.conflict = differences.conflict(form, current.answers, current.revision)
        if form.conflict.differences:
            raise
    form.cleaned_data["revision"] = form.conflict.revision
    form.conflict = None
    return _store_answers_once(request, current, form, rulebook)


def _store_answers_once(request, screening, form, rulebook) -> Screening:
    return services.screening_save_answers(
        screening=screening, answers=form.answers_to_store(screening.answers),
        expected_revision=form.cleaned_data["revision"], rulebook=rulebook, request=request,
    )


def _save_answers(request, screening, form, rulebook, *, show_summary):
    """Store the form's answers; a redirect when saved or refused, None to re-render."""
    try:
        _store_answers(request, screening, form, rulebook)
    except FinalScreeningError:
        messages.error(request, FINAL_REFUSAL)
        return redirect(screening)
    except services.StaleScreeningError:
        form.add_error(None, CHANGED_ELSEWHERE)
        return None
    except ValidationError as error:
        _add_errors(form, error)
        return None
    if show_summary:
        return redirect(screening)
    messages.success(request, "Draft saved. The summary lists any questions still unanswered.")
    return redirect("screening:questionnaire", screening.pk)


def _save_valid_answers(request, screening, form, rulebook):
    """A form with some wrong (or, for the summary, missing) answers: the
    valid ones are stored all the same. Returns the form to show again,
    bound to the new revision with what was typed and its errors, and the
    time it was saved (None when nothing could be saved)."""
    try:
        saved = _store_answers(request, screening, form, rulebook)
    except FinalScreeningError:
        form.add_error(None, FINAL_REFUSAL)
        return form, None
    except services.StaleScreeningError:
        form.add_error(None, CHANGED_ELSEWHERE)
        return form, None
    except ValidationError as error:
        _add_errors(form, error)
        return form, None
    data = request.POST.copy()
    data["revision"] = saved.revision
    again = _questionnaire_form(data, saved, rulebook, require_complete=form.require_complete)
    again.is_valid()
    return again, saved.updated_at


@require_POST
def screening_answers(request, pk):
    """Autosave (static/js/questionnaire.js): the questionnaire's fields,
    posted in the background, validated and stored exactly as "Save
    draft" does. Answers in JSON, never a redirect: 401 when the session
    has ended, 409 when the screening changed since the page's revision."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": SESSION_ENDED}, status=401)
    screening = _screening_for(request, pk, edit=True, load=selectors.questionnaire_screening)
    if screening.is_final or screening.is_discarded:
        return JsonResponse({"error": FINAL_REFUSAL if screening.is_final else services.DISCARDED_REFUSAL}, status=409)
    rulebook = current_rulebook()
    form = _questionnaire_form(request.POST, screening, rulebook)
    if not form.is_valid() and not form.can_save_in_part():
        return JsonResponse({"error": " ".join(form.non_field_errors()) or "This form is out of date; reload the page."}, status=400)
    try:
        saved = _store_answers(request, screening, form, rulebook)
    except services.StaleScreeningError:
        return JsonResponse({
            "error": CHANGED_ELSEWHERE, "conflict": True, "revision": form.conflict.revision,
            "html": render_to_string("screening/_conflicts.html", {"conflict": form.conflict}, request),
        }, status=409)
    except ValidationError as error:
        return JsonResponse({"error": " ".join(error.messages)}, status=400)
    return JsonResponse({
        "revision": saved.revision,
        "saved_at": timezone.localtime(saved.updated_at).strftime("%H:%M"),
        "not_saved": [
            {"question": code, "text": text, "errors": form.errors[code]} for code, text in form.invalid_fields()
        ],
    })


@login_required
@require_safe
def screening_summary(request, pk):
    screening = _screening_for(request, pk, load=selectors.screening_page)
    return _summary_page(request, screening)


def _viewed_as(user, screening) -> AuditAction:
    """How a summary view is audited: a team-mate reading another
    clinician's final is recorded as such (who saw whose record); the
    owner's and an auditor's view as a view. No query: the user's
    permissions were read when access was decided."""
    if screening.owner_id == user.pk or selectors.can_view_all(user):
        return AuditAction.VIEWED
    return AuditAction.TEAM_VIEWED


def _summary_page(request, screening, *, finalise_data=None, finalise_error=None, amend_form=None):
    """The summary page. A draft opened by its owner is first brought up to
    date with the current rules; anyone else is told when it is behind them.
    `finalise_data`: a finalise form that was refused, shown again with
    what was typed and its errors (`finalise_error`: the service's);
    `amend_form`: an amend form that was refused."""
    can_edit = screening.owner_id == request.user.pk and not screening.is_discarded
    current_version = ""
    if not screening.is_final and not screening.is_discarded:
        rulebook = current_rulebook()
        current_version = rulebook.version
        if can_edit:
            screening = _bring_up_to_date(request, screening, rulebook)
    audit(_viewed_as(request.user, screening), request=request, screening=screening)
    body = summary_body(screening, can_edit=can_edit)
    amendments = selectors.amendments_of(screening) if screening.has_amendments else []
    editable = can_edit and not screening.is_final
    finalise_form = None
    if editable:
        conditions = body.get("conditions", ())
        if finalise_data is not None:
            data = finalise_data.copy()
            data["revision"] = screening.revision  # what is shown now is what they will have read
            finalise_form = FinaliseForm(data, conditions=conditions)
            finalise_form.is_valid()
            if finalise_error is not None:
                _add_errors(finalise_form, finalise_error)
        else:
            finalise_form = FinaliseForm(initial={"revision": screening.revision}, conditions=conditions)
    can_amend = can_edit and screening.is_final and not amendments
    return render(request, "screening/summary.html", {
        "screening": screening,
        "step": "final" if screening.is_final else "summary",
        "body": body,
        "can_edit": can_edit,
        "current_version": current_version,
        "amendments": amendments,
        "replaced_by": amendments[0] if amendments else None,
        "finalise_form": finalise_form,
        "amend_form": (amend_form or AmendForm()) if can_amend else None,
    })


def _posted_conditions(screening, rulebook):
    """The finalise form's conditions as the POST is read: the draft's own,
    named by `rulebook`; their statuses are checked by the service against
    the stored result, which is not loaded here."""
    return [
        (slug, rulebook.condition[slug].name if slug in rulebook.condition else slug, "")
        for slug in screening.conditions
    ]


@login_required
@require_POST
def screening_finalise(request, pk):
    """Finalise what the clinician read: the rules and answers as of the
    revision on the form. Were the result any different now, the new
    summary is shown instead, with why, keeping what was typed (the reason,
    the decisions against the advice and their reasons). The service
    audits each decision against the advice with the condition, the
    decision and the advisory status."""
    screening = _screening_for(request, pk, edit=True, load=selectors.screening_page)
    if screening.is_final:
        messages.info(request, "This screening is already final.")
        return redirect(screening)
    rulebook = current_rulebook()
    form = FinaliseForm(request.POST, conditions=_posted_conditions(screening, rulebook))
    if not form.is_valid():
        return _finalise_refused(request, screening, next(iter(form.errors.values()))[0], request.POST)
    try:
        services.screening_finalise(
            screening=screening, user=request.user, expected_revision=form.cleaned_data["revision"],
            reason=form.cleaned_data["reason"], decisions=form.decisions(), rulebook=rulebook, request=request,
        )
    except FinalScreeningError as error:
        messages.info(request, error.message)
        return redirect(screening)
    except services.StaleScreeningError as error:
        return _finalise_refused(request, screening, error.message, request.POST)
    except ValidationError as error:
        return _finalise_refused(request, screening, " ".join(error.messages), request.POST, error)
    messages.success(request, "Screening finalised. It is now part of the record; amend it to correct it.")
    return redirect(screening)


def _finalise_refused(request, screening, message, data, error=None):
    """The summary as it is now, saying why it was not finalised, with what was typed kept."""
    messages.error(request, message)
    return _summary_page(
        request, selectors.screening_page(screening.pk), finalise_data=data, finalise_error=error,
    )


@login_required
@require_POST
def screening_amend(request, pk):
    screening = _screening_for(request, pk, edit=True, load=selectors.screening_page)
    form = AmendForm(request.POST)
    if not form.is_valid():
        messages.error(request, "It was not amended: " + next(iter(form.errors.values()))[0])
        return _summary_page(request, screening, amend_form=form)
    try:
        amendment = services.screening_amend(
            screening=screening, user=request.user, reason=form.cleaned_data["reason"], request=request,
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(screening)
    messages.success(request, "A new draft amends the final screening. Correct the answers, then finalise it.")
    return redirect("screening:questionnaire", amendment.pk)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def screening_details(request, pk):
    """Correct a draft's patient reference, year of birth and conditions."""
    screening = _screening_for(request, pk, edit=True, load=selectors.screening_page)
    if refused := _not_editable(request, screening):
        return refused
    rulebook = current_rulebook()
    form = DetailsForm(request.POST if request.method == "POST" else None, rulebook=rulebook, initial={
        "patient_reference": screening.patient_reference, "year_of_birth": screening.year_of_birth,
        "conditions": screening.conditions,
    })
    if form.is_bound and form.is_valid():
        try:
            services.screening_correct_details(
                screening=screening, rulebook=rulebook, request=request, **form.cleaned_data
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, "Patient details and conditions corrected.")
            return redirect("screening:questionnaire", screening.pk)
    return render(request, "screening/details.html", {"screening": screening, "form": form, "step": "patient"})


@login_required
@require_POST
def screening_discard(request, pk):
    """Discard a draft: kept for the record, hidden from the list."""
    screening = _screening_for(request, pk, edit=True, load=selectors.screening_page)
    try:
        services.screening_discard(screening=screening, request=request)
    except FinalScreeningError as error:
        messages.error(request, error.message)
        return redirect(screening)
    messages.success(
        request, f"The draft for {screening.patient_reference} was discarded. It is kept for the record but no longer listed."
    )
    return redirect("screening:list")


@login_required
@require_safe
def screening_pdf(request, pk):
    """The summary as a PDF attachment: a draft's rendered now (or cached for
    its revision), a final screening's as stored on its first download
    (screening.pdf). Too many draft renders in a minute is a 429; a PDF
    that cannot be produced is audited and explained."""
    screening = _screening_for(request, pk, load=selectors.screening_page)
    try:
        content = pdf.pdf_bytes(screening, user=request.user)
    except pdf.TooManyRenders:
        response = render(request, "screening/pdf_too_many.html", {
            "screening": screening, "limit": settings.PDF_DRAFT_RENDERS_PER_MINUTE,
        }, status=429)
        response["Retry-After"] = "60"
        return response
    except pdf.PdfError as error:
        logger.error("PDF of screening %s failed: %s", screening.pk, error)
        audit(AuditAction.PDF_FAILED, request=request, screening=screening)
        return render(request, "screening/pdf_failed.html", {
            "screening": screening, "timed_out": isinstance(error, pdf.RenderTimedOut),
        }, status=503)
    except Exception:
        audit(AuditAction.PDF_FAILED, request=request, screening=screening)
        raise  # logged, and answered with the error page, by Django
    audit(AuditAction.PDF_DOWNLOADED, request=request, screening=screening)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = pdf.content_disposition(screening)
    patch_cache_control(response, private=True, no_store=True)
    return response


FHIR_JSON = "application/fhir+json"


def _fhir_response(resource: dict, *, filename: str = "") -> JsonResponse:
    response = JsonResponse(resource, content_type=FHIR_JSON, json_dumps_params={"ensure_ascii": False})
    if filename:
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_safe
def screening_fhir(request, pk):
    """A final screening as a FHIR document Bundle (docs/fhir.md), with the
    PDF's access rules and audit; a draft has none yet."""
    screening = _screening_for(request, pk)
    if not screening.is_final:
        messages.info(request, "A FHIR document is made of a final screening; finalise it first.")
        return redirect(screening)
    owner = screening.owner
    bundle = fhir.screening_bundle(
        rulebook=screening.rulebook(), advisory=screening.advisory(), base=settings.FHIR_BASE_URL,
        number=selectors.publication_number(screening), screening_id=screening.pk,
        patient=screening.patient_reference, conditions=screening.conditions, answers=screening.answers,
        finalised_at=screening.finalised_at.isoformat(), clinician_username=owner.get_username(),
        clinician_name=owner.get_full_name(), amends_id=screening.amends_id,
        finalise_reason=screening.finalise_reason,
    )
    audit(AuditAction.FHIR_DOWNLOADED, request=request, screening=screening)
    response = _fhir_response(bundle, filename=pdf.download_name(screening).removesuffix(".pdf") + ".fhir.json")
    patch_cache_control(response, private=True, no_store=True)
    return response


@login_required
@require_safe
def fhir_questionnaire(request, number=None):
    """Published rulebook version `number` (the version in force when None)
    as an SDC Questionnaire; 404 before anything is published."""
    publication = selectors.publication(number)
    if publication is None:
        raise Http404("No such published version.")
    return _fhir_response(fhir.questionnaire(
        published_rulebook(publication.snapshot), base=settings.FHIR_BASE_URL, number=publication.number,
        published_at=publication.published_at.isoformat(),
    ))


@login_required
@require_safe
def criteria_catalogue(request):
    """Every condition's criteria in words, for the version in force: the
    rules behind any summary, readable outside a screening. No patient data."""
    publication = selectors.publication()
    rulebook = published_rulebook(publication.snapshot) if publication else current_rulebook()
    return render(request, "screening/catalogue.html", {
        "version": rulebook.version, "catalogue": catalogue.Catalogue(rulebook),
    })


@login_required
@require_safe
def screening_compare(request, pk):
    """A final screening beside the result today's published rules would
    give for the same answers; read-only, the record never changes."""
    screening = _screening_for(request, pk)
    if not screening.is_final:
        messages.info(request, "A draft already follows the current rules; compare once it is final.")
        return redirect(screening)
    current = current_rulebook()
    audit(AuditAction.COMPARED, request=request, screening=screening)
    return render(request, "screening/compare.html", {
        "screening": screening, "current_version": current.version,
        "comparisons": comparison.screening_comparison(screening, current),
    })


@login_required
@require_safe
def patient_history(request, reference):
    """One patient's screenings that the user may see (their own, and
    their team-mates' finals), with their instrument totals over time; the
    reference is compared case- and space-insensitively. A patient none of
    whose screenings they may see does not exist for them (404, audited as
    a refusal), so the page never tells whether another clinician screened
    that patient. A history showing a team-mate's screening is audited as
    such, with the patient's reference."""
    reference = reference.strip()
    try:
        patient_reference_validator(reference)
    except ValidationError:
        screenings, asked = [], ascii(reference)  # junk recorded as printable text (no NUL for the database)
    else:
        screenings, asked = selectors.patient_screenings(user=request.user, reference=reference), reference
    if not screenings:
        audit(AuditAction.ACCESS_DENIED, request=request, object_type="patient", object_key=asked)
        raise Http404("No such patient.")
    newest = screenings[-1]
    others = any(screening.owner_id != request.user.pk for screening in screenings)
    view_all = selectors.can_view_all(request.user)
    action = AuditAction.TEAM_PATIENT_VIEWED if others and not view_all else AuditAction.PATIENT_VIEWED
    audit(action, request=request, screening=newest, object_type="patient", object_key=newest.patient_reference)
    return render(request, "screening/patient.html", {
        "reference": newest.patient_reference,
        "history": history_of(screenings, published_rulebook(newest.snapshot)),
        "show_owner": view_all or others,
        "view_all": view_all,
    })
