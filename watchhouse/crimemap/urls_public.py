"""The public crime pages, included at /crime/."""

from django.urls import path

from watchhouse.crimemap import views_public

app_name = "crime"
urlpatterns = [
    path("", views_public.crime_map, name="map"),
    path("areas/<int:area_id>/", views_public.crime_area, name="area"),
    path("methods/", views_public.crime_methods, name="methods"),
    path("boundaries.geojson", views_public.crime_boundaries, name="boundaries"),
]
