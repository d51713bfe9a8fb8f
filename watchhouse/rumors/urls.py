"""Public rumor-control routes, mounted at /rumors/ by watchhouse.config.urls."""

from django.urls import path

from watchhouse.rumors import feeds, views

app_name = "rumors"
urlpatterns = [
    path("", views.rumor_list, name="list"),
    path("<int:pk>/", views.rumor_detail, name="detail"),
    path("feed.rss", feeds.feed, {"fmt": "rss"}, name="feed_rss"),
    path("feed.atom", feeds.feed, {"fmt": "atom"}, name="feed_atom"),
    path("feed.json", feeds.feed, {"fmt": "json"}, name="feed_json"),
]
