"""Backups of the whole site: the database and the media folder, in one verifiable archive.

An archive is a plain tar file holding

- ``database.sqlite3`` (SQLite, copied with SQLite's online backup API, so it is consistent
  while the site runs) or ``database.pgdump`` (PostgreSQL, ``pg_dump --format=custom``, which
  reads one snapshot);
- ``media/…``, every file under ``MEDIA_ROOT``;
- ``manifest.json``, written last: the SHA-256 and size of every other member, when the backup
  was made, the database vendor and the migrations applied.

A restore checks the whole archive against its manifest, the vendor and the migrations before
it changes anything, then replaces the database in one step (SQLite's backup API into the live
file; on PostgreSQL one ``psql`` transaction that drops and recreates the ``public`` schema and
loads the dump) and then swaps in the media folder. There is no transaction spanning database
and media, so every step is logged.

PostgreSQL and the append-only audit triggers: the triggers refuse UPDATE, DELETE and TRUNCATE
on audit entries, not DROP. The restore drops the schema (which drops the triggers with their
table), loads rows with COPY (an insert, which the triggers allow) and recreates the triggers
from the dump after the data, as ``pg_dump`` orders them. No superuser setting such as
``session_replication_role`` is needed.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

from django.conf import settings
from django.db import connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from watchhouse.core.errors import WatchhouseError

logger = logging.getLogger("watchhouse.backup")

FORMAT = "watchhouse-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MEDIA_PREFIX = "media/"
DATABASE_MEMBERS = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
# Seconds a PostgreSQL restore waits for other sessions' locks before giving up unchanged.
PG_LOCK_TIMEOUT_SECONDS = 60
_CHUNK = 1024 * 1024


class BackupError(WatchhouseError):
    """A backup could not be made, or an archive was refused; nothing was changed."""


@dataclass(frozen=True)
class BackupManifest:
    """What an archive holds, as its manifest states it."""

    created_at: str
    vendor: str
    database_member: str
    migrations: tuple[tuple[str, str], ...]
    members: dict[str, dict[str, Any]]

    @property
    def media_files(self) -> list[str]:
        return sorted(name for name in self.members if name.startswith(MEDIA_PREFIX))


# --- Making a backup ---------------------------------------------------------------------


def backup_create(*, output: Path | None = None, using: str = "default") -> Path:
    """Write a backup of the database and media to ``output`` (a new file); return its path.

    Without ``output``, a time-stamped file in ``WATCHHOUSE_BACKUP_DIR``. An existing file is
    never overwritten, and nothing is left behind when the backup fails.
    """
    connection = connections[using]
    vendor = connection.vendor
    if vendor not in DATABASE_MEMBERS:
        raise BackupError(f"Backups support SQLite and PostgreSQL, not {vendor}.")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    if output is None:
        output = Path(settings.WATCHHOUSE_BACKUP_DIR) / f"watchhouse-{stamp}.tar"
    elif output.is_dir():
        output = output / f"watchhouse-{stamp}.tar"
    if output.exists():
        raise BackupError(f"{output} exists already; choose another --output.")
    output.parent.mkdir(parents=True, exist_ok=True)
    media_root = Path(settings.MEDIA_ROOT)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=".watchhouse-backup-", dir=output.parent) as work:
        dump = Path(work) / DATABASE_MEMBERS[vendor]
        migrations = _applied_migrations(using)
        if vendor == "sqlite":
            _dump_sqlite(connection.settings_dict, dump)
        else:
            _dump_postgresql(connection.settings_dict, dump)
        partial = Path(work) / "archive.tar"
        members: dict[str, dict[str, Any]] = {}
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            members[dump.name] = _add_file(tar, dump, dump.name)
            for path, name in _media_files(media_root):
                members[name] = _add_file(tar, path, name)
            manifest = {
                "format": FORMAT,
                "version": FORMAT_VERSION,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "database": {"vendor": vendor, "member": dump.name},
                "migrations": [list(item) for item in migrations],
                "members": members,
            }
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, output)
    logger.info(
        "Backup written to %s: %s database, %d media files, %.1f s.",
        output,
        vendor,
        len(members) - 1,
        time.monotonic() - started,
    )
    return output


def _applied_migrations(using: str) -> list[tuple[str, str]]:
    return sorted(MigrationRecorder(connections[using]).applied_migrations())


def _dump_sqlite(settings_dict: dict[str, Any], dump: Path) -> None:
    name = str(settings_dict["NAME"])
    if name == ":memory:" or "mode=memory" in name or not Path(name).is_file():
        raise BackupError(f"The SQLite database {name} is not a file on disk.")
    source = sqlite3.connect(name, timeout=30)
    target = sqlite3.connect(dump)
    try:
        # One step: the copy is one consistent snapshot, while writers go on in WAL mode.
        source.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")
        _sqlite_check(target, what="The database copy")
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite could not copy {name}: {exc}") from exc
    finally:
        target.close()
        source.close()


def _sqlite_check(db: sqlite3.Connection, *, what: str) -> None:
    result = db.execute("PRAGMA quick_check").fetchone()
    if not result or result[0] != "ok":
        raise BackupError(f"{what} failed SQLite's integrity check: {result}")


def _dump_postgresql(settings_dict: dict[str, Any], dump: Path) -> None:
    _run_pg(
        [_pg_tool("pg_dump"), "--format=custom", "--no-password", f"--file={dump}"],
        settings_dict,
        what="pg_dump",
    )


def _media_files(media_root: Path) -> Iterator[tuple[Path, str]]:
    if not media_root.is_dir():
        return
    for folder, dirs, files in os.walk(media_root):
        dirs.sort()
        for filename in sorted(files):
            path = Path(folder) / filename
            if path.is_symlink() or not path.is_file():
                logger.warning("Backup skips %s: not a regular file.", path)
                continue
            yield path, MEDIA_PREFIX + path.relative_to(media_root).as_posix()


class _HashingReader:
    """Hash what tarfile reads, so the hash is of the bytes archived, not of a second read."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.digest.update(data)
        return data


