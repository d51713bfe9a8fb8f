"""The tipster's pages (public, never cached)."""

from django.urls import path
from django.views.generic import RedirectView

from watchhouse.tips import views

app_name = "tips"
urlpatterns = [
    # "/tips/" is what a poster or a caller gives out: it opens the form (with its appeal).
    path("", RedirectView.as_view(pattern_name="tips:new", query_string=True), name="index"),
    path("new", views.tip_new, name="new"),
    path("new/received", views.tip_received, name="received"),
    path("privacy", views.privacy, name="privacy"),
    path("status", views.status, name="status"),
    path("status/dialogue", views.dialogue, name="dialogue"),
    path("status/sign-out", views.sign_out, name="sign_out"),
]
