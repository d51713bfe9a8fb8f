"""The analyst's console for the stream: the review queue with the reason for every match
(updating live), stories with lawful assemblies as counts only, watch rules with refusals on
the form and the override request, sources with their terms and today's figures, landmarks,
and the approvals inbox where a second supervisor decides."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from watchhouse.audit.models import AuditEntry
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.monitoring import policy
from watchhouse.monitoring.models import (
    Approval,
    ApprovalState,
    Landmark,
    MatchedPost,
    ReviewState,
    RuleState,
    Source,
    Story,
    StreamCount,
    WatchRule,
)
from watchhouse.monitoring.posts import PublicPost
from watchhouse.monitoring.runner import posts_ingest
from watchhouse.monitoring.services.landmarks import (
    ACTION_LANDMARK_DELETE,
    ACTION_LANDMARK_SAVE,
    landmark_save,
)
from watchhouse.monitoring.services.rules import rule_create, rule_override_request
from watchhouse.monitoring.stream import processor_forget

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
NEXUS = "Threats to firebomb the courthouse during the march were posted on the 27th (arson)."
PAGES = [
    ("console:monitoring", ()),
    ("console:monitoring_queue", ()),
    ("console:monitoring_queue_live", ()),
    ("console:monitoring_stories", ()),
    ("console:monitoring_rules", ()),
    ("console:monitoring_rule_new", ()),
    ("console:monitoring_sources", ()),
    ("console:monitoring_landmarks", ()),
    ("console:monitoring_approvals", ()),
]


@pytest.fixture(autouse=True)
def _fresh_stream() -> Iterator[None]:
    # The stream's duplicate memory lives in the process; each test starts without it.
    processor_forget()
    yield
    processor_forget()


@pytest.fixture
def analyst(make_staff: Any) -> Any:
    return make_staff("analyst")


@pytest.fixture
def supervisor(make_staff: Any) -> Any:
    return make_staff("supervisor")


def _rule(actor: Any, name: str = "Gas leak", phrases: tuple[str, ...] = ("gas leak",)) -> Any:
    return rule_create(
        actor=actor, name=name, purpose="Gas leaks, for the fire department.",
        phrases=list(phrases), expires_at=timezone.now() + timedelta(days=5),
    )  # fmt: skip


def _soon() -> str:
    return (timezone.localtime() + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")


def _post(n: int, text: str, **extra: Any) -> PublicPost:
    return PublicPost(
        source="file", remote_id=f"console-{n}", text=text,
        posted_at=timezone.now() - timedelta(minutes=1),
        author_handle=f"resident{n}@social.example",
        author_name=f"Resident {n}", url=f"https://social.example/@resident{n}/{n}", **extra,
    )  # fmt: skip


def test_pages_need_a_monitoring_role(client, make_staff, analyst):
    client.force_login(make_staff("pio"))
    for name, args in PAGES:
        assert client.get(reverse(name, args=args)).status_code == 403, name
    assert "Monitoring" not in client.get(reverse("console:home")).content.decode()
    client.force_login(analyst)
    for name, args in PAGES:
        assert client.get(reverse(name, args=args)).status_code in (200, 204), name
    assert reverse("console:monitoring") in client.get(reverse("console:home")).content.decode()


def test_the_queue_shows_each_match_with_its_reason_escaped(client, analyst):
    _rule(analyst)
    landmark_save(actor=analyst, name="Union Station", lat=39.954, lon=-89.359)
    posts_ingest([_post(1, f"Gas leak by Union Station, everyone out {SCRIPT}")])
    client.force_login(analyst)
    page = client.get(reverse("console:monitoring_queue")).content.decode()
    assert "Resident 1" in page and "resident1@social.example" in page
    assert 'Rule “<span class="rule">Gas leak</span>”' in page
    assert "“<mark>gas leak</mark>”" in page
    assert "Union Station (landmark)" in page
    assert "Classifier score" in page
    assert SCRIPT not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "https://social.example/@resident1/1" in page
    assert "Pass on" in page and "Dismiss" in page


def test_the_live_fragment_gives_only_newer_posts_and_moves_the_poller_on(client, analyst):
    _rule(analyst)
    posts_ingest([_post(1, "Gas leak on Maple Ave")])
    first = MatchedPost.objects.get()
    client.force_login(analyst)
    page = client.get(reverse("console:monitoring_queue")).content.decode()
    live = reverse("console:monitoring_queue_live")
    assert f'hx-get="{live}?since_id={first.pk}"' in page and 'hx-swap="afterbegin"' in page
    assert client.get(live, {"since_id": first.pk}).status_code == 204

    posts_ingest([_post(2, "Another gas leak reported on Elm Ave")])
    second = MatchedPost.objects.exclude(pk=first.pk).get()
    fragment = client.get(live, {"since_id": first.pk})
    body = fragment.content.decode()
    assert fragment.status_code == 200
    assert "Elm Ave" in body and "Maple Ave" not in body and "Gas leak" in body
    assert f"since_id={second.pk}" in body and 'hx-swap-oob="true"' in body
    assert client.get(live, {"since_id": second.pk}).status_code == 204


def test_pass_on_and_dismiss_are_recorded(client, analyst):
    _rule(analyst)
    posts_ingest([_post(1, "Gas leak on Maple Ave"), _post(2, "Gas leak on Oak Ave")])
    one, two = MatchedPost.objects.order_by("pk")
    client.force_login(analyst)
    url = reverse("console:monitoring_post_review", args=[one.pk, "actioned"])
    assert client.post(url, follow=True).content.decode().count("Passed on.") == 1
    client.post(reverse("console:monitoring_post_review", args=[two.pk, "dismissed"]))
    assert set(MatchedPost.objects.values_list("review", flat=True)) == {
        ReviewState.ACTIONED, ReviewState.DISMISSED,
    }  # fmt: skip
    assert AuditEntry.objects.filter(action=policy.ACTION_REVIEW, actor=analyst).count() == 2
    page = client.get(reverse("console:monitoring_queue")).content.decode()
    assert '<p id="queue-empty" class="empty">Nothing to review.</p>' in page


def test_stories_group_copies_and_a_lawful_assembly_shows_counts_only(client, analyst, supervisor):
    _rule(analyst, "Smoke", ("smoke",))
    text = "Thick smoke over the rail yard, fire trucks heading there now"
    posts_ingest([_post(n, ("RT " if n % 2 else "") + text) for n in range(6)])
    story = Story.objects.get()
    client.force_login(analyst)
    page = client.get(reverse("console:monitoring_stories")).content.decode()
    assert text in page and "Smoke" in page and ">6" in page
    assert "Mark as lawful assembly" not in page  # a supervisor's decision
    client.force_login(supervisor)
    client.post(reverse("console:monitoring_story_act", args=[story.pk, "lawful"]))
    page = client.get(reverse("console:monitoring_stories")).content.decode()
    assert "Lawful assembly (counts only)" in page and text not in page and ">6" in page
    queue = client.get(reverse("console:monitoring_queue")).content.decode()
    assert "resident1@social.example" not in queue and text not in queue


def test_a_refused_rule_shows_the_refusal_and_creates_nothing(client, analyst):
    client.force_login(analyst)
    form = {
        "name": "Protest watch", "purpose": "See who goes to the rally.",
        "phrases": "protest\nrally", "expires_at": _soon(),
    }  # fmt: skip
    page = client.post(reverse("console:monitoring_rule_new"), form)
    body = page.content.decode()
    assert page.status_code == 400
    assert "Refused: the rule names protected activity" in body
    assert "Request an override" in body and "Criminal nexus" in body
    assert not WatchRule.objects.exists()
    assert AuditEntry.objects.filter(action=policy.ACTION_RULE_REFUSE, actor=analyst).count() == 1

    too_short = client.post(
        reverse("console:monitoring_rule_new"), {**form, "nexus": "because", "request_override": 1}
    )
    assert too_short.status_code == 400 and not WatchRule.objects.exists()
    done = client.post(
        reverse("console:monitoring_rule_new"),
        {**form, "phrases": "molotov", "expression": "protest", "nexus": NEXUS,
         "request_override": "1"},
    )  # fmt: skip
    assert done.status_code == 302
    rule = WatchRule.objects.get()
    assert (rule.state, rule.override_nexus) == (RuleState.PENDING, NEXUS)
    assert Approval.objects.filter(rule=rule, state=ApprovalState.PENDING).exists()


def test_a_plain_rule_is_saved_and_listed_and_switched_off(client, analyst):
    client.force_login(analyst)
    answer = client.post(
        reverse("console:monitoring_rule_new"),
        {"name": "Gas leak", "purpose": "Gas leaks, for the fire department.",
         "phrases": "gas leak\nsmell of gas", "languages": "en, es",
         "expires_at": _soon()},
    )  # fmt: skip
    assert answer.status_code == 302
    rule = WatchRule.objects.get()
    assert (rule.phrases, rule.languages, rule.state) == (
        ["gas leak", "smell of gas"], ["en", "es"], RuleState.ACTIVE,
    )  # fmt: skip
    page = client.get(reverse("console:monitoring_rules")).content.decode()
    assert "Gas leak" in page and "Gas leaks, for the fire department." in page
    client.post(reverse("console:monitoring_rule_disable", args=[rule.pk]))
    rule.refresh_from_db()
    assert rule.state == RuleState.DISABLED


def test_a_second_supervisor_approves_an_override_in_the_inbox(client, make_staff, supervisor):
    asker = make_staff("supervisor", "analyst")
    rule = rule_override_request(
        actor=asker, name="Arson at the march", purpose="A specific threat of arson.",
        nexus=NEXUS, expression="(molotov OR firebomb) AND march",
        expires_at=timezone.now() + timedelta(days=3),
    )  # fmt: skip
    approval = Approval.objects.get(rule=rule)
    client.force_login(asker)
    page = client.get(reverse("console:monitoring_approvals")).content.decode()
    assert "Waiting for a second person" in page and NEXUS in page
    decide = reverse("console:monitoring_approval_decide", args=[approval.pk, "approve"])
    assert client.post(decide).status_code == 403
    client.force_login(supervisor)
    page = client.get(reverse("console:monitoring_approvals")).content.decode()
    assert "Approve" in page and "Refuse" in page
    client.post(decide, {"note": "Nexus documented."})
    approval.refresh_from_db()
    rule.refresh_from_db()
    assert (approval.state, approval.decided_by) == (ApprovalState.APPROVED, supervisor)
    assert rule.state == RuleState.ACTIVE
    assert AuditEntry.objects.filter(
        action=policy.ACTION_APPROVAL_APPROVE, actor=supervisor
    ).exists()
    assert (
        "Nothing is waiting."
        in client.get(reverse("console:monitoring_approvals")).content.decode()
    )


def test_sources_show_their_terms_and_todays_figures(client, analyst):
    client.force_login(analyst)
    url = reverse("console:monitoring_source_new")
    assert "Feed addresses" in client.get(url, {"kind": "rss"}).content.decode()
    answer = client.post(
        url, {"kind": "rss", "name": "County news", "enabled": "on",
              "urls": "https://news.example/feed.atom\nhttps://county.example/rss"},
    )  # fmt: skip
    assert answer.status_code == 302
    source = Source.objects.get()
    assert source.config["urls"] == ["https://news.example/feed.atom", "https://county.example/rss"]
    refused = client.post(
        url, {"kind": "rss", "name": "Facebook page", "urls": "https://www.facebook.com/x"}
    )
    assert refused.status_code == 400 and "forbids automated collection" in refused.content.decode()
    assert Source.objects.count() == 1
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    StreamCount.objects.create(hour=hour, source_kind="rss", name="received", value=41)
    StreamCount.objects.create(hour=hour, source_kind="rss", name="matched", value=3)
    page = client.get(reverse("console:monitoring_sources")).content.decode()
    assert "County news" in page and "RSS/Atom feed" in page
    assert "<td>41</td>" in page and "<td>3</td>" in page
    edit = client.post(
        reverse("console:monitoring_source_edit", args=[source.pk]),
        {"kind": "rss", "urls": "https://news.example/feed.atom"},
    )
    assert edit.status_code == 302
    source.refresh_from_db()
    assert (source.enabled, source.config["urls"]) == (False, ["https://news.example/feed.atom"])


def test_landmarks_are_added_and_removed_on_the_record(client, analyst):
    client.force_login(analyst)
    url = reverse("console:monitoring_landmarks")
    client.post(url, {"name": "Memorial Stadium", "aliases": "the stadium", "lat": 39.96,
                      "lon": -89.34})  # fmt: skip
    landmark = Landmark.objects.get()
    assert landmark.aliases == ["the stadium"]
    taken = client.post(url, {"name": "memorial stadium", "lat": 39.9, "lon": -89.3})
    assert taken.status_code == 400 and "already a landmark" in taken.content.decode()
    assert "Memorial Stadium" in client.get(url).content.decode()
    client.post(reverse("console:monitoring_landmark_delete", args=[landmark.pk]))
    assert not Landmark.objects.exists()
    actions = list(AuditEntry.objects.filter(actor=analyst).values_list("action", flat=True))
    assert ACTION_LANDMARK_SAVE in actions and ACTION_LANDMARK_DELETE in actions


def test_landmarks_are_changed_only_by_analysts_and_only_with_sound_input(make_staff, analyst):
    with pytest.raises(NotPermittedError):
        landmark_save(actor=make_staff("pio"), name="City Hall", lat=39.95, lon=-89.35)
    with pytest.raises(InvalidInputError, match="Latitude"):
        landmark_save(actor=analyst, name="City Hall", lat=95.0, lon=-89.35)
    assert not Landmark.objects.exists()
    assert not AuditEntry.objects.filter(action=ACTION_LANDMARK_SAVE).exists()
    hall = landmark_save(actor=analyst, name=" City  Hall ", aliases=["city hall", "The Hall"],
                         lat=39.95, lon=-89.35)  # fmt: skip
    assert (hall.name, hall.aliases) == ("City Hall", ["The Hall"])
    moved = landmark_save(actor=analyst, name="City Hall", lat=39.951, lon=-89.35,
                          landmark_id=hall.pk)  # fmt: skip
    assert (Landmark.objects.count(), moved.lat) == (1, 39.951)
    entry = AuditEntry.objects.filter(action=ACTION_LANDMARK_SAVE).latest("id")
    assert entry.actor == analyst and entry.data["lat"] == 39.951
