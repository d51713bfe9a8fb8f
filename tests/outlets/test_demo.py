"""The outlets demo: loaded twice without change, nothing sent to the internet, copies in
the state the real attempt left them."""

from __future__ import annotations

import io

import pytest

from watchhouse.outlets.models import InboundItem, LocalActor, Outlet, RemoteCopy

pytestmark = pytest.mark.django_db


def test_the_demo_loads_twice_and_reaches_nothing_outside(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "public"
    settings.WATCHHOUSE_PRIVATE_MEDIA_ROOT = tmp_path / "private"
    out = io.StringIO()
    for module in ("watchhouse.geo.demo", "watchhouse.accounts.demo", "watchhouse.posts.demo",
                   "watchhouse.outlets.demo"):  # fmt: skip
        __import__(module, fromlist=["load"]).load(stdout=out)
    outlets = {o.network: o for o in Outlet.objects.all()}
    assert set(outlets) == {"facebook", "x", "bluesky", "mastodon", "webhook"}
    assert [o.network for o in Outlet.objects.filter(enabled=True)] == ["webhook"]
    assert outlets["webhook"].api_base.startswith("http://127.0.0.1:")
    copies = list(RemoteCopy.objects.all())
    assert copies and all(c.outlet.network == "webhook" for c in copies)
    # Really attempted: nothing listens there, so none is synced and each keeps its error.
    assert all(c.status in ("pending", "failed") and c.error and not c.remote_url for c in copies)
    assert LocalActor.objects.filter(area__isnull=True).count() == 1
    replies = InboundItem.objects.count()
    assert replies == 3
    assert all("demo" in i.author_name.lower() for i in InboundItem.objects.all())
    before = (Outlet.objects.count(), RemoteCopy.objects.count())
    __import__("watchhouse.outlets.demo", fromlist=["load"]).load(stdout=out)
    assert (Outlet.objects.count(), RemoteCopy.objects.count()) == before
    assert InboundItem.objects.count() == replies
    assert "Demo outlets:" in out.getvalue()
