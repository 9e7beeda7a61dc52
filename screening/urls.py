from django.urls import path

from screening import views

app_name = "screening"

urlpatterns = [
    path("", views.screening_list, name="list"),
    path("new/", views.screening_new, name="new"),
    path("<int:pk>/", views.screening_summary, name="summary"),
    path("<int:pk>/questionnaire/", views.screening_questionnaire, name="questionnaire"),
    path("<int:pk>/finalise/", views.screening_finalise, name="finalise"),
    path("<int:pk>/amend/", views.screening_amend, name="amend"),
    path("<int:pk>/pdf/", views.screening_pdf, name="pdf"),
    path("<int:pk>/compare/", views.screening_compare, name="compare"),
]
