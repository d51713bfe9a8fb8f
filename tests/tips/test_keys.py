"""Key rotation: every sealed value moves to the new key while everything stays readable,
and no file is rewritten."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.management import CommandError, call_command

from tests.tips.conftest import committed, drain, jpeg_with_gps, sealed_path
from watchhouse.audit.models import AuditEntry
from watchhouse.core import crypto
from watchhouse.posts.storage import private_path
from watchhouse.tips.models import Tip, TipFile, TipMessage
from watchhouse.tips.services.dialogue import tip_message_send
from watchhouse.tips.services.intake import tipster_reply
from watchhouse.tips.services.keys import keys_check, keys_rotate

pytestmark = pytest.mark.django_db

OLD = crypto.new_key()
NEW = crypto.new_key()


def everything_read() -> dict[str, object]:
    """Every sealed value decrypted, and every file's and preview's plaintext hashed."""
    seen: dict[str, object] = {}
    for tip in Tip.objects.order_by("pk"):
        seen[f"tip{tip.pk}"] = (tip.read_content()["what"], tip.read_contact())
    for message in TipMessage.objects.order_by("pk"):
        seen[f"message{message.pk}"] = message.read_body()
    for row in TipFile.objects.order_by("pk"):
        with crypto.open_sealed(private_path(row.path), row.wrapped_key) as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()
        assert digest == row.sha256
        with crypto.open_sealed(private_path(row.preview_path), row.preview_key) as fh:
            preview = hashlib.sha256(fh.read()).hexdigest()
        seen[f"file{row.pk}"] = (row.read_name(), row.read_metadata()["make"], digest, preview)
    return seen


def stored_files() -> dict[str, bytes]:
    root = private_path("tips")
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def tips_under_old_key(settings, submit, investigator, tmp_path):
    settings.WATCHHOUSE_ENCRYPTION_KEYS = [OLD]
    for n in range(3):
        photo = jpeg_with_gps(tmp_path / f"p{n}.jpg")
        with committed():
            receipt = submit(
                what=f"Tip number {n} about the red car",
                contact=f"caller{n}@example.org",
                files=[sealed_path(photo)],
            )
            tip_message_send(actor=investigator, tip=receipt.tip, body=f"Question {n}?")
            tipster_reply(tip=receipt.tip, body=f"Answer {n}.")
    drain()
    assert TipFile.objects.filter(status="ready").count() == 3
    return everything_read()


def test_rotation_moves_everything_to_the_new_key(settings, tips_under_old_key) -> None:
    """With the new key first, everything reads before and after rotation; afterwards the
    old key can go, and the files on disk are byte for byte the same."""
    files_before = stored_files()
    settings.WATCHHOUSE_ENCRYPTION_KEYS = [NEW, OLD]
    assert everything_read() == tips_under_old_key
    with pytest.raises(CommandError, match="old key"):
        call_command("tips", "check-keys", stdout=io.StringIO())
    assert keys_check()["total"] == 3 * 2 + 6 + 3 * 4

    out = io.StringIO()
    call_command("tips", "rotate-keys", stdout=out)
    assert "Tip.content: 3 re-encrypted" in out.getvalue()
    assert "TipFile.wrapped_key: 3 re-encrypted" in out.getvalue()
    assert keys_check()["total"] == 0
    call_command("tips", "check-keys", stdout=io.StringIO())
    entry = AuditEntry.objects.get(action="tips.keys_rotated")
    assert entry.data["changed"]["TipFile.preview_key"] == 3

    settings.WATCHHOUSE_ENCRYPTION_KEYS = [NEW]
    assert everything_read() == tips_under_old_key
    assert stored_files() == files_before
    # A second run finds nothing to do.
    again = keys_rotate()
    assert again.total_changed == 0
    assert again.total_current == 3 * 2 + 6 + 3 * 4


def test_reads_work_in_the_middle_of_rotation(settings, tips_under_old_key) -> None:
    """Between any two batches of a rotation, every tip, message and file still reads."""
    settings.WATCHHOUSE_ENCRYPTION_KEYS = [NEW, OLD]
    reads: list[bool] = []

    class EveryBatch(io.StringIO):
        def write(self, text: str) -> int:
            reads.append(everything_read() == tips_under_old_key)
            return super().write(text)

    report = keys_rotate(batch=1, stdout=EveryBatch())
    assert len(reads) == 3 + 6 + 3
    assert all(reads)
    assert report.total_changed == 3 * 2 + 6 + 3 * 4
    settings.WATCHHOUSE_ENCRYPTION_KEYS = [NEW]
    assert everything_read() == tips_under_old_key


def test_without_the_old_key_nothing_unrotated_reads(settings, tips_under_old_key) -> None:
    """Dropping the old key before rotating makes tips unreadable, which check-keys warns
    about first."""
    settings.WATCHHOUSE_ENCRYPTION_KEYS = [NEW]
    with pytest.raises(crypto.SealError):
        Tip.objects.first().read_content()


def test_new_key_prints_a_usable_key(settings) -> None:
    out = io.StringIO()
    call_command("tips", "new-key", stdout=out)
    key = out.getvalue().strip()
    settings.WATCHHOUSE_ENCRYPTION_KEYS = [key]
    assert crypto.unseal(crypto.seal("hello")) == "hello"
    assert key not in (OLD, NEW)
