"""Evidence: viewing, downloading, transferring and exporting a tip's files, each a link in
the chain of custody.

The chain of custody of a file is the audit log filtered for it: who viewed its preview, read
its metadata, downloaded, exported or handed it over, when and why. An export is a ZIP a
prosecutor can check without this software: the originals, stored (media is already
compressed), beside a manifest of names, sizes, SHA-256 digests, times and the custody log.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING, Any, BinaryIO

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from watchhouse.audit.models import AuditEntry
from watchhouse.audit.services import audit_record
from watchhouse.core import crypto
from watchhouse.core.errors import InvalidInputError
from watchhouse.posts.storage import private_path
from watchhouse.tips.models import MessageKind, Tip, TipFile, TipMessage
from watchhouse.tips.policy import require_investigator
from watchhouse.tips.services.work import reward_code_mask

if TYPE_CHECKING:
    from datetime import datetime

    from watchhouse.accounts.models import User

FILE_TYPE = "tips.tipfile"
TIP_TYPE = "tips.tip"
MAX_REASON = 1000
MAX_RECIPIENT = 300
# Entries on the tip that record a file arriving (its first custody link).
ARRIVAL_ACTIONS = ("tips.receive", "tips.tipster_reply")


class EvidenceIntegrityError(crypto.SealError):
    """A stored original no longer matches the SHA-256 recorded when it arrived."""


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote: how many originals, and their bytes."""

    files: int
    bytes: int


def _reason(reason: str, what: str) -> str:
    reason = reason.strip()
    if not reason:
        raise InvalidInputError(
            _("Say why you %(what)s: the reason goes in the chain of custody.") % {"what": what}
        )
    if len(reason) > MAX_REASON:
        raise InvalidInputError(_("A reason is at most %(n)d characters.") % {"n": MAX_REASON})
    return reason


def custody_log(file: TipFile) -> list[AuditEntry]:
    """The chain of custody of ``file``, oldest first: its arrival on the tip, then every
    audit entry recorded on the file itself."""
    arrivals = [
        entry
        for entry in AuditEntry.objects.filter(
            object_type=TIP_TYPE, object_id=str(file.tip_id), action__in=ARRIVAL_ACTIONS
        ).order_by("seq")
        if _arrival_of(entry, file)
    ]
    own = AuditEntry.objects.filter(object_type=FILE_TYPE, object_id=str(file.pk)).order_by("seq")
    return arrivals[:1] + list(own)


def _arrival_of(entry: AuditEntry, file: TipFile) -> bool:
    data = entry.data if isinstance(entry.data, dict) else {}
    if entry.action == "tips.tipster_reply":
        return file.message_id is not None and data.get("message") == file.message_id
    if file.message_id is not None:
        return False
    digests = [f.get("sha256") for f in data.get("files", []) if isinstance(f, dict)]
    return not digests or file.sha256 in digests


def _open(file: TipFile) -> crypto.SealedReader:
    return crypto.SealedReader(private_path(file.path), file.wrapped_key)


def _stream(reader: crypto.SealedReader, expected: str | None) -> Iterator[bytes]:
    """The plaintext of ``reader``; with ``expected``, checked against that SHA-256 at the end
    (raising :class:`EvidenceIntegrityError`)."""
    digest = hashlib.sha256()
    try:
        for chunk in reader.chunks():
            digest.update(chunk)
            yield chunk
    finally:
        reader.close()
    if expected is not None and digest.hexdigest() != expected:
        raise EvidenceIntegrityError(
            "The stored original no longer matches the SHA-256 recorded when it arrived."
        )


def tip_file_preview(*, actor: User, file: TipFile) -> tuple[Iterator[bytes], str]:
    """The stripped, resized copy of a file for quick viewing, and its MIME type; audited as
    a view."""
    require_investigator(actor, action="view tip files")
    if not file.preview_path or not file.preview_key:
        raise InvalidInputError(_("This file has no preview (yet); download the original."))
    reader = crypto.SealedReader(private_path(file.preview_path), file.preview_key)
    try:
        with transaction.atomic():
            audit_record(
                actor=actor,
                action="tips.file_view",
                obj=file,
                data={"tip": file.tip_id, "mime": file.preview_mime},
            )
    except BaseException:
        reader.close()
        raise
    return _stream(reader, None), file.preview_mime or "application/octet-stream"


