from django.urls import path

from watchhouse.console.geo import views

urlpatterns = [
    path("", views.area_list, name="areas"),
    path("import/", views.area_import, name="area_import"),
]
