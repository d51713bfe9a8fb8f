"""The fediverse source, end to end on loopback: creating the source makes the department's
named actor send a signed Follow (WebFinger, then the actor's inbox); the account's Accept is
recorded; its public Create then reaches the stream, while a Create from an account no source
follows does not; relays are followed with the relay protocol's Follow and their traffic is
filtered by hashtag; removing an account sends an Undo."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client

from tests.monitoring.connectors.conftest import SITE, FediHost
from tests.outlets.activitypub.conftest import RemoteUser, activity_id, signed_post
from watchhouse.audit.models import AuditEntry
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.monitoring import policy, runner
from watchhouse.monitoring.models import Following, FollowKind, FollowState, SourceKind
from watchhouse.monitoring.posts import PublicPost
from watchhouse.monitoring.services.sources import (
    ACTION_SOURCE_CREATE,
    ACTION_SOURCE_UPDATE,
    source_create,
    source_update,
)
from watchhouse.outlets.activitypub.delivery import ap_deliveries_send
from watchhouse.outlets.models import InboundItem

pytestmark = pytest.mark.django_db
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
OUR_ACTOR = f"{SITE}/ap/users/police"


@pytest.fixture(autouse=True)
def _webfinger_over_http(settings: Any) -> None:
    settings.WATCHHOUSE_MONITORING_WEBFINGER_SCHEME = "http"  # the loopback host has no TLS


@pytest.fixture
def ingested(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[PublicPost], Any]]:
    """What reached ``runner.posts_ingest`` (which still runs, for real)."""
    seen: list[tuple[list[PublicPost], Any]] = []
    real = runner.posts_ingest

    def recording(posts: Any, *, source: Any = None) -> dict[str, int]:
        posts = list(posts)
        seen.append((posts, source))
        return real(posts, source=source)

    monkeypatch.setattr(runner, "posts_ingest", recording)
    return seen


def _note(user: RemoteUser, content: str, *, public: bool = True, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"{user.uri}/statuses/{time.monotonic_ns()}",
        "type": "Note",
        "attributedTo": user.uri,
        "content": content,
        "published": "2026-11-29T12:00:00Z",
        "to": [PUBLIC] if public else [f"{user.uri}/followers"],
        "cc": [f"{user.uri}/followers"] if public else [],
        **extra,
    }


def _create(user: RemoteUser, note: dict[str, Any]) -> dict[str, Any]:
    return {"id": activity_id(user), "type": "Create", "actor": user.uri, "object": note,
            "to": note["to"], "cc": note["cc"]}  # fmt: skip


def _audited(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("seq"))


def _follow_source(fedihost: FediHost, analyst: Any, capture: Any, **config: Any) -> Any:
    with capture(execute=True):
        source = source_create(actor=analyst, kind=SourceKind.FEDIVERSE, name="Local accounts",
                               config=config)  # fmt: skip
    ap_deliveries_send()
    return source


def test_followed_accounts_posts_reach_the_stream(
    client: Client, fedihost: FediHost, analyst: Any, ingested: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    """Follow sent (signed, by our named actor), Accept recorded, then a public note from the
    account reaches the stream with its text, hashtag, place and image; a note from an
    account nobody follows, and a followers-only note, do not."""
    alice, bob = fedihost.user("alice"), fedihost.user("bob")
    source = _follow_source(fedihost, analyst, django_capture_on_commit_callbacks,
                            accounts=[fedihost.handle("alice")], hashtags=["#Flood"])  # fmt: skip
    [entry] = _audited(ACTION_SOURCE_CREATE)
    assert entry.actor == analyst and entry.data["config"]["hashtags"] == ["flood"]
    assert "no covert accounts" in entry.data["terms"]
    [follow] = fedihost.activities()
    assert (follow["type"], follow["actor"], follow["object"]) == ("Follow", OUR_ACTOR, alice.uri)
    assert fedihost.all_signed_by_us()
    following = Following.objects.get(source=source)
    assert (following.target_uri, following.kind, following.state) == (
        alice.uri,
        FollowKind.ACCOUNT,
        FollowState.PENDING,
    )
    accept = {"id": activity_id(alice), "type": "Accept", "actor": alice.uri, "object": follow}
    assert signed_post(client, "/ap/inbox", accept, alice).status_code == 202
    following.refresh_from_db()
    assert following.state == FollowState.ACCEPTED

    note = _note(
        alice, "<p>Water over the road at <a href='x'>#Flood</a> Mill Lane</p>",
        tag=[{"type": "Hashtag", "name": "#Flood", "href": "https://x/tags/flood"}],
        location={"type": "Place", "name": "Mill Lane", "latitude": 51.5, "longitude": -0.12},
        attachment=[{"type": "Document", "mediaType": "image/jpeg",
                     "url": "https://files.example/road.jpg", "name": "Flooded lane"}],
        url="https://social.example/@alice/1", contentMap={"en": "…"},
    )  # fmt: skip
    assert signed_post(client, "/ap/inbox", _create(alice, note), alice).status_code == 202
    [(posts, ingest_source)] = ingested
    assert ingest_source == source
    [post] = posts
    assert post.text == "Water over the road at #Flood Mill Lane"
    assert post.source == "fediverse" and post.source_id == source.pk
    assert post.remote_id == note["id"] and post.url == "https://social.example/@alice/1"
    assert post.author_handle == f"alice@{fedihost.host}" and post.language == "en"
    assert (post.lat, post.lon) == (51.5, -0.12)
    assert [(m.url, m.kind, m.alt) for m in post.media] == [
        ("https://files.example/road.jpg", "image", "Flooded lane")
    ]

    response = signed_post(client, "/ap/inbox", _create(bob, _note(bob, "<p>Fire!</p>")), bob)
    assert response.status_code == 202
    private = _note(alice, "<p>Only for followers</p>", public=False)
    assert signed_post(client, "/ap/inbox", _create(alice, private), alice).status_code == 202
    assert len(ingested) == 1
    assert not InboundItem.objects.exists()


def test_a_rejected_follow_lets_nothing_through(
    client: Client, fedihost: FediHost, analyst: Any, ingested: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    """An account that rejects our Follow is marked so, and its posts are not taken."""
    alice = fedihost.user("alice")
    _follow_source(fedihost, analyst, django_capture_on_commit_callbacks, accounts=[alice.uri])
    [follow] = fedihost.activities()
    reject = {"id": activity_id(alice), "type": "Reject", "actor": alice.uri, "object": follow}
    assert signed_post(client, "/ap/inbox", reject, alice).status_code == 202
    assert Following.objects.get().state == FollowState.REJECTED
    signed_post(client, "/ap/inbox", _create(alice, _note(alice, "<p>hello</p>")), alice)
    assert ingested == []


def test_relays_are_followed_and_filtered_by_hashtag(
    client: Client, fedihost: FediHost, analyst: Any, ingested: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    """A relay gets the relay protocol's Follow of the public collection; of what it
    announces, only notes with one of the source's hashtags are taken."""
    relay, carol = fedihost.user("relay"), fedihost.user("carol")
    _follow_source(fedihost, analyst, django_capture_on_commit_callbacks,
                   relays=[relay.uri], hashtags=["flood"])  # fmt: skip
    [follow] = fedihost.activities()
    assert follow["type"] == "Follow" and follow["object"] == PUBLIC and follow["to"] == [relay.uri]
    assert Following.objects.get().kind == FollowKind.RELAY

    def announce(note: dict[str, Any]) -> dict[str, Any]:
        return {"id": activity_id(relay), "type": "Announce", "actor": relay.uri,
                "object": note, "to": [f"{relay.uri}/followers"]}  # fmt: skip

    tagged = _note(carol, "<p>River bursting its banks #flood</p>")
    untagged = _note(carol, "<p>Lovely sunset tonight</p>")
    assert signed_post(client, "/ap/inbox", announce(tagged), relay).status_code == 202
    assert signed_post(client, "/ap/inbox", announce(untagged), relay).status_code == 202
    assert [p.text for posts, _s in ingested for p in posts] == ["River bursting its banks #flood"]
    [(posts, _source)] = ingested
    assert posts[0].author_handle == f"carol@{fedihost.host}"


