"""Evidence and dissemination: a preserved item is a WARC that warcio reads back (the item's
JSON and the fetched page), whose SHA-256 is on the chain of custody and detects tampering,
time-stamped by an RFC 3161 authority (OpenSSL's TSA on loopback) when one is configured;
sharing needs a second person and leaves a ZIP whose manifest hashes hold and a dissemination
row; the purge removes files and rows, keeps a tombstone of hashes and the dissemination log."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from django.utils import timezone
from warcio.archiveiterator import ArchiveIterator

from tests.alerts.conftest import committed
from tests.conftest import need
from tests.monitoring.cases_support import (
    POST_TEXT,
    OpensslTsa,
    open_case,
)
from watchhouse.audit.models import AuditEntry
from watchhouse.core.errors import InvalidInputError, NotPermittedError
from watchhouse.monitoring import policy
from watchhouse.monitoring.models import (
    ApprovalKind,
    Case,
    CaseItem,
    CaseState,
    Dissemination,
    Evidence,
)
from watchhouse.monitoring.services.approvals import approval_decide
from watchhouse.monitoring.services.cases import (
    case_close,
    case_dir,
    case_share_request,
    item_canonical,
    retention_purge,
)
from watchhouse.monitoring.services.evidence import (
    evidence_path,
    evidence_preserve,
    evidence_verify,
)

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.monitoring.conftest_cases"]

PURPOSE = "Requested by the county prosecutor for the robbery file 24-CR-118."


def _item(case: Case, url: str, n: int = 1) -> CaseItem:
    item = CaseItem(case=case, source_kind="fediverse", remote_id=f"{url}#{n}", url=url,
                    author_handle="@jdoe@social.example", text=f"{POST_TEXT} {n}",
                    posted_at=timezone.now(), lat=39.78, lon=-89.64,
                    places=[{"name": "", "found_by": "coordinates", "lat": 39.78, "lon": -89.64}],
                    collected_by=case.opened_by)  # fmt: skip
    item.sha256 = hashlib.sha256(item_canonical(item)).hexdigest()
    item.save()
    return item


def test_a_preserved_item_is_a_warc_with_the_post_and_the_page(people, web):
    case = open_case(people)
    item = _item(case, f"{web.url}/post/1")
    evidence = evidence_preserve(actor=people.investigator, item_id=item.pk)
    path = evidence_path(evidence)
    assert path.parent == case_dir(case) and path.name.endswith(".warc.gz")
    assert evidence.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert evidence.size == path.stat().st_size
    records = {}
    with path.open("rb") as stream:
        for record in ArchiveIterator(stream):
            records[record.rec_type] = (record, record.content_stream().read())
    assert set(records) == {"warcinfo", "metadata", "request", "response"}
    kept = json.loads(records["metadata"][1])
    assert kept["text"] == f"{POST_TEXT} 1" and kept["author_handle"] == "@jdoe@social.example"
    response, body = records["response"]
    assert response.rec_headers.get_header("WARC-Target-URI") == item.url
    assert response.http_headers.get_statuscode() == "200"
    assert POST_TEXT.encode() in body
    assert [r.path for r in web.requests] == ["/post/1"]
    entry = AuditEntry.objects.get(action=policy.ACTION_EVIDENCE)
    assert entry.data["sha256"] == evidence.sha256 and entry.actor == people.investigator
    assert entry.justification == case.justification
    assert evidence_verify(evidence)
    # One changed byte is found out; so is a missing file.
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    assert not evidence_verify(evidence)
    path.unlink()
    assert not evidence_verify(evidence)


def test_an_unreachable_post_is_preserved_from_what_the_case_holds(people, web):
    case = open_case(people)
    item = _item(case, "http://127.0.0.1:9/gone")  # the discard port: nothing answers
    evidence = evidence_preserve(actor=people.investigator, item_id=item.pk)
    with evidence_path(evidence).open("rb") as stream:
        kinds = [record.rec_type for record in ArchiveIterator(stream)]
    assert kinds == ["warcinfo", "metadata"]
    assert AuditEntry.objects.get(action=policy.ACTION_EVIDENCE).data["fetched"] is False


def test_preserving_needs_the_gate(people, web):
    case = open_case(people)
    item = _item(case, f"{web.url}/post/1")
    with pytest.raises(NotPermittedError):
        evidence_preserve(actor=people.analyst, item_id=item.pk)
    case_close(actor=people.investigator, case_id=case.pk, reason="Suspect charged; done.")
    with pytest.raises(NotPermittedError, match="not open"):
        evidence_preserve(actor=people.investigator, item_id=item.pk)
    assert not Evidence.objects.exists()
    assert AuditEntry.objects.filter(action=policy.ACTION_REFUSED_INPUT).count() == 2


def _manifest_ok(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as archive:
        manifest = archive.read("manifest.sha256").decode()
        listed = {}
        for line in manifest.splitlines():
            digest, name = line.split("  ", 1)
            assert hashlib.sha256(archive.read(name)).hexdigest() == digest, name
            listed[name] = digest
        assert set(archive.namelist()) == {*listed, "manifest.sha256"}
    return listed


def test_sharing_needs_a_second_person_and_is_logged(people, web):
    case = open_case(people)
    first, second = _item(case, f"{web.url}/post/1", 1), _item(case, f"{web.url}/post/2", 2)
    evidence = evidence_preserve(actor=people.investigator, item_id=first.pk)
    with pytest.raises(InvalidInputError, match="not in this case"):
        case_share_request(actor=people.investigator, case_id=case.pk, recipient="DA",
                           purpose=PURPOSE, item_ids=[first.pk, 999999])  # fmt: skip
    approval = case_share_request(actor=people.investigator, case_id=case.pk,
                                  recipient="County prosecutor", purpose=PURPOSE,
                                  item_ids=[first.pk, second.pk])  # fmt: skip
    assert approval.kind == ApprovalKind.EXPORT and not Dissemination.objects.exists()
    approval_decide(actor=people.supervisor, approval_id=approval.pk, approve=True)
    shared = Dissemination.objects.get()
    assert shared.recipient == "County prosecutor" and shared.purpose == PURPOSE
    assert shared.shared_by == people.investigator and shared.approval == approval
    assert [w["sha256"] for w in shared.what] == [first.sha256, second.sha256]
    export = case_dir(case) / "exports" / f"export-{approval.pk}.zip"
    assert hashlib.sha256(export.read_bytes()).hexdigest() == shared.sha256
    listed = _manifest_ok(export)
    assert listed[f"evidence/{evidence_path(evidence).name}"] == evidence.sha256
    with zipfile.ZipFile(export) as archive:
        documents = json.loads(archive.read("items.json"))
    assert [d["sha256"] for d in documents] == [first.sha256, second.sha256]
    entry = AuditEntry.objects.get(action=policy.ACTION_EXPORT)
    assert entry.justification == PURPOSE and entry.data["sha256"] == shared.sha256
    assert entry.actor == people.supervisor and entry.data["recipient"] == "County prosecutor"


def test_close_then_purge_leaves_a_tombstone_and_the_dissemination_log(people, web, settings):
    settings.WATCHHOUSE_MONITORING_CLOSED_RETENTION_DAYS = 0
    case = open_case(people)
    items = [_item(case, f"{web.url}/post/{n}", n) for n in (1, 2)]
    evidence = evidence_preserve(actor=people.investigator, item_id=items[0].pk)
    approval = case_share_request(actor=people.investigator, case_id=case.pk, recipient="DA",
                                  purpose=PURPOSE, item_ids=[items[0].pk])  # fmt: skip
    approval_decide(actor=people.supervisor, approval_id=approval.pk, approve=True)
    folder = case_dir(case)
    assert any(folder.rglob("*.zip")) and any(folder.rglob("*.warc.gz"))
    closed = case_close(actor=people.investigator, case_id=case.pk, reason="Found safe and well.")
    assert closed.state == CaseState.CLOSED and closed.purge_after == closed.closed_at
    close = AuditEntry.objects.get(action=policy.ACTION_CASE_CLOSE)
    assert close.justification == "Found safe and well."
    with committed():
        summary = retention_purge()
    assert summary == "Purged 1 case(s) holding 2 item(s)."
    case.refresh_from_db()
    assert case.state == CaseState.PURGED and case.purged_at is not None
    assert case.tombstone["items"] == 2
    assert case.tombstone["item_sha256"] == [i.sha256 for i in items]
    assert case.tombstone["evidence_sha256"] == [evidence.sha256]
    assert not CaseItem.objects.exists() and not Evidence.objects.exists()
    assert not folder.exists(), "WARC files and exports are deleted"
    assert Dissemination.objects.filter(case=case).count() == 1  # the log outlives the data
    entry = AuditEntry.objects.get(action=policy.ACTION_CASE_PURGE)
    assert entry.actor is None and entry.data["tombstone"]["items"] == 2
    assert retention_purge() == "Purged 0 case(s) holding 0 item(s)."


def test_a_time_stamping_authority_signs_the_warc_hash(people, web, settings, tmp_path):
    need(shutil.which("openssl") is not None, "openssl (the loopback TSA) is not installed")
    case = open_case(people)
    item = _item(case, f"{web.url}/post/1")
    with OpensslTsa(tmp_path / "tsa") as tsa:
        settings.WATCHHOUSE_MONITORING_TSA_URL = f"{tsa.url}/tsa"
        evidence = evidence_preserve(actor=people.investigator, item_id=item.pk)
        token = bytes(evidence.timestamp_token)
        assert evidence.timestamped_at is not None
        assert tsa.verify(token, evidence_path(evidence))
        other = tmp_path / "other.warc.gz"
        other.write_bytes(evidence_path(evidence).read_bytes() + b"\0")
        assert not tsa.verify(token, other), "the token is for this file only"
    assert AuditEntry.objects.get(action=policy.ACTION_EVIDENCE).data["timestamp"] is True
    # A TSA that is gone: the evidence is kept without a token, and the record says why.
    settings.WATCHHOUSE_MONITORING_TSA_URL = f"{tsa.url}/tsa"
    second = evidence_preserve(actor=people.investigator, item_id=item.pk)
    assert second.timestamp_token is None and evidence_verify(second)
    entry = AuditEntry.objects.filter(action=policy.ACTION_EVIDENCE).order_by("-seq").first()
    assert (
        entry.data["timestamp"] is False and "could not be reached" in entry.data["timestamp_error"]
    )
