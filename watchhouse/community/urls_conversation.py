"""Conversation URLs, included by ``community/urls.py`` into the ``community`` namespace at
``/community/``.

A neighbourhood's pages live at ``/community/<area slug>/``: the converter matches only the
slug of an existing neighbourhood, so the other community pages (``join``, ``polls/``...)
are never shadowed, whatever order the URL files are included in.
"""

from __future__ import annotations

from django.urls import path, register_converter

from watchhouse.community.views import conversation as views
from watchhouse.geo.models import Area


class NeighbourhoodSlugConverter:
    regex = r"[-a-zA-Z0-9_]+"

    def to_python(self, value: str) -> str:
        if not Area.objects.filter(kind="neighbourhood", slug=value).exists():
            raise ValueError(value)
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(NeighbourhoodSlugConverter, "neighbourhood")

urlpatterns = [
    path("moderation/", views.moderation_policy, name="moderation_policy"),
    path("moderation/log", views.moderation_log, name="moderation_log"),
    path("posts/<int:pk>/comment", views.post_comment, name="post_comment"),
    path("flag/<slug:kind>/<int:pk>", views.flag_item, name="flag"),
    path("<neighbourhood:area_slug>/", views.discussion_list, name="discussions"),
    path("<neighbourhood:area_slug>/new", views.discussion_new, name="discussion_new"),
    path("<neighbourhood:area_slug>/<int:pk>/", views.discussion_detail, name="discussion"),
    path(
        "<neighbourhood:area_slug>/<int:pk>/comment",
        views.discussion_comment,
        name="discussion_comment",
    ),
]
