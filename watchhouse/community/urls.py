"""The community's public pages (mounted at /community/): the resident's own pages here, and
those of the conversation, polls and reports from their own URL files."""

from django.urls import include, path

from watchhouse.community.views import residents

app_name = "community"
urlpatterns = [
    path("", residents.home, name="home"),
    path("sign-in", residents.sign_in, name="sign_in"),
    path("sign-in/<str:token>", residents.sign_in_link, name="sign_in_link"),
    path("sign-out", residents.sign_out, name="sign_out"),
    path("join", residents.join, name="join"),
    path("verify", residents.verify, name="verify"),
    path("", include("watchhouse.community.urls_conversation")),
    path("", include("watchhouse.community.urls_polls")),
    path("reports/", include("watchhouse.community.urls_reports")),
]
