"""File import: JSONL or CSV files of posts, for archives and evaluation.

Columns (CSV) or keys (JSONL): ``text`` (required), ``author``, ``time`` or ``created_at``
(ISO 8601 or Unix seconds; the time of import when absent), ``url``, ``lang``, ``lat``,
``lon``, ``id``. A bad row is counted as refused ("malformed", "giant") and logged with its
line; the rest of the file is read. A file that is neither JSONL nor CSV with a ``text``
column is refused as a whole.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from django.utils import timezone
from django.utils.translation import gettext as _

from watchhouse.core.errors import InvalidInputError
from watchhouse.monitoring.connectors.base import Batch, Connector, max_post_chars
from watchhouse.monitoring.connectors.jetstream import parse_time
from watchhouse.monitoring.models import SourceKind
from watchhouse.monitoring.posts import MalformedPostError, PublicPost

logger = logging.getLogger("watchhouse.monitoring")

BATCH_ROWS = 1000
MAX_LINE_BYTES = 1024 * 1024


def _file_format(path: Path) -> str:
    """ "jsonl" or "csv", from the name or else the first line; raise for anything else."""
    if not path.is_file():
        raise InvalidInputError(_("There is no file %(p)s.") % {"p": path})
    suffix = path.suffix.lower()
    with path.open("rb") as handle:
        head = handle.read(64 * 1024)
    first = next((line.strip() for line in head.splitlines() if line.strip()), b"")
    if suffix in (".jsonl", ".ndjson", ".json") or first.startswith(b"{"):
        if first and not first.startswith(b"{"):
            raise InvalidInputError(_("%(p)s is not JSON lines (one object a line).") % {"p": path})
        return "jsonl"
    header = first.decode("utf-8", "replace").lower()
    if suffix in (".csv", ".tsv", ".txt") or "," in header:
        columns = next(csv.reader([header]), [])
        if "text" not in (c.strip() for c in columns):
            raise InvalidInputError(_("%(p)s has no “text” column.") % {"p": path})
        return "csv"
    raise InvalidInputError(_("%(p)s is neither JSON lines nor CSV.") % {"p": path})


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise MalformedPostError(f"not a number: {str(value)[:20]!r}") from None


def row_post(row: dict[str, Any], *, file_key: str, line: int, now: datetime) -> PublicPost:
    """One row of an import file as a :class:`PublicPost`."""
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        raise MalformedPostError("no text")
    when = row.get("time") or row.get("created_at")
    if when in (None, ""):
        posted_at = now
    elif isinstance(when, (int, float)) or (isinstance(when, str) and when.strip().isdigit()):
        try:
            posted_at = datetime.fromtimestamp(float(when), tz=UTC)
        except (OverflowError, ValueError, OSError):
            raise MalformedPostError("time out of range") from None
    else:
        posted_at = parse_time(when)
    lat, lon = _number(row.get("lat")), _number(row.get("lon"))
    if (lat is None) != (lon is None):
        raise MalformedPostError("only one of lat and lon")
    if lat is not None and lon is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise MalformedPostError("coordinates out of range")
    remote_id = str(row.get("id") or "").strip() or f"{file_key}:{line}"
    url = str(row.get("url") or "")
    return PublicPost(
        source=SourceKind.FILE,
        remote_id=remote_id[:500],
        text=text,
        posted_at=posted_at,
        author_handle=str(row.get("author") or "")[:300],
        url=url[:500] if url.startswith(("http://", "https://")) else "",
        language=str(row.get("lang") or "")[:16],
        lat=lat,
        lon=lon,
    )


def _jsonl_rows(path: Path, start: int) -> Iterator[tuple[int, dict[str, Any] | str]]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if number <= start or not raw.strip():
                continue
            if len(raw) > MAX_LINE_BYTES:
                yield number, "giant"
                continue
            try:
                row = json.loads(raw)
            except ValueError:
                yield number, "malformed"
                continue
            yield number, row if isinstance(row, dict) else "malformed"


def _csv_rows(path: Path, start: int) -> Iterator[tuple[int, dict[str, Any] | str]]:
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames:
            reader.fieldnames = [f.strip().lower() for f in reader.fieldnames]
        number = 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error:
                number += 1
                yield number, "giant"
                continue
            number += 1
            if number <= start:
                continue
            if None in row:  # more fields than the header names
                yield number, "malformed"
                continue
            yield number, row


def _batches(
    rows: Iterable[tuple[int, dict[str, Any] | str]], *, file_key: str, source_id: int | None
) -> Iterator[Batch]:
    now = timezone.now()
    limit = max_post_chars()
    batch = Batch([], "")
    for number, row in rows:
        batch.cursor = str(number)
        if isinstance(row, str):
            logger.info("Import %s line %s refused: %s", file_key, number, row)
            batch.refuse(row)
        else:
            try:
                post = row_post(row, file_key=file_key, line=number, now=now)
            except MalformedPostError as error:
                logger.info("Import %s line %s refused: %s", file_key, number, error)
                batch.refuse("malformed")
            else:
                if len(post.text) > limit:
                    batch.refuse("giant")
                else:
                    post.source_id = source_id
                    batch.posts.append(post)
        if len(batch.posts) + sum(batch.refused.values()) >= BATCH_ROWS:
            yield batch
            batch = Batch([], batch.cursor)
    if batch.posts or batch.refused:
        yield batch


def posts_read_file(
    path: Path | str, *, start: int = 0, source_id: int | None = None
) -> Iterator[Batch]:
    """Batches of the posts in a JSONL or CSV file (from line ``start`` on); the cursor is
    the last line read. Raises :class:`InvalidInputError` at once for a file of neither
    kind."""
    path = Path(path)
    kind = _file_format(path)
    file_key = hashlib.blake2b(path.name.encode(), digest_size=4).hexdigest()
    rows = _jsonl_rows(path, start) if kind == "jsonl" else _csv_rows(path, start)
    return _batches(rows, file_key=file_key, source_id=source_id)


class FileConnector(Connector):
    kind: ClassVar[str] = SourceKind.FILE
    terms: ClassVar[str] = (
        "File import: posts the agency already holds lawfully (its own archives, evaluation "
        "sets under their licences); nothing is fetched."
    )

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        path = config.get("path")
        if not isinstance(path, str) or not path.strip():
            raise InvalidInputError(_("A file source needs the path of a JSONL or CSV file."))
        _file_format(Path(path))
        return {"path": path}

    def read(self, cursor: str, *, stop: threading.Event) -> Iterator[Batch]:
        start = int(cursor) if cursor.isdigit() else 0
        for batch in posts_read_file(self.config["path"], start=start, source_id=self.source.pk):
            yield batch
            if stop.is_set():
                return
