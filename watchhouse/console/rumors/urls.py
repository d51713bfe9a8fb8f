from django.urls import path

from watchhouse.console.rumors import views

urlpatterns = [
    path("", views.rumor_tracker, name="rumors"),
    path("new/", views.rumor_new, name="rumor_new"),
    path("incidents/", views.incident_list, name="rumor_incidents"),
    path("from-comment/<int:comment_pk>/", views.rumor_from_comment, name="rumor_from_comment"),
    path("from-inbound/<int:item_pk>/", views.rumor_from_inbound, name="rumor_from_inbound"),
    path("<int:pk>/", views.rumor_detail, name="rumor"),
    path("<int:pk>/act/<slug:action>/", views.rumor_act, name="rumor_act"),
    path("evidence/<int:pk>/file/", views.evidence_file, name="rumor_evidence_file"),
]
