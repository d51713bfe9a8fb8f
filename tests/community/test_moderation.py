"""Moderation within the published policy: hiding with a reason (seen by the author, counted in
the public log), restoring with a note, deleting only unlawful content, every decision kept and
audited; the post page follows at once, even from the page cache."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse
from django.utils.html import escape

from tests.community.conftest import signed_in
from tests.wsgi import call
from watchhouse.audit.models import AuditEntry
from watchhouse.community.models import (
    Comment,
    ModerationAction,
    ModerationDecision,
    ModerationReason,
    Visibility,
)
from watchhouse.community.selectors.conversation import moderation_queue
from watchhouse.community.services.conversation import comment_create
from watchhouse.community.services.moderation import (
    moderation_delete,
    moderation_dismiss,
    moderation_hide,
    moderation_restore,
)
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.posts.public import post_url

pytestmark = pytest.mark.django_db

pytest_plugins = ["tests.community.conftest_conversation"]


@pytest.fixture
def old_mill(hoods: dict) -> Any:
    return hoods["Old Mill"]


@pytest.fixture
def ana(make_resident: Any, old_mill: Any) -> Any:
    return make_resident("ana@example.org", old_mill, display_name="Ana Lopez")


@pytest.fixture
def discussion(ana: Any, old_mill: Any, start_discussion: Any) -> Any:
    return start_discussion(ana, old_mill)


@pytest.fixture
def comment(ana: Any, discussion: Any) -> Comment:
    return comment_create(resident=ana, discussion=discussion, body="Cheap watches at my shop!")


def page_of(client: Any, discussion: Any) -> str:
    url = reverse(
        "community:discussion", kwargs={"area_slug": discussion.area.slug, "pk": discussion.pk}
    )
    return client.get(url).content.decode()


def test_hidden_words_show_to_their_author_with_the_reason_and_to_others_as_a_placeholder(
    client: Any, comment: Comment, discussion: Any, ana: Any, moderator: Any
) -> None:
    decision = moderation_hide(actor=moderator, item=comment, reason="spam", note="advert")
    comment.refresh_from_db()
    assert comment.visibility == Visibility.HIDDEN and comment.hidden_reason == "spam"
    assert comment.body == "Cheap watches at my shop!"  # hidden, not deleted
    assert decision.action == ModerationAction.HIDE and decision.actor == moderator
    entry = AuditEntry.objects.get(action="community.moderation_hide")
    assert entry.data["decision"] == decision.pk and entry.justification == "advert"
    public = page_of(client, discussion)
    assert "Cheap watches" not in public
    assert "Hidden by the moderators: Spam or advertising" in public
    own = page_of(signed_in(client, ana), discussion)
    assert "Cheap watches at my shop!" in own
    assert "Your comment is hidden by the moderators: Spam or advertising" in own


def test_the_public_log_counts_decisions_by_reason_without_words_or_names(
    client: Any, comment: Comment, moderator: Any
) -> None:
    moderation_hide(actor=moderator, item=comment, reason="spam")
    moderation_restore(actor=moderator, item=comment, note="It was a joke between neighbours.")
    moderation_hide(actor=moderator, item=comment, reason="spam")
    html = client.get(reverse("community:moderation_log")).content.decode()
    assert "<td>Hidden</td><td>Spam or advertising</td><td>2</td>" in html
    assert "<td>Restored</td><td>—</td><td>1</td>" in html
    for private in ("Cheap watches", "Ana", moderator.username, "joke between"):
        assert private not in html


def test_the_published_policy_explains_hiding_and_unlawful_deletion(client: Any) -> None:
    html = client.get(reverse("community:moderation_policy")).content.decode()
    assert "Lindke v. Freed" in html
    for reason in ModerationReason:
        assert escape(str(reason.label)) in html


def test_restoring_needs_a_note(comment: Comment, moderator: Any) -> None:
    moderation_hide(actor=moderator, item=comment, reason="off_topic")
    with pytest.raises(InvalidInputError, match="Write a note"):
        moderation_restore(actor=moderator, item=comment, note="  ")
    comment.refresh_from_db()
    assert comment.visibility == Visibility.HIDDEN
    assert ModerationDecision.objects.count() == 1
    moderation_restore(actor=moderator, item=comment, note="On topic after all.")
    comment.refresh_from_db()
    assert comment.visibility == Visibility.VISIBLE and comment.hidden_reason == ""
    assert AuditEntry.objects.filter(action="community.moderation_restore").count() == 1


def test_deletion_is_only_for_unlawful_content_and_keeps_the_reason_not_the_words(
    comment: Comment, moderator: Any
) -> None:
    with pytest.raises(InvalidInputError, match="hide it with a reason"):
        moderation_delete(actor=moderator, item=comment, reason="spam")
    comment.refresh_from_db()
    assert comment.body and comment.visibility == Visibility.VISIBLE
    decision = moderation_delete(actor=moderator, item=comment, reason="threat", note="Police")
    comment.refresh_from_db()
    assert (comment.body, comment.visibility, comment.hidden_reason) == ("", "deleted", "threat")
    assert decision.action == ModerationAction.DELETE and decision.reason == "threat"
    entry = AuditEntry.objects.get(action="community.moderation_delete")
    assert entry.data["reason"] == "threat"
    assert "Cheap watches" not in json.dumps(entry.data) + entry.justification
    with pytest.raises(InvalidInputError, match="cannot be restored"):
        moderation_restore(actor=moderator, item=comment, note="oops")


def test_dismissing_keeps_a_flagged_item_visible_and_resets_the_count_towards_a_hide(
    settings: Any, comment: Comment, moderator: Any, make_resident: Any, old_mill: Any
) -> None:
    from watchhouse.community.services.conversation import flag

    settings.WATCHHOUSE_COMMUNITY_FLAGS_TO_HIDE = 2
    flag(resident=make_resident("b@example.org", old_mill), comment=comment, reason="spam")
    assert comment in moderation_queue()["flagged"]
    moderation_dismiss(actor=moderator, item=comment, note="Fine.")
    assert comment not in moderation_queue()["flagged"]
    flag(resident=make_resident("c@example.org", old_mill), comment=comment, reason="spam")
    comment.refresh_from_db()
    assert comment.visibility == Visibility.VISIBLE and comment.flag_count == 2
    flag(resident=make_resident("d@example.org", old_mill), comment=comment, reason="spam")
    comment.refresh_from_db()
    assert comment.visibility == Visibility.PENDING


@pytest.mark.parametrize("role", ["dispatcher", "analyst", "investigator"])
def test_staff_without_a_moderator_role_are_refused(
    role: str, comment: Comment, make_staff: Any
) -> None:
    actor = make_staff(role)
    with pytest.raises(NotPermittedError):
        moderation_hide(actor=actor, item=comment, reason="spam")
    with pytest.raises(NotPermittedError):
        moderation_delete(actor=actor, item=comment, reason="threat")
    with pytest.raises(NotPermittedError):
        moderation_dismiss(actor=actor, item=comment)
    comment.refresh_from_db()
    assert comment.visibility == Visibility.VISIBLE and not ModerationDecision.objects.exists()


def test_the_console_restores_with_a_note_and_refuses_other_roles(
    client: Any, settings: Any, comment: Comment, moderator: Any, make_staff: Any
) -> None:
    settings.WATCHHOUSE_MFA_REQUIRED = False
    moderation_hide(actor=moderator, item=comment, reason="spam")
    client.force_login(make_staff("dispatcher"))
    assert client.get(reverse("console:community_moderation")).status_code == 403
    client.force_login(moderator)
    queue = client.get(reverse("console:community_moderation")).content.decode()
    assert "Cheap watches" in queue
    act = reverse(
        "console:community_moderation_act",
        kwargs={"kind": "comment", "pk": comment.pk, "action": "restore"},
    )
    client.post(act, {"note": ""}, follow=True)
    comment.refresh_from_db()
    assert comment.visibility == Visibility.HIDDEN
    client.post(act, {"note": "Not an advert: a neighbour's stall."})
    comment.refresh_from_db()
    assert comment.visibility == Visibility.VISIBLE


def test_the_cached_post_page_follows_comments_and_moderation(
    front: Any, page_cache_on: None, publish_post: Any, ana: Any, moderator: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    post = publish_post()
    path = post_url(post)
    assert b"No comments yet." in call(front, path)[2]
    with django_capture_on_commit_callbacks(execute=True):
        comment = comment_create(resident=ana, post=post, body="Which streets are closed?")
    for _ in range(2):  # the second answer comes from the fast path
        body = call(front, path)[2].decode()
        assert "Which streets are closed?" in body and "Ana Lopez" in body
    with django_capture_on_commit_callbacks(execute=True):
        moderation_hide(actor=moderator, item=comment, reason="off_topic")
    body = call(front, path)[2].decode()
    assert "Which streets are closed?" not in body
    assert "Hidden by the moderators: Off topic for this conversation" in body
    with django_capture_on_commit_callbacks(execute=True):
        moderation_restore(actor=moderator, item=comment, note="On topic.")
    assert "Which streets are closed?" in call(front, path)[2].decode()
