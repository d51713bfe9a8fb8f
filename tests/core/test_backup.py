"""`watchhouse backup` and `watchhouse restore`: a round trip loses nothing, and an archive that
is damaged, foreign or from elsewhere is refused with a clear error and changes nothing.

Backup and restore act on the real test database (SQLite file or PostgreSQL test database), so
these tests run without a wrapping transaction; the round trip runs the commands as child
processes, exactly as an operator would.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection

from watchhouse.accounts.models import User
from watchhouse.accounts.services import staff_create, staff_set_roles, totp_device_create
from watchhouse.audit.models import AuditEntry
from watchhouse.audit.selectors import audit_chain_verify

pytestmark = pytest.mark.usefixtures("transactional_db")

PASSWORD = "correct horse battery staple 42"  # noqa: S105 - test fixture


def _make_site(media_root: Path) -> None:
    """Staff with roles, authenticators and audit entries, all through services; media."""
    admin, _ = staff_create(
        actor=None,
        username="admin1",
        email="admin1@police.example",
        password=PASSWORD,
        roles=["admin"],
    )
    for name in ("pio1", "analyst1"):
        staff_create(
            actor=admin,
            username=name,
            email=f"{name}@police.example",
            password=PASSWORD,
            roles=["pio"],
        )
    staff_set_roles(actor=admin, user=User.objects.get(username="analyst1"), roles=["analyst"])
    totp_device_create(actor=admin, user=User.objects.get(username="pio1"))
    (media_root / "tips" / "2025").mkdir(parents=True)
    (media_root / "tips" / "2025" / "photo.jpg").write_bytes(os.urandom(200_000))
    (media_root / "posts").mkdir()
    (media_root / "posts" / "Straße notice.txt").write_text("Road closed on Main Street.\n")


def _snapshot(media_root: Path) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """Every row of every table, and the SHA-256 of every media file."""
    tables = {
        model._meta.label: list(model._base_manager.order_by("pk").values())
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    }
    media = {
        path.relative_to(media_root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(media_root.rglob("*"))
        if path.is_file()
    }
    return tables, media


def _change_everything(media_root: Path) -> None:
    admin = User.objects.get(username="admin1")
    staff_create(
        actor=admin,
        username="late1",
        email="late1@police.example",
        password=PASSWORD,
        roles=["dispatcher"],
    )
    User.objects.filter(username="pio1").update(email="changed@police.example")
    User.objects.filter(username="analyst1").delete()
    (media_root / "tips" / "2025" / "photo.jpg").write_bytes(b"overwritten")
    (media_root / "posts" / "Straße notice.txt").unlink()
    (media_root / "added-later.txt").write_text("not in the backup")


def test_backup_and_restore_round_trip_loses_nothing(
    run_watchhouse: Callable[..., Any], media_root: Path, tmp_path: Path
):
    """Back up, change and delete rows and media, restore: every row of every table and every
    media file is back exactly, and the audit chain verifies."""
    _make_site(media_root)
    before = _snapshot(media_root)
    assert len(before[0]["audit.AuditEntry"]) == 5
    archive = tmp_path / "backups" / "site.tar"

    made = run_watchhouse("backup", "--output", str(archive))
    assert made.returncode == 0, made.stderr
    assert f"Backup written to {archive}" in made.stdout
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {"manifest.json", "media/tips/2025/photo.jpg", "media/posts/Straße notice.txt"} <= names

    _change_everything(media_root)
    assert _snapshot(media_root) != before

    restored = run_watchhouse("restore", str(archive), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert "every SHA-256 matches" in restored.stdout
    assert _snapshot(media_root) == before
    verified = run_watchhouse("audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "Audit chain intact: 5 entries verified" in verified.stdout
    assert audit_chain_verify().ok


# --- Refused archives ----------------------------------------------------------------------


def _repack(
    source: Path,
    target: Path,
    *,
    manifest: Callable[[dict[str, Any]], None] = lambda m: None,
    rename: dict[str, str] | None = None,
    extra: dict[str, bytes] | None = None,
    write_manifest: bool = True,
) -> Path:
    """Copy an archive with changes, keeping its manifest's hashes consistent unless told."""
    rename = rename or {}
    with tarfile.open(source) as tar, tarfile.open(target, "w") as out:
        data = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        for member in tar.getmembers():
            if member.name == "manifest.json":
                continue
            content = tar.extractfile(member).read()  # type: ignore[union-attr]
            name = rename.get(member.name, member.name)
            if name != member.name:
                data["members"][name] = data["members"].pop(member.name)
            _add(out, name, content)
        for name, content in (extra or {}).items():
            _add(out, name, content)
        manifest(data)
        if write_manifest:
            _add(out, "manifest.json", json.dumps(data).encode())
    return target


