"""Community reports' public pages (under /community/reports/)."""

from django.urls import path

from watchhouse.community.views import reports

urlpatterns = [
    path("new", reports.report_new, name="report_new"),
    path("<str:token>", reports.report_status, name="report_status"),
]
