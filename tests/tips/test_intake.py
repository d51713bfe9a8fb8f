"""The tipster's services: a sealed tip, code and passphrase, the dialogue."""

from __future__ import annotations

import pytest

from tests.tips.conftest import jpeg_with_gps, sealed_path, sealed_upload
from watchhouse.audit.models import AuditEntry
from watchhouse.core import crypto
from watchhouse.core.errors import InvalidInputError
from watchhouse.posts.storage import private_path
from watchhouse.tips.models import Tip, TipFile
from watchhouse.tips.services.intake import TipAccessError, TipLockedError, tipster_open

pytestmark = pytest.mark.django_db


def test_tip_is_sealed_and_its_file_hash_matches(submit, tmp_path) -> None:
    """The stored tip text and file are ciphertext; the recorded SHA-256 is the original's."""
    import hashlib

    photo = jpeg_with_gps(tmp_path / "p.jpg")
    receipt = submit(what="The blue van is parked at 4100 Oak St", files=[sealed_path(photo)])
    tip = Tip.objects.get(pk=receipt.tip.pk)
    assert "blue van" not in tip.content
    assert tip.read_content()["what"] == "The blue van is parked at 4100 Oak St"
    stored = TipFile.objects.get(tip=tip)
    assert stored.sha256 == hashlib.sha256(photo.read_bytes()).hexdigest()
    raw = private_path(stored.path).read_bytes()
    assert photo.read_bytes()[:200] not in raw
    with crypto.open_sealed(private_path(stored.path), stored.wrapped_key) as fh:
        assert fh.read() == photo.read_bytes()
    entry = AuditEntry.objects.get(action="tips.receive")
    assert entry.source_ip is None


def test_lying_file_changes_nothing(submit) -> None:
    """An HTML page named .jpg is refused with a reason and no tip or file is kept."""
    upload = sealed_upload(b"<!doctype html><script>alert(1)</script>", name="cute.jpg")
    with pytest.raises(InvalidInputError, match="web page"):
        submit(files=[upload])
    assert Tip.objects.count() == 0
    assert not private_path(upload.relative or "x").exists()


def test_wrong_passphrase_then_lockout(submit) -> None:
    receipt = submit(passphrase="correct horse battery")
    assert tipster_open(code=receipt.code.lower(), passphrase="correct horse battery", client="a")
    for _ in range(10):
        with pytest.raises(TipAccessError):
            tipster_open(code=receipt.code, passphrase="wrong guess!", client="b")
    with pytest.raises(TipLockedError):
        tipster_open(code=receipt.code, passphrase="correct horse battery", client="c")


def test_sweep_deletes_only_old_staged_uploads(submit, tmp_path) -> None:
    """Staged files a dead request left behind go after a day; fresh ones and evidence stay."""
    import os
    import time

    from django.core.management import call_command

    kept = submit(files=[sealed_path(jpeg_with_gps(tmp_path / "p.jpg"))])
    old, fresh = sealed_upload(b"%PDF-1.4 old"), sealed_upload(b"%PDF-1.4 new")
    day_ago = time.time() - 25 * 3600
    os.utime(private_path(old.relative), (day_ago, day_ago))
    call_command("tips", "sweep-staging")
    assert not private_path(old.relative).exists()
    assert private_path(fresh.relative).exists()
    assert private_path(TipFile.objects.get(tip=kept.tip).path).exists()
