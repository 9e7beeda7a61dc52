"""Pages never show stale content or the wrong person's: knowledge-base
edits show on the next questionnaire, saved answers on the next summary,
per-viewer parts stay per viewer, access is checked and views are audited
on every request, whatever the cache holds."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conditions.models import Condition, Question
from rulebook.publishing import rulebook_publish
from screening import selectors, services
from screening.models import AuditAction, AuditEvent, Screening
from tests.answers import TRD_ELIGIBLE
from tests.conftest import TEST_PASSWORD, role, verify_session
from tests.markup import parse


def draft_for(user, answers=None, conditions=("trd",), reference="C-1"):
    return services.screening_create(
        owner=user, patient_reference=reference, year_of_birth=None, conditions=list(conditions),
        answers=answers,
    )


def final_for(user, **kwargs):
    draft = draft_for(user, answers=TRD_ELIGIBLE, **kwargs)
    return services.screening_finalise(screening=draft, user=user)


def page(client, name, screening):
    response = client.get(reverse(name, args=[screening.pk]))
    return response.status_code, response.content.decode()


def csrf_tokens(html):
    """The token of each form, masked afresh for each response."""
    return [field.get("value") for field in parse(html).select("form input[name=csrfmiddlewaretoken]")]


def csrf_token(html):
    return csrf_tokens(html)[0]


def signed_in_as(html):
    return parse(html).select_one("[data-testid=signed-in-user]").text()


def buttons(html):
    return [button.text() for button in parse(html).select("button")]


def details(html):
    """A summary's details, each term -> its description."""
    page = parse(html)
    terms, descriptions = page.select("dl > dt"), page.select("dl > dt + dd")
    return {term.text(): description.text() for term, description in zip(terms, descriptions, strict=True)}


def page_links(html):
    """The list's links to other pages, by their words."""
    return {link.text(): link.get("href") for link in parse(html).select(".pagination a.page-link")}


def current_page(html):
    return parse(html).select_one(".pagination [aria-current=page]").text()


def views_audited(screening):
    return AuditEvent.objects.filter(screening=screening, action=AuditAction.VIEWED).count()


@pytest.fixture
def auditor(db, django_user_model):
    """A clinician who may read every clinician's screenings."""
    user = django_user_model.objects.create_user("auditor", password=TEST_PASSWORD, first_name="Ann", last_name="Audit")
    user.groups.add(role("Clinicians"))
    user.user_permissions.add(Permission.objects.get(codename="view_all_screenings"))
    return user


@pytest.fixture
def auditor_client(auditor):
    client = Client()
    client.force_login(auditor)
    return client


@pytest.fixture
def other_client(other_clinician):
    client = Client()
    client.force_login(other_clinician)
    return client


