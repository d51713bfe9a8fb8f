"""The Bluesky adapter against a real AT Protocol PDS running on loopback.

``tests/outlets/pds/serve.mjs`` starts ``@atproto/dev-env``'s PDS (with an in-memory PLC
directory, SQLite and a disk blobstore: no Docker, PostgreSQL or Redis) and creates one
account with an app password. The adapter is built the way the services build it
(:func:`~watchhouse.outlets.networks.registry.adapter_for` from an ``Outlet`` with sealed
credentials), and what it wrote is read back from the PDS over plain XRPC
(``com.atproto.repo.getRecord``/``listRecords``, ``com.atproto.sync.getBlob``), not through
the SDK the adapter uses. Install the PDS with
``npm ci --prefix tests/outlets/pds --no-audit --no-fund``.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import regex  # type: ignore[import-untyped]
import requests

from tests.conftest import need
from tests.outlets.networks.conftest import image_item
from watchhouse.core.crypto import seal_json
from watchhouse.outlets.models import Outlet
from watchhouse.outlets.networks.base import Adapter, OutletError, Published, Rendered
from watchhouse.outlets.networks.registry import adapter_for
from watchhouse.outlets.rendering import fit

PDS_DIR = Path(__file__).resolve().parent / "pds"
SCRIPT = PDS_DIR / "serve.mjs"
DEV_ENV = PDS_DIR / "node_modules" / "@atproto" / "dev-env" / "package.json"
# Loading dev-env's module graph takes seconds on a loaded machine; the PDS itself starts in 3.
START_TIMEOUT = 180
TIMEOUT = (5, 10)
POST = "app.bsky.feed.post"
LINK = "https://police.example.org/posts/7/road-works/"
GRAPHEME = regex.compile(r"\X")


@pytest.fixture(scope="module")
def pds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A running PDS and its account: ``url``, ``handle``, ``did``, ``app_password``..."""
    node = shutil.which("node")
    need(node is not None, "node is not installed")
    need(DEV_ENV.is_file(), f"@atproto/dev-env is not installed in {PDS_DIR} (npm ci there)")
    assert node is not None
    work = tmp_path_factory.mktemp("pds")
    # dev-env keeps the PDS's SQLite files and blobs under the temporary directory.
    env = {**os.environ, "TMPDIR": str(work), "LOG_ENABLED": "false"}
    log_path = work / "pds.log"
    with (
        log_path.open("wb") as log,
        subprocess.Popen(  # noqa: S603 - a fixed script under the test tree
            [node, str(SCRIPT)],
            cwd=PDS_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
        ) as process,
    ):
        stdout, stdin = process.stdout, process.stdin
        assert stdout is not None
        assert stdin is not None
        lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=START_TIMEOUT)
        except queue.Empty:
            line = b""
        try:
            if not line:
                process.kill()
                process.wait(timeout=10)
                pytest.fail(f"The PDS did not start: {log_path.read_text()[-3000:]}")
            yield json.loads(line)
        finally:
            if process.poll() is None:
                stdin.close()  # serve.mjs stops when its stdin ends
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)


@pytest.fixture
def outlet(db: None, make_staff: Callable[..., Any], pds: dict[str, Any]) -> Outlet:
    return Outlet.objects.create(
        network="bluesky",
        name="Bluesky (local PDS)",
        api_base=pds["url"],
        account=pds["handle"],
        credentials=seal_json({"app_password": pds["app_password"]}),
        created_by=make_staff("admin"),
    )


@pytest.fixture
def adapter(outlet: Outlet) -> Adapter:
    return adapter_for(outlet)


def xrpc(pds: dict[str, Any], method: str, **params: Any) -> requests.Response:
    return requests.get(f"{pds['url']}/xrpc/{method}", params=params, timeout=TIMEOUT)


def get_record(pds: dict[str, Any], uri: str) -> requests.Response:
    repo, collection, rkey = uri.removeprefix("at://").split("/")
    return xrpc(pds, "com.atproto.repo.getRecord", repo=repo, collection=collection, rkey=rkey)


def stored(pds: dict[str, Any], uri: str) -> dict[str, Any]:
    answer = get_record(pds, uri)
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def listed_uris(pds: dict[str, Any]) -> set[str]:
    answer = xrpc(pds, "com.atproto.repo.listRecords", repo=pds["did"], collection=POST, limit=100)
    assert answer.status_code == 200, answer.text
    return {item["uri"] for item in answer.json()["records"]}


def strong_ref(value: dict[str, Any]) -> dict[str, str]:
    return {"uri": value["uri"], "cid": value["cid"]}


