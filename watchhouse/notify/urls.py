from django.urls import path

from watchhouse.notify import views

app_name = "notify"
urlpatterns = [
    path("", views.subscribe, name="subscribe"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("manage/<str:token>/", views.manage, name="manage"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("sms/inbound", views.sms_inbound, name="sms_inbound"),
    path("sw.js", views.service_worker, name="service_worker"),
]
