"""Public monitoring routes, mounted at /transparency/monitoring/ by watchhouse.config.urls."""

from django.urls import path

from watchhouse.monitoring import views

app_name = "monitoring"
urlpatterns = [
    path("", views.transparency_page, name="transparency"),
]
