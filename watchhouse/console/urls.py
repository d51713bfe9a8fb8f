from django.urls import include, path

from watchhouse.console import views

app_name = "console"
urlpatterns = [
    path("", views.home, name="home"),
    path("alerts/", include("watchhouse.console.alerts.urls")),
    path("posts/", include("watchhouse.console.posts.urls")),
    path("audit/", include("watchhouse.console.audit.urls")),
    path("staff/", include("watchhouse.console.accounts.urls")),
    path("areas/", include("watchhouse.console.geo.urls")),
    path("tips/", include("watchhouse.console.tips.urls")),
    path("rumors/", include("watchhouse.console.rumors.urls")),
    path("outlets/", include("watchhouse.console.outlets.urls")),
    path("monitoring/", include("watchhouse.console.monitoring.urls")),
    path("community/members/", include("watchhouse.console.community.urls_members")),
    path("community/moderation/", include("watchhouse.console.community.urls_moderation")),
    path("community/polls/", include("watchhouse.console.community.urls_polls")),
    path("community/reports/", include("watchhouse.console.community.urls_reports")),
    path("community/figures/", include("watchhouse.console.community.urls_figures")),
]