def _add(tar: tarfile.TarFile, name: str, content: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    tar.addfile(info, io.BytesIO(content))


def _flip_byte_in(source: Path, target: Path, member: str) -> Path:
    with tarfile.open(source) as tar:
        offset = tar.getmember(member).offset_data
    raw = bytearray(source.read_bytes())
    raw[offset + 10] ^= 0xFF
    target.write_bytes(bytes(raw))
    return target


def _other_vendor(data: dict[str, Any]) -> None:
    data["database"] = (
        {"vendor": "postgresql", "member": "database.pgdump"}
        if connection.vendor == "sqlite"
        else {"vendor": "sqlite", "member": "database.sqlite3"}
    )


OTHER_DB_MEMBER = "database.pgdump" if connection.vendor == "sqlite" else "database.sqlite3"
THIS_DB_MEMBER = "database.sqlite3" if connection.vendor == "sqlite" else "database.pgdump"

BAD_ARCHIVES: dict[str, tuple[Callable[[Path, Path], Path], str]] = {
    "damaged media file": (
        lambda good, bad: _flip_byte_in(good, bad, "media/tips/2025/photo.jpg"),
        "is damaged: 'media/tips/2025/photo.jpg' does not match the SHA-256",
    ),
    "truncated": (
        lambda good, bad: bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2]) and bad,
        "is not a readable Watchhouse backup|is not a Watchhouse backup",
    ),
    "not a tar file": (
        lambda good, bad: bad.write_bytes(b"%PDF-1.7 not a backup at all" * 100) and bad,
        "is not a readable Watchhouse backup",
    ),
    "no manifest": (
        lambda good, bad: _repack(good, bad, write_manifest=False),
        "is not a Watchhouse backup: it has no manifest.json",
    ),
    "foreign manifest": (
        lambda good, bad: _repack(good, bad, manifest=lambda m: m.update(format="other-tool")),
        "is not a Watchhouse backup",
    ),
    "unlisted member": (
        lambda good, bad: _repack(good, bad, extra={"media/smuggled.txt": b"x"}),
        "holds 'media/smuggled.txt', which its manifest does not list",
    ),
    "path outside the media folder": (
        lambda good, bad: _repack(good, bad, extra={"media/../../escape.txt": b"x"}),
        "holds 'media/../../escape.txt', which a Watchhouse backup never does",
    ),
    "member missing": (
        lambda good, bad: _repack(
            good,
            bad,
            manifest=lambda m: m["members"].update(
                {"media/gone.txt": {"sha256": "0" * 64, "size": 1}}
            ),
        ),
        "is incomplete: media/gone.txt missing",
    ),
    "other database vendor": (
        lambda good, bad: _repack(
            good, bad, manifest=_other_vendor, rename={THIS_DB_MEMBER: OTHER_DB_MEMBER}
        ),
        f"database, but this site runs on {connection.vendor}",
    ),
    "newer migrations": (
        lambda good, bad: _repack(
            good, bad, manifest=lambda m: m["migrations"].append(["core", "9999_from_the_future"])
        ),
        "made by a newer Watchhouse .* core.9999_from_the_future",
    ),
}


@pytest.mark.parametrize("case", list(BAD_ARCHIVES))
def test_refused_archive_changes_nothing(case: str, media_root: Path, tmp_path: Path):
    """A damaged, foreign or mismatched archive is refused with an error that says why, and
    the database and media stay as they were."""
    _make_site(media_root)
    good = tmp_path / "good.tar"
    call_command("backup", "--output", str(good), stdout=io.StringIO())
    _change_everything(media_root)
    before = _snapshot(media_root)

    make_bad, message = BAD_ARCHIVES[case]
    bad = make_bad(good, tmp_path / "bad.tar")
    with pytest.raises(CommandError, match=message):
        call_command("restore", str(bad), "--yes", stdout=io.StringIO())
    assert _snapshot(media_root) == before


def test_restore_asks_before_replacing_anything(media_root: Path, tmp_path: Path, monkeypatch):
    """Without --yes and no one at a terminal to answer, restore refuses and changes nothing;
    --check verifies the archive only."""
    _make_site(media_root)
    archive = tmp_path / "site.tar"
    call_command("backup", "--output", str(archive), stdout=io.StringIO())
    _change_everything(media_root)
    before = _snapshot(media_root)
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
    with pytest.raises(CommandError, match="re-run with --yes"):
        call_command("restore", str(archive), stdout=io.StringIO())
    out = io.StringIO()
    call_command("restore", str(archive), "--check", stdout=out)
    assert "every SHA-256 matches" in out.getvalue()
    assert _snapshot(media_root) == before


def test_backup_never_overwrites(media_root: Path, tmp_path: Path):
    archive = tmp_path / "site.tar"
    archive.write_bytes(b"an older backup")
    with pytest.raises(CommandError, match="exists already"):
        call_command("backup", "--output", str(archive), stdout=io.StringIO())
    assert archive.read_bytes() == b"an older backup"
    assert AuditEntry.objects.count() == 0
