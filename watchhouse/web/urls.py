from django.urls import path

from watchhouse.web import area_views, views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("areas/", area_views.area_list, name="areas"),
    path("areas/<slug:kind>/<slug:slug>/", area_views.area_detail, name="area"),
]
