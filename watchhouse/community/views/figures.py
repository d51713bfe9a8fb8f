"""The view counter of post pages: a beacon the post page sends once per view.

The post page's small script posts to it with ``navigator.sendBeacon``; without script, a
1x1 image in ``<noscript>`` asks for it. It sets no cookie, stores nothing about the reader,
is never cached (every view must reach it) and is exempt from CSRF: it only adds one to a
counter, and a client is limited to ``WATCHHOUSE_COMMUNITY_SEEN_PER_HOUR`` counts an hour.
"""

from __future__ import annotations

import base64

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from watchhouse.community.services.figures import post_view_count
from watchhouse.posts.models import Post
from watchhouse.posts.states import PostState
from watchhouse.tips import guard

SEEN_WINDOW = 3600
# A transparent 1x1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def seen_per_hour() -> int:
    """Views one client may add in an hour (a newsroom behind one address reads many
    posts)."""
    return int(settings.WATCHHOUSE_COMMUNITY_SEEN_PER_HOUR)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def post_seen(request: HttpRequest, post_pk: int) -> HttpResponse:
    """Count one view of a published post; answer 204 (a beacon) or a pixel (``GET``)."""
    if not Post.objects.filter(pk=post_pk, state=PostState.PUBLISHED).exists():
        raise Http404("No such post.")
    who = str(request.META.get("REMOTE_ADDR", ""))
    if not guard.over_limit(
        "community-seen", who, limit=seen_per_hour(), window_seconds=SEEN_WINDOW
    ):
        guard.count("community-seen", who, window_seconds=SEEN_WINDOW)
        post_view_count(post_id=post_pk)
    if request.method == "POST":
        response = HttpResponse(status=204)
    else:
        response = HttpResponse(PIXEL, content_type="image/gif")
    add_never_cache_headers(response)
    return response
