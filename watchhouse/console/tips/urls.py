from django.urls import path

from watchhouse.console.tips import views

urlpatterns = [
    path("", views.tip_inbox, name="tips"),
    path("report/", views.tips_report, name="tips_report"),
    path("templates/", views.template_list, name="tip_templates"),
    path("rewards/", views.tip_reward_claim, name="tip_reward_claim"),
    path("<int:pk>/", views.tip_detail, name="tip"),
    path("<int:pk>/act/<slug:action>/", views.tip_act, name="tip_act"),
    path("<int:pk>/export/", views.tip_export, name="tip_export"),
    path("files/<int:pk>/preview/", views.tip_file_preview, name="tip_file_preview"),
    path("files/<int:pk>/original/", views.tip_file_original, name="tip_file_original"),
    path("files/<int:pk>/metadata/", views.tip_file_metadata, name="tip_file_metadata"),
]
