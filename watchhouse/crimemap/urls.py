"""The crime section of the staff console, included at /console/crime/."""

from django.urls import path

from watchhouse.crimemap import views

app_name = "crimemap"
urlpatterns = [
    path("", views.crime_home, name="console"),
    path("import/", views.crime_import, name="import"),
    path("formats/<slug:name>/", views.crime_format, name="format"),
    path("reports/<int:pk>/", views.crime_report, name="report"),
]
