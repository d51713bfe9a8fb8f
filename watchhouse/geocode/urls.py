"""The public address search behind the subscribe page (included at ``/geocode/``)."""

from django.urls import path

from watchhouse.geocode import views

app_name = "geocode"

urlpatterns = [
    path("search", views.search, name="search"),
]
