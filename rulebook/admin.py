"""The rulebook in the admin: the published versions, newest first, with
pages to preview the working copy, publish it and compare any two versions;
and the case library, each case checked against the working copy."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from conditions.admin import RuleCaseAdmin
from conditions.models import RuleCase
from rulebook import publishing
from rulebook.models import PublishedRulebook
from rulebook.versions import describe_version, published_rulebook, working_rulebook
from rules.vocabulary import Status


class PublishForm(forms.Form):
    """Publishing the working copy the lead has just previewed."""

    working = forms.CharField(widget=forms.HiddenInput)
    note = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="What changed and why. Required when a library case fails: say why it may be published anyway.",
    )
    confirm = forms.BooleanField(
        label="I have read what this changes and want new screenings to use these rules.",
        error_messages={"required": "Tick the box to confirm you want to publish these rules."},
    )

    def __init__(self, *args, preview, **kwargs):
        super().__init__(*args, **kwargs)
        self.preview = preview

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("working") and cleaned["working"] != self.preview.working:
            raise ValidationError(
                "The working copy changed since this page was opened; read the summary below, "
                "which is for the rules as they are now, and confirm again."
            )
        if self.preview.failing_cases and not cleaned.get("note", "").strip():
            self.add_error("note", (
                f"{len(self.preview.failing_cases)} library case expectation(s) fail with these rules; "
                "write a note that says why they may be published anyway."
            ))
        return cleaned


class CompareForm(forms.Form):
    """Two versions to compare: a published number, or the working copy."""

    WORKING = "working"

    old = forms.TypedChoiceField(label="from", coerce=str)
    new = forms.TypedChoiceField(label="to", coerce=str)

    def __init__(self, *args, numbers, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(str(n), f"version {n}") for n in numbers] + [(self.WORKING, "working copy")]
        self.fields["old"].choices = self.fields["new"].choices = choices


@admin.register(PublishedRulebook)
class PublishedRulebookAdmin(admin.ModelAdmin):
    """The versions clinicians have used, newest first. Publishing is the
    only way to add one; none is ever changed or deleted."""

    list_display = ["number", "version", "published_at", "published_by", "note", "differences"]
    list_select_related = ["snapshot", "published_by"]
    ordering = ["-number"]
    change_list_template = "admin/rulebook/publishedrulebook/change_list.html"

    def has_add_permission(self, request):
        return False  # publishing has its own page, with a preview

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).defer("snapshot__content")

    @admin.display(description="rules", ordering="number")
    def version(self, publication):
        return describe_version(publication.number, publication.snapshot.version)

    @admin.display(description="differences")
    def differences(self, publication):
        if publication.number == 1:
            return "first version"
        url = reverse("admin:rulebook_publishedrulebook_compare")
        return format_html(
            '<a href="{}?old={}&amp;new={}">from version {}</a>', url, publication.number - 1,
            publication.number, publication.number - 1,
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("preview/", view(self.preview_view), name="rulebook_publishedrulebook_preview"),
            path("publish/", view(self.publish_view), name="rulebook_publishedrulebook_publish"),
            path("compare/", view(self.compare_view), name="rulebook_publishedrulebook_compare"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_publish": _can_publish(request)}
        return super().changelist_view(request, extra_context=extra_context)

    def _render(self, request, template, title, **context):
        return TemplateResponse(request, f"admin/rulebook/publishedrulebook/{template}", {
            **self.admin_site.each_context(request), "opts": self.model._meta, "title": title,
            **context,
        })

    def preview_view(self, request):
        """What publishing the working copy would change: 1 query for the
        state token, 1–2 for the published version, 1 for the screenings,
        2 for the case library (besides sign-in and permissions)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        preview = publishing.rulebook_preview()
        return self._render(request, "preview.html", "Preview the working copy",
                            preview=preview, can_publish=_can_publish(request))

    def publish_view(self, request):
        if not _can_publish(request):
            raise PermissionDenied
        preview = publishing.rulebook_preview()
        form = PublishForm(
            request.POST if request.method == "POST" else None, preview=preview,
            initial={"working": preview.working},
        )
        if form.is_bound and form.is_valid():
            try:
                publication = publishing.rulebook_publish(
                    user=request.user, note=form.cleaned_data["note"], preview=preview,
                    allow_failing_cases=bool(form.cleaned_data["note"].strip()),
                )
            except ValidationError as error:
                form.add_error(None, error.messages)
            else:
                messages.success(request, (
                    f"Published version {publication.number}: new screenings now use these rules. "
                    "Final screenings keep the rules they were made with."
                ))
                return redirect("admin:rulebook_publishedrulebook_changelist")
        if form.is_bound:
            form.data = {**form.data.dict(), "working": preview.working}  # confirm what is shown now
        return self._render(request, "publish.html", "Publish the working copy", preview=preview, form=form)

    def compare_view(self, request):
        """The differences between two versions, field by field."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        publications = {
            str(p.number): p for p in PublishedRulebook.objects.select_related("snapshot").defer("snapshot__content")
        }
        latest = max(publications, key=int, default=None)
        form = CompareForm(
            request.GET or {"old": latest or CompareForm.WORKING, "new": CompareForm.WORKING},
            numbers=sorted(map(int, publications)),
        )
        differences = None
        if form.is_valid():
            def rulebook(choice):
                if choice == CompareForm.WORKING:
                    return working_rulebook()
                return published_rulebook(publications[choice].snapshot)

            differences = publishing.rulebook_differences(
                rulebook(form.cleaned_data["old"]), rulebook(form.cleaned_data["new"])
            )
        return self._render(request, "compare.html", "Compare rulebook versions", form=form,
                            differences=differences, identical=differences is not None and not any(differences))


def _can_publish(request):
    return request.user.has_perm("rulebook.add_publishedrulebook")


# The case library, with each case checked against the working copy ----------
#
# conditions never imports the rulebook (pyproject.toml, import-linter), so
# the column that needs the working copy is added here, to conditions' own
# admin.


class CheckedCaseList(ChangeList):
    """The page of cases, each evaluated against the working copy in memory:
    one rulebook read (1 query when cached) however many cases are shown."""

    def get_results(self, request):
        super().get_results(request)
        cases = list(self.result_list)
        if cases:
            rulebook = working_rulebook()
            for case in cases:
                case.draft_failures = publishing.case_failures(rulebook, case)
        self.result_list = cases


admin.site.unregister(RuleCase)


@admin.register(RuleCase)
class CheckedRuleCaseAdmin(RuleCaseAdmin):
    list_display = [*RuleCaseAdmin.list_display, "working_copy"]

    def get_changelist(self, request, **kwargs):
        return CheckedCaseList

    @admin.display(description="with the working copy")
    def working_copy(self, case):
        failures = getattr(case, "draft_failures", None)
        if failures is None:
            return "—"
        if not failures:
            return format_html('<span class="ks-case-passes">{}</span>', "Passes")
        return format_html(
            '<strong class="ks-case-fails">Fails</strong>: {}',
            "; ".join(
                f"{failure.condition}: expected {Status.label_of(failure.expected).lower()}, "
                f"gives {Status.label_of(failure.got).lower()}"
                for failure in failures
            ),
        )
