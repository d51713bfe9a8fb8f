"""The site's sitemaps (sitemaps.org 0.9): an index at ``/sitemap.xml`` pointing at one sitemap
of the site's pages, areas and officers and at as many of listed posts as needed; and
``/robots.txt`` (RFC 9309), which names the index and keeps crawlers out of pages that are no
one's to index.

Written with lxml rather than ``django.contrib.sitemaps``, which would take a new installed app
and the sites framework to put this site's configured address (``SITE_URL``) in the URLs.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe
from lxml import etree

from watchhouse.geo.models import Area
from watchhouse.posts import public
from watchhouse.posts.models import OfficerProfile, Post
from watchhouse.posts.states import LISTED_STATES

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
# URLs in one sitemap of posts (the protocol allows 50,000).
POSTS_PER_SITEMAP = 10_000
# Seconds a crawler may reuse a sitemap.
SITEMAP_MAX_AGE_S = 3600
# Paths no crawler should read: staff pages and sign-in, the signed links of a resident's
# subscription and sign-in, and the tipster's status pages. The pages to subscribe and to send
# a tip are public and meant to be found.
ROBOTS_DISALLOW = (
    "/console/", "/accounts/", "/django-admin/", "/subscribe/confirm/", "/subscribe/manage/",
    "/subscribe/unsubscribe/", "/community/sign-in/", "/tips/status",
)  # fmt: skip


def _xml(root: etree._Element) -> HttpResponse:
    body = etree.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True)
    response = HttpResponse(body, content_type="application/xml; charset=utf-8")
    patch_cache_control(response, public=True, max_age=SITEMAP_MAX_AGE_S)
    return response


def _url(parent: etree._Element, loc: str, lastmod: datetime | None = None) -> None:
    url = etree.SubElement(parent, f"{{{SITEMAP_NS}}}url")
    etree.SubElement(url, f"{{{SITEMAP_NS}}}loc").text = public.absolute(loc)
    if lastmod is not None:
        etree.SubElement(url, f"{{{SITEMAP_NS}}}lastmod").text = lastmod.astimezone(UTC).isoformat(
            timespec="seconds"
        )


def _listed() -> int:
    return Post.objects.filter(state__in=LISTED_STATES, redacted=False).count()


@require_safe
def robots(request: HttpRequest) -> HttpResponse:
    """``/robots.txt``: every crawler may read the public pages, none the paths above."""
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in ROBOTS_DISALLOW)]
    lines += ["", f"Sitemap: {public.absolute(reverse('posts:sitemap'))}", ""]
    response = HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")
    patch_cache_control(response, public=True, max_age=SITEMAP_MAX_AGE_S)
    return response


@require_safe
def sitemap(request: HttpRequest) -> HttpResponse:
    """The sitemap index."""
    root = etree.Element(f"{{{SITEMAP_NS}}}sitemapindex", nsmap={None: SITEMAP_NS})
    parts = max(1, -(-_listed() // POSTS_PER_SITEMAP))
    locations = [reverse("posts:sitemap_pages")] + [
        reverse("posts:sitemap_posts", kwargs={"part": n}) for n in range(1, parts + 1)
    ]
    for location in locations:
        entry = etree.SubElement(root, f"{{{SITEMAP_NS}}}sitemap")
        etree.SubElement(entry, f"{{{SITEMAP_NS}}}loc").text = public.absolute(location)
    return _xml(root)


@require_safe
def sitemap_pages(request: HttpRequest) -> HttpResponse:
    """The site's own pages, every area and every active officer."""
    root = etree.Element(f"{{{SITEMAP_NS}}}urlset", nsmap={None: SITEMAP_NS})
    for name in ("web:home", "posts:list", "posts:officers", "posts:podcast", "web:areas"):
        _url(root, reverse(name))
    for area in Area.objects.only("kind", "slug", "updated_at").order_by("kind", "slug"):
        _url(root, area.get_absolute_url(), area.updated_at)
    officers = OfficerProfile.objects.filter(active=True).order_by("position", "name")
    for officer in officers.only("slug", "updated_at"):
        _url(root, reverse("posts:officer", kwargs={"slug": officer.slug}), officer.updated_at)
    return _xml(root)


@require_safe
def sitemap_posts(request: HttpRequest, part: int) -> HttpResponse:
    """One part of the listed posts, oldest first (parts stay stable as posts are added)."""
    if part < 1:
        raise Http404("No such sitemap.")
    posts = (
        Post.objects.filter(state__in=LISTED_STATES, redacted=False)
        .order_by("id")
        .only("pk", "slug", "redacted", "updated_at")[
            (part - 1) * POSTS_PER_SITEMAP : part * POSTS_PER_SITEMAP
        ]
    )
    root = etree.Element(f"{{{SITEMAP_NS}}}urlset", nsmap={None: SITEMAP_NS})
    count = 0
    for post in posts:
        _url(root, public.post_url(post), post.updated_at)
        count += 1
    if not count and part > 1:
        raise Http404("No such sitemap.")
    return _xml(root)
