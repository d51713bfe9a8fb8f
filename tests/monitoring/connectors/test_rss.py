"""RSS and Atom feeds read with feedparser from a loopback server: entries become posts
(text, link, time, GeoRSS point, enclosures), an unchanged feed costs a 304, only new
entries are read again, and feeds on platforms that forbid collection are refused."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from tests.monitoring.connectors.conftest import FeedServer, source_row
from watchhouse.core.errors import InvalidInputError
from watchhouse.monitoring.connectors.base import Batch
from watchhouse.monitoring.connectors.rss import RssConnector
from watchhouse.monitoring.models import SourceKind

pytestmark = pytest.mark.django_db

RSS_ITEM = """<item><title>{title}</title><link>https://news.example/{guid}</link>
<guid>{guid}</guid><description>&lt;p&gt;{summary}&lt;/p&gt;</description>
<pubDate>{date}</pubDate>{extra}</item>"""


def rss(*items: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0" xmlns:georss="http://www.georss.org/georss">'
        "<channel><title>Riverside Gazette</title><link>https://news.example/</link>"
        "<language>en-gb</language>" + "".join(items) + "</channel></rss>"
    ).encode()


ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>County Fire Service</title><id>urn:fire</id><updated>2026-11-29T10:00:00Z</updated>
  <entry><title>Grass fire on Hill Road</title><id>urn:fire:1</id>
    <link href="https://fire.example/incidents/1"/><updated>2026-11-29T10:00:00Z</updated>
    <author><name>Duty officer</name></author>
    <summary type="html">&lt;b&gt;Crews&lt;/b&gt; are at the scene &amp;amp; roads closed.</summary>
  </entry>
  <entry><id>urn:fire:2</id><updated>2026-11-29T09:00:00Z</updated></entry>
</feed>"""


def _read(connector: RssConnector, cursor: str) -> list[Batch]:
    return list(connector.read(cursor, stop=threading.Event()))


def _feeds(server: FeedServer) -> None:
    flood = RSS_ITEM.format(
        title="Flood warning for the river", guid="flood", summary="Levels rising &amp;amp; more",
        date="Sun, 29 Nov 2026 11:00:00 GMT",
        extra='<georss:point>51.5074 -0.1278</georss:point>'
              '<enclosure url="https://news.example/river.jpg" type="image/jpeg" length="1"/>',
    )  # fmt: skip
    server.feeds["rss.xml"] = ("application/rss+xml", rss(flood))
    server.feeds["atom.xml"] = ("application/atom+xml", ATOM)


def test_entries_become_posts(analyst: Any) -> None:
    """Both feeds are read: title and summary as plain text, link, time, author, language,
    GeoRSS point as coordinates, the enclosure as an image; an entry without text is
    counted as malformed."""
    with FeedServer() as server:
        _feeds(server)
        urls = [f"{server.url}/rss.xml", f"{server.url}/atom.xml"]
        source = source_row(SourceKind.RSS, {"urls": urls}, analyst)
        batches = _read(RssConnector(source), "")
    flood, fire = [p for b in batches for p in b.posts]
    assert flood.text == "Flood warning for the river\n\nLevels rising & more"
    assert flood.url == "https://news.example/flood"
    assert (flood.lat, flood.lon) == (51.5074, -0.1278)
    assert flood.language == "en-gb"
    assert flood.posted_at.isoformat() == "2026-11-29T11:00:00+00:00"
    assert [(m.url, m.kind) for m in flood.media] == [("https://news.example/river.jpg", "image")]
    assert fire.text == "Grass fire on Hill Road\n\nCrews are at the scene & roads closed."
    assert fire.author_handle == "Duty officer"
    assert fire.lat is None
    assert fire.source == "rss" and fire.source_id == source.pk
    assert batches[1].refused == {"malformed": 1}