def test_removing_an_account_sends_an_undo(
    client: Client, fedihost: FediHost, analyst: Any, ingested: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    """Dropping an account from the source unfollows it (Undo of our Follow, audited); its
    posts no longer reach the stream. Switching the source off unfollows the rest."""
    alice, bob = fedihost.user("alice"), fedihost.user("bob")
    source = _follow_source(fedihost, analyst, django_capture_on_commit_callbacks,
                            accounts=[alice.uri, fedihost.handle("bob")])  # fmt: skip
    assert {f.target_uri for f in Following.objects.all()} == {alice.uri, bob.uri}
    with django_capture_on_commit_callbacks(execute=True):
        source_update(actor=analyst, source_id=source.pk, config={"accounts": [bob.uri]})
    ap_deliveries_send()
    undo = fedihost.activities()[-1]
    assert undo["type"] == "Undo" and undo["object"]["type"] == "Follow"
    assert undo["object"]["object"] == alice.uri
    assert [f.target_uri for f in Following.objects.all()] == [bob.uri]
    [entry] = _audited(ACTION_SOURCE_UPDATE)
    assert entry.data["after"]["config"]["accounts"] == [bob.uri]
    signed_post(client, "/ap/inbox", _create(alice, _note(alice, "<p>still here</p>")), alice)
    assert ingested == []
    with django_capture_on_commit_callbacks(execute=True):
        source_update(actor=analyst, source_id=source.pk, enabled=False)
    ap_deliveries_send()
    assert fedihost.activities()[-1]["type"] == "Undo"
    assert not Following.objects.exists()


def test_only_analysts_and_supervisors_configure_sources(make_staff: Any) -> None:
    """Others are refused, and nothing is created."""
    with pytest.raises(NotPermittedError):
        source_create(actor=make_staff("dispatcher"), kind=SourceKind.RSS, name="News",
                      config={"urls": ["https://news.example/feed"]})  # fmt: skip
    assert not _audited(ACTION_SOURCE_CREATE)


def test_a_feed_on_a_forbidden_platform_is_refused_and_counted(analyst: Any) -> None:
    """Guardrail 4: the refusal is audited (and so counted on the transparency page)."""
    with pytest.raises(InvalidInputError, match="x.com forbids"):
        source_create(actor=analyst, kind=SourceKind.RSS, name="Mayor on X",
                      config={"urls": ["https://x.com/mayor/rss"]})  # fmt: skip
    [entry] = _audited(policy.ACTION_REFUSED_INPUT)
    assert entry.data["platforms"] == ["x.com"] and entry.actor == analyst
    assert not _audited(ACTION_SOURCE_CREATE)


def test_a_feed_source_is_created_with_its_config_cleaned(analyst: Any) -> None:
    """Name, kind and cleaned config are stored and audited; a second source of the same
    name is refused."""
    source = source_create(actor=analyst, kind=SourceKind.RSS, name=" Gazette ",
                           config={"url": "https://news.example/feed"})  # fmt: skip
    assert source.name == "Gazette" and source.config == {"urls": ["https://news.example/feed"]}
    assert _audited(ACTION_SOURCE_CREATE)[0].data["kind"] == "rss"
    with pytest.raises(InvalidInputError, match="exists already"):
        source_create(actor=analyst, kind=SourceKind.RSS, name="Gazette",
                      config={"url": "https://news.example/feed"})  # fmt: skip
    with pytest.raises(InvalidInputError, match="not an account"):
        source_create(actor=analyst, kind=SourceKind.FEDIVERSE, name="Bad",
                      config={"accounts": ["alice"]})  # fmt: skip


def test_a_relayed_note_is_taken_as_its_origin_serves_it(
    client: Client, fedihost: FediHost, fedihost2: FediHost, analyst: Any,
    ingested: list[Any], django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    """A relay embedding another server's note cannot change its words: the note is fetched
    from its origin, and taken as the origin has it."""
    relay, erin = fedihost.user("relay"), fedihost2.user("erin")
    _follow_source(fedihost, analyst, django_capture_on_commit_callbacks,
                   relays=[relay.uri], hashtags=["flood"])  # fmt: skip
    original = _note(erin, "<p>Road flooded near the school #flood</p>")
    fedihost2.notes[original["id"].removeprefix(fedihost2.url)] = original
    forged = {**original, "content": "<p>Erin says something else entirely #flood</p>"}
    announce = {"id": activity_id(relay), "type": "Announce", "actor": relay.uri,
                "object": forged, "to": [f"{relay.uri}/followers"]}  # fmt: skip
    assert signed_post(client, "/ap/inbox", announce, relay).status_code == 202
    [(posts, _source)] = ingested
    assert [p.text for p in posts] == ["Road flooded near the school #flood"]
    by_uri = {"id": activity_id(relay), "type": "Announce", "actor": relay.uri,
              "object": f"{fedihost2.url}/statuses/gone", "to": [PUBLIC]}  # fmt: skip
    assert signed_post(client, "/ap/inbox", by_uri, relay).status_code == 202
    assert len(ingested) == 1