def tip_file_original(*, actor: User, file: TipFile, reason: str) -> Iterator[bytes]:
    """The original as the tipster sent it, streamed; the download is audited with its reason.

    The stream checks the SHA-256 as it goes and raises :class:`EvidenceIntegrityError` at the
    end if the file changed (each chunk is authenticated as well, so a changed byte stops the
    stream where it is).
    """
    require_investigator(actor, action="download originals")
    reason = _reason(reason, _("download the original"))
    reader = _open(file)
    try:
        with transaction.atomic():
            audit_record(
                actor=actor,
                action="tips.file_download",
                obj=file,
                justification=reason,
                data={"tip": file.tip_id, "sha256": file.sha256, "bytes": file.size},
            )
    except BaseException:
        reader.close()
        raise
    return _stream(reader, file.sha256)


def tip_file_metadata(*, actor: User, file: TipFile) -> dict[str, Any]:
    """What a file says about itself (time, GPS, device): audited, investigators only."""
    require_investigator(actor, action="read file metadata")
    with transaction.atomic():
        audit_record(actor=actor, action="tips.metadata_view", obj=file, data={"tip": file.tip_id})
    return file.read_metadata()


def _evidence_files(tip: Tip) -> list[TipFile]:
    """The tip's files, then those of the tips merged into it."""
    own = list(TipFile.objects.filter(tip=tip).order_by("received_at", "id"))
    merged = TipFile.objects.filter(tip__merged_into=tip).order_by(
        "tip__received_at", "tip_id", "received_at", "id"
    )
    return own + list(merged.select_related("tip"))


def tip_file_transfer(
    *, actor: User, file_or_tip: TipFile | Tip, recipient: str, reason: str
) -> list[AuditEntry]:
    """Record that a file (or every file of a tip, merged duplicates' included) was handed to
    ``recipient``; one custody entry per file."""
    require_investigator(actor, action="transfer evidence")
    reason = _reason(reason, _("transfer the evidence"))
    recipient = recipient.strip()
    if not recipient:
        raise InvalidInputError(_("Say who receives the evidence."))
    if len(recipient) > MAX_RECIPIENT:
        raise InvalidInputError(
            _("The recipient is at most %(n)d characters.") % {"n": MAX_RECIPIENT}
        )
    files = [file_or_tip] if isinstance(file_or_tip, TipFile) else _evidence_files(file_or_tip)
    if not files:
        raise InvalidInputError(_("This tip has no files to transfer."))
    with transaction.atomic():
        return [
            audit_record(
                actor=actor,
                action="tips.transfer",
                obj=file,
                justification=reason,
                data={"tip": file.tip_id, "recipient": recipient, "sha256": file.sha256},
            )
            for file in files
        ]


# --- Export ----------------------------------------------------------------------------------


