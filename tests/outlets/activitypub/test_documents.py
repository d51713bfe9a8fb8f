"""What other servers read of us: WebFinger, NodeInfo, the actor, its collections and the
documents of posts and alerts."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.outlets.activitypub.conftest import SITE, follow
from tests.posts.conftest import attach, ready_media
from watchhouse.alerts.services import alert_issue
from watchhouse.core.errors import NotPermittedError
from watchhouse.outlets.activitypub.publishing import ap_alert_changed, ap_post_changed
from watchhouse.outlets.activitypub.services import area_actor_create, department_actor
from watchhouse.outlets.models import Activity
from watchhouse.posts.models import Topic
from watchhouse.posts.services import post_publish, post_retract

pytestmark = pytest.mark.django_db
AP = "application/activity+json"
LD = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'


def test_department_actor_exists_without_setup(settings: Any) -> None:
    """The department's actor is made on first use with an RSA key, its name the agency's."""
    settings.WATCHHOUSE_AGENCY_NAME = "Testford Police"
    actor = department_actor()
    assert actor.username == "police"
    assert actor.name == "Testford Police"
    assert actor.public_key_pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE" not in actor.private_key  # sealed
    assert sorted(actor.alert_categories) == ["advisory", "alert", "community", "traffic"]
    assert department_actor().pk == actor.pk


def test_webfinger_finds_the_actor(client: Client) -> None:
    response = client.get("/.well-known/webfinger", {"resource": "acct:police@testserver"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/jrd+json")
    assert response["Access-Control-Allow-Origin"] == "*"
    jrd = response.json()
    assert jrd["subject"] == "acct:police@testserver"
    self_link = next(link for link in jrd["links"] if link["rel"] == "self")
    assert self_link == {"rel": "self", "type": AP, "href": f"{SITE}/ap/users/police"}


def test_the_home_page_tells_residents_how_to_follow(client: Client) -> None:
    """The handle a resident types into Mastodon is on the home page, and goes with the
    actor when it is switched off."""
    assert "<code>@police@testserver</code>" in client.get("/").content.decode()
    actor = department_actor()
    actor.enabled = False
    actor.save(update_fields=["enabled"])
    assert "@police@testserver" not in client.get("/").content.decode()


@pytest.mark.parametrize(
    "resource", ["acct:nobody@testserver", "acct:police@elsewhere.example", ""]
)
def test_webfinger_refuses_unknown_resources(client: Client, resource: str) -> None:
    response = client.get("/.well-known/webfinger", {"resource": resource})
    assert response.status_code in (400, 404)


def test_nodeinfo(client: Client) -> None:
    links = client.get("/.well-known/nodeinfo").json()["links"]
    assert links[0]["rel"] == "http://nodeinfo.diaspora.software/ns/schema/2.1"
    assert links[0]["href"] == f"{SITE}/nodeinfo/2.1"
    info = client.get("/nodeinfo/2.1").json()
    assert info["version"] == "2.1"
    assert info["software"]["name"] == "watchhouse"
    assert info["protocols"] == ["activitypub"]
    assert info["usage"]["users"]["total"] == 1
    assert "localPosts" in info["usage"]
    assert "lrdd" in client.get("/.well-known/host-meta").content.decode()


@pytest.mark.parametrize("accept", [AP, LD])
def test_actor_document(client: Client, accept: str) -> None:
    response = client.get("/ap/users/police", headers={"Accept": accept})
    assert response.status_code == 200
    assert response["Content-Type"].startswith(AP)
    actor = response.json()
    uri = f"{SITE}/ap/users/police"
    assert actor["id"] == uri
    assert actor["type"] in ("Organization", "Service")
    assert actor["preferredUsername"] == "police"
    assert actor["inbox"] == f"{uri}/inbox"
    assert actor["outbox"] == f"{uri}/outbox"
    assert actor["followers"] == f"{uri}/followers"
    assert actor["endpoints"]["sharedInbox"] == f"{SITE}/ap/inbox"
    assert actor["publicKey"]["id"] == f"{uri}#main-key"
    assert actor["publicKey"]["owner"] == uri
    assert actor["publicKey"]["publicKeyPem"] == department_actor().public_key_pem
    assert actor["url"] == f"{SITE}/"


def test_browser_is_sent_to_the_site(client: Client) -> None:
    response = client.get("/ap/users/police", headers={"Accept": "text/html"})
    assert response.status_code == 302
    assert client.get("/ap/users/nobody", headers={"Accept": AP}).status_code == 404


def test_post_becomes_a_note_with_media_tags_and_audience(
    client: Client, pio: Any, make_post: Any, town: Any
) -> None:
    """A published post is a Note: sanitised content, its page's address, public media with
    alt text (never originals), hashtags of topics and areas, to Public, cc followers."""
    topic = Topic.objects.create(name="Road safety", slug="road-safety")
    image = ready_media(pio, alt_text="Crews at the mill")
    post = make_post(
        topic_ids=(topic.pk,), area_ids=(town["Old Mill"].pk,), attachments=attach((image, "cover"))
    )
    post_publish(actor=pio, post=post)
    ap_post_changed(post.pk)
    response = client.get(f"/ap/users/police/posts/{post.pk}", headers={"Accept": AP})
    assert response.status_code == 200
    note = response.json()
    assert note["type"] == "Note"
    assert note["attributedTo"] == f"{SITE}/ap/users/police"
    assert "<strong>every night</strong>" in note["content"]
    assert note["url"] == f"{SITE}/news/{post.pk}-{post.slug}/"
    assert note["to"] == ["https://www.w3.org/ns/activitystreams#Public"]
    assert note["cc"] == [f"{SITE}/ap/users/police/followers"]
    assert note["published"].endswith("Z")
    [attachment] = note["attachment"]
    assert attachment["name"] == "Crews at the mill"
    assert attachment["url"].startswith(f"{SITE}/media/posts/x/w640.jpg")
    assert "original" not in attachment["url"]
    assert {t["name"] for t in note["tag"]} == {"#RoadSafety", "#OldMill"}
    assert all(t["type"] == "Hashtag" for t in note["tag"])


def test_article_and_tombstone(client: Client, supervisor: Any, make_post: Any) -> None:
    """An article is an Article with its title; once retracted it answers 410 Tombstone."""
    post = make_post(actor=supervisor, kind="article", title="Annual report")
    post_publish(actor=supervisor, post=post)
    ap_post_changed(post.pk)
    article = client.get(f"/ap/users/police/posts/{post.pk}", headers={"Accept": AP}).json()
    assert article["type"] == "Article"
    assert article["name"] == "Annual report"
    post_retract(actor=supervisor, post=post, reason="Published in error.")
    ap_post_changed(post.pk)
    response = client.get(f"/ap/users/police/posts/{post.pk}", headers={"Accept": AP})
    assert response.status_code == 410
    assert response.json()["type"] == "Tombstone"
    assert client.get("/ap/users/police/posts/999999", headers={"Accept": AP}).status_code == 404


def test_outbox_is_paged_and_followers_counted(
    client: Client, pio: Any, make_post: Any, fedi: Any
) -> None:
    local = department_actor()
    follow(local, fedi.user("alice"))
    follow(local, fedi.user("bob"))
    for n in range(22):
        post = make_post(title=f"Update {n}")
        post_publish(actor=pio, post=post)
        ap_post_changed(post.pk)
    outbox = client.get("/ap/users/police/outbox", headers={"Accept": AP}).json()
    assert outbox["type"] == "OrderedCollection"
    assert outbox["totalItems"] == 22
    first = client.get(outbox["first"].removeprefix(SITE), headers={"Accept": AP}).json()
    assert first["type"] == "OrderedCollectionPage"
    assert len(first["orderedItems"]) == 20
    assert first["orderedItems"][0]["type"] == "Create"
    assert first["orderedItems"][0]["object"]["content"].count("Update 21") == 1
    second = client.get(first["next"].removeprefix(SITE), headers={"Accept": AP}).json()
    assert len(second["orderedItems"]) == 2
    assert "next" not in second
    followers = client.get("/ap/users/police/followers", headers={"Accept": AP}).json()
    assert followers["totalItems"] == 2
    assert "orderedItems" not in followers


def test_alert_becomes_a_note(client: Client, make_alert: Any, make_staff: Any) -> None:
    """An issued alert is a Note of the department actor with headline, description, link."""
    dispatcher = make_staff("dispatcher", "supervisor")
    alert = make_alert(dispatcher, category="traffic")
    alert_issue(actor=dispatcher, alert=alert)
    ap_alert_changed(alert.pk)
    assert ap_alert_changed(alert.pk) == []  # once only
    note = client.get(f"/ap/users/police/alerts/{alert.pk}", headers={"Accept": AP}).json()
    assert note["type"] == "Note"
    assert "Main Street closed" in note["content"]
    assert "water main repair" in note["content"]
    assert note["url"] == f"{SITE}/alerts/{alert.pk}/"


def test_area_actor_publishes_its_area_posts(
    client: Client, pio: Any, make_post: Any, make_staff: Any, town: Any, make_alert: Any
) -> None:
    """An area's actor (made by an admin) publishes the posts tagged with its area, and the
    alerts of its own categories only."""
    admin = make_staff("admin")
    area = town["Old Mill"]
    with pytest.raises(NotPermittedError):
        area_actor_create(actor=pio, area=area)
    local = area_actor_create(
        actor=admin, area=area, username="oldmill", alert_categories=["alert"]
    )
    dispatcher = make_staff("dispatcher", "supervisor")
    alert = make_alert(dispatcher, category="traffic")
    alert_issue(actor=dispatcher, alert=alert)
    ap_alert_changed(alert.pk)
    assert not Activity.objects.filter(actor=local).exists()
    assert Activity.objects.filter(alert=alert, actor__username="police").count() == 1
    assert local.area == area
    tagged = make_post(area_ids=(area.pk,))
    other = make_post(title="Elsewhere")
    for post in (tagged, other):
        post_publish(actor=pio, post=post)
        ap_post_changed(post.pk)
    outbox = client.get("/ap/users/oldmill/outbox?page=1", headers={"Accept": AP}).json()
    assert [a["object"]["id"] for a in outbox["orderedItems"]] == [
        f"{SITE}/ap/users/oldmill/posts/{tagged.pk}"
    ]
