"""File import (JSONL and CSV): good rows become posts, each bad row is counted as refused
and the rest of the file is read; a file of neither kind is refused as a whole."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.monitoring.connectors.conftest import source_row
from watchhouse.core.errors import InvalidInputError
from watchhouse.monitoring.connectors.files import FileConnector, posts_read_file
from watchhouse.monitoring.models import SourceKind


def _jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n",
        encoding="utf-8",
    )
    return path


def test_jsonl_rows_and_bad_rows(tmp_path: Path) -> None:
    """Posts carry text, author, time, url, language and coordinates; a broken line, a row
    without text, one with half a coordinate and a giant one are counted, not fatal."""
    path = _jsonl(tmp_path / "posts.jsonl", [
        {"id": "p1", "text": "Fire at the mill", "author": "amy", "time": "2026-11-29T10:00:00Z",
         "url": "https://example.org/p1", "lang": "en", "lat": 51.5, "lon": -0.12},
        "{broken",
        {"text": "", "author": "bob"},
        {"text": "Half a place", "lat": 51.5},
        {"text": "x" * 20000},
        {"text": "Road closed", "created_at": 1795946400},
        [1, 2],
    ])  # fmt: skip
    batches = list(posts_read_file(path))
    posts = [p for b in batches for p in b.posts]
    assert [p.text for p in posts] == ["Fire at the mill", "Road closed"]
    first, second = posts
    assert (first.remote_id, first.author_handle, first.language) == ("p1", "amy", "en")
    assert (first.lat, first.lon) == (51.5, -0.12)
    assert first.posted_at.isoformat() == "2026-11-29T10:00:00+00:00"
    assert first.source == "file" and first.url == "https://example.org/p1"
    assert second.posted_at.isoformat() == "2026-11-29T10:00:00+00:00"
    assert second.remote_id.endswith(":6")  # no id: the file and line name it
    refused: dict[str, int] = {}
    for batch in batches:
        for reason, n in batch.refused.items():
            refused[reason] = refused.get(reason, 0) + n
    assert refused == {"malformed": 4, "giant": 1}
    assert batches[-1].cursor == "7"


def test_csv_rows_and_resuming(tmp_path: Path) -> None:
    """CSV columns are read by name (any case); a row with an unreadable time is refused;
    reading from a cursor skips what was read."""
    path = tmp_path / "archive.csv"
    path.write_text(
        "ID,Text,Author,Time,Lang,Lat,Lon\n"
        "a,Smoke seen downtown,cat,2026-11-29T09:00:00+01:00,en,,\n"
        "b,Bad time,dan,yesterday-ish,en,,\n"
        'c,"Shots heard, Main St",eve,,en,40.7,-74.0\n',
        encoding="utf-8",
    )
    posts = [p for b in posts_read_file(path) for p in b.posts]
    assert [(p.remote_id, p.text) for p in posts] == [
        ("a", "Smoke seen downtown"),
        ("c", "Shots heard, Main St"),
    ]
    assert posts[0].posted_at.isoformat() == "2026-11-29T09:00:00+01:00"
    assert (posts[1].lat, posts[1].lon) == (40.7, -74.0)
    [batch] = list(posts_read_file(path))
    assert batch.refused == {"malformed": 1}
    rest = [p.remote_id for b in posts_read_file(path, start=3) for p in b.posts]
    assert rest == ["c"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("posts.bin", "\x00\x01 binary", "neither"),
        ("notes.csv", "author,time\nx,y\n", "no “text” column"),
        ("posts.jsonl", "text,author\n", "not JSON lines"),
        ("missing.csv", None, "no file"),
    ],
)
def test_a_file_of_neither_kind_is_refused(
    tmp_path: Path, name: str, content: str | None, message: str
) -> None:
    """Refused as a whole, with a clear message, before anything is read."""
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInputError, match=message):
        posts_read_file(path)


@pytest.mark.django_db
def test_the_file_connector_resumes_from_its_cursor(tmp_path: Path, analyst: Any) -> None:
    """A file source reads its file from the cursor on and tags posts with the source."""
    path = _jsonl(tmp_path / "p.jsonl", [{"text": "one"}, {"text": "two"}, {"text": "three"}])
    source = source_row(SourceKind.FILE, {"path": str(path)}, analyst)
    connector = FileConnector(source)
    [batch] = list(connector.read("1", stop=threading.Event()))
    assert [p.text for p in batch.posts] == ["two", "three"]
    assert {p.source_id for p in batch.posts} == {source.pk}
    assert batch.cursor == "3"
