"""Public routes of posts; included at the site's root by watchhouse.config.urls."""

from django.urls import path, re_path

from watchhouse.posts import feeds, sitemaps, views

app_name = "posts"
urlpatterns = [
    path("news/", views.post_list, name="list"),
    path("news/search", views.post_search, name="search"),
    re_path(r"^news/feed\.(?P<fmt>rss|atom|json)$", feeds.feed, name="feed"),
    path("news/<int:pk>-<str:slug>/", views.post_detail, name="detail"),
    path("news/<int:pk>.ics", views.post_ics, name="ics"),
    path("news/media/<int:pk>/captions.vtt", views.captions, name="captions"),
    path("officers/", views.officer_list, name="officers"),
    path("officers/<slug:slug>/", views.officer_detail, name="officer"),
    path("podcast/", views.podcast, name="podcast"),
    path("podcast/feed.rss", feeds.podcast_feed, name="podcast_feed"),
    path("podcast/artwork.png", feeds.podcast_artwork, name="podcast_artwork"),
    path("podcast/<int:pk>/chapters.json", feeds.podcast_chapters, name="chapters"),
    path("media/<path:path>", views.media_file, name="media"),
    path("robots.txt", sitemaps.robots, name="robots"),
    path("sitemap.xml", sitemaps.sitemap, name="sitemap"),
    path("sitemap-pages.xml", sitemaps.sitemap_pages, name="sitemap_pages"),
    path("sitemap-posts-<int:part>.xml", sitemaps.sitemap_posts, name="sitemap_posts"),
]
