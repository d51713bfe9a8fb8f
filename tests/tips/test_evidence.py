"""Evidence: the export a prosecutor can verify, downloads with a reason, audited previews
and metadata, and the chain of custody of each file."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import zipfile
from pathlib import Path

import pytest

from tests.tips.conftest import jpeg_with_gps, sealed_path, video_file
from watchhouse.audit.models import AuditEntry
from watchhouse.core import crypto
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.posts.storage import private_path
from watchhouse.tips.models import TipFile
from watchhouse.tips.services import evidence, work
from watchhouse.tips.services.dialogue import tip_message_send, tip_note_add

pytestmark = pytest.mark.django_db


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    return jpeg_with_gps(tmp_path / "IMG 0042 (Sam's phone).jpg")


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return video_file(tmp_path / "clip.mp4", seconds=1)


def _with_preview(file: TipFile, tmp_path: Path) -> bytes:
    """Give ``file`` a sealed preview, as the worker would: a small JPEG without EXIF."""
    from PIL import Image

    small = tmp_path / f"preview-{file.pk}.jpg"
    Image.new("RGB", (64, 48), (200, 10, 10)).save(small, "JPEG")
    relative = f"tips/previews/{file.tip.code}/{file.pk}"
    sealed = crypto.seal_file(private_path(relative), [small.read_bytes()])
    file.preview_path, file.preview_key, file.preview_mime = (
        relative,
        sealed.wrapped_key,
        "image/jpeg",
    )
    file.save(update_fields=["preview_path", "preview_key", "preview_mime"])
    return small.read_bytes()


def test_export_zip_verifies_against_manifest_and_originals(
    submit, investigator, photo, clip
) -> None:
    """Every original's SHA-256, recomputed from the ZIP, equals the manifest's, the stored
    one and that of the file the tipster sent; merged duplicates' files come along."""
    tip = submit(what="Van at 4100 Oak St", files=[sealed_path(photo)]).tip
    dup = submit(what="Same van, video", files=[sealed_path(clip)]).tip
    work.tip_merge(actor=investigator, duplicate=dup, into=tip)
    tip_message_send(actor=investigator, tip=tip, body="What colour was the van?")
    tip_note_add(actor=investigator, tip=tip, body="Matches case 26-1234")
    out = io.BytesIO()
    summary = evidence.tip_export(actor=investigator, tip=tip, reason="Court file", out=out)
    sent = {photo.read_bytes(), clip.read_bytes()}
    assert summary == evidence.ExportSummary(files=2, bytes=sum(len(b) for b in sent))

    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as zf:
        assert zf.testzip() is None
        manifest = json.loads(zf.read("manifest.json"))
        rows = list(csv.DictReader(io.StringIO(zf.read("manifest.csv").decode())))
        text = zf.read("tip.txt").decode()
        stored = {f.sha256: f for f in TipFile.objects.all()}
        assert len(manifest["files"]) == 2
        for entry in manifest["files"]:
            info = zf.getinfo(entry["path"])
            assert info.compress_type == zipfile.ZIP_STORED
            data = zf.read(entry["path"])
            digest = hashlib.sha256(data).hexdigest()
            assert digest == entry["sha256"] and digest in stored
            assert data in sent
            assert entry["bytes"] == len(data)
            assert {r["sha256"] for r in rows if r["path"] == entry["path"]} == {digest}
        names = [e["original_name"] for e in manifest["files"]]
        assert names == [photo.name, "clip.mp4"]
        assert manifest["files"][0]["path"] == "originals/001-IMG_0042_Sam_s_phone_.jpg"
        assert manifest["files"][1]["tip"] == dup.code
        assert manifest["merged_tips"] == [dup.code]
    assert "Van at 4100 Oak St" in text and "Same van, video" in text
    assert "det.rivera" in text and "What colour was the van?" in text
    assert "[INTERNAL NOTE" in text and "Matches case 26-1234" in text
    custody = manifest["files"][0]["custody"]
    assert [c["action"] for c in custody] == ["tips.receive", "tips.export"]
    assert custody[1]["justification"] == "Court file" and custody[1]["actor"] == "det.rivera"
    exports = AuditEntry.objects.filter(action="tips.export")
    assert exports.count() == 3  # the tip and each file
    assert {e.justification for e in exports} == {"Court file"}


def test_export_needs_a_reason_and_the_investigator_role(submit, investigator, make_staff, photo):
    tip = submit(files=[sealed_path(photo)]).tip
    with pytest.raises(InvalidInputError, match="Say why"):
        evidence.tip_export(actor=investigator, tip=tip, reason="  ", out=io.BytesIO())
    with pytest.raises(NotPermittedError):
        evidence.tip_export(actor=make_staff("analyst"), tip=tip, reason="x", out=io.BytesIO())
    assert not AuditEntry.objects.filter(action="tips.export").exists()