def safe_name(name: str, fallback: str = "file") -> str:
    """A file name safe in any ZIP tool and file system: letters, digits, dot, dash and
    underscore, at most 100 characters, no leading dot."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_name).strip("._")
    if len(cleaned) > 100:
        stem, dot, ext = cleaned.rpartition(".")
        cleaned = f"{stem[: 99 - len(ext)]}.{ext}" if dot and len(ext) <= 10 else cleaned[:100]
    return cleaned or fallback


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else ""


def _custody_rows(entries: Iterable[AuditEntry]) -> list[dict[str, Any]]:
    return [
        {
            "time": _iso(e.created_at),
            "actor": e.actor_label,
            "action": e.action,
            "justification": e.justification,
            "recipient": (e.data or {}).get("recipient", "") if isinstance(e.data, dict) else "",
        }
        for e in entries
    ]


def _tip_text(tips: list[Tip]) -> str:
    """The tips' text and dialogue, as plain text (contact details are left out: the
    tipster gave them to the department, not to a court file)."""
    lines: list[str] = []
    for tip in tips:
        content = tip.read_content()
        title = f"Tip {tip.code}"
        if tip.merged_into_id:
            title += f" (merged into {tip.merged_into.code if tip.merged_into else ''})"
        lines += [title, "=" * len(title), ""]
        lines.append(f"Received: {_iso(tip.received_at)}  Channel: {tip.get_channel_display()}")
        lines.append(f"State: {tip.get_state_display()}  Outcome: {tip.get_outcome_display()}")
        for key, label in (
            ("what", "What happened"),
            ("where", "Where"),
            ("when", "When"),
            ("reference", "Reference"),
        ):
            lines += ["", f"{label}:", str(content.get(key) or "-")]
        if content.get("lat") is not None:
            lines += ["", f"Map point: {content.get('lat')}, {content.get('lon')}"]
        lines += ["", "Dialogue and notes", "------------------"]
        messages = TipMessage.objects.filter(tip=tip).select_related("author")
        for message in messages.order_by("created_at", "id"):
            if message.kind == MessageKind.FROM_TIPSTER:
                who = "tipster"
            else:
                who = message.author.get_username() if message.author else "system"
            tag = " [INTERNAL NOTE, not shown to the tipster]" if message.kind == "note" else ""
            body = reward_code_mask(message.read_body())
            lines += ["", f"{_iso(message.created_at)} {who}{tag}:", body]
        lines += ["", ""]
    return "\n".join(lines)


def _write_original(zf: zipfile.ZipFile, arcname: str, file: TipFile) -> int:
    """Stream one original into the archive, refusing it if its SHA-256 changed."""
    info = zipfile.ZipInfo(arcname, date_time=timezone.localtime(file.received_at).timetuple()[:6])
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o444 << 16
    reader = _open(file)
    digest = hashlib.sha256()
    written = 0
    try:
        with zf.open(info, "w", force_zip64=True) as dest:
            for chunk in reader.chunks():
                digest.update(chunk)
                dest.write(chunk)
                written += len(chunk)
    finally:
        reader.close()
    if digest.hexdigest() != file.sha256 or written != file.size:
        raise EvidenceIntegrityError(
            f"{arcname} does not match the SHA-256 recorded when it arrived; export stopped."
        )
    return written


def tip_export(*, actor: User, tip: Tip, reason: str, out: BinaryIO) -> ExportSummary:
    """Write the tip's evidence to ``out`` as a ZIP: ``originals/``, ``tip.txt``,
    ``manifest.json`` and ``manifest.csv``; the files of tips merged into it are included.

    The export is recorded in every file's chain of custody (and on the tip) before the first
    byte is written, so the manifest's custody log includes it. Each original's SHA-256 is
    recomputed as it streams; a mismatch (or a changed encrypted chunk) raises
    :class:`EvidenceIntegrityError` (or :class:`crypto.SealError`), records the failure, and
    leaves ``out`` incomplete: the caller discards it.
    """
    require_investigator(actor, action="export evidence")
    reason = _reason(reason, _("export the evidence"))
    tips = [tip, *Tip.objects.filter(merged_into=tip).order_by("received_at", "id")]
    files = _evidence_files(tip)
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="tips.export",
            obj=tip,
            justification=reason,
            data={"files": [f.pk for f in files], "bytes": sum(f.size for f in files)},
        )
        for file in files:
            audit_record(
                actor=actor,
                action="tips.export",
                obj=file,
                justification=reason,
                data={"tip": tip.pk, "sha256": file.sha256},
            )
    codes = {t.pk: t.code for t in tips}
    entries: list[dict[str, Any]] = []
    total = 0
    current: TipFile | None = None
    try:
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for n, file in enumerate(files, start=1):
                current = file
                name = file.read_name()
                arcname = f"originals/{n:03d}-{safe_name(name)}"
                total += _write_original(zf, arcname, file)
                entries.append(
                    {
                        "path": arcname,
                        "original_name": name,
                        "tip": codes.get(file.tip_id, ""),
                        "bytes": file.size,
                        "sha256": file.sha256,
                        "received_at": _iso(file.received_at),
                        "mime": file.mime,
                        "custody": _custody_rows(custody_log(file)),
                    }
                )
            current = None
            zf.writestr("tip.txt", _tip_text(tips))
            manifest = {
                "tip": tip.code,
                "merged_tips": [t.code for t in tips[1:]],
                "exported_at": _iso(timezone.now()),
                "exported_by": actor.get_username(),
                "reason": reason,
                "hash_algorithm": "SHA-256",
                "files": entries,
            }
            zf.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
            zf.writestr("manifest.csv", _manifest_csv(entries))
    except crypto.SealError as exc:
        with transaction.atomic():
            audit_record(
                actor=actor,
                action="tips.export_failed",
                obj=current or tip,
                justification=reason,
                data={"tip": tip.pk, "error": str(exc)},
            )
        raise
    return ExportSummary(files=len(files), bytes=total)


def _manifest_csv(entries: list[dict[str, Any]]) -> str:
    """One row per custody entry of each file (a file with none gets one row)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "path",
            "original_name",
            "tip",
            "bytes",
            "sha256",
            "received_at",
            "mime",
            "custody_time",
            "custody_actor",
            "custody_action",
            "custody_justification",
            "custody_recipient",
        ]
    )
    for entry in entries:
        head = [
            entry["path"],
            entry["original_name"],
            entry["tip"],
            entry["bytes"],
            entry["sha256"],
            entry["received_at"],
            entry["mime"],
        ]
        for custody in entry["custody"] or [{}]:
            writer.writerow(
                head
                + [
                    custody.get("time", ""),
                    custody.get("actor", ""),
                    custody.get("action", ""),
                    custody.get("justification", ""),
                    custody.get("recipient", ""),
                ]
            )
    return buffer.getvalue()


def custody_logs(files: Iterable[TipFile]) -> dict[int, list[AuditEntry]]:
    """:func:`custody_log` of several files, by file id."""
    return {f.pk: custody_log(f) for f in files}