def test_unchanged_feeds_cost_a_304_and_only_new_entries_are_read(analyst: Any) -> None:
    """The cursor keeps each feed's ETag: an unchanged feed is answered 304 and gives nothing;
    a changed feed gives only the entries newer than those read."""
    with FeedServer() as server:
        _feeds(server)
        urls = [f"{server.url}/rss.xml", f"{server.url}/atom.xml"]
        source = source_row(SourceKind.RSS, {"urls": urls}, analyst)
        connector = RssConnector(source)
        cursor = _read(connector, "")[-1].cursor
        assert len(cursor) <= 500 and json.loads(cursor)
        again = _read(connector, cursor)
        assert [p for b in again for p in b.posts] == []
        assert server.statuses()[-2:] == [("/rss.xml", 304), ("/atom.xml", 304)]
        newer = RSS_ITEM.format(title="Bridge closed", guid="bridge", summary="Police at scene",
                                date="Sun, 29 Nov 2026 12:00:00 GMT", extra="")  # fmt: skip
        old = server.feeds["rss.xml"][1].decode()
        server.feeds["rss.xml"] = (
            "application/rss+xml", old.replace("<language>en-gb</language>",
                                               "<language>en-gb</language>" + newer).encode(),
        )  # fmt: skip
        third = _read(connector, again[-1].cursor)
    assert [p.text for b in third for p in b.posts] == ["Bridge closed\n\nPolice at scene"]


def test_an_oversized_or_missing_feed_is_counted_not_raised(analyst: Any, settings: Any) -> None:
    """A feed over the size cap is refused as giant; a 404 is logged; reading goes on."""
    settings.WATCHHOUSE_MONITORING_RSS_MAX_BYTES = 1000
    with FeedServer() as server:
        server.feeds["big.xml"] = ("application/rss+xml", rss("<!--" + "x" * 5000 + "-->"))
        urls = [f"{server.url}/big.xml", f"{server.url}/gone.xml"]
        source = source_row(SourceKind.RSS, {"urls": urls}, analyst)
        big, gone = _read(RssConnector(source), "")
    assert big.refused == {"giant": 1} and big.posts == []
    assert gone.refused == {} and gone.posts == []


@pytest.mark.parametrize(
    "url",
    [
        "https://x.com/someone/rss",
        "https://twitter.com/someone",
        "https://www.facebook.com/feeds/page.php?id=1",
        "https://rss.app.instagram.com/feed",
        "https://www.tiktok.com/@someone",
        "https://www.linkedin.com/company/x/feed",
    ],
)
def test_platforms_that_forbid_collection_are_refused(url: str) -> None:
    """No connector reads from platforms whose terms forbid it, whatever feed address names
    them."""
    with pytest.raises(InvalidInputError, match="forbids automated collection"):
        RssConnector.validate_config({"urls": [url]})


def test_other_bad_addresses_are_refused() -> None:
    """Not http(s), or no feed at all: a clear error."""
    with pytest.raises(InvalidInputError, match="http"):
        RssConnector.validate_config({"urls": ["ftp://news.example/feed"]})
    with pytest.raises(InvalidInputError, match="at least one"):
        RssConnector.validate_config({"urls": []})
    assert RssConnector.validate_config({"url": "https://xcom.example/feed"}) == {
        "urls": ["https://xcom.example/feed"]
    }


def test_private_addresses_are_refused_except_the_sites_own(analyst: Any, settings: Any) -> None:
    """The address guard refuses a feed on a private address (no reaching into the agency's
    network through a source), except this site's own feeds."""
    settings.WATCHHOUSE_AP_ALLOW_PRIVATE = False
    with FeedServer() as own, FeedServer() as other:
        _feeds(own)
        _feeds(other)
        settings.SITE_URL = own.url
        urls = [f"{own.url}/rss.xml", f"{other.url}/rss.xml"]
        source = source_row(SourceKind.RSS, {"urls": urls}, analyst)
        ours, theirs = _read(RssConnector(source), "")
        assert other.requests == []
    assert [p.text.split("\n")[0] for p in ours.posts] == ["Flood warning for the river"]
    assert theirs.posts == []


def test_a_named_feed_for_a_case(analyst: Any) -> None:
    """``account_posts("rss", url)``: the feed's entries, newest first, since a time."""
    from datetime import UTC, datetime

    from watchhouse.monitoring.connectors.accounts import account_posts

    with FeedServer() as server:
        _feeds(server)
        posts = account_posts("rss", f"{server.url}/atom.xml")
        later = account_posts(
            "rss", f"{server.url}/rss.xml", since=datetime(2026, 11, 29, 12, tzinfo=UTC)
        )
    assert [p.text.split("\n")[0] for p in posts] == ["Grass fire on Hill Road"]
    assert later == []
    with pytest.raises(InvalidInputError, match="forbids"):
        account_posts("rss", "https://twitter.com/someone")
