from django.urls import path

from watchhouse.console.community import reports

urlpatterns = [
    path("", reports.report_list, name="community_reports"),
    path("<int:pk>/", reports.report_detail, name="community_report"),
    path("api-keys/", reports.api_keys, name="community_api_keys"),
]