@pytest.mark.django_db
@pytest.mark.usefixtures("module_knowledge_base")
class TestPages:
    def test_an_edited_question_shows_on_the_next_questionnaire_once_published(self, clinician_client, clinician):
        draft = draft_for(clinician)
        _, before = page(clinician_client, "screening:questionnaire", draft)
        question = Question.objects.get(code="phq9_total")
        assert question.text in before
        question.text = "PHQ-9 total score (edited)"
        question.save()
        _, unpublished = page(clinician_client, "screening:questionnaire", draft)
        assert "PHQ-9 total score (edited)" not in unpublished
        rulebook_publish(note="PHQ-9 wording.")
        _, after = page(clinician_client, "screening:questionnaire", draft)
        assert "PHQ-9 total score (edited)" in after

    def test_a_new_criterion_asks_its_question_on_the_next_questionnaire_once_published(self, clinician_client, clinician):
        from conditions.models import Criterion

        draft = draft_for(clinician)
        _, before = page(clinician_client, "screening:questionnaire", draft)
        assert parse(before).select_one("[name=ybocs_total]") is None
        criterion = Criterion.objects.filter(question__code="ybocs_total").first()
        criterion.conditions.add(Condition.objects.get(slug="trd"))
        rulebook_publish(note="Y-BOCS for TRD.")
        _, after = page(clinician_client, "screening:questionnaire", draft)
        assert parse(after).select_one("form input[name=ybocs_total]")

    def test_the_questionnaire_shows_the_answers_saved_last(self, clinician_client, clinician):
        draft = draft_for(clinician, answers={"age": 45})
        _, before = page(clinician_client, "screening:questionnaire", draft)
        assert parse(before).select_one('input[name="age"]').get("value") == "45"
        services.screening_save_answers(screening=draft, answers={"age": 52, "bipolar_history": True})
        _, after = page(clinician_client, "screening:questionnaire", draft)
        form = parse(after)
        assert form.select_one('input[name="age"]').get("value") == "52"
        assert form.select_one('input[name="bipolar_history"][checked]').get("value") == "yes"
        assert form.select_one('input[name="revision"]').get("value") == "2"

    def test_a_draft_summary_follows_every_save(self, clinician_client, clinician):
        draft = draft_for(clinician, answers={"age": 45})
        _, before = page(clinician_client, "screening:summary", draft)
        assert "Incomplete" in before
        services.screening_save_answers(screening=draft, answers=TRD_ELIGIBLE)
        _, after = page(clinician_client, "screening:summary", draft)
        assert "Meets screening criteria" in after and "Still to answer" not in after
        services.screening_finalise(screening=draft, user=clinician)
        _, final = page(clinician_client, "screening:summary", draft)
        assert "Final: finalised" in final and "Draft: can still change" not in final

    def test_a_draft_summary_links_missing_questions_for_its_owner_only(
        self, clinician_client, auditor_client, clinician
    ):
        draft = draft_for(clinician, answers={"age": 45})
        link = f'a[href^="{reverse("screening:questionnaire", args=[draft.pk])}#question-"]'
        for _ in range(2):  # rendered, then from the cache
            _, owners = page(clinician_client, "screening:summary", draft)
            _, auditors = page(auditor_client, "screening:summary", draft)
            assert parse(owners).select(link) and "Finalise" in owners and "Edit answers" in owners
            assert not parse(auditors).select(link) and "Finalise" not in auditors and "Edit answers" not in auditors
            assert "Still to answer" in auditors

    def test_a_final_summary_shows_each_viewer_their_own_page(
        self, clinician_client, auditor_client, other_client, clinician
    ):
        final = final_for(clinician)
        for _ in range(2):
            status, owners = page(clinician_client, "screening:summary", final)
            assert status == 200 and "Amend" in buttons(owners)
            assert signed_in_as(owners) == "Signed in as clinician"
            status, auditors = page(auditor_client, "screening:summary", final)
            assert status == 200 and "Amend" not in buttons(auditors)
            assert signed_in_as(auditors) == "Signed in as Ann Audit"
            assert page(other_client, "screening:summary", final)[0] == 404
        assert views_audited(final) == 4  # each view audited, cached or not; the refusals not

    def test_a_final_summary_lists_an_amendment_made_after_it_was_cached(self, clinician_client, clinician):
        final = final_for(clinician)
        _, before = page(clinician_client, "screening:summary", final)
        assert "Replaced by" not in before
        amendment = services.screening_amend(screening=final, user=clinician, reason="A correction.")
        _, after = page(clinician_client, "screening:summary", final)
        replaced = parse(after).select_one("[data-testid=replaced-by]")
        assert replaced.text().startswith(f"Replaced by #{amendment.pk}")
        assert replaced.select_one("a").get("href") == reverse("screening:summary", args=[amendment.pk])
        _, amendments_page = page(clinician_client, "screening:summary", amendment)
        amends = parse(amendments_page).select_one("a[data-testid=amends-link]")
        assert amends.get("href") == reverse("screening:summary", args=[final.pk])

    def test_a_renamed_clinician_shows_on_a_summary_seen_before(self, clinician_client, clinician):
        final = final_for(clinician)
        _, before = page(clinician_client, "screening:summary", final)
        assert details(before)["Clinician"] == "clinician"
        clinician.first_name, clinician.last_name = "Cleo", "Nician"
        clinician.save()
        _, after = page(clinician_client, "screening:summary", final)
        assert details(after)["Clinician"] == "Cleo Nician"

    def test_each_response_of_a_summary_page_has_its_own_token_which_a_form_accepts(self, clinician):
        client = Client(enforce_csrf_checks=True)
        client.force_login(clinician)
        draft = draft_for(clinician, answers=TRD_ELIGIBLE)
        tokens = []
        for _ in range(3):  # the body rendered, then from the cache twice
            _, html = page(client, "screening:summary", draft)
            tokens.append(csrf_tokens(html))
        assert all(len(found) == 3 for found in tokens)  # signing out, finalising, discarding
        assert len({token for found in tokens for token in found}) == 3  # one per response, masked afresh
        response = client.post(reverse("screening:finalise", args=[draft.pk]),
                               {"confirm": "on", "revision": draft.revision, "csrfmiddlewaretoken": tokens[-1][1]})
        assert response.status_code == 302
        assert Screening.objects.get(pk=draft.pk).status == "final"

    def test_a_message_shows_once_on_a_summary_page(self, clinician_client, clinician):
        draft = draft_for(clinician, answers=TRD_ELIGIBLE)
        _, before = page(clinician_client, "screening:summary", draft)
        response = clinician_client.post(
            reverse("screening:finalise", args=[draft.pk]), {"confirm": "on", "revision": draft.revision}, follow=True
        )
        assert "Screening finalised." in response.content.decode()
        _, again = page(clinician_client, "screening:summary", draft)
        assert "Screening finalised." not in again and "Final: finalised" in again
        clinician_client.post(reverse("screening:finalise", args=[draft.pk]), {"confirm": "on"})
        _, with_message = page(clinician_client, "screening:summary", draft)  # with a message now
        assert "This screening is already final." in with_message
        _, after = page(clinician_client, "screening:summary", draft)
        assert "This screening is already final." not in after
        assert after == again.replace(csrf_token(again), csrf_token(after))

    def test_a_summary_page_follows_its_viewers_name_and_role(self, clinician_client, clinician):
        final = final_for(clinician)
        _, before = page(clinician_client, "screening:summary", final)
        assert signed_in_as(before) == "Signed in as clinician"
        assert parse(before).select_one('a[href="/admin/"]') is None
        clinician.first_name, clinician.is_staff = "Cleo", True
        clinician.save()
        verify_session(clinician_client, clinician)  # staff use two factors
        _, after = page(clinician_client, "screening:summary", final)
        assert signed_in_as(after) == "Signed in as Cleo"
        assert parse(after).select_one('nav a[href="/admin/"]')

    def test_the_list_follows_saves_and_renamed_conditions(self, clinician_client, clinician):
        draft = draft_for(clinician, answers={"age": 45}, reference="L-1")
        before = clinician_client.get(reverse("screening:list")).content.decode()
        assert "Incomplete" in before and "Treatment-resistant depression" in before
        services.screening_save_answers(screening=draft, answers=TRD_ELIGIBLE)
        Condition.objects.filter(slug="trd").update(name="Depression, treatment-resistant")
        after = clinician_client.get(reverse("screening:list")).content.decode()
        assert "Meets screening criteria" in after and "Incomplete" not in after
        assert "Depression, treatment-resistant" in after

    def test_the_list_shows_owners_only_to_readers_of_every_screening(
        self, clinician_client, auditor_client, clinician
    ):
        draft_for(clinician, reference="L-2")
        for _ in range(2):
            owners = clinician_client.get(reverse("screening:list")).content.decode()
            auditors = auditor_client.get(reverse("screening:list")).content.decode()
            for html, shown in ((owners, False), (auditors, True)):
                table = parse(html).select_one("table")
                assert ("Clinician" in [header.text() for header in table.select("thead th[scope=col]")]) is shown
                assert [cell.text() for cell in table.select("tbody td[data-label=Clinician]")] == (
                    ["clinician"] if shown else []
                )

    def test_a_list_page_shows_the_search_as_typed_and_its_own_viewer(
        self, clinician_client, auditor_client, clinician
    ):
        draft_for(clinician, reference="L-3")
        for typed in ("L-3", " L-3", "l-3 "):  # the same rows each time
            html = clinician_client.get(reverse("screening:list"), {"q": typed}).content.decode()
            search = parse(html).select_one("form[role=search] input#id_q")
            assert {name: search.get(name) for name in ("name", "class", "maxlength", "value")} == {
                "name": "q", "class": "form-control", "maxlength": "64", "value": typed,
            }
            assert "L-3" in html and csrf_token(html)
        auditors = auditor_client.get(reverse("screening:list"), {"q": "L-3"}).content.decode()
        assert signed_in_as(auditors) == "Signed in as Ann Audit"
        owners = clinician_client.get(reverse("screening:list"), {"q": "L-3"}).content.decode()
        assert signed_in_as(owners) == "Signed in as clinician"
        assert csrf_token(owners) != csrf_token(html)

    def test_a_long_list_pages_on_without_counting(self, clinician_client, clinician):
        first = draft_for(clinician, reference="P-000")
        Screening.objects.bulk_create(
            Screening(
                owner=clinician, patient_reference=f"P-{n:03}", conditions=first.conditions,
                answers=first.answers, snapshot=first.snapshot, rulebook_version=first.rulebook_version,
                result=first.result, worst_status=first.worst_status,
            )
            for n in range(1, 75)
        )
        assert "COUNT(" not in " ".join(self.list_queries(clinician_client))
        one = clinician_client.get(reverse("screening:list")).content.decode()
        assert current_page(one) == "Page 1" and page_links(one)["Older"].endswith("page=2") and "Newer" not in one
        three = clinician_client.get(reverse("screening:list"), {"page": 3}).content.decode()
        assert current_page(three) == "Page 3" and "P-024" in three and "P-000" in three and "P-025" not in three
        assert page_links(three)["Newer"].endswith("page=2") and "Older" not in three
        beyond = clinician_client.get(reverse("screening:list"), {"page": 9}).content.decode()
        assert "no screenings on page 9" in beyond and page_links(beyond)["First page"].endswith("page=1")
        assert "P-0" not in beyond
        for nonsense in ("-3", "0", "x", "9" * 40):
            page = clinician_client.get(reverse("screening:list"), {"page": nonsense})
            assert page.status_code == 200
        assert "P-074" in clinician_client.get(reverse("screening:list"), {"page": "x"}).content.decode()

    def test_pages_keep_the_search(self, clinician_client, clinician):
        for n in range(30):
            draft_for(clinician, reference=f"KEEP-{n:02}")
        draft_for(clinician, reference="OTHER-1")
        one = clinician_client.get(reverse("screening:list"), {"q": "keep", "status": "draft"}).content.decode()
        assert page_links(one)["Older"].endswith("?q=keep&status=draft&page=2") and "OTHER-1" not in one
        two = clinician_client.get(reverse("screening:list"), {"q": "keep", "status": "draft", "page": 2}).content.decode()
        assert "KEEP-00" in two and page_links(two)["Newer"].endswith("?q=keep&status=draft&page=1")

    @staticmethod
    def list_queries(client):
        with CaptureQueriesContext(connection) as queries:
            client.get(reverse("screening:list"))
        return [query["sql"] for query in queries.captured_queries]


# --- the selectors behind them --------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("module_knowledge_base")
class TestSelectors:
    def test_a_search_for_like_wildcards_finds_them_as_typed(self, clinician):
        for reference in ("A_1", "AB1", "AXX2"):
            draft_for(clinician, reference=reference)

        def found(query):
            return sorted(s.patient_reference for s in selectors.screening_list(user=clinician, query=query))

        assert found("a_") == ["A_1"] and found("%") == [] and found("a") == ["AB1", "AXX2", "A_1"]

    @pytest.mark.parametrize("pk", [0, -1, 10**30])
    def test_the_page_selector_finds_nothing_where_nothing_is(self, pk):
        assert selectors.screening_page(pk) is None
