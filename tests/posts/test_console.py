"""The posts console: compose, preview, the workflow buttons, revision diffs, the media
library (plain and XHR uploads, status polling, the audited original), officers and topics;
roles decide who gets in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from tests.posts.conftest import committed, drain, jpeg_with_gps, ready_media
from watchhouse.audit.models import AuditEntry
from watchhouse.posts.models import MediaAsset, OfficerProfile, Post, Topic

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"


def _form(**changes):
    data = {
        "kind": "update", "title": "Main Street closed", "summary": "Until Friday.",
        "body": f"Crews are on site. {SCRIPT}", "language": "en",
    }  # fmt: skip
    data.update(changes)
    return data


def _act(client, post, action, **data):
    url = reverse("console:post_act", kwargs={"pk": post.pk, "action": action})
    with committed():
        return client.post(url, data)


def test_roles_that_do_not_write_posts_are_kept_out(client, make_staff):
    client.force_login(make_staff("analyst"))
    assert client.get(reverse("console:posts")).status_code == 403
    assert client.post(reverse("console:post_new"), _form()).status_code == 403
    assert client.get(reverse("console:post_media")).status_code == 403
    assert client.get(reverse("console:officers")).status_code == 403
    assert not Post.objects.exists()


def test_compose_preview_and_publish(client, pio):
    client.force_login(pio)
    assert "Write a post" in client.get(reverse("console:post_new")).content.decode()
    saved = client.post(reverse("console:post_new"), _form())
    post = Post.objects.get()
    assert saved.url == reverse("console:post_detail", kwargs={"pk": post.pk})
    page = client.get(saved.url).content.decode()
    assert "Crews are on site." in page and SCRIPT not in page
    assert "Publish now" in page and "Send to review" in page
    _act(client, post, "publish")
    post.refresh_from_db()
    assert post.state == "published"
    listing = client.get(reverse("console:posts"), {"state": "published"}).content.decode()
    assert "Main Street closed" in listing
    assert (
        "Main Street closed"
        not in client.get(reverse("console:posts"), {"state": "draft"}).content.decode()
    )


def test_a_bad_form_is_shown_again_with_the_reason(client, pio):
    client.force_login(pio)
    response = client.post(
        reverse("console:post_new"),
        _form(kind="event", event_start="2030-01-02T10:00", event_end="2030-01-01T10:00"),
    )
    assert response.status_code == 400
    assert "cannot end before it starts" in response.content.decode()
    assert not Post.objects.exists()


def test_an_appeal_goes_through_review_and_is_resolved_with_buttons(client, pio, make_staff):
    supervisor = make_staff("supervisor")
    client.force_login(pio)
    client.post(reverse("console:post_new"), _form(kind="appeal", title="Do you know Jo Bloggs?"))
    post = Post.objects.get()
    page = client.get(reverse("console:post_detail", kwargs={"pk": post.pk})).content.decode()
    assert "Publish now" not in page  # a PIO may not publish an appeal alone
    forbidden = _act(client, post, "publish")
    assert forbidden.status_code == 403 and "Not for your role" in forbidden.content.decode()
    _act(client, post, "submit")
    assert Post.objects.get().state == "review"
    client.force_login(supervisor)
    _act(client, post, "approve")
    assert Post.objects.get().state == "published"
    _act(client, post, "resolve", outcome="identified")
    post.refresh_from_db()
    assert post.redacted and "Bloggs" not in post.title
    history = client.get(reverse("console:post_detail", kwargs={"pk": post.pk})).content.decode()
    assert "Resolved: Identified" in history


def test_scheduling_in_the_past_shows_the_error_and_changes_nothing(client, pio, make_post):
    post = make_post()
    client.force_login(pio)
    past = (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = _act(client, post, "schedule", publish_at=past)
    page = client.get(response.url).content.decode()
    assert "has passed" in page
    assert Post.objects.get().state == "draft"
    future = (timezone.localtime() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    _act(client, post, "schedule", publish_at=future)
    assert Post.objects.get().state == "scheduled"


def test_retracting_needs_a_notice(client, pio, make_post):
    post = make_post()
    client.force_login(pio)
    _act(client, post, "publish")
    response = _act(client, post, "retract", reason="")
    assert "needs a notice" in client.get(response.url).content.decode()
    _act(client, post, "retract", reason="Posted in error.")
    post.refresh_from_db()
    assert post.state == "retracted" and post.retraction_note == "Posted in error."


def test_the_history_shows_an_escaped_diff_between_versions(client, pio, make_post):
    post = make_post()
    client.force_login(pio)
    edit = reverse("console:post_edit", kwargs={"pk": post.pk})
    assert "Road works on Main Street" in client.get(edit).content.decode()
    client.post(edit, _form(title="Main Street closed", body=f"New text {SCRIPT}"))
    post.refresh_from_db()
    assert post.version == 2
    diff = client.get(reverse("console:post_diff", kwargs={"pk": post.pk}))
    text = diff.content.decode()
    assert diff.status_code == 200 and SCRIPT not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<del>-Road works on Main Street</del>" in text
    assert "<ins>+Main Street closed</ins>" in text
    assert (
        client.get(reverse("console:post_diff", kwargs={"pk": post.pk}), {"from": 7}).status_code
        == 404
    )


def test_an_edit_after_publication_needs_the_note(client, pio, make_post):
    post = make_post()
    client.force_login(pio)
    _act(client, post, "publish")
    edit = reverse("console:post_edit", kwargs={"pk": post.pk})
    refused = client.post(edit, _form(title="Changed"))
    assert refused.status_code == 400 and "needs a note" in refused.content.decode()
    client.post(edit, _form(title="Changed", note="Typo"))
    post.refresh_from_db()
    assert post.title == "Changed" and post.edited_at is not None


def test_media_upload_plain_and_xhr_with_status_and_the_audited_original(client, pio, tmp_path):
    client.force_login(pio)
    photo = jpeg_with_gps(tmp_path / "scene.jpg")
    with photo.open("rb") as handle, committed():
        response = client.post(
            reverse("console:post_media"), {"file": handle, "alt_text": "The scene"}
        )
    media = MediaAsset.objects.get()
    detail = reverse("console:post_media_detail", kwargs={"pk": media.pk})
    assert response.url == detail and media.alt_text == "The scene"
    status = client.get(reverse("console:post_media_status", kwargs={"pk": media.pk})).json()
    assert status["status"] == "uploaded" and status["progress"] == 0.0
    drain()
    status = client.get(reverse("console:post_media_status", kwargs={"pk": media.pk})).json()
    assert status == {"status": "ready", "progress": 1.0, "error": "", "label": "Ready"}
    assert "Public copies" in client.get(detail).content.decode()

    with photo.open("rb") as handle, committed():
        xhr = client.post(
            reverse("console:post_media"), {"file": handle},
            headers={"X-Requested-With": "XMLHttpRequest"},
        )  # fmt: skip
    answer = xhr.json()
    assert xhr.status_code == 200 and answer["status_url"].endswith("/status.json")

    original = client.get(reverse("console:post_media_original", kwargs={"pk": media.pk}))
    assert original.status_code == 200
    assert b"".join(original.streaming_content) == photo.read_bytes()
    assert "attachment" in original["Content-Disposition"]
    assert AuditEntry.objects.filter(action="posts.media_original_read").count() == 1


def test_a_lying_upload_is_refused_with_the_reason(client, pio):
    client.force_login(pio)
    fake = SimpleUploadedFile("cat.png", b"<html><script>x</script></html>" * 20)
    response = client.post(reverse("console:post_media"), {"file": fake})
    assert response.status_code == 400 and not MediaAsset.objects.exists()
    xhr = client.post(
        reverse("console:post_media"),
        {"file": SimpleUploadedFile("cat.png", b"GIF89a-not-really" * 20)},
        headers={"X-Requested-With": "XMLHttpRequest"},
    )
    assert xhr.status_code == 400 and xhr.json()["error"]
    assert not MediaAsset.objects.exists()


def test_alt_text_is_edited_and_a_failed_file_is_retried(client, pio):
    media = ready_media(pio, status="failed", error="ffmpeg: moov atom not found")
    client.force_login(pio)
    detail = reverse("console:post_media_detail", kwargs={"pk": media.pk})
    page = client.get(detail).content.decode()
    assert "moov atom not found" in page and "Try processing again" in page
    client.post(detail, {"save": "1", "alt_text": "A blue van", "caption": ""})
    with committed():
        client.post(detail, {"retry": "1"})
    media.refresh_from_db()
    assert media.alt_text == "A blue van" and media.status == "uploaded"


def test_officers_and_topics(client, make_staff, supervisor):
    client.force_login(make_staff("dispatcher"))
    assert client.get(reverse("console:officer_new")).status_code == 403
    client.force_login(supervisor)
    response = client.post(
        reverse("console:officer_new"),
        {"name": "Sgt. Alex Rivera", "title": "Sergeant, Beat 3", "position": "1",
         "active": "on", "bio": f"Joined in 2010. {SCRIPT}"},
    )  # fmt: skip
    assert response.url == reverse("console:officers")
    officer = OfficerProfile.objects.get()
    assert officer.slug == "sgt-alex-rivera" and "<script>" not in officer.bio_html
    assert "Sgt. Alex Rivera" in client.get(reverse("console:officers")).content.decode()
    client.post(
        reverse("console:officer_edit", kwargs={"pk": officer.pk}),
        {"name": "Sgt. Alex Rivera", "title": "Lieutenant", "position": "1", "active": "on"},
    )
    officer.refresh_from_db()
    assert officer.title == "Lieutenant"
    client.post(reverse("console:post_topics"), {"name": "Road safety"})
    assert Topic.objects.get().slug == "road-safety"
    again = client.post(reverse("console:post_topics"), {"name": "road  safety"})
    assert again.status_code == 400 and Topic.objects.count() == 1


def test_podcast_chapters_are_edited_as_lines(client, pio):
    audio = ready_media(pio, kind="audio")
    client.force_login(pio)
    detail = reverse("console:post_media_detail", kwargs={"pk": audio.pk})
    client.post(
        detail, {"save": "1", "alt_text": "", "caption": "", "chapters": "01:30 News\n0:00 Intro"}
    )
    audio.refresh_from_db()
    assert audio.chapters == [
        {"start_s": 0.0, "title": "Intro"},
        {"start_s": 90.0, "title": "News"},
    ]
    assert "01:30 News" in client.get(detail).content.decode()
    client.post(detail, {"save": "1", "alt_text": "", "caption": "", "chapters": "soon News"})
    audio.refresh_from_db()
    assert len(audio.chapters) == 2  # the bad line changed nothing


def test_the_posts_desk_reads_in_a_fixed_number_of_queries(
    client, pio, make_post, django_assert_max_num_queries
):
    for n in range(30):
        make_post(title=f"Post {n}")
    client.force_login(pio)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("console:posts"))
    assert response.content.decode().count("/console/posts/") >= 30


def test_the_console_home_lists_posts_and_officers_for_those_who_use_them(client, make_staff):
    client.force_login(make_staff("pio"))
    home = client.get(reverse("console:home")).content.decode()
    assert reverse("console:posts") in home and reverse("console:officers") in home
    client.force_login(make_staff("analyst"))
    home = client.get(reverse("console:home")).content.decode()
    assert reverse("console:posts") not in home and reverse("console:officers") not in home
