from django.urls import include, path

urlpatterns = [
    path("", include("watchhouse.console.monitoring.stream_urls")),
    path("cases/", include("watchhouse.console.monitoring.case_urls")),
]
