from django.urls import path
from django.views.decorators.cache import cache_control

from screening import attrition_views, views

app_name = "screening"

# Every page here shows patient data: no browser or proxy may keep a copy,
# so the back button of a shared clinic computer shows nothing after sign-out.
patient_data = cache_control(private=True, no_store=True)

# Included at the site's root: the screenings and each patient's history.
urlpatterns = [
    path("screenings/", patient_data(views.screening_list), name="list"),
    path("screenings/new/", patient_data(views.screening_new), name="new"),
    path("screenings/<int:pk>/", patient_data(views.screening_summary), name="summary"),
    path("screenings/<int:pk>/questionnaire/", patient_data(views.screening_questionnaire), name="questionnaire"),
    path("screenings/<int:pk>/answers/", patient_data(views.screening_answers), name="answers"),
    path("screenings/<int:pk>/questions/", patient_data(views.screening_questions), name="questions"),
    path("screenings/<int:pk>/details/", patient_data(views.screening_details), name="details"),
    path("screenings/<int:pk>/discard/", patient_data(views.screening_discard), name="discard"),
    path("screenings/<int:pk>/finalise/", patient_data(views.screening_finalise), name="finalise"),
    path("screenings/<int:pk>/amend/", patient_data(views.screening_amend), name="amend"),
    path("screenings/<int:pk>/pdf/", patient_data(views.screening_pdf), name="pdf"),
    path("screenings/<int:pk>/fhir/", patient_data(views.screening_fhir), name="fhir"),
    path("screenings/<int:pk>/compare/", patient_data(views.screening_compare), name="compare"),
    path("patients/<path:reference>/", patient_data(views.patient_history), name="patient"),
    # A team's figures, no patient named (screening.attrition); kept out of caches all the same.
    path("attrition/", patient_data(attrition_views.attrition_page), name="attrition"),
    path("attrition/csv/", patient_data(attrition_views.attrition_csv), name="attrition_csv"),
    # Every rule in words, for the version in force. No patient data.
    path("criteria/", views.criteria_catalogue, name="catalogue"),
    # The questionnaire as FHIR: the version in force at its canonical URL
    # (settings.FHIR_BASE_URL + "/Questionnaire/ketascreen"), and each
    # published version by its number. No patient data.
    path("fhir/Questionnaire/ketascreen/", views.fhir_questionnaire, name="fhir_questionnaire"),
    path("fhir/Questionnaire/ketascreen/<int:number>/", views.fhir_questionnaire, name="fhir_questionnaire_version"),
]