def _add_file(tar: tarfile.TarFile, path: Path, name: str) -> dict[str, Any]:
    stat = path.stat()
    info = tarfile.TarInfo(name)
    info.size = stat.st_size
    info.mtime = int(stat.st_mtime)
    info.mode = 0o644
    with path.open("rb") as raw:
        reader = _HashingReader(raw)
        try:
            tar.addfile(info, reader)
        except OSError as exc:
            raise BackupError(f"{path} changed while it was being backed up: {exc}") from exc
    return {"sha256": reader.digest.hexdigest(), "size": info.size}


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


# --- Checking an archive -----------------------------------------------------------------


def backup_inspect(path: Path) -> BackupManifest:
    """Read and verify the archive at ``path``: every member against the manifest's hash.

    Raise :class:`BackupError` naming the first problem.
    """
    if not path.is_file():
        raise BackupError(f"{path} does not exist or is not a file.")
    try:
        with tarfile.open(path, "r:") as tar:
            return _inspect(tar, path)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BackupError(f"{path} is not a readable Watchhouse backup: {exc}") from exc


def _inspect(tar: tarfile.TarFile, path: Path) -> BackupManifest:
    entries = tar.getmembers()
    names = [entry.name for entry in entries]
    if MANIFEST not in names:
        raise BackupError(f"{path} is not a Watchhouse backup: it has no {MANIFEST}.")
    if len(set(names)) != len(names):
        raise BackupError(f"{path} holds the same member twice; refusing it.")
    manifest = _read_manifest(tar, path)
    expected = manifest.members
    for entry in entries:
        if entry.name == MANIFEST:
            continue
        if not entry.isreg() or not _safe_name(entry.name):
            raise BackupError(f"{path} holds {entry.name!r}, which a Watchhouse backup never does.")
        if entry.name not in expected:
            raise BackupError(f"{path} holds {entry.name!r}, which its manifest does not list.")
        handle = tar.extractfile(entry)
        if handle is None:
            raise BackupError(f"{path}: {entry.name!r} cannot be read.")
        digest = hashlib.sha256()
        for chunk in _chunks(handle):
            digest.update(chunk)
        if entry.size != expected[entry.name].get("size") or (
            digest.hexdigest() != expected[entry.name].get("sha256")
        ):
            raise BackupError(
                f"{path} is damaged: {entry.name!r} does not match the SHA-256 in its manifest."
            )
    missing = sorted(set(expected) - set(names))
    if missing:
        raise BackupError(f"{path} is incomplete: {', '.join(missing[:5])} missing.")
    return manifest


