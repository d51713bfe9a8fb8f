from django.urls import path

from watchhouse.console.alerts import views

urlpatterns = [
    path("", views.alert_list, name="alerts"),
    path("new/", views.alert_new, name="alert_new"),
    path("reach/", views.reach_json, name="alert_reach"),
    path("templates/", views.template_list, name="alert_templates"),
    path("templates/new/", views.template_new, name="alert_template_new"),
    path("templates/<int:pk>/use/", views.template_use, name="alert_template_use"),
    path("<int:pk>/", views.alert_detail, name="alert_detail"),
    path("<int:pk>/edit/", views.alert_edit, name="alert_edit"),
    path("<int:pk>/act/<slug:action>/", views.alert_act, name="alert_act"),
    path("<int:pk>/update/", views.alert_update, name="alert_update"),
    path("<int:pk>/deliveries/", views.delivery_report, name="alert_deliveries"),
    path("<int:pk>/deliveries.csv", views.delivery_csv, name="alert_deliveries_csv"),
]
