from django.urls import path

from watchhouse.console.monitoring import stream_views as views

urlpatterns = [
    path("", views.overview, name="monitoring"),
    path("queue/", views.queue, name="monitoring_queue"),
    path("queue/live/", views.queue_live, name="monitoring_queue_live"),
    path("posts/<int:pk>/<slug:state>/", views.post_review, name="monitoring_post_review"),
    path("stories/", views.stories, name="monitoring_stories"),
    path("stories/<int:pk>/<slug:action>/", views.story_act, name="monitoring_story_act"),
    path("rules/", views.rules, name="monitoring_rules"),
    path("rules/new/", views.rule_new, name="monitoring_rule_new"),
    path("rules/<int:pk>/disable/", views.rule_disable, name="monitoring_rule_disable"),
    path("sources/", views.sources, name="monitoring_sources"),
    path("sources/new/", views.source_new, name="monitoring_source_new"),
    path("sources/<int:pk>/", views.source_edit, name="monitoring_source_edit"),
    path("landmarks/", views.landmarks, name="monitoring_landmarks"),
    path("landmarks/<int:pk>/delete/", views.landmark_delete, name="monitoring_landmark_delete"),
    path("approvals/", views.approvals, name="monitoring_approvals"),
    path(
        "approvals/<int:pk>/<slug:decision>/",
        views.approval_decide,
        name="monitoring_approval_decide",
    ),
]
