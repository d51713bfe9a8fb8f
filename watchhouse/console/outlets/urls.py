from django.urls import path

from watchhouse.console.outlets import views

urlpatterns = [
    path("", views.outlet_list, name="outlets"),
    path("new/", views.outlet_new, name="outlet_new"),
    path("<int:pk>/", views.outlet_edit, name="outlet_edit"),
    path("<int:pk>/act/<slug:action>/", views.outlet_act, name="outlet_act"),
    path("posts/<int:pk>/", views.post_copies, name="outlet_post_copies"),
    path("posts/<int:pk>/take-down/", views.post_take_down, name="outlet_post_take_down"),
    path("alerts/<int:pk>/", views.alert_copies, name="outlet_alert_copies"),
    path("copies/<int:pk>/retry/", views.copy_retry, name="outlet_copy_retry"),
    path("inbox/", views.inbox, name="outlet_inbox"),
    path("fediverse/", views.fediverse, name="outlet_fediverse"),
]