def test_tampered_original_makes_the_export_fail_loudly(submit, investigator, photo) -> None:
    """A byte changed in the stored (sealed) file stops the export with an error."""
    tip = submit(files=[sealed_path(photo)]).tip
    stored = TipFile.objects.get(tip=tip)
    path = private_path(stored.path)
    os.chmod(path, 0o600)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(crypto.SealError):
        evidence.tip_export(actor=investigator, tip=tip, reason="Court", out=io.BytesIO())
    failed = AuditEntry.objects.get(action="tips.export_failed")
    assert failed.object_type == "tips.tipfile" and failed.object_id == str(stored.pk)


def test_hash_mismatch_with_the_record_makes_the_export_fail(submit, investigator, photo):
    """A file that decrypts but no longer matches its recorded SHA-256 is refused."""
    tip = submit(files=[sealed_path(photo)]).tip
    TipFile.objects.filter(tip=tip).update(sha256="0" * 64)
    with pytest.raises(evidence.EvidenceIntegrityError, match="SHA-256"):
        evidence.tip_export(actor=investigator, tip=tip, reason="Court", out=io.BytesIO())


def test_original_download_requires_a_reason_and_is_audited(submit, investigator, photo):
    tip = submit(files=[sealed_path(photo)]).tip
    file = TipFile.objects.get(tip=tip)
    with pytest.raises(InvalidInputError, match="Say why"):
        evidence.tip_file_original(actor=investigator, file=file, reason="")
    assert not AuditEntry.objects.filter(action="tips.file_download").exists()
    data = b"".join(
        evidence.tip_file_original(actor=investigator, file=file, reason="Enhance the plate")
    )
    assert data == photo.read_bytes()
    entry = AuditEntry.objects.get(action="tips.file_download")
    assert entry.justification == "Enhance the plate"
    assert (entry.object_type, entry.object_id) == ("tips.tipfile", str(file.pk))


def test_preview_and_metadata_reads_are_audited(submit, investigator, photo, tmp_path):
    tip = submit(files=[sealed_path(photo)]).tip
    file = TipFile.objects.select_related("tip").get(tip=tip)
    with pytest.raises(InvalidInputError, match="no preview"):
        evidence.tip_file_preview(actor=investigator, file=file)
    expected = _with_preview(file, tmp_path)
    chunks, mime = evidence.tip_file_preview(actor=investigator, file=file)
    assert (b"".join(chunks), mime) == (expected, "image/jpeg")
    file.metadata = crypto.seal_json({"gps": [39.95, -89.35], "make": "TestCam"})
    file.save(update_fields=["metadata"])
    assert evidence.tip_file_metadata(actor=investigator, file=file)["make"] == "TestCam"
    actions = AuditEntry.objects.filter(object_type="tips.tipfile").values_list("action", flat=True)
    assert sorted(actions) == ["tips.file_view", "tips.metadata_view"]


def test_custody_log_lists_every_handling_in_order(submit, investigator, photo, tmp_path):
    tip = submit(files=[sealed_path(photo)]).tip
    other = submit(files=[sealed_path(photo)]).tip
    file = TipFile.objects.select_related("tip").get(tip=tip)
    _with_preview(file, tmp_path)
    b"".join(evidence.tip_file_preview(actor=investigator, file=file)[0])
    b"".join(evidence.tip_file_original(actor=investigator, file=file, reason="Look closer"))
    evidence.tip_export(actor=investigator, tip=tip, reason="For the DA", out=io.BytesIO())
    with pytest.raises(InvalidInputError, match="who receives"):
        evidence.tip_file_transfer(actor=investigator, file_or_tip=tip, recipient="", reason="x")
    evidence.tip_file_transfer(
        actor=investigator, file_or_tip=tip, recipient="DA office, J. Park", reason="Trial"
    )
    log = evidence.custody_log(file)
    assert [e.action for e in log] == [
        "tips.receive",
        "tips.file_view",
        "tips.file_download",
        "tips.export",
        "tips.transfer",
    ]
    assert [e.justification for e in log][2:] == ["Look closer", "For the DA", "Trial"]
    assert log[-1].data["recipient"] == "DA office, J. Park"
    # The other tip's identical photo has a custody log of its own.
    other_file = TipFile.objects.get(tip=other)
    assert [e.action for e in evidence.custody_log(other_file)] == ["tips.receive"]


def test_export_streams_a_large_file_without_reading_it_whole(submit, investigator, photo) -> None:
    """A file of several encrypted chunks is exported intact (chunk boundaries included)."""
    from tests.tips.conftest import sealed_upload

    block = hashlib.sha256(b"seed").digest() * (1 << 15)  # 1 MiB, not compressible by design
    parts = [block, block[::-1], block[:12345]]
    header = photo.read_bytes()
    tip = submit(files=[sealed_upload([header, *parts], name="long.jpg")]).tip
    out = io.BytesIO()
    summary = evidence.tip_export(actor=investigator, tip=tip, reason="Court", out=out)
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as zf:
        name = next(n for n in zf.namelist() if n.startswith("originals/"))
        assert zf.read(name) == header + b"".join(parts)
    assert summary.bytes == len(header) + sum(len(p) for p in parts)
