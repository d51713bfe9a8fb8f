"""Residents comment and start discussions where they are verified members; the department
replies as the department; flags from enough residents hide an item pending review."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.community.conftest import signed_in
from watchhouse.audit.models import AuditEntry
from watchhouse.community.models import (
    Comment,
    Discussion,
    DiscussionKind,
    Flag,
    MembershipStatus,
    ModerationAction,
    ModerationDecision,
    Visibility,
)
from watchhouse.community.services.conversation import (
    agency_reply,
    comment_create,
    discussion_start,
    flag,
)
from watchhouse.community.services.moderation import profiling_terms_seed
from watchhouse.core.errors import InvalidInputError, NotPermittedError

pytestmark = pytest.mark.django_db

pytest_plugins = ["tests.community.conftest_conversation"]


@pytest.fixture
def old_mill(hoods: dict) -> Any:
    return hoods["Old Mill"]


@pytest.fixture
def ana(make_resident: Any, old_mill: Any) -> Any:
    return make_resident("ana@example.org", old_mill)


def test_a_verified_member_comments_in_a_discussion_and_it_is_audited(
    ana: Any, old_mill: Any, start_discussion: Any
) -> None:
    discussion = start_discussion(ana, old_mill)
    comment = comment_create(resident=ana, discussion=discussion, body="  Reported it to 311. ")
    assert comment.body == "Reported it to 311." and comment.visibility == Visibility.VISIBLE
    entry = AuditEntry.objects.get(action="community.comment")
    assert entry.object_id == str(comment.pk) and entry.data["discussion"] == discussion.pk


def test_unverified_and_other_neighbourhoods_residents_cannot_comment(
    ana: Any, hoods: dict, make_resident: Any, start_discussion: Any
) -> None:
    discussion = start_discussion(ana, hoods["Old Mill"])
    pending = make_resident("pat@example.org", hoods["Old Mill"], status=MembershipStatus.PENDING)
    elsewhere = make_resident("eli@example.org", hoods["Riverside"])
    for resident in (pending, elsewhere):
        with pytest.raises(NotPermittedError, match="verified members of this neighbourhood"):
            comment_create(resident=resident, discussion=discussion, body="Hello")
    assert not Comment.objects.exists()
    assert not AuditEntry.objects.filter(action="community.comment").exists()


def test_comments_on_a_post_need_a_verified_member_of_one_of_its_areas(
    ana: Any, hoods: dict, make_resident: Any, publish_post: Any
) -> None:
    for_old_mill = publish_post(hoods["Old Mill"], hoods["Cedar Park"])
    elsewhere = make_resident("eli@example.org", hoods["Riverside"])
    with pytest.raises(NotPermittedError):
        comment_create(resident=elsewhere, post=for_old_mill, body="Hi")
    assert comment_create(resident=ana, post=for_old_mill, body="Thanks").post == for_old_mill
    city_wide = publish_post(title="City-wide notice")
    assert comment_create(resident=elsewhere, post=city_wide, body="Thanks").post == city_wide
    nobody = make_resident("noone@example.org")  # signed in, member of nothing
    with pytest.raises(NotPermittedError, match="Only verified residents may comment"):
        comment_create(resident=nobody, post=city_wide, body="Hi")


def test_the_flood_limit_counts_the_last_hour(
    settings: Any, ana: Any, old_mill: Any, start_discussion: Any
) -> None:
    settings.WATCHHOUSE_COMMUNITY_POSTS_PER_HOUR = 3
    discussion = start_discussion(ana, old_mill)
    Discussion.objects.filter(pk=discussion.pk).update(
        created_at=timezone.now() - timedelta(minutes=61)
    )
    comment_create(resident=ana, discussion=discussion, body="one")
    comment_create(resident=ana, discussion=discussion, body="two")
    comment_create(resident=ana, discussion=discussion, body="three")
    with pytest.raises(InvalidInputError, match="posted 3 times in the last hour"):
        comment_create(resident=ana, discussion=discussion, body="four")
    with pytest.raises(InvalidInputError, match="posted 3 times in the last hour"):
        discussion_start(resident=ana, area=old_mill, kind="general", title="t", body="b")
    assert Comment.objects.count() == 3
    Comment.objects.update(created_at=timezone.now() - timedelta(minutes=61))
    assert comment_create(resident=ana, discussion=discussion, body="later").pk


def test_a_safety_concern_asks_behaviour_and_clothing_before_a_description(
    ana: Any, old_mill: Any
) -> None:
    profiling_terms_seed()
    with pytest.raises(InvalidInputError, match="Before describing a person, say what they did"):
        discussion_start(
            resident=ana, area=old_mill, kind=DiscussionKind.SAFETY, title="Someone on Elm",
            body="Near the school at 9 pm.", behaviour="", clothing="Grey hoodie",
            person_description="Tall, beard",
        )  # fmt: skip
    with pytest.raises(InvalidInputError, match="Describe what they did, what they wore"):
        discussion_start(
            resident=ana, area=old_mill, kind=DiscussionKind.SAFETY, title="Hispanic man on Elm",
            body="Near the school.", behaviour="Tried car doors", clothing="Grey hoodie",
        )  # fmt: skip
    with pytest.raises(InvalidInputError, match="“black”"):
        discussion_start(
            resident=ana, area=old_mill, kind=DiscussionKind.SAFETY, title="Car doors on Elm",
            body="Near the school.", behaviour="Tried car doors", clothing="Grey hoodie",
            person_description="Black, tall",
        )  # fmt: skip
    assert not Discussion.objects.exists()
    discussion = discussion_start(
        resident=ana, area=old_mill, kind=DiscussionKind.SAFETY, title="Car doors on Elm",
        body="Near the school at 9 pm.", behaviour="Tried car doors, ran north",
        clothing="Grey hoodie, white trainers", person_description="Tall, beard",
    )  # fmt: skip
    assert discussion.person_description == "Tall, beard"
    assert AuditEntry.objects.filter(action="community.discussion_start").count() == 1


def test_a_general_discussion_keeps_no_person_fields_and_needs_membership(
    ana: Any, hoods: dict
) -> None:
    discussion = discussion_start(
        resident=ana, area=hoods["Old Mill"], kind="general", title="Block party",
        body="Saturday!", behaviour="x", clothing="y", person_description="z",
    )  # fmt: skip
    assert (discussion.behaviour, discussion.person_description) == ("", "")
    with pytest.raises(NotPermittedError):
        discussion_start(
            resident=ana, area=hoods["Riverside"], kind="general", title="Hi", body="Hi"
        )


def test_the_posting_form_lists_behaviour_and_clothing_before_the_description(
    client: Any, ana: Any, old_mill: Any
) -> None:
    url = reverse("community:discussion_new", kwargs={"area_slug": old_mill.slug})
    html = signed_in(client, ana).get(url).content.decode()
    order = [html.index(f'name="{n}"') for n in ("behaviour", "clothing", "person_description")]
    assert order == sorted(order)
    profiling_terms_seed()
    refused = client.post(url, {
        "kind": "safety", "title": "Car doors", "body": "On Elm.",
        "person_description": "Tall",
    })  # fmt: skip
    assert refused.status_code == 200
    assert "Before describing a person" in refused.content.decode()
    posted = client.post(url, {
        "kind": "safety", "title": "Car doors", "body": "On Elm.",
        "behaviour": "Tried car doors", "clothing": "Red jacket", "person_description": "Tall",
    })  # fmt: skip
    discussion = Discussion.objects.get()
    assert posted.status_code == 302 and posted["Location"].endswith(f"/{discussion.pk}/")


def test_the_agency_replies_as_the_department(
    client: Any, ana: Any, old_mill: Any, start_discussion: Any, moderator: Any,
    make_staff: Any,
) -> None:  # fmt: skip
    discussion = start_discussion(ana, old_mill)
    question = comment_create(resident=ana, discussion=discussion, body="Who fixes this?")
    reply = agency_reply(
        actor=moderator, discussion=discussion, parent=question, body="Public works, Monday."
    )
    assert reply.by_agency and reply.author is None
    assert AuditEntry.objects.get(action="community.agency_reply").actor == moderator
    with pytest.raises(NotPermittedError):
        agency_reply(actor=make_staff("dispatcher"), discussion=discussion, body="Hi")
    page = client.get(
        reverse("community:discussion", kwargs={"area_slug": old_mill.slug, "pk": discussion.pk})
    ).content.decode()
    assert "Public works, Monday." in page and "the department" in page
    assert moderator.username not in page


def test_flags_from_enough_residents_hide_pending_review(
    settings: Any, ana: Any, old_mill: Any, make_resident: Any, start_discussion: Any
) -> None:
    settings.WATCHHOUSE_COMMUNITY_FLAGS_TO_HIDE = 2
    discussion = start_discussion(ana, old_mill)
    comment = comment_create(resident=ana, discussion=discussion, body="Buy cheap watches")
    ben = make_resident("ben@example.org", old_mill)
    cy = make_resident("cy@example.org", old_mill)
    flag(resident=ben, comment=comment, reason="spam")
    comment.refresh_from_db()
    assert comment.visibility == Visibility.VISIBLE and comment.flag_count == 1
    with pytest.raises(InvalidInputError, match="already flagged"):
        flag(resident=ben, comment=comment, reason="spam")
    assert Flag.objects.count() == 1
    with pytest.raises(InvalidInputError, match="what you wrote yourself"):
        flag(resident=ana, comment=comment, reason="spam")
    flag(resident=cy, comment=comment, reason="spam", note="Advert")
    comment.refresh_from_db()
    assert comment.visibility == Visibility.PENDING and comment.flag_count == 2
    decision = ModerationDecision.objects.get()
    assert decision.action == ModerationAction.AUTO_HIDE and decision.actor is None
    assert decision.comment == comment
    assert AuditEntry.objects.filter(action="community.flag").count() == 2
    assert AuditEntry.objects.filter(action="community.auto_hide").count() == 1


def test_unverified_or_outside_residents_cannot_flag(
    ana: Any, hoods: dict, make_resident: Any, start_discussion: Any
) -> None:
    discussion = start_discussion(ana, hoods["Old Mill"])
    pending = make_resident("pat@example.org", hoods["Old Mill"], status=MembershipStatus.PENDING)
    outside = make_resident("eli@example.org", hoods["Riverside"])
    for resident in (pending, outside):
        with pytest.raises(NotPermittedError):
            flag(resident=resident, discussion=discussion, reason="off_topic")
    with pytest.raises(InvalidInputError, match="reason from the moderation policy"):
        flag(resident=make_resident("b@example.org", hoods["Old Mill"]), discussion=discussion,
             reason="i-dont-like-it")  # fmt: skip
    assert not Flag.objects.exists()


def test_the_flag_button_flags_and_hides_at_the_threshold(
    settings: Any, client: Any, ana: Any, old_mill: Any, make_resident: Any,
    start_discussion: Any,
) -> None:  # fmt: skip
    settings.WATCHHOUSE_COMMUNITY_FLAGS_TO_HIDE = 1
    discussion = start_discussion(ana, old_mill, title="Selling stuff")
    ben = make_resident("ben@example.org", old_mill)
    url = reverse("community:flag", kwargs={"kind": "discussion", "pk": discussion.pk})
    answer = signed_in(client, ben).post(url, {"reason": "spam", "next": "https://evil.example/"})
    assert answer.status_code == 302 and answer["Location"].endswith(f"/{discussion.pk}/")
    discussion.refresh_from_db()
    assert discussion.visibility == Visibility.PENDING
    page = client.get(answer["Location"]).content.decode()
    assert "Hidden pending review" in page and "Selling stuff" not in page
