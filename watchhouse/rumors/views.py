"""The public rumor-control pages: every answered rumor grouped by incident, and one rumor.

Both are served from the shared page cache to anonymous visitors and retired by the "rumors"
section whenever a service changes what the public sees.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

from watchhouse.core import pagecache
from watchhouse.posts.feeds import FORMATS
from watchhouse.rumors import feeds, selectors
from watchhouse.rumors.models import Rumor

# Seconds a browser may reuse a page (the cached copy is retired by the services at once).
PAGE_MAX_AGE_S = 60


def _served(
    request: HttpRequest, name: str, build: Callable[[dict[str, Any]], HttpResponse]
) -> HttpResponse:
    """The page ``build`` renders, from the page cache for anonymous visitors; the key holds
    :func:`~watchhouse.rumors.selectors.rumors_changed` too, so a change made outside the
    services still shows on a page rendered here."""
    if not pagecache.cacheable(request):
        response = build({})
        patch_cache_control(response, max_age=PAGE_MAX_AGE_S)
        return response
    changed = selectors.rumors_changed()
    stamp = changed.isoformat() if changed else "-"
    return pagecache.serve(
        request,
        f"rumors:{name}:{stamp}",
        lambda: (build({"csrf_token": pagecache.CSRF_PLACEHOLDER}), float(pagecache.TIMEOUT_S)),
        per_visitor=True,
    )


def feed_links() -> list[tuple[str, str, str]]:
    """(type, title, url) of the rumor feeds, for ``<link rel="alternate">`` and the page."""
    title = feeds.feed_title()
    return [
        (FORMATS[fmt].split(";")[0], f"{title} ({name})", feeds.feed_url(fmt))
        for fmt, name in (("rss", "RSS"), ("atom", "Atom"), ("json", "JSON Feed"))
    ]


@require_safe
def rumor_list(request: HttpRequest) -> HttpResponse:
    """Every answered rumor, grouped by incident, newest first."""

    def build(extra: dict[str, Any]) -> HttpResponse:
        return render(
            request,
            "rumors/list.html",
            {**extra, "groups": selectors.rumor_public_groups(), "feed_links": feed_links()},
        )

    return _served(request, "list", build)


@require_safe
def rumor_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One answered rumor; 404 for one not (or no longer) public."""

    def build(extra: dict[str, Any]) -> HttpResponse:
        try:
            rumor = selectors.rumor_public_get(pk)
        except Rumor.DoesNotExist:
            raise Http404("No such rumor.") from None
        return render(
            request,
            "rumors/detail.html",
            {**extra, "rumor": rumor, "feed_links": feed_links()},
        )

    return _served(request, f"detail:{pk}", build)
