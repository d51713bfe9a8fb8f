"""Preserving case items as evidence, and the exports that leave the agency.

A preserved item is a gzipped WARC file (ISO 28500, written with warcio) under the case's
folder in ``WATCHHOUSE_MONITORING_EVIDENCE_DIR``: a ``metadata`` record with the item's
canonical JSON and, when the post's URL can be fetched, the ``request`` and ``response``
records of fetching it. The file's SHA-256 goes into the :class:`Evidence` row and the audit
log (the chain of custody); :func:`evidence_verify` re-hashes the file.

When ``WATCHHOUSE_MONITORING_TSA_URL`` names an RFC 3161 time-stamping authority, the WARC's
SHA-256 is sent to it and the token it signs is kept with the evidence: proof that the file
existed, as it is, at that time. The token is checked for the hash and the nonce sent; its
signature is checked by whoever relies on it (``openssl ts -verify``), against the TSA's
certificate. A TSA that does not answer leaves the evidence without a token, on the record.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from warcio.statusandheaders import StatusAndHeaders  # type: ignore[import-untyped]
from warcio.warcwriter import WARCWriter  # type: ignore[import-untyped]

from watchhouse.audit.services import audit_record
from watchhouse.core.errors import InvalidInputError
from watchhouse.monitoring import policy
from watchhouse.monitoring.models import Case, CaseItem, Evidence
from watchhouse.monitoring.services.cases import (
    case_dir,
    case_open_for,
    evidence_root,
    item_canonical,
)

if TYPE_CHECKING:
    from watchhouse.accounts.models import User

FETCH_TIMEOUT = 10.0
MAX_PAGE_BYTES = 10 * 1024 * 1024
USER_AGENT = "Watchhouse evidence preservation"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch(url: str) -> tuple[requests.Response, bytes] | None:
    """The post's page, fetched once within the time and size limits; None when it cannot be
    had (the metadata record alone is then the evidence)."""
    from watchhouse.outlets.activitypub.remote import RemoteFetchError, check_address

    try:
        check_address(url)
        with requests.get(
            url, timeout=FETCH_TIMEOUT, stream=True, allow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        ) as response:  # fmt: skip
            body = bytearray()
            for chunk in response.iter_content(65536):
                body += chunk
                if len(body) > MAX_PAGE_BYTES:
                    return None
            return response, bytes(body)
    except (RemoteFetchError, requests.RequestException):
        return None


# --- RFC 3161 ---------------------------------------------------------------------------

SHA256_ALGORITHM = bytes.fromhex("300d06096086480165030402010500")  # AlgorithmIdentifier


class TimestampError(Exception):
    """The time-stamping authority refused, did not answer, or answered something unreadable."""


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes([tag, size]) + body
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + body


def _der_integer(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _der_next(data: bytes, offset: int) -> tuple[int, int, int]:
    """The tag, content start and content end of the DER element at ``offset``."""
    if offset + 2 > len(data):
        raise TimestampError("The time-stamp reply is cut short.")
    tag, size = data[offset], data[offset + 1]
    start = offset + 2
    if size & 0x80:
        count = size & 0x7F
        size = int.from_bytes(data[start : start + count], "big")
        start += count
    if start + size > len(data):
        raise TimestampError("The time-stamp reply is cut short.")
    return tag, start, start + size


def timestamp_request(digest: bytes, nonce: int) -> bytes:
    """A DER TimeStampReq (RFC 3161 §2.4.1) for a SHA-256 ``digest``, asking for the TSA's
    certificate in the token."""
    imprint = _der(0x30, SHA256_ALGORITHM + _der(0x04, digest))
    return _der(0x30, _der_integer(1) + imprint + _der_integer(nonce) + bytes.fromhex("0101ff"))


def timestamp_fetch(url: str, digest: bytes) -> bytes:
    """Ask the TSA at ``url`` to time-stamp ``digest``; the DER token (a CMS ContentInfo)."""
    nonce = secrets.randbits(63)
    try:
        response = requests.post(
            url, data=timestamp_request(digest, nonce), timeout=FETCH_TIMEOUT,
            headers={"Content-Type": "application/timestamp-query", "User-Agent": USER_AGENT},
        )  # fmt: skip
    except requests.RequestException as error:
        raise TimestampError(f"The TSA could not be reached: {type(error).__name__}") from error
    reply = response.content
    if response.status_code != 200 or len(reply) > 1024 * 1024:
        raise TimestampError(f"The TSA answered {response.status_code}.")
    tag, start, end = _der_next(reply, 0)
    status_tag, status_start, status_end = _der_next(reply, start)
    if tag != 0x30 or status_tag != 0x30:
        raise TimestampError("The TSA's reply is not a TimeStampResp.")
    int_tag, int_start, int_end = _der_next(reply, status_start)
    status = int.from_bytes(reply[int_start:int_end], "big") if int_tag == 0x02 else -1
    if status not in (0, 1):  # granted, granted with modifications
        raise TimestampError(f"The TSA refused the request (status {status}).")
    if status_end >= end:
        raise TimestampError("The TSA granted the request but sent no token.")
    token_tag, token_start, token_end = _der_next(reply, status_end)
    token = reply[status_end:token_end]
    # The signed TSTInfo inside holds the imprint and nonce verbatim: a token for another
    # request (or a replay) is refused here, before anything relies on it.
    if token_tag != 0x30 or digest not in token or _der_integer(nonce) not in token:
        raise TimestampError("The TSA's token is not for this file.")
    return token


def _warc_write(
    path: Path, item: CaseItem, fetched: tuple[requests.Response, bytes] | None
) -> None:
    uri = item.url or f"urn:watchhouse:case-item:{item.case_id}:{item.pk}"
    document = item_canonical(item)
    # Lengths are given so warcio digests the in-memory payloads in place, without spooling.
    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        writer.write_record(
            writer.create_warcinfo_record(
                path.name,
                {
                    "software": "Watchhouse",
                    "format": "WARC File Format 1.1",
                    "case-item": str(item.pk),
                },
            )  # fmt: skip
        )
        writer.write_record(
            writer.create_warc_record(
                uri,
                "metadata",
                payload=io.BytesIO(document),
                length=len(document),
                warc_content_type="application/json",
            )  # fmt: skip
        )
        if fetched is None:
            return
        response, body = fetched
        split = urlsplit(item.url)
        target = (split.path or "/") + (f"?{split.query}" if split.query else "")
        request_headers = [(k, str(v)) for k, v in response.request.headers.items()]
        writer.write_record(
            writer.create_warc_record(
                item.url,
                "request",
                payload=io.BytesIO(b""),
                length=0,
                http_headers=StatusAndHeaders(
                    f"GET {target} HTTP/1.1", request_headers, is_http_request=True
                ),
            )  # fmt: skip
        )
        # Transfer encodings are undone by requests: the headers must match the body kept.
        response_headers = [
            (k, v) for k, v in response.headers.items()
            if k.lower() not in ("transfer-encoding", "content-encoding", "content-length")
        ] + [("Content-Length", str(len(body)))]  # fmt: skip
        status = f"{response.status_code} {response.reason or ''}".strip()
        writer.write_record(
            writer.create_warc_record(
                item.url,
                "response",
                payload=io.BytesIO(body),
                length=len(body),
                http_headers=StatusAndHeaders(status, response_headers, protocol="HTTP/1.1"),
            )  # fmt: skip
        )


def evidence_preserve(*, actor: User, item_id: int) -> Evidence:
    """Preserve a case item as a WARC file with its SHA-256, on the chain of custody."""
    item = CaseItem.objects.select_related("case").filter(pk=item_id).first()
    if item is None:
        raise InvalidInputError("No such case item.")
    case = case_open_for(actor, item.case_id, operation="preserve evidence")
    fetched = None
    if urlsplit(item.url).scheme in ("http", "https"):
        fetched = _fetch(item.url)
    folder = case_dir(case)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S%f")
    path = folder / f"item-{item.pk}-{stamp}.warc.gz"
    _warc_write(path, item, fetched)
    digest = file_sha256(path)
    token, stamp_error = None, ""
    tsa_url = str(settings.WATCHHOUSE_MONITORING_TSA_URL or "")
    if tsa_url:
        try:
            token = timestamp_fetch(tsa_url, bytes.fromhex(digest))
        except TimestampError as error:
            stamp_error = str(error)
    try:
        with transaction.atomic():
            evidence = Evidence.objects.create(
                case=case,
                item=item,
                warc_path=str(path.relative_to(evidence_root())),
                sha256=digest,
                size=path.stat().st_size,
                preserved_by=actor,
                timestamp_token=token,
                timestamped_at=timezone.now() if token else None,
            )
            audit_record(
                actor=actor,
                action=policy.ACTION_EVIDENCE,
                obj=evidence,
                justification=case.justification,
                data={"case": case.number, "item": item.pk, "item_sha256": item.sha256,
                      "sha256": digest, "size": evidence.size, "url": item.url,
                      "fetched": fetched is not None, "file": evidence.warc_path,
                      "timestamp": bool(token), "timestamp_error": stamp_error},
            )  # fmt: skip
    except Exception:
        path.unlink(missing_ok=True)  # no row points at it
        raise
    return evidence


def evidence_path(evidence: Evidence) -> Path:
    return evidence_root() / evidence.warc_path


def evidence_verify(evidence: Evidence) -> bool:
    """True when the WARC file is there and still hashes to what was recorded."""
    path = evidence_path(evidence)
    return path.is_file() and file_sha256(path) == evidence.sha256


def export_write(
    case: Case, items: list[CaseItem], *, name: str
) -> tuple[Path, str, list[dict[str, Any]]]:
    """Write a ZIP of ``items`` (their JSON and WARC files) with a SHA-256 manifest; returns its
    path, its SHA-256 and the list of what it holds."""
    entries: dict[str, bytes] = {}
    what: list[dict[str, Any]] = []
    documents = []
    for item in items:
        documents.append(json.loads(item_canonical(item)) | {"sha256": item.sha256})
        files = []
        for evidence in Evidence.objects.filter(item=item).order_by("pk"):
            path = evidence_path(evidence)
            if path.is_file():
                entries[f"evidence/{path.name}"] = path.read_bytes()
                files.append({"file": path.name, "sha256": evidence.sha256})
        what.append({"item": item.pk, "sha256": item.sha256, "evidence": files})
    entries["items.json"] = json.dumps(
        documents, sort_keys=True, indent=1, ensure_ascii=False
    ).encode("utf-8")
    manifest = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {entry}\n" for entry, data in sorted(entries.items())
    )
    folder = case_dir(case) / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for entry, data in sorted(entries.items()):
            archive.writestr(entry, data)
        archive.writestr("manifest.sha256", manifest)
    return path, file_sha256(path), what
