from django.urls import path
from django.views.decorators.cache import cache_control

from screening import views

app_name = "screening"

# Every page here shows patient data: no browser or proxy may keep a copy,
# so the back button of a shared clinic computer shows nothing after sign-out.
patient_data = cache_control(private=True, no_store=True)

urlpatterns = [
    path("", patient_data(views.screening_list), name="list"),
    path("new/", patient_data(views.screening_new), name="new"),
    path("<int:pk>/", patient_data(views.screening_summary), name="summary"),
    path("<int:pk>/questionnaire/", patient_data(views.screening_questionnaire), name="questionnaire"),
    path("<int:pk>/answers/", patient_data(views.screening_answers), name="answers"),
    path("<int:pk>/details/", patient_data(views.screening_details), name="details"),
    path("<int:pk>/discard/", patient_data(views.screening_discard), name="discard"),
    path("<int:pk>/finalise/", patient_data(views.screening_finalise), name="finalise"),
    path("<int:pk>/amend/", patient_data(views.screening_amend), name="amend"),
    path("<int:pk>/pdf/", patient_data(views.screening_pdf), name="pdf"),
    path("<int:pk>/compare/", patient_data(views.screening_compare), name="compare"),
]
