from django.urls import path

from watchhouse.web import views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("areas/", views.area_list, name="areas"),
    path("areas/<slug:kind>/<slug:slug>/", views.area_detail, name="area"),
]
