"""Polls (under /community/), and the view counter of post pages."""

from django.urls import path

from watchhouse.community.views import figures, polls

urlpatterns = [
    path("polls/", polls.poll_list, name="polls"),
    path("polls/<int:pk>/", polls.poll_detail, name="poll"),
    path("polls/<int:pk>/vote", polls.poll_vote, name="poll_vote"),
    path("seen/<int:post_pk>", figures.post_seen, name="post_seen"),
]
