from django.urls import path

from watchhouse.console.posts import views

urlpatterns = [
    path("", views.post_list, name="posts"),
    path("new/", views.post_new, name="post_new"),
    path("<int:pk>/", views.post_detail, name="post_detail"),
    path("<int:pk>/edit/", views.post_edit, name="post_edit"),
    path("<int:pk>/act/<slug:action>/", views.post_act, name="post_act"),
    path("<int:pk>/changes/", views.post_diff, name="post_diff"),
    path("media/", views.media_library, name="post_media"),
    path("media/<int:pk>/", views.media_detail, name="post_media_detail"),
    path("media/<int:pk>/status.json", views.media_status, name="post_media_status"),
    path("media/<int:pk>/original/", views.media_original, name="post_media_original"),
    path("officers/", views.officer_list, name="officers"),
    path("officers/new/", views.officer_new, name="officer_new"),
    path("officers/<int:pk>/", views.officer_edit, name="officer_edit"),
    path("topics/", views.topic_list, name="post_topics"),
]