def _read_manifest(tar: tarfile.TarFile, path: Path) -> BackupManifest:
    handle = tar.extractfile(MANIFEST)
    try:
        raw = json.loads(handle.read() if handle else b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupError(f"{path}: its {MANIFEST} is not valid JSON ({exc}).") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise BackupError(f"{path} is not a Watchhouse backup (unknown manifest format).")
    if raw.get("version") != FORMAT_VERSION:
        raise BackupError(
            f"{path} is a version {raw.get('version')!r} backup; this Watchhouse reads version "
            f"{FORMAT_VERSION}."
        )
    try:
        database = raw["database"]
        members = raw["members"]
        vendor = str(database["vendor"])
        database_member = str(database["member"])
        migrations = tuple((str(app), str(name)) for app, name in raw["migrations"])
        created_at = str(raw["created_at"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BackupError(f"{path}: its {MANIFEST} lacks {exc}.") from exc
    if not isinstance(members, dict) or DATABASE_MEMBERS.get(vendor) != database_member:
        raise BackupError(f"{path}: its {MANIFEST} does not describe a {vendor} database.")
    if database_member not in members:
        raise BackupError(f"{path}: its {MANIFEST} lists no database.")
    for name, facts in members.items():
        if not _safe_name(name) or not isinstance(facts, dict):
            raise BackupError(f"{path}: its {MANIFEST} lists {name!r}, which is not allowed.")
    return BackupManifest(created_at, vendor, database_member, migrations, members)


def _chunks(handle: IO[bytes]) -> Iterator[bytes]:
    while chunk := handle.read(_CHUNK):
        yield chunk


def _safe_name(name: str) -> bool:
    if name in DATABASE_MEMBERS.values():
        return True
    if not name.startswith(MEDIA_PREFIX) or "\\" in name or "\x00" in name:
        return False
    parts = PurePosixPath(name).parts
    return len(parts) > 1 and not any(part in {"", ".", ".."} for part in parts)


# --- Restoring ---------------------------------------------------------------------------


def backup_restore(
    *, path: Path, using: str = "default", say: Callable[[str], None] = logger.info
) -> BackupManifest:
    """Replace the database and the media folder with the contents of the archive at ``path``.

    The archive is verified in full, and checked against this database's vendor and this code's
    migrations, before anything changes; a refused archive changes nothing.
    """
    manifest = backup_inspect(path)
    connection = connections[using]
    if manifest.vendor != connection.vendor:
        raise BackupError(
            f"{path} holds a {manifest.vendor} database, but this site runs on "
            f"{connection.vendor}; restore it into a {manifest.vendor} installation."
        )
    known = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    unknown = sorted(set(manifest.migrations) - known)
    if unknown:
        names = ", ".join(f"{app}.{name}" for app, name in unknown[:5])
        raise BackupError(
            f"{path} was made by a newer Watchhouse (it has migrations this code does not know: "
            f"{names}); upgrade Watchhouse before restoring it."
        )
    media_root = Path(settings.MEDIA_ROOT)
    logger.warning(
        "Restoring %s (made %s) into the %s database %s and %s: both will be replaced.",
        path,
        manifest.created_at,
        manifest.vendor,
        connection.settings_dict["NAME"],
        media_root,
    )
    try:
        media_root.parent.mkdir(parents=True, exist_ok=True)
        work = tempfile.TemporaryDirectory(prefix=".watchhouse-restore-")
        staging = tempfile.TemporaryDirectory(
            prefix=f".{media_root.name}.restore-", dir=media_root.parent
        )
    except OSError as exc:
        raise BackupError(f"No room to unpack {path}: {exc}; nothing was changed.") from exc
    with work, staging:
        dump = Path(work.name) / manifest.database_member
        staged_media = Path(staging.name) / "media"
        try:
            staged_media.mkdir()
            _extract(path, manifest, dump, staged_media)
        except OSError as exc:
            raise BackupError(f"Could not unpack {path}: {exc}; nothing was changed.") from exc
        connection.close()
        if manifest.vendor == "sqlite":
            _restore_sqlite(connection.settings_dict, dump)
        else:
            _restore_postgresql(connection.settings_dict, dump, Path(work.name))
        say(f"Database restored from {path}.")
        logger.warning("Restore: database replaced from %s.", path)
        try:
            _replace_media(staged_media, media_root)
        except OSError as exc:
            logger.error("Restore: media folder %s NOT replaced: %s", media_root, exc)
            raise BackupError(
                f"The database was restored, but the media folder {media_root} could not be "
                f"replaced ({exc}); fix that and run the restore again."
            ) from exc
        say(f"Media restored: {len(manifest.media_files)} files in {media_root}.")
        logger.warning("Restore: media folder %s replaced from %s.", media_root, path)
    pending = known - set(_applied_migrations(using))
    if pending:
        say(f"The restored database lacks {len(pending)} migrations: run `watchhouse migrate`.")
    return manifest


def _extract(path: Path, manifest: BackupManifest, dump: Path, staged_media: Path) -> None:
    """Copy the members out again, re-checking each hash (the file may have changed since)."""
    with tarfile.open(path, "r:") as tar:
        for entry in tar.getmembers():
            if entry.name == MANIFEST:
                continue
            if entry.name == manifest.database_member:
                target = dump
            else:
                target = staged_media.joinpath(*PurePosixPath(entry.name).parts[1:])
                target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(entry)
            if source is None:
                raise BackupError(f"{path}: {entry.name!r} cannot be read.")
            digest = hashlib.sha256()
            with target.open("wb") as out:
                for chunk in _chunks(source):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != manifest.members[entry.name]["sha256"]:
                raise BackupError(f"{path} changed while it was being restored; nothing changed.")


def _restore_sqlite(settings_dict: dict[str, Any], dump: Path) -> None:
    name = str(settings_dict["NAME"])
    if name == ":memory:" or "mode=memory" in name:
        raise BackupError("The configured SQLite database is in memory; nothing to restore into.")
    source = sqlite3.connect(dump)
    try:
        _sqlite_check(source, what="The database in the archive")
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        target = sqlite3.connect(name, timeout=30)
        try:
            # One step under the target's write lock: other connections see the old database
            # or the restored one, never a mix, and a failure leaves the old one.
            source.backup(target)
        finally:
            target.close()
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite could not restore into {name}: {exc}") from exc
    finally:
        source.close()


def _restore_postgresql(settings_dict: dict[str, Any], dump: Path, work: Path) -> None:
    script = work / "restore.sql"
    _run_pg(
        [
            _pg_tool("pg_restore"),
            "--no-owner",
            "--no-privileges",
            f"--file={script}",
            str(dump),
        ],
        settings_dict,
        what="pg_restore",
        with_database=False,
    )
    prelude = work / "prelude.sql"
    prelude.write_text(
        f"SET lock_timeout = '{PG_LOCK_TIMEOUT_SECONDS}s';\n"
        "DROP SCHEMA IF EXISTS public CASCADE;\n"
        "CREATE SCHEMA public AUTHORIZATION pg_database_owner;\n"
        "GRANT USAGE ON SCHEMA public TO PUBLIC;\n"
    )
    _run_pg(
        [
            _pg_tool("psql"),
            "--no-psqlrc",
            "--no-password",
            "--quiet",
            "--single-transaction",
            "--set=ON_ERROR_STOP=1",
            f"--file={prelude}",
            f"--file={script}",
        ],
        settings_dict,
        what="psql (the restore was rolled back; the database is unchanged)",
    )


def _replace_media(staged: Path, media_root: Path) -> None:
    """Put the staged folder in place of ``media_root``: two renames where possible."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    previous = media_root.with_name(f".{media_root.name}.before-restore-{stamp}")
    try:
        if media_root.exists():
            media_root.rename(previous)
        try:
            staged.rename(media_root)
        except OSError:
            if previous.exists():
                previous.rename(media_root)
            raise
    except OSError:
        # A mount point cannot be renamed: copy the files over and remove the extra ones.
        _sync_tree(staged, media_root)
        return
    shutil.rmtree(previous, ignore_errors=True)


def _sync_tree(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    wanted = {p.relative_to(source) for p in source.rglob("*") if p.is_file()}
    for relative in sorted(wanted):
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / relative, destination)
    for existing in sorted(target.rglob("*"), reverse=True):
        relative = existing.relative_to(target)
        if existing.is_file() or existing.is_symlink():
            if relative not in wanted:
                existing.unlink()
        elif existing.is_dir() and not any(existing.iterdir()):
            existing.rmdir()


# --- PostgreSQL client tools -------------------------------------------------------------


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(
            f"{name} is not installed; install the PostgreSQL client tools (the server's major "
            "version or newer)."
        )
    return found


_PG_OPTIONS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "passfile": "PGPASSFILE",
    "service": "PGSERVICE",
    "options": "PGOPTIONS",
    "connect_timeout": "PGCONNECT_TIMEOUT",
}


def _pg_environment(settings_dict: dict[str, Any], *, with_database: bool) -> dict[str, str]:
    """The client tools' environment: connection settings, the password never on argv."""
    env = dict(os.environ)
    for setting, variable in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER")):
        if settings_dict.get(setting):
            env[variable] = str(settings_dict[setting])
    if settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = str(settings_dict["PASSWORD"])
    if with_database:
        env["PGDATABASE"] = str(settings_dict["NAME"])
    for option, variable in _PG_OPTIONS.items():
        value = (settings_dict.get("OPTIONS") or {}).get(option)
        if value:
            env[variable] = str(value)
    return env


def _run_pg(
    command: list[str], settings_dict: dict[str, Any], *, what: str, with_database: bool = True
) -> None:
    result = subprocess.run(  # noqa: S603 - fixed tool, arguments built here
        command,
        env=_pg_environment(settings_dict, with_database=with_database),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise BackupError(f"{what} failed: {' '.join(detail[-5:]) or result.returncode}")
