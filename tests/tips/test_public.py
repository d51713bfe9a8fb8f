"""The tipster's pages, through Django's test client: the form, the receipt, coming back with
the tip code and passphrase, answering; every bad input refused with nothing kept."""

from __future__ import annotations

import hashlib
import io
import re
import struct
import zipfile
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from tests.factories import StaffFactory
from tests.tips.conftest import jpeg_with_gps, sealed_path
from watchhouse.audit.models import AuditEntry
from watchhouse.core.pagecache import sections_for
from watchhouse.posts.models import Post, PostKind
from watchhouse.posts.states import PostState
from watchhouse.tips.models import MessageKind, Tip, TipFile, TipMessage
from watchhouse.tips.services.dialogue import tip_message_send, tip_note_add
from watchhouse.tips.services.intake import tipster_open

pytestmark = pytest.mark.django_db

# The tipster's address as the server sees it: it must end up nowhere.
CLIENT_IP = "203.0.113.77"
PASSPHRASE = "blue heron at dawn"


@pytest.fixture(autouse=True)
def _fresh_counters(settings: Any) -> None:
    """Counters of tips and guesses live in the cache: each test starts from zero."""
    settings.WATCHHOUSE_TIPS_PER_HOUR = 50
    cache.clear()


@pytest.fixture
def tipster() -> Client:
    return Client(REMOTE_ADDR=CLIENT_IP)


def tip_files(private: Path) -> list[Path]:
    """Every file kept for tips under the private root, staging included."""
    folder = private / "tips"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def photo(tmp_path: Path, name: str = "IMG_0042.jpg") -> SimpleUploadedFile:
    path = jpeg_with_gps(tmp_path / name)
    return SimpleUploadedFile(name, path.read_bytes(), content_type="image/jpeg")


