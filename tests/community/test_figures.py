"""The department's figures: post views counted by a beacon with no cookie, and the console
figures page on known data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from tests.posts.conftest import fields
from watchhouse.community.models import (
    Comment,
    Discussion,
    Flag,
    ModerationDecision,
    PostView,
    ServiceRequest,
)
from watchhouse.community.services.reports import report_services_default, report_submit
from watchhouse.posts.models import Post
from watchhouse.posts.services import post_create, post_publish
from watchhouse.rumors.models import Rumor

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_counters() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def pio(make_staff: Any) -> Any:
    return make_staff("pio")


def _published(pio: Any, title: str = "Road works on Main Street") -> Post:
    return post_publish(actor=pio, post=post_create(actor=pio, fields=fields(title=title)))


def _seen(post: Post) -> str:
    return reverse("community:post_seen", kwargs={"post_pk": post.pk})


def test_beacon_counts_per_day_without_cookies(pio: Any) -> None:
    """Each beacon adds one view to today's count; no cookie is set, and the next day starts
    a new count. A CSRF-checking client still gets through: the beacon carries no token."""
    post = _published(pio)
    client = Client(enforce_csrf_checks=True)
    for _n in range(3):
        response = client.post(_seen(post))
        assert response.status_code == 204
        assert not response.cookies
    assert not client.cookies
    with freeze_time(timezone.now() + timedelta(days=1)):
        pixel = client.get(_seen(post))
        assert pixel["Content-Type"] == "image/gif"
        assert "no-cache" in pixel["Cache-Control"] or "no-store" in pixel["Cache-Control"]
        assert not pixel.cookies
    counts = sorted(PostView.objects.filter(post=post).values_list("count", flat=True))
    assert counts == [1, 3]
    assert set(PostView.objects.values_list("channel", flat=True)) == {"web"}


def test_beacon_only_for_published_posts(pio: Any) -> None:
    draft = post_create(actor=pio, fields=fields())
    assert Client().post(_seen(draft)).status_code == 404
    assert not PostView.objects.exists()


def test_beacon_rate_limited_per_client(pio: Any, settings: Any) -> None:
    settings.WATCHHOUSE_COMMUNITY_SEEN_PER_HOUR = 2
    post = _published(pio)
    for _n in range(4):
        assert Client().post(_seen(post)).status_code == 204
    Client(REMOTE_ADDR="192.0.2.9").post(_seen(post))
    assert PostView.objects.get(post=post).count == 3


def test_post_page_sends_the_beacon(client: Client, pio: Any) -> None:
    """The post page loads the counting script (served by this site) and a no-script pixel."""
    post = _published(pio)
    page = client.get(reverse("posts:detail", kwargs={"pk": post.pk, "slug": post.slug}))
    html = page.content.decode()
    assert f'data-seen="{_seen(post)}"' in html
    assert "/static/community/seen.js" in html
    assert f'<noscript><img class="seen" src="{_seen(post)}"' in html


def _figures_data(pio: Any, hoods: Any, make_resident: Any) -> dict[str, Any]:
    now = timezone.now()
    report_services_default()
    a, b = _published(pio, "Water main repair"), _published(pio, "Bike patrols")
    PostView.objects.create(post=a, day=timezone.localdate(), count=40)
    PostView.objects.create(post=a, day=timezone.localdate() - timedelta(days=1), count=2)
    PostView.objects.create(post=b, day=timezone.localdate(), count=5)
    PostView.objects.create(post=b, day=timezone.localdate() - timedelta(days=20), count=100)
    ana = make_resident("ana@example.org", hoods["Old Mill"])
    bo = make_resident("bo@example.org", hoods["Old Mill"])
    t0 = now - timedelta(days=2)
    first = Comment.objects.create(post=a, author=ana, body="When will it end?", created_at=t0)
    Comment.objects.create(
        post=a, staff_author=pio, body="Friday.", created_at=t0 + timedelta(hours=2)
    )
    Comment.objects.create(post=a, author=bo, body="Thanks.", created_at=t0 + timedelta(hours=3))
    Comment.objects.create(post=b, author=bo, body="Great!", created_at=t0)
    talk = Discussion.objects.create(area=hoods["Old Mill"], author=ana, title="Speeding",
                                     body="Cars speed on Mill St.", created_at=t0)  # fmt: skip
    Comment.objects.create(discussion=talk, staff_author=pio, body="We will patrol.",
                           created_at=t0 + timedelta(hours=4))  # fmt: skip
    Flag.objects.create(comment=first, resident=bo, reason="spam")
    Flag.objects.create(comment=first, resident=make_resident("cy@example.org"), reason="spam")
    ModerationDecision.objects.create(comment=first, action="hide", reason="spam", actor=pio)
    ModerationDecision.objects.create(comment=first, action="hide", reason="spam", actor=pio)
    ModerationDecision.objects.create(comment=first, action="restore", actor=pio)
    for hours in (1, 3):
        Rumor.objects.create(claim=f"Claim {hours}", first_seen_at=t0, created_by=pio,
                             answered_at=t0 + timedelta(hours=hours))  # fmt: skip
    Rumor.objects.create(claim="Unanswered", first_seen_at=t0, created_by=pio)
    for hours, status in ((1, "closed"), (5, "closed"), (0, "open")):
        report = report_submit(service_code="noise", description="Loud.", lat=39.955,
                               lon=-89.355)  # fmt: skip
        ServiceRequest.objects.filter(pk=report.pk).update(
            requested_at=t0, updated_at=t0 + timedelta(hours=hours), status=status
        )
    old = report_submit(service_code="noise", description="Old.", lat=39.955, lon=-89.355)
    ServiceRequest.objects.filter(pk=old.pk).update(requested_at=now - timedelta(days=20))
    return {"a": a, "b": b}


def _dd(html: str, dd_id: str) -> str:
    return html.split(f'<dd id="{dd_id}">')[1].split("</dd>")[0]


def test_figures_page_on_known_data(
    client: Client, pio: Any, hoods: Any, make_resident: Any
) -> None:
    posts = _figures_data(pio, hoods, make_resident)
    client.force_login(pio)
    html = client.get(reverse("console:community_figures"), {"days": "7"}).content.decode()
    row_a = html.split(f'<tr data-post="{posts["a"].pk}">')[1].split("</tr>")[0]
    assert "Water main repair" in row_a
    assert "<td>42</td>" in row_a
    assert '<td class="comments">2</td>' in row_a
    assert '<td class="flags">2</td>' in row_a
    row_b = html.split(f'<tr data-post="{posts["b"].pk}">')[1].split("</tr>")[0]
    assert "<td>5</td>" in row_b
    assert "no outlet figures yet" in html
    decisions = html.split('<table id="decisions">')[1].split("</table>")[0]
    assert "<td>Spam or advertising</td><td>Hidden</td><td>2</td>" in decisions
    assert "<td>Restored</td><td>1</td>" in decisions
    # Post a (2 h) and the discussion (4 h) were answered; post b was not.
    assert _dd(html, "replied") == "2"
    assert _dd(html, "unreplied") == "1"
    assert _dd(html, "median-reply") == "3 h 00 min"
    assert _dd(html, "rumors-answered") == "2"
    assert _dd(html, "median-rumor") == "2 h 00 min"
    assert _dd(html, "reports-received") == "3"
    assert _dd(html, "reports-open") == "1"
    assert _dd(html, "reports-closed") == "2"
    assert _dd(html, "median-close") == "3 h 00 min"
    month = client.get(reverse("console:community_figures"), {"days": "30"}).content.decode()
    assert _dd(month, "reports-received") == "4"
    row_b_month = month.split(f'<tr data-post="{posts["b"].pk}">')[1].split("</tr>")[0]
    assert "<td>105</td>" in row_b_month


def test_figures_roles_refused(client: Client, make_staff: Any) -> None:
    client.force_login(make_staff("dispatcher"))
    assert client.get(reverse("console:community_figures")).status_code == 403
