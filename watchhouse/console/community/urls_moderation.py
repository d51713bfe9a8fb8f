from django.urls import path

from watchhouse.console.community import moderation as views

urlpatterns = [
    path("", views.queue, name="community_moderation"),
    path("terms/", views.profiling_terms, name="community_profiling_terms"),
    path("posts/<int:pk>/reply/", views.post_reply, name="community_post_reply"),
    path("<slug:kind>/<int:pk>/", views.item_detail, name="community_moderation_item"),
    path(
        "<slug:kind>/<int:pk>/act/<slug:action>/",
        views.item_act,
        name="community_moderation_act",
    ),
]