def send(client: Client, files: list[SimpleUploadedFile] | None = None, **fields: Any) -> Any:
    data: dict[str, Any] = {"what": "", "where": "", "when": "", "passphrase": ""}
    data.update(fields)
    if files:
        data["files"] = files
    return client.post(reverse("tips:new"), data)


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` over a few bytes of pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("photos/one.jpg", b"not really")
    return out.getvalue()


def test_form_works_without_scripts_and_loads_nothing_from_elsewhere(client) -> None:
    """The form is a plain multipart form (files, contact box, reward box, appeal named) and
    refers to no other host; the page is never cached and no other site gets it as referrer."""
    appeal = Post.objects.create(
        kind=PostKind.APPEAL,
        state=PostState.PUBLISHED,
        title="Who is this man at the Elm Street pharmacy?",
        slug="who-is-this",
        author=StaffFactory(),
        published_at=timezone.now(),
    )
    response = client.get(reverse("tips:new"), {"appeal": appeal.pk})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'enctype="multipart/form-data"' in html
    assert re.search(r'<input type="file" name="files"[^>]* multiple', html)
    assert 'type="submit"' in html
    assert "I want to give contact details" in html
    assert "I may want a reward" in html
    assert "I don&#x27;t know where" in html
    assert "Who is this man at the Elm Street pharmacy?" in html
    assert f'name="appeal" value="{appeal.pk}"' in html
    assert "IP address" in html
    for url in re.findall(r'(?:src|href|action)="([^"]*)"', html):
        assert not re.match(r"^(https?:)?//", url), url
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "same-origin"
    assert sections_for(reverse("tips:new")) is None
    assert sections_for(reverse("tips:status")) is None
    privacy = client.get(reverse("tips:privacy"))
    assert privacy.status_code == 200
    assert "IP address" in privacy.content.decode()


def test_the_short_address_opens_the_form_with_its_appeal(client) -> None:
    """The short address "/tips/", as posters and callers give it out, opens the form."""
    response = client.get("/tips/", {"appeal": "7"}, follow=True)
    assert response.redirect_chain == [(reverse("tips:new") + "?appeal=7", 302)]
    assert response.status_code == 200
    assert 'type="submit"' in response.content.decode()


def test_a_draft_appeal_is_not_named(client) -> None:
    """Only a published appeal is shown on the form (and linked to the tip)."""
    draft = Post.objects.create(
        kind=PostKind.APPEAL,
        state=PostState.DRAFT,
        title="Unpublished suspect description",
        slug="draft",
        author=StaffFactory(),
    )
    html = client.get(reverse("tips:new"), {"appeal": draft.pk}).content.decode()
    assert "Unpublished suspect description" not in html


def test_tip_with_photo_is_received_sealed_and_without_the_address(
    tipster, tmp_path, media_roots
) -> None:
    """The receipt shows the code and passphrase once; the tip and photo are sealed; nothing
    anywhere holds the tipster's address; contact details typed but not chosen are dropped."""
    upload = photo(tmp_path)
    response = send(
        tipster,
        files=[upload],
        what="The grey Civic from the appeal is parked behind 4100 Oak St",
        where="Behind 4100 Oak St",
        lat="39.951",
        lon="-89.351",
        when="Tonight around 9",
        contact="555-0100, ask for Sam",
        wants_reward="on",
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("tips:received")
    cookie = response.cookies["tip_receipt"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/tips/"

    receipt = tipster.get(response["Location"])
    html = receipt.content.decode()
    tip = Tip.objects.get()
    assert tip.code in html
    passphrase = re.search(r'id="tip-passphrase">([^<]+)<', html).group(1)
    assert tipster_open(code=tip.code, passphrase=passphrase, client="elsewhere") == tip
    assert "reward code will appear" in html
    assert "no-store" in receipt["Cache-Control"]
    assert passphrase not in response["Location"]
    # Shown once: the receipt is gone on a second look.
    again = tipster.get(reverse("tips:received")).content.decode()
    assert passphrase not in again
    assert tip.code not in again

    assert "Civic" not in tip.content
    assert tip.read_content()["what"].startswith("The grey Civic")
    assert tip.read_content()["lat"] == pytest.approx(39.951)
    assert tip.read_contact() == ""
    assert tip.wants_reward
    stored = TipFile.objects.get(tip=tip)
    assert stored.sha256 == hashlib.sha256(upload.file.getvalue()).hexdigest()
    assert stored.read_name() == "IMG_0042.jpg"
    _public, private = media_roots
    assert [p.name for p in tip_files(private)] == [Path(stored.path).name]
    assert b"TestCam" not in (private / stored.path).read_bytes()

    entry = AuditEntry.objects.get(action="tips.receive")
    assert entry.source_ip is None
    assert not AuditEntry.objects.filter(source_ip=CLIENT_IP).exists()
    for row in AuditEntry.objects.all():
        assert CLIENT_IP not in repr(row.data)
    assert CLIENT_IP not in repr(list(Tip.objects.values()))


def test_contact_details_are_kept_when_chosen(tipster) -> None:
    send(tipster, what="Saw it all", give_contact="on", contact="Sam, 555-0100")
    assert Tip.objects.get().read_contact() == "Sam, 555-0100"


def bad_files(tmp_path: Path) -> dict[str, tuple[list[SimpleUploadedFile], str]]:
    return {
        "html named .jpg": (
            [SimpleUploadedFile("cute.jpg", b"<!doctype html><script>alert(1)</script>")],
            "web page",
        ),
        "svg named .jpg": (
            [
                SimpleUploadedFile(
                    "map.jpg",
                    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
                    b"<script>alert(1)</script></svg>",
                )
            ],
            "SVG",
        ),
        "zip": ([SimpleUploadedFile("photos.zip", zip_bytes())], "archive"),
        "bomb": (
            [SimpleUploadedFile("big.png", png_declaring(30000, 30000))],
            "decompression bomb",
        ),
    }


@pytest.mark.parametrize("case", ["html named .jpg", "svg named .jpg", "zip", "bomb"])
def test_a_bad_file_is_refused_and_nothing_is_kept(tipster, tmp_path, media_roots, case) -> None:
    """A file that lies about its type, carries script, is an archive or a decompression bomb
    is refused with its reason; no tip and no file is kept, the text typed is kept in the form,
    and the tipster is told to choose the files again."""
    files, reason = bad_files(tmp_path)[case]
    response = send(tipster, files=[photo(tmp_path), *files], what="My words stay here")
    html = response.content.decode()
    assert response.status_code == 400
    assert reason.lower() in html.lower()
    assert "My words stay here" in html
    assert "choose your files again" in html
    assert Tip.objects.count() == 0
    assert tip_files(media_roots[1]) == []


def test_an_empty_tip_is_refused(tipster, media_roots) -> None:
    response = send(tipster)
    assert response.status_code == 400
    assert "Tell us what you know" in response.content.decode()
    assert Tip.objects.count() == 0
    assert AuditEntry.objects.filter(action="tips.receive").count() == 0


def test_an_oversize_file_is_refused(tipster, tmp_path, settings, media_roots) -> None:
    settings.WATCHHOUSE_TIPS_MAX_FILE_BYTES = 5000
    big = SimpleUploadedFile("long.mp4", b"\x00" * 20_000)
    response = send(tipster, files=[big], what="See the video")
    assert response.status_code == 400
    assert "larger than" in response.content.decode()
    assert Tip.objects.count() == 0
    assert tip_files(media_roots[1]) == []


def test_too_many_files_are_refused(tipster, tmp_path, settings, media_roots) -> None:
    settings.WATCHHOUSE_TIPS_MAX_FILES = 2
    files = [photo(tmp_path, f"p{i}.jpg") for i in range(3)]
    response = send(tipster, files=files, what="Three photos")
    assert response.status_code == 400
    assert "at most 2 files" in response.content.decode()
    assert Tip.objects.count() == 0
    assert tip_files(media_roots[1]) == []


def test_half_a_map_point_is_refused(tipster) -> None:
    response = send(tipster, what="Here", lat="39.95")
    assert response.status_code == 400
    assert "both latitude and longitude" in response.content.decode()
    assert Tip.objects.count() == 0


def test_text_over_the_request_limit_gets_a_clear_413(
    tipster, tmp_path, settings, media_roots
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    # The photo comes first, so it has streamed to staging before the text is found too long.
    data = {"files": [photo(tmp_path)], "what": "x" * 5000}
    response = tipster.post(reverse("tips:new"), data)
    assert response.status_code == 413
    assert "too long" in response.content.decode()
    assert Tip.objects.count() == 0
    assert tip_files(media_roots[1]) == []


def test_a_forged_post_is_refused_and_its_files_deleted(tmp_path, media_roots) -> None:
    """Without the form's CSRF token the tip is refused, and the file that streamed in is gone."""
    forger = Client(enforce_csrf_checks=True, REMOTE_ADDR=CLIENT_IP)
    response = send(forger, files=[photo(tmp_path)], what="Forged")
    assert response.status_code == 403
    assert Tip.objects.count() == 0
    assert tip_files(media_roots[1]) == []


def test_the_form_with_its_token_streams_the_files(tmp_path, media_roots) -> None:
    """With CSRF checked as in production, the form's own token lets the tip and its file in
    (the upload handler is swapped before anything reads the request)."""
    browser = Client(enforce_csrf_checks=True, REMOTE_ADDR=CLIENT_IP)
    browser.get(reverse("tips:new"))
    token = browser.cookies["csrftoken"].value
    response = send(
        browser, files=[photo(tmp_path)], what="With a token", csrfmiddlewaretoken=token
    )
    assert response.status_code == 302
    assert TipFile.objects.get().tip.read_content()["what"] == "With a token"


def test_a_flood_from_one_client_gets_429(tipster, tmp_path, settings, media_roots) -> None:
    """Past the hourly limit a client's tips are refused with a sentence and nothing kept;
    another client is not affected."""
    settings.WATCHHOUSE_TIPS_PER_HOUR = 2
    for n in range(2):
        assert send(tipster, what=f"Tip {n}").status_code == 302
    refused = send(tipster, files=[photo(tmp_path)], what="One too many")
    assert refused.status_code == 429
    assert "Too many tips came from your connection" in refused.content.decode()
    assert Tip.objects.count() == 2
    assert len(tip_files(media_roots[1])) == 0
    other = Client(REMOTE_ADDR="198.51.100.4")
    assert send(other, what="From elsewhere").status_code == 302


def open_status(client: Client, code: str, passphrase: str) -> Any:
    return client.post(reverse("tips:status"), {"code": code, "passphrase": passphrase})


def test_wrong_passphrase_is_refused_then_locked(tipster, submit, settings) -> None:
    """A wrong passphrase says only that the pair does not match; after the allowed attempts
    even the right passphrase is refused for a while."""
    settings.WATCHHOUSE_TIPS_STATUS_ATTEMPTS = 3
    receipt = submit(passphrase=PASSPHRASE)
    wrong = open_status(tipster, receipt.code, "not the right one")
    assert wrong.status_code == 403
    assert "do not match" in wrong.content.decode()
    assert "tip_status" not in wrong.cookies
    for _ in range(2):
        open_status(tipster, receipt.code, "still wrong, sorry")
    locked = open_status(tipster, receipt.code, PASSPHRASE)
    assert locked.status_code == 429
    assert "Too many wrong attempts" in locked.content.decode()
    assert "tip_status" not in locked.cookies


def test_dialogue_shows_questions_never_notes(tipster, submit, investigator, tmp_path) -> None:
    """With the right code and passphrase the tipster reads their tip, the department's
    question and their files, but never an internal note."""
    receipt = submit(
        what="The van had a ladder on the roof", passphrase=PASSPHRASE,
        files=[sealed_path(jpeg_with_gps(tmp_path / "van.jpg"))],
    )  # fmt: skip
    tip_message_send(actor=investigator, tip=receipt.tip, body="Which way did the van turn?")
    tip_note_add(actor=investigator, tip=receipt.tip, body="Plate partial matches case 24-1187")
    opened = open_status(tipster, receipt.code.lower().replace("-", " "), PASSPHRASE)
    assert opened.status_code == 302
    assert opened["Location"] == reverse("tips:dialogue")
    cookie = opened.cookies["tip_status"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/tips/"
    page = tipster.get(reverse("tips:dialogue"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    assert page["Referrer-Policy"] == "same-origin"
    assert "The van had a ladder on the roof" in html
    assert "Which way did the van turn?" in html
    assert "24-1187" not in html
    stored = TipFile.objects.get(tip=receipt.tip)
    assert "van.jpg" in html
    assert stored.sha256 in html
    question = TipMessage.objects.get(kind=MessageKind.TO_TIPSTER)
    assert question.read_at is not None
    assert AuditEntry.objects.get(action="tips.tipster_open").source_ip is None


def test_answer_with_a_file_is_stored_from_the_tipster(
    tipster, submit, investigator, tmp_path, media_roots
) -> None:
    receipt = submit(passphrase=PASSPHRASE)
    tip_message_send(actor=investigator, tip=receipt.tip, body="Do you have a photo?")
    open_status(tipster, receipt.code, PASSPHRASE)
    upload = photo(tmp_path, "second.jpg")
    response = tipster.post(
        reverse("tips:dialogue"), {"body": "Yes, here it is. It turned left.", "files": [upload]}
    )
    assert response.status_code == 302
    answer = TipMessage.objects.get(kind=MessageKind.FROM_TIPSTER)
    assert answer.read_body() == "Yes, here it is. It turned left."
    assert "turned left" not in answer.body
    added = TipFile.objects.get(message=answer)
    assert added.sha256 == hashlib.sha256(upload.file.getvalue()).hexdigest()
    assert added.read_name() == "second.jpg"
    shown = tipster.get(response["Location"]).content.decode()
    assert "Your answer was sent." in shown
    assert "It turned left." in shown
    assert all("staging" not in str(p) for p in tip_files(media_roots[1]))
    assert AuditEntry.objects.get(action="tips.tipster_reply").source_ip is None


def test_a_refused_answer_keeps_nothing(tipster, submit, media_roots) -> None:
    receipt = submit(passphrase=PASSPHRASE)
    open_status(tipster, receipt.code, PASSPHRASE)
    bad = SimpleUploadedFile("note.jpg", b"<html><script>alert(1)</script></html>")
    response = tipster.post(reverse("tips:dialogue"), {"body": "See this", "files": [bad]})
    assert response.status_code == 400
    assert "web page" in response.content.decode()
    assert not TipMessage.objects.filter(kind=MessageKind.FROM_TIPSTER).exists()
    assert tip_files(media_roots[1]) == []


def test_a_forged_or_expired_sign_in_goes_back_to_the_form(
    tipster, submit, tmp_path, media_roots
) -> None:
    """A cookie not signed by the site, signed too long ago, or from before the passphrase
    changed opens nothing, and an answer sent with it is not read."""
    receipt = submit(passphrase=PASSPHRASE)
    dialogue = reverse("tips:dialogue")
    tipster.cookies["tip_status"] = f"{receipt.tip.pk}:{'0' * 20}:forged"
    assert tipster.get(dialogue)["Location"] == reverse("tips:status")

    open_status(tipster, receipt.code, PASSPHRASE)
    assert tipster.get(dialogue).status_code == 200
    with freeze_time(timezone.now() + timedelta(minutes=31)):
        assert tipster.get(dialogue)["Location"] == reverse("tips:status")

    open_status(tipster, receipt.code, PASSPHRASE)
    Tip.objects.filter(pk=receipt.tip.pk).update(passphrase_hash="md5$changed$0")
    response = tipster.post(dialogue, {"body": "Sneaky", "files": [photo(tmp_path)]})
    assert response["Location"] == reverse("tips:status")
    assert not TipMessage.objects.filter(kind=MessageKind.FROM_TIPSTER).exists()
    assert tip_files(media_roots[1]) == [media_roots[1] / f.path for f in TipFile.objects.all()]


def test_sign_out_ends_the_sign_in(tipster, submit) -> None:
    receipt = submit(passphrase=PASSPHRASE)
    open_status(tipster, receipt.code, PASSPHRASE)
    response = tipster.post(reverse("tips:sign_out"))
    assert response["Location"] == reverse("tips:status")
    assert tipster.get(reverse("tips:dialogue"))["Location"] == reverse("tips:status")
