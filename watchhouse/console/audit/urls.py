from django.urls import path

from watchhouse.console.audit import views

urlpatterns = [
    path("", views.audit_list, name="audit"),
    path("verify/", views.audit_verify, name="audit_verify"),
]
