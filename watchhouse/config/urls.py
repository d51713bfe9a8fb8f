"""Top-level routes. Each domain app owns its own namespace."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from watchhouse.api.api import api
from watchhouse.core import views as core_views

urlpatterns = [
    path("", include("watchhouse.web.urls")),
    # News, officers, podcast, feeds, sitemap and the public media files (in every mode).
    path("", include("watchhouse.posts.urls")),
    path("", include("watchhouse.outlets.activitypub.urls")),
    path("accounts/", include("watchhouse.accounts.urls")),
    path("alerts/", include("watchhouse.alerts.urls")),
    path("subscribe/", include("watchhouse.notify.urls")),
    path("geocode/", include("watchhouse.geocode.urls")),
    path("crime/", include("watchhouse.crimemap.urls_public")),
    path("tips/", include("watchhouse.tips.urls")),
    path("community/", include("watchhouse.community.urls")),
    path("rumors/", include("watchhouse.rumors.urls")),
    path("transparency/monitoring/", include("watchhouse.monitoring.urls")),
    path("open311/v2/", include("watchhouse.community.urls_open311")),
    path("console/crime/", include("watchhouse.crimemap.urls")),
    path("console/", include("watchhouse.console.urls")),
    path("api/v1/", api.urls),
    path("django-admin/", admin.site.urls),
    path("healthz", core_views.healthz, name="healthz"),
    path("metrics", core_views.metrics_view, name="metrics"),
    path("i18n/", include("django.conf.urls.i18n")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