def facet_spans(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each facet's feature, keyed by the text its UTF-8 byte range covers."""
    encoded = record["text"].encode()
    return {
        encoded[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode(): f["features"][0]
        for f in record.get("facets", [])
    }


def test_check_logs_in_with_the_app_password_and_keeps_the_session(
    adapter: Adapter, outlet: Outlet, pds: dict[str, Any]
) -> None:
    result = adapter.check()
    assert result.ok
    assert pds["handle"] in result.message
    assert pds["did"] in result.message
    assert result.credentials is not None
    session = result.credentials["session"]
    # The kept session is enough on its own: a wrong app password is never tried.
    outlet.credentials = seal_json({"app_password": "wrong-pass-word-xxxx", "session": session})
    assert adapter_for(outlet).check().ok


def test_a_wrong_app_password_is_an_auth_error(outlet: Outlet) -> None:
    outlet.credentials = seal_json({"app_password": "aaaa-bbbb-cccc-dddd"})
    with pytest.raises(OutletError) as caught:
        adapter_for(outlet).check()
    assert caught.value.kind == "auth"
    assert not caught.value.retryable


def test_a_post_with_a_link_hashtag_and_image_is_stored_as_written(
    adapter: Adapter, pds: dict[str, Any], tmp_path: Path
) -> None:
    text = f"Straße gesperrt 🚧 — détour via Elm St: {LINK} #Traffic"
    photo = image_item(tmp_path, alt="A patrol car blocking Main Street at dusk")
    published = adapter.publish(
        Rendered(parts=[text], link=LINK, title="Road works", media=[photo], hashtags=["#Traffic"])
    )

    assert published.remote_id.startswith(f"at://{pds['did']}/{POST}/")
    rkey = published.remote_id.rsplit("/", 1)[-1]
    assert published.remote_url.endswith(f"/post/{rkey}")
    answer = stored(pds, published.remote_id)
    assert published.parts[0]["cid"] == answer["cid"]
    record = answer["value"]
    assert record["text"] == text
    assert record["langs"] == ["en"]
    assert "reply" not in record
    # Facets index UTF-8 bytes: the ß, 🚧 and — before the link make them differ from
    # character offsets.
    assert facet_spans(record) == {
        LINK: {"$type": "app.bsky.richtext.facet#link", "uri": LINK},
        "#Traffic": {"$type": "app.bsky.richtext.facet#tag", "tag": "Traffic"},
    }
    embed = record["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    [image] = embed["images"]
    assert image["alt"] == "A patrol car blocking Main Street at dusk"
    assert (image["aspectRatio"]["width"], image["aspectRatio"]["height"]) == (640, 480)
    blob = image["image"]
    assert blob["$type"] == "blob"
    assert blob["mimeType"] == "image/jpeg"
    assert blob["size"] == photo.bytes
    got = xrpc(pds, "com.atproto.sync.getBlob", did=pds["did"], cid=blob["ref"]["$link"])
    assert got.status_code == 200
    assert got.content == photo.path.read_bytes()


def test_a_text_over_300_graphemes_goes_out_as_a_thread_of_replies(
    adapter: Adapter, pds: dict[str, Any]
) -> None:
    sentence = "Crews résurface Main Street 🚧 between 1st and 9th Avenue tonight. "
    parts, _warnings = fit("bluesky", sentence * 12, link=LINK, tags=["#Traffic"])
    assert len(parts) >= 3
    assert all(len(GRAPHEME.findall(part)) <= 300 for part in parts)
    published = adapter.publish(Rendered(parts=parts, link=LINK, title="Road works"))

    assert [p["kind"] for p in published.parts] == ["post"] + ["reply"] * (len(parts) - 1)
    first = published.parts[0]
    records = [stored(pds, part["id"]) for part in published.parts]
    assert [r["value"]["text"] for r in records] == parts
    assert "reply" not in records[0]["value"]
    # Without an image, the first part carries the link as a card.
    assert records[0]["value"]["embed"]["$type"] == "app.bsky.embed.external"
    assert records[0]["value"]["embed"]["external"]["uri"] == LINK
    for before, record in zip(records, records[1:], strict=False):
        reply = record["value"]["reply"]
        assert strong_ref(reply["root"]) == {"uri": first["id"], "cid": first["cid"]}
        assert strong_ref(reply["parent"]) == {"uri": before["uri"], "cid": before["cid"]}
        assert "embed" not in record["value"]
    assert facet_spans(records[0]["value"])[LINK]["uri"] == LINK
    assert "#Traffic" in facet_spans(records[-1]["value"])


def test_the_pds_refuses_a_part_over_300_graphemes_and_nothing_is_left(
    adapter: Adapter, pds: dict[str, Any]
) -> None:
    before = listed_uris(pds)
    with pytest.raises(OutletError) as caught:
        adapter.publish(Rendered(parts=["é" * 301], link=LINK, title="Too long"))
    assert caught.value.kind == "too_long" and not caught.value.retryable
    assert caught.value.status == 400
    assert listed_uris(pds) == before


def test_delete_removes_every_record_of_the_thread(
    adapter: Adapter, pds: dict[str, Any], tmp_path: Path
) -> None:
    published: Published = adapter.publish(
        Rendered(
            parts=["Road works tonight. (1/2)", "Expect delays. (2/2)"],
            link=LINK,
            title="Road works",
            media=[image_item(tmp_path)],
        )
    )
    uris = {part["id"] for part in published.parts}
    assert uris <= listed_uris(pds)

    adapter.delete(published.parts)

    for uri in uris:
        answer = get_record(pds, uri)
        assert answer.status_code == 400
        assert answer.json()["error"] == "RecordNotFound"
    assert not uris & listed_uris(pds)
    # Deleting again (a retried job) is harmless.
    adapter.delete(published.parts)


def test_a_notice_answers_the_first_post(adapter: Adapter, pds: dict[str, Any]) -> None:
    published = adapter.publish(Rendered(parts=["Missing child found."], link=LINK, title="Found"))
    notice = adapter.notice(published.parts, "Correction: the address was 12 Elm St.")

    assert notice["kind"] == "notice"
    record = stored(pds, notice["id"])["value"]
    assert record["text"] == "Correction: the address was 12 Elm St."
    first = published.parts[0]
    assert strong_ref(record["reply"]["root"]) == {"uri": first["id"], "cid": first["cid"]}
    assert strong_ref(record["reply"]["parent"]) == {"uri": first["id"], "cid": first["cid"]}
