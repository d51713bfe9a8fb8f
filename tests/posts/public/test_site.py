"""Officers' pages, area pages with their posts and officers, the home page and the sitemap."""

from __future__ import annotations

import pytest
from django.urls import reverse
from lxml import etree

from watchhouse.posts.public import post_url
from watchhouse.posts.states import PostState

pytestmark = pytest.mark.django_db
SITEMAP = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}


def test_officers_page_and_profile(client, make_officer, make_post, make_image, town):
    officer = make_officer("Sgt. Dana Ruiz", areas=[town["Old Mill"]])
    officer.photo = make_image(alt="Sergeant Ruiz smiling")
    officer.save()
    make_post("Ruiz gets a medal", kind="story", officer=officer)
    make_post("Draft about Ruiz", kind="story", officer=officer, state=PostState.DRAFT)
    listing = client.get(reverse("posts:officers")).content.decode()
    assert 'href="/officers/sgt-dana-ruiz/"' in listing
    assert 'alt="Sergeant Ruiz smiling"' in listing
    page = client.get(reverse("posts:officer", kwargs={"slug": "sgt-dana-ruiz"})).content.decode()
    assert "Sergeant, Beat 3" in page
    assert "<p>Walks <em>the beat</em>.</p>" in page
    assert "Medal of Merit, 2025" in page
    assert 'href="mailto:dana.ruiz@police.example"' in page
    assert f'href="{town["Old Mill"].get_absolute_url()}"' in page
    assert "Ruiz gets a medal" in page
    assert "Draft about Ruiz" not in page


def test_inactive_officers_are_not_shown(client, make_officer):
    officer = make_officer("Retired Officer")
    officer.active = False
    officer.save()
    assert client.get("/officers/retired-officer/").status_code == 404
    assert "Retired Officer" not in client.get("/officers/").content.decode()


def test_area_page_lists_its_posts_and_beat_officers(client, make_post, make_officer, town):
    mill = town["Old Mill"]
    make_officer("Officer Ana Cole", areas=[mill])
    make_officer("Officer Elsewhere", areas=[town["Riverside"]])
    make_post("Mill street fair", areas=[mill])
    make_post("Riverside news", areas=[town["Riverside"]])
    make_post("Mill draft", areas=[mill], state=PostState.DRAFT)
    page = client.get(mill.get_absolute_url()).content.decode()
    assert "Officer Ana Cole" in page
    assert "Officer Elsewhere" not in page
    assert "Mill street fair" in page
    assert "Riverside news" not in page
    assert "Mill draft" not in page
    assert 'href="/news/?area=old-mill"' in page


def test_home_page_shows_the_latest_posts_and_nav_links(client, make_post):
    make_post("Newest headline")
    make_post("Unpublished headline", state=PostState.REVIEW)
    page = client.get(reverse("web:home")).content.decode()
    assert "Newest headline" in page
    assert "Unpublished headline" not in page
    assert 'href="/news/"' in page
    assert 'href="/officers/"' in page


def test_robots_names_the_sitemap_and_keeps_crawlers_off_private_pages(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    lines = response.content.decode().splitlines()
    assert lines[0] == "User-agent: *"
    disallowed = [line.removeprefix("Disallow: ") for line in lines if line.startswith("Disallow")]
    closed = ("/console/", "/accounts/login/", "/subscribe/manage/abc/", "/tips/status")
    open_ = ("/", "/subscribe/", "/tips/new", "/news/", "/crime/", "/alerts/feed.atom")
    assert all(any(path.startswith(d) for d in disallowed) for path in closed)
    assert not any(path.startswith(d) for d in disallowed for path in open_)
    assert "Sitemap: https://police.example.org/sitemap.xml" in lines


def test_sitemap_lists_published_posts_officers_and_areas(client, make_post, make_officer, town):
    published = make_post("In the sitemap")
    hidden = [
        make_post(f"Not in sitemap {s}", state=s)
        for s in (PostState.DRAFT, PostState.REVIEW, PostState.SCHEDULED)
    ]
    make_officer("Officer Ana Cole")
    index = etree.fromstring(client.get("/sitemap.xml").content)
    parts = [loc.text for loc in index.findall("s:sitemap/s:loc", SITEMAP)]
    assert parts == [
        "https://police.example.org/sitemap-pages.xml",
        "https://police.example.org/sitemap-posts-1.xml",
    ]
    urls: list[str] = []
    for part in parts:
        document = etree.fromstring(
            client.get(part.removeprefix("https://police.example.org")).content
        )
        urls += [loc.text for loc in document.findall("s:url/s:loc", SITEMAP)]
    assert f"https://police.example.org{post_url(published)}" in urls
    assert "https://police.example.org/officers/officer-ana-cole/" in urls
    assert f"https://police.example.org{town['Old Mill'].get_absolute_url()}" in urls
    for post in hidden:
        assert not any(f"/news/{post.pk}-" in u for u in urls)
