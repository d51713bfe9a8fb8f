"""The post workflow: writing, review, approval, direct publication, edits after publication,
retraction, archiving and appeal resolution; roles, revisions and audit entries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from tests.posts.conftest import attach, drain, fields, queued, ready_media
from watchhouse.audit.models import AuditEntry
from watchhouse.core.errors import IllegalTransitionError, InvalidInputError, NotPermittedError
from watchhouse.posts.models import Post, PostMedia, PostRevision
from watchhouse.posts.services import (
    PostRefusedError,
    appeal_resolve,
    post_approve,
    post_archive,
    post_create,
    post_publish,
    post_retract,
    post_return,
    post_submit,
    post_update,
)

pytestmark = pytest.mark.django_db


def audited(action: str, post: Post) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action, object_id=str(post.pk)))


def test_a_draft_is_version_one_with_its_revision_and_audit_entry(make_post, pio):
    post = make_post(body="Hello <script>alert(1)</script> **world**")
    assert post.state == "draft" and post.version == 1 and post.author == pio
    assert post.slug == "road-works-on-main-street"
    assert "<script>" not in post.body_html and "<strong>world</strong>" in post.body_html
    revision = PostRevision.objects.get(post=post)
    assert revision.number == 1 and revision.created_by == pio and revision.title == post.title
    (entry,) = audited("posts.create", post)
    assert entry.actor_id == pio.pk and entry.data["kind"] == "update"
    assert "Main Street" not in str(entry.data)  # ids and counts only, no text


@pytest.mark.parametrize("role", ["analyst", "investigator"])
def test_roles_that_do_not_write_posts_are_refused(make_staff, role):
    with pytest.raises(NotPermittedError):
        post_create(actor=make_staff(role), fields=fields())
    assert not Post.objects.exists()


def test_a_dispatcher_writes_updates_only_and_sends_them_to_review(make_staff, supervisor):
    dispatcher = make_staff("dispatcher")
    with pytest.raises(NotPermittedError):
        post_create(actor=dispatcher, fields=fields(kind="article"))
    post = post_create(actor=dispatcher, fields=fields())
    with pytest.raises(NotPermittedError, match="send it to review"):
        post_publish(actor=dispatcher, post=post)
    post_submit(actor=dispatcher, post=post)
    post = post_approve(actor=supervisor, post=post)
    assert post.state == "published" and post.approved_by == supervisor


def test_bad_fields_are_refused_with_every_reason(pio):
    with pytest.raises(PostRefusedError) as caught:
        post_create(
            actor=pio,
            fields=fields(
                title=" ", area_ids=(999,),
                event_start=timezone.now(), event_end=timezone.now() - timedelta(hours=1),
            ),
        )  # fmt: skip
    assert len(caught.value.problems) == 3
    assert not Post.objects.exists()


def test_a_pio_publishes_an_update_directly(make_post, pio):
    post = post_publish(actor=pio, post=make_post())
    assert post.state == "published" and post.published_at is not None
    assert post.version == 2 and post.revisions.count() == 2
    assert audited("posts.publish", post)[0].actor_id == pio.pk


def test_a_pio_may_not_publish_an_appeal_directly(make_post, pio, supervisor):
    post = make_post(kind="appeal", title="Help us identify this man")
    with pytest.raises(NotPermittedError):
        post_publish(actor=pio, post=post)
    post.refresh_from_db()
    assert post.state == "draft" and post.version == 1
    post_submit(actor=pio, post=post)
    assert post_approve(actor=supervisor, post=post).state == "published"


def test_policy_is_configurable_per_kind(settings, make_post, pio):
    settings.WATCHHOUSE_POSTS_DIRECT_PUBLISH = {"update": ["supervisor"]}
    with pytest.raises(NotPermittedError):
        post_publish(actor=pio, post=make_post())
    settings.WATCHHOUSE_POSTS_DIRECT_PUBLISH = {"appeal": ["pio"]}
    assert post_publish(actor=pio, post=make_post(kind="appeal")).state == "published"


def test_a_reviewer_cannot_approve_their_own_post(supervisor, make_staff):
    post = post_create(actor=supervisor, fields=fields(kind="article"))
    post_submit(actor=supervisor, post=post)
    with pytest.raises(NotPermittedError, match="second person"):
        post_approve(actor=supervisor, post=post)
    post.refresh_from_db()
    assert post.state == "review"
    other = make_staff("supervisor")
    assert post_approve(actor=other, post=post).approved_by == other
    assert audited("posts.approve", post)[0].actor_id == other.pk


def test_a_pio_cannot_approve(make_post, make_staff, pio):
    post = make_post(kind="article")
    post_submit(actor=pio, post=post)
    with pytest.raises(NotPermittedError):
        post_approve(actor=make_staff("pio"), post=post)


def test_returning_needs_a_reason_which_the_author_sees(make_post, pio, supervisor):
    post = make_post(kind="article")
    post_submit(actor=pio, post=post)
    with pytest.raises(InvalidInputError):
        post_return(actor=supervisor, post=post, reason="  ")
    post = post_return(actor=supervisor, post=post, reason="Check the date in paragraph 2")
    assert post.state == "draft"
    assert post.revisions.get(number=post.version).note == "Check the date in paragraph 2"
    assert audited("posts.return", post)


def test_illegal_transitions_are_refused(make_post, pio, supervisor):
    post = make_post()
    with pytest.raises(IllegalTransitionError):
        post_archive(actor=pio, post=post)
    with pytest.raises(IllegalTransitionError):
        post_retract(actor=pio, post=post, reason="Wrong")
    post = post_publish(actor=pio, post=post)
    with pytest.raises(IllegalTransitionError):
        post_publish(actor=pio, post=post)
    with pytest.raises(IllegalTransitionError):
        post_submit(actor=pio, post=post)
    with pytest.raises(IllegalTransitionError):
        post_approve(actor=supervisor, post=post)
    post = post_archive(actor=pio, post=post)
    with pytest.raises(IllegalTransitionError):
        post_retract(actor=pio, post=post, reason="Too late")
    assert Post.objects.get().state == "archived"


def test_every_save_is_a_revision_and_edits_before_publication_are_not_marked(make_post, pio):
    post = make_post()
    post = post_update(actor=pio, post=post, fields=fields(title="Road works on Mill Lane"))
    assert post.version == 2 and post.edited_at is None
    titles = list(post.revisions.order_by("number").values_list("title", flat=True))
    assert titles == ["Road works on Main Street", "Road works on Mill Lane"]
    assert post.slug == "road-works-on-mill-lane"
    assert audited("posts.update", post)[0].data["public"] is False


def test_an_edit_after_publication_needs_a_note_and_shows_the_updated_mark(make_post, pio):
    post = post_publish(actor=pio, post=make_post())
    with pytest.raises(InvalidInputError, match="note"):
        post_update(actor=pio, post=post, fields=fields(body="Now until Friday."))
    post.refresh_from_db()
    assert post.edited_at is None and post.body.startswith("Crews")
    post = post_update(
        actor=pio, post=post, fields=fields(body="Now until Friday."), note="Dates changed"
    )
    assert post.state == "published" and post.edited_at is not None
    latest = post.revisions.get(number=post.version)
    assert latest.note == "Dates changed" and latest.body == "Now until Friday."
    assert post.revisions.get(number=1).body.startswith("Crews")


def test_a_dispatcher_cannot_change_a_published_post(make_staff, make_post, pio):
    dispatcher = make_staff("dispatcher")
    post = post_publish(actor=pio, post=make_post())
    with pytest.raises(NotPermittedError):
        post_update(actor=dispatcher, post=post, fields=fields(title="Hacked"), note="x")
    assert Post.objects.get().title == "Road works on Main Street"


def test_publishing_is_refused_without_alt_text_and_with_media_not_ready(make_post, pio):
    photo = ready_media(pio, alt_text="")
    clip = ready_media(pio, kind="video", status="processing")
    post = make_post(attachments=attach((photo, "cover"), (clip, "gallery")))
    with pytest.raises(PostRefusedError) as caught:
        post_publish(actor=pio, post=post)
    text = " ".join(caught.value.problems)
    assert "alt text" in text and "still being processed" in text
    post.refresh_from_db()
    assert post.state == "draft" and post.version == 1
    assert not audited("posts.publish", post)
    photo.alt_text = "A digger on Main Street"
    photo.save()
    clip.status = "ready"
    clip.save()
    assert post_publish(actor=pio, post=post).state == "published"


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("event", "start time"), ("video", "video attached"), ("podcast", "audio file")],
)
def test_kinds_need_their_own_parts_before_publication(supervisor, kind, reason):
    post = post_create(actor=supervisor, fields=fields(kind=kind))
    with pytest.raises(PostRefusedError, match=reason):
        post_publish(actor=supervisor, post=post)
    assert Post.objects.get().state == "draft"


def test_a_podcast_with_its_audio_and_an_event_with_its_start_are_published(supervisor):
    audio = ready_media(supervisor, kind="audio")
    podcast = post_create(
        actor=supervisor, fields=fields(kind="podcast", attachments=attach((audio, "audio")))
    )
    assert post_publish(actor=supervisor, post=podcast).state == "published"
    event = post_create(
        actor=supervisor,
        fields=fields(kind="event", event_start=timezone.now() + timedelta(days=3),
                      event_location="Town hall"),
    )  # fmt: skip
    assert post_publish(actor=supervisor, post=event).state == "published"


def test_an_audio_file_cannot_be_a_cover(pio):
    audio = ready_media(pio, kind="audio")
    with pytest.raises(PostRefusedError, match="cover"):
        post_create(actor=pio, fields=fields(attachments=attach((audio, "cover"))))


def test_a_retraction_keeps_the_page_with_its_notice(make_post, pio):
    post = post_publish(actor=pio, post=make_post())
    with pytest.raises(InvalidInputError):
        post_retract(actor=pio, post=post, reason="")
    post = post_retract(actor=pio, post=post, reason="Posted in error: the works are next week.")
    assert post.state == "retracted" and post.retracted_at is not None
    assert post.retraction_note == "Posted in error: the works are next week."
    assert post.title == "Road works on Main Street"  # the page stays as it was
    assert audited("posts.retract", post)


def test_a_pio_cannot_retract_an_appeal_a_supervisor_approved(make_post, pio, supervisor):
    post = make_post(kind="appeal")
    post_submit(actor=pio, post=post)
    post = post_approve(actor=supervisor, post=post)
    with pytest.raises(NotPermittedError):
        post_retract(actor=pio, post=post, reason="x")
    assert post_retract(actor=supervisor, post=post, reason="x").state == "retracted"


def _published_appeal(pio, supervisor, **changes):
    face = ready_media(pio, alt_text="CCTV still of a man in a red jacket")
    post = post_create(
        actor=pio,
        fields=fields(
            kind="appeal", title="Do you know John Smith?", summary="John Smith, 34, of Elm St",
            body="Seen near **Elm Street**.", attachments=attach((face, "cover")), **changes,
        ),
    )  # fmt: skip
    post_submit(actor=pio, post=post)
    return post_approve(actor=supervisor, post=post), face


def test_a_resolved_appeal_loses_its_faces_and_names(pio, supervisor):
    post, face = _published_appeal(pio, supervisor)
    post = appeal_resolve(actor=supervisor, post=post, outcome="identified")
    assert post.outcome == "identified" and post.redacted and post.outcome_at is not None
    assert post.state == "published" and post.edited_at is not None
    for text in (post.title, post.summary, post.body, post.body_html, post.slug):
        assert "Smith" not in text and "smith" not in text
    assert "Thank you for your help" in post.body_html
    assert list(PostMedia.objects.filter(post=post).values_list("hidden", flat=True)) == [True]
    original = post.revisions.get(number=1)
    assert original.title == "Do you know John Smith?"
    assert audited("posts.resolve", post)[0].data["outcome"] == "identified"
    with pytest.raises(InvalidInputError, match="already"):
        appeal_resolve(actor=supervisor, post=post, outcome="withdrawn")


def test_a_missing_person_found_shows_found_safe(make_staff):
    supervisor = make_staff("supervisor")
    post = post_create(actor=supervisor, fields=fields(kind="missing", title="Missing: Ann Lee"))
    post = post_publish(actor=supervisor, post=post)
    post = appeal_resolve(actor=supervisor, post=post, outcome="found")
    assert post.title == "UPDATE: Found safe"
    assert post.body == "UPDATE: Found safe. Thank you for your help."


def test_only_appeals_are_resolved_and_only_with_their_outcomes(make_post, pio, supervisor):
    update = post_publish(actor=pio, post=make_post())
    with pytest.raises(InvalidInputError):
        appeal_resolve(actor=supervisor, post=update, outcome="found")
    appeal, _face = _published_appeal(pio, supervisor)
    with pytest.raises(InvalidInputError):
        appeal_resolve(actor=supervisor, post=appeal, outcome="found")
    with pytest.raises(NotPermittedError):
        appeal_resolve(actor=pio, post=appeal, outcome="identified")
    assert not Post.objects.get(pk=appeal.pk).redacted


def test_a_missing_person_post_expires_as_withdrawn(supervisor, settings):
    settings.WATCHHOUSE_POSTS_MISSING_EXPIRY_DAYS = 30
    post = post_create(actor=supervisor, fields=fields(kind="missing", title="Missing: Ann Lee"))
    from tests.posts.conftest import committed

    with committed():
        post = post_publish(actor=supervisor, post=post)
    assert post.expires_at is not None
    assert abs((post.expires_at - post.published_at).days - 30) <= 1
    assert queued("expire_post_task") == [[post.pk]]
    assert drain() == 1  # the outlets' sync of the publication; the expiry is not due yet
    with freeze_time(post.expires_at + timedelta(minutes=1)):
        drain()
    post.refresh_from_db()
    assert post.outcome == "withdrawn" and post.redacted and "Ann" not in post.title
    (entry,) = audited("posts.expire", post)
    assert entry.actor_id is None


def test_an_expiry_task_of_a_resolved_post_does_nothing(supervisor):
    post = post_create(actor=supervisor, fields=fields(kind="missing", title="Missing: Ann Lee"))
    from tests.posts.conftest import committed

    with committed():
        post = post_publish(actor=supervisor, post=post)
    post = appeal_resolve(actor=supervisor, post=post, outcome="found")
    with freeze_time(post.expires_at + timedelta(minutes=1)):
        drain()
    post.refresh_from_db()
    assert post.outcome == "found" and not audited("posts.expire", post)


def test_a_missing_person_post_with_a_past_take_down_time_is_not_published(supervisor):
    post = post_create(
        actor=supervisor,
        fields=fields(kind="missing", expires_at=timezone.now() - timedelta(hours=1)),
    )
    with pytest.raises(PostRefusedError, match="take-down time has passed"):
        post_publish(actor=supervisor, post=post)
    assert Post.objects.get().state == "draft"
