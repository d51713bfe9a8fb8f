"""Incident files that arrive without someone at the command line: uploaded in the console, or
picked up on a schedule from a folder the records system exports to or from an address
(``watchhouse import-incident-feed``, run daily as a daily job of the worker,
``WATCHHOUSE_DAILY``, or by cron).

Each file goes through :func:`~watchhouse.crimemap.services.incidents_import`, which checks it
by content (a parquet file by its magic number, a CSV file by its columns) and imports it in
one transaction with its report. A file whose SHA-256 an earlier import recorded is skipped
by the feed: importing it again would change nothing, and only cost time.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from watchhouse.accounts.roles import require_role
from watchhouse.core.errors import InvalidInputError, WatchhouseError
from watchhouse.crimemap.models import ImportReport
from watchhouse.crimemap.services import IMPORT_ROLES, incidents_import

if TYPE_CHECKING:
    from watchhouse.accounts.models import User

# What an incident export may be called.
SUFFIXES = (".csv", ".parquet")


def _file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _copy_upload(upload: UploadedFile, path: Path) -> None:
    with path.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)


def upload_import(
    *,
    actor: User,
    upload: UploadedFile,
    format: str,
    mapping: UploadedFile | None = None,
    jurisdiction: str | None = None,
    since: date | None = None,
    withdraw_missing: bool = False,
) -> ImportReport:
    """Import a file uploaded in the console (and its mapping, for the mapping format)."""
    require_role(actor, *IMPORT_ROLES, action="import incidents")
    limit = settings.WATCHHOUSE_CRIME_UPLOAD_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise InvalidInputError(
            f"The file is {upload.size:,} bytes; the console takes up to {limit:,}. Import "
            "larger exports with `watchhouse import-incidents`."
        )
    name = Path(upload.name or "upload").name
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidInputError(f"{name} is not a .csv or .parquet file.")
    with tempfile.TemporaryDirectory(prefix="watchhouse-upload-") as folder:
        path = Path(folder) / f"export{suffix}"
        _copy_upload(upload, path)
        mapping_path = None
        if mapping is not None:
            mapping_path = Path(folder) / "mapping.toml"
            _copy_upload(mapping, mapping_path)
        return incidents_import(
            actor=actor, path=path, format=format, mapping=mapping_path,
            jurisdiction=jurisdiction or None, since=since, withdraw_missing=withdraw_missing,
            file_name=name,
        )  # fmt: skip


@dataclass
class FeedRun:
    """What one run over a folder or an address did."""

    imported: list[ImportReport] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def _download(url: str, folder: Path) -> Path:
    """Fetch ``url`` into ``folder`` within the time and size limits; the file's path."""
    name = Path(urlsplit(url).path).name or "export"
    path = folder / (name if Path(name).suffix.lower() in SUFFIXES else f"{name}.csv")
    limit = settings.WATCHHOUSE_CRIME_FEED_MAX_BYTES
    written = 0
    try:
        with requests.get(
            url,
            headers={"User-Agent": "Watchhouse incident import"},
            timeout=settings.WATCHHOUSE_CRIME_FEED_TIMEOUT_SECONDS,
            stream=True,
        ) as response:
            if response.status_code != 200:
                raise InvalidInputError(f"{url}: HTTP {response.status_code}.")
            with path.open("wb") as out:
                for chunk in response.iter_content(1 << 20):
                    written += len(chunk)
                    if written > limit:
                        raise InvalidInputError(f"{url}: larger than {limit:,} bytes; not read.")
                    out.write(chunk)
    except requests.RequestException as exc:
        raise InvalidInputError(f"{url}: {exc.__class__.__name__}: {exc}") from exc
    return path


def feed_import(
    *,
    location: str,
    format: str,
    mapping: Path | None = None,
    jurisdiction: str | None = None,
    source: str | None = None,
    withdraw_missing: bool = False,
) -> FeedRun:
    """Import the new files of a folder (oldest first) or the file at an http(s) address.

    A file that cannot be imported is named in :attr:`FeedRun.failed` with the reason, and the
    others still import.
    """
    run = FeedRun()
    with tempfile.TemporaryDirectory(prefix="watchhouse-feed-") as scratch:
        if location.lower().startswith(("http://", "https://")):
            files = [_download(location, Path(scratch))]
        elif location.lower().startswith(("ftp:", "file:", "s3:")):
            raise InvalidInputError(f"{location}: give a folder or an http(s) address.")
        else:
            folder = Path(location)
            if not folder.is_dir():
                raise InvalidInputError(f"{location} is not a folder.")
            files = sorted(
                (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES),
                key=lambda p: (p.stat().st_mtime, p.name),
            )
        for path in files:
            digest = _file_sha256(path)
            if ImportReport.objects.filter(file_sha256=digest).exists():
                run.skipped.append(path.name)
                continue
            try:
                report = incidents_import(
                    actor=None, path=path, format=format, mapping=mapping,
                    jurisdiction=jurisdiction, source=source, withdraw_missing=withdraw_missing,
                )  # fmt: skip
            except WatchhouseError as exc:
                run.failed.append((path.name, str(exc)))
            else:
                run.imported.append(report)
    return run
