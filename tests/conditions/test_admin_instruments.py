"""Instruments, formulary drugs and calculated questions in the admin, as a
clinical lead edits them: form errors, never a 500, and every change kept."""

import pytest
from django.utils.html import escape

from conditions.models import Drug, FormularySettings, Instrument, Question, Reference

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("module_knowledge_base")]


def change_url(instance):
    return f"/admin/conditions/{instance._meta.model_name}/{instance.pk}/change/"


def rows(name, records):
    """An instrument's options or bands as the admin's rows post them."""
    data = {f"{name}-rows": len(records)}
    for index, record in enumerate(records):
        data.update({f"{name}-{index}-{part}": value for part, value in record.items()})
    return data


def instrument_form(instrument, options=None, bands=None, **changes):
    data = {
        "code": instrument.code, "name": instrument.name, "total": instrument.total_id,
        **rows("options", instrument.options if options is None else options),
        **rows("bands", instrument.bands if bands is None else bands),
        "extra_items": [q.pk for q in instrument.extra_items.all()] if instrument.pk else [],
        "references": [r.pk for r in instrument.references.all()] if instrument.pk else [],
        "licence": instrument.licence, "order": instrument.order,
    }
    data.update(changes)
    return data


def drug_form(**changes):
    data = {
        "key": "reboxetine", "name": "Reboxetine", "drug_class": "other", "min_daily_dose_mg": "8",
        "counts_as_trial": "on", "references": [Reference.objects.get(key="bschor-2008").pk], "note": "",
        "order": 300,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def errors_of(response):
    assert response.status_code == 200
    return response.context["adminform"].form.errors


def test_a_lead_changes_an_instruments_bands_and_the_change_is_kept(lead_client, lead):
    phq9 = Instrument.objects.get(code="phq9")
    bands = [*phq9.bands[:-1], {**phq9.bands[-1], "label": "Severe depression"}]
    response = lead_client.post(change_url(phq9), instrument_form(phq9, bands=bands))
    assert response.status_code == 302
    latest = phq9.history.first()
    assert (latest.bands[-1]["label"], latest.history_user, latest.history_type) == ("Severe depression", lead, "~")
    assert phq9.history.last().bands[-1]["label"] == "Severe"
    history = lead_client.get(f"/admin/conditions/instrument/{phq9.pk}/history/")
    assert history.status_code == 200 and "lead" in history.content.decode()


@pytest.mark.parametrize("changes, field, message", [
    ({"bands": [{"min": 0, "max": 9, "label": "Mild"}, {"min": 9, "max": 27, "label": "Severe"}]},
     "bands", "The band “Severe” overlaps the band before it; start it at 10."),
    ({"bands": [{"min": 0, "max": 20, "label": "All"}]},
     "bands", "The bands end at 20, but the highest total is 27; the last band should end at 27."),
    ({"bands": [{"min": 0, "max": "ten", "label": "Mild"}, {"min": 11, "max": 27, "label": "Severe"}]},
     "bands", "Row 1: the highest total “ten” is not a whole number; write one, e.g. 1."),
    ({"bands": [{"min": 0, "max": 9, "label": "Mild"}, {"min": 10, "max": 27, "label": ""}]},
     "bands", "Row 2: give the band its label."),
    ({"options": [{"score": 0, "label": "No"}, {"score": 1, "label": "Yes"}]},
     "options", "Item phq9_1 is scored from 0 to 3, but the options go from 0 to 1: make them agree."),
    ({"options": [{"score": 0, "label": "No"}, {"score": "", "label": "Yes"}]},
     "options", "Row 2: give the score as a whole number, e.g. 1."),
    ({"options": [{"score": "", "label": ""}]}, "options", "Fill in the options as rows, lowest score first"),
    ({"bands": []}, "bands", "Fill in the severity bands as rows, lowest first"),
])
def test_a_malformed_instrument_is_a_form_error(lead_client, changes, field, message):
    phq9 = Instrument.objects.get(code="phq9")
    response = lead_client.post(change_url(phq9), instrument_form(phq9, **changes))
    assert message in " ".join(errors_of(response)[field])
    assert Instrument.objects.get(code="phq9").bands == phq9.bands


def test_an_instruments_options_and_bands_are_rows_not_json(lead_client):
    phq9 = Instrument.objects.get(code="phq9")
    html = lead_client.get(change_url(phq9)).content.decode()
    assert 'name="options-0-score" value="0"' in html and 'name="options-0-label" value="Not at all"' in html
    assert f'name="bands-{len(phq9.bands) - 1}-max" value="27"' in html
    assert 'name="options-rows"' in html and "js/admin_rows.js" in html
    assert "[{" not in html.split('id="id_options"')[1].split("</table>")[0]  # no JSON to read


def test_a_lead_adds_and_removes_rows_and_the_json_keeps_its_shape(lead_client):
    phq9 = Instrument.objects.get(code="phq9")
    # Split the last band in two in a blank row at the end, and empty a row of options
    # in the middle that the lead has moved down: blank rows are left out.
    bands = [*phq9.bands[:-1], {"min": 20, "max": 24, "label": "Severe"}, {"min": 25, "max": 27, "label": "Very severe"}]
    options = [*phq9.options[:2], {"score": "", "label": ""}, *phq9.options[2:], {"score": "", "label": ""}]
    response = lead_client.post(change_url(phq9), instrument_form(phq9, options=options, bands=bands))
    assert response.status_code == 302, errors_of(response)
    saved = Instrument.objects.get(pk=phq9.pk)
    assert saved.options == phq9.options
    assert saved.bands[-2:] == [{"min": 20, "max": 24, "label": "Severe"}, {"min": 25, "max": 27, "label": "Very severe"}]
    assert all(type(band["min"]) is int and type(band["max"]) is int for band in saved.bands)


def test_a_refused_row_is_shown_again_as_typed(lead_client):
    phq9 = Instrument.objects.get(code="phq9")
    bands = [*phq9.bands[:-1], {"min": "twenty", "max": 27, "label": "Severe, as typed"}]
    response = lead_client.post(change_url(phq9), instrument_form(phq9, bands=bands))
    last = len(phq9.bands)
    assert f"Row {last}: the lowest total “twenty” is not a whole number" in " ".join(errors_of(response)["bands"])
    html = response.content.decode()
    assert f'name="bands-{last - 1}-min" value="twenty"' in html
    assert "Severe, as typed" in html
    assert Instrument.objects.get(pk=phq9.pk).bands == phq9.bands


def test_a_lead_adds_an_instrument_on_a_calculated_total(lead_client):
    total = Question.objects.get(code="gad7_total")
    Instrument.objects.filter(code="gad7").delete()
    gad7 = Instrument(
        code="gad7-again", name="GAD-7 again", total=total,
        options=[{"score": s, "label": f"Option {s}"} for s in range(4)],
        bands=[{"min": 0, "max": 9, "label": "Lower"}, {"min": 10, "max": 21, "label": "Higher"}],
    )
    response = lead_client.post("/admin/conditions/instrument/add/", instrument_form(gad7))
    assert response.status_code == 302
    added = Instrument.objects.get(code="gad7-again")
    assert [q.code for q in added.items()] == [f"gad7_{n}" for n in range(1, 8)]
    assert added.history.first().history_type == "+"


def test_an_instrument_page_lists_its_items_from_its_total(lead_client):
    phq9 = Instrument.objects.get(code="phq9")
    html = lead_client.get(change_url(phq9)).content.decode()
    assert "Little interest or pleasure in doing things" in html
    assert html.index("phq9_1") < html.index("phq9_9")


def test_a_lead_adds_a_drug_to_the_formulary_and_it_is_kept(lead_client, lead):
    response = lead_client.post("/admin/conditions/drug/add/", drug_form())
    assert response.status_code == 302
    drug = Drug.objects.get(key="reboxetine")
    assert (drug.min_daily_dose_mg, drug.counts_as_trial) == (8, True)
    assert drug.history.first().history_user == lead
    response = lead_client.post(change_url(drug), drug_form(min_daily_dose_mg="50"))
    assert response.status_code == 302
    assert (drug.history.first().min_daily_dose_mg, drug.history.last().min_daily_dose_mg) == (50, 8)


@pytest.mark.parametrize("changes, message", [
    ({"min_daily_dose_mg": "0"}, "The minimum daily dose is more than 0 mg."),
    ({"min_daily_dose_mg": ""}, "A drug that counts as a trial needs its minimum adequate daily dose"),
    ({"min_daily_dose_mg": "lots"}, "Enter a number."),
])
def test_a_drug_without_a_usable_minimum_dose_is_a_form_error(lead_client, changes, message):
    response = lead_client.post("/admin/conditions/drug/add/", drug_form(**changes))
    assert message in " ".join(errors_of(response)["min_daily_dose_mg"])
    assert not Drug.objects.filter(key="reboxetine").exists()


def test_the_formulary_settings_are_changed_in_place(lead_client, lead):
    settings = FormularySettings.objects.get()
    assert lead_client.get("/admin/conditions/formularysettings/add/").url == change_url(settings)
    response = lead_client.post(change_url(settings), {
        # the form's other fields as a browser posts them (the third edition added them)
        "min_trial_weeks": "6", "count": settings.count, "partial_response_counts": "on",
        "references": [r.pk for r in settings.references.all()],
    })
    assert response.status_code == 302
    assert FormularySettings.objects.get().min_trial_weeks == 6
    assert settings.history.first().history_user == lead


def test_a_calculated_questions_inputs_are_checked_before_saving(lead_client):
    total = Question.objects.get(code="phq9_total")
    age = Question.objects.get(code="age")
    mdd = Question.objects.get(code="mdd_current")
    data = {
        "text": total.text, "help_text": total.help_text, "section": total.section_id, "order": total.order,
        "kind": total.kind, "choices-rows": 0, "min_value": 0, "max_value": 27, "unit": "",
        "enable_when_question": "", "enable_when_operator": "", "enable_when_value": "",
        "calculation": "sum", "inputs": [*[q.pk for q in total.inputs.all()], mdd.pk],
    }
    response = lead_client.post(change_url(total), data)
    assert escape(
        "mdd_current is a yes / no question; sum of its items (whole-number questions) needs whole number questions."
    ) in response.content.decode()
    assert errors_of(response)["inputs"]
    response = lead_client.post(change_url(total), {**data, "inputs": [total.pk]})
    assert "A calculated question cannot be its own input." in errors_of(response)["inputs"]
    response = lead_client.post(change_url(age), {
        **data, "text": age.text, "section": age.section_id, "max_value": 120, "calculation": "",
        "inputs": [], "order": age.order, "help_text": "",
    })
    assert response.status_code == 302  # a plain question stays plain
    assert list(total.inputs.all()) == list(Question.objects.get(code="phq9_total").inputs.all())


@pytest.mark.parametrize("model", ["instrument", "drug", "formularysettings"])
def test_every_new_admin_page_opens(lead_client, model):
    instance = {"instrument": Instrument, "drug": Drug, "formularysettings": FormularySettings}[model].objects.first()
    base = f"/admin/conditions/{model}/"
    for url in [
        base, f"{base}?q=a", change_url(instance), f"{base}{instance.pk}/history/",
        f"{base}{instance.pk}/history/{instance.history.first().history_id}/",
    ]:
        assert lead_client.get(url).status_code == 200, url
    if model != "formularysettings":
        assert lead_client.get(f"{base}add/").status_code == 200
        assert lead_client.get(f"{base}{instance.pk}/delete/").status_code == 200
