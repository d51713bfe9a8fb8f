"""The demo posts load over the demo city with real, processed media, in every state the
workflow knows, and load only once."""

from __future__ import annotations

import io

import pytest

from tests.conftest import need
from tests.posts.conftest import HAVE_FFMPEG
from watchhouse.accounts import demo as accounts_demo
from watchhouse.geo import demo as geo_demo
from watchhouse.posts import demo
from watchhouse.posts.models import MediaAsset, OfficerProfile, Post, PostKind, Topic
from watchhouse.posts.storage import public_path

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_demo_loads_every_kind_once():
    need(HAVE_FFMPEG, "ffmpeg is needed for the demo's video and podcast")
    out = io.StringIO()
    geo_demo.load(stdout=out)
    accounts_demo.load(stdout=out)
    demo.load(stdout=out)
    counts = (Post.objects.count(), MediaAsset.objects.count(), OfficerProfile.objects.count())
    demo.load(stdout=out)
    assert "Demo posts: already loaded." in out.getvalue()
    assert counts == (
        Post.objects.count(),
        MediaAsset.objects.count(),
        OfficerProfile.objects.count(),
    )
    assert set(Post.objects.values_list("kind", flat=True)) == set(PostKind.values)
    states = set(Post.objects.values_list("state", flat=True))
    assert states == {"published", "scheduled", "retracted"}
    resolved = Post.objects.get(kind="appeal")
    assert resolved.redacted and resolved.outcome == "identified"
    assert not MediaAsset.objects.exclude(status="ready").exists()
    for media in MediaAsset.objects.all():
        for entry in media.renditions.values():
            assert public_path(entry["path"]).is_file()
    assert len(Post.objects.get(kind="podcast").media.get().chapters) == 3
    assert Topic.objects.count() == 4
    assert all(o.areas.exists() and o.photo_id for o in OfficerProfile.objects.all())
    assert Post.objects.filter(areas__isnull=False).distinct().count() >= 5
