"""Public media files: served in every mode, with byte ranges, never outside MEDIA_ROOT."""

from __future__ import annotations

import pytest
from django.test import override_settings

from watchhouse.posts.models import PostMedia
from watchhouse.posts.states import PostState

pytestmark = pytest.mark.django_db


@pytest.fixture
def clip(media_roots, make_post, make_image):
    """10,240 bytes served as /media/posts/<id>/video.mp4, where <id> is a published post's
    picture (the view serves only media shown on a public page)."""
    public_root, _ = media_roots
    media = make_image(make_post("Published"))
    data = bytes(range(256)) * 40
    (public_root / "posts" / str(media.pk) / "video.mp4").write_bytes(data)
    return f"/media/posts/{media.pk}/video.mp4", data


def body(response) -> bytes:
    return b"".join(response.streaming_content)


@override_settings(DEBUG=False)
def test_whole_file_with_type_etag_and_long_cache(client, clip):
    url, clip = clip
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "video/mp4"
    assert response["Content-Length"] == str(len(clip))
    assert response["Accept-Ranges"] == "bytes"
    assert "max-age=2592000" in response["Cache-Control"]
    assert body(response) == clip
    again = client.get(url, headers={"If-None-Match": response["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=100-199", 100, 199), ("bytes=10000-", 10000, 10239), ("bytes=-40", 10200, 10239),
     ("bytes=10200-99999", 10200, 10239)],
)  # fmt: skip
def test_range_requests_get_206_with_the_right_bytes(client, clip, header, first, last):
    url, clip = clip
    response = client.get(url, headers={"Range": header})
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {first}-{last}/{len(clip)}"
    assert response["Content-Length"] == str(last - first + 1)
    assert body(response) == clip[first : last + 1]


def test_a_range_past_the_end_is_refused_with_416(client, clip):
    url, clip = clip
    response = client.get(url, headers={"Range": "bytes=20000-"})
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(clip)}"


def test_if_range_with_an_old_etag_gets_the_whole_file(client, clip):
    url, clip = clip
    response = client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert response.status_code == 200
    assert body(response) == clip


@pytest.mark.parametrize(
    "path",
    [
        "/media/../private-media/original-1.jpg",
        "/media/%2e%2e/private-media/original-1.jpg",
        "/media/posts/..%2f..%2fprivate-media/original-1.jpg",
        "/media/..%5cprivate-media%5coriginal-1.jpg",
        "/media//etc/passwd",
        "/media/posts/1/../../private-media/original-1.jpg",
    ],
)
def test_path_traversal_is_refused(client, clip, media_roots, path):
    _, private_root = media_roots
    (private_root / "original-1.jpg").write_bytes(b"\xff\xd8 original with GPS EXIF")
    response = client.get(path)
    assert response.status_code == 404


def test_originals_are_never_reachable_even_when_linked_in(client, media_roots):
    public_root, private_root = media_roots
    (private_root / "original-1.jpg").write_bytes(b"\xff\xd8 original")
    (public_root / "sneaky.jpg").symlink_to(private_root / "original-1.jpg")
    assert client.get("/media/sneaky.jpg").status_code == 404


def test_only_media_types_are_served(client, media_roots):
    public_root, _ = media_roots
    (public_root / "page.html").write_text("<script>alert(1)</script>")
    (public_root / "drawing.svg").write_text("<svg onload='alert(1)'/>")
    (public_root / ".hidden.jpg").write_bytes(b"\xff\xd8")
    for name in ("page.html", "drawing.svg", ".hidden.jpg"):
        assert client.get(f"/media/{name}").status_code == 404


def test_symlinks_out_of_media_root_are_refused_even_for_staff(client, media_roots, make_staff):
    public_root, private_root = media_roots
    (private_root / "original-1.jpg").write_bytes(b"\xff\xd8 original")
    (public_root / "sneaky.jpg").symlink_to(private_root / "original-1.jpg")
    client.force_login(make_staff("pio"))
    assert client.get("/media/sneaky.jpg").status_code == 404


def test_copies_of_hidden_or_unpublished_media_are_not_served(client, make_post, make_image):
    """A resolved appeal's faces and a draft's pictures stay unreachable by address."""
    appeal = make_post("Who is this?", kind="appeal")
    face = make_image(appeal)
    shown = make_image(appeal, role="gallery")
    draft = make_image(make_post("Draft", state=PostState.DRAFT))
    assert client.get(f"/media/posts/{face.pk}/w320.jpg").status_code == 200
    PostMedia.objects.filter(media=face).update(hidden=True)
    assert client.get(f"/media/posts/{face.pk}/w320.jpg").status_code == 404
    assert client.get(f"/media/posts/{shown.pk}/w320.jpg").status_code == 200
    assert client.get(f"/media/posts/{draft.pk}/w320.jpg").status_code == 404


def test_staff_see_copies_of_drafts(client, make_post, make_image, make_staff):
    draft = make_image(make_post("Draft", state=PostState.DRAFT))
    client.force_login(make_staff("pio"))
    assert client.get(f"/media/posts/{draft.pk}/w320.jpg").status_code == 200
