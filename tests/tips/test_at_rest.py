"""Proof that nothing a tipster sent sits readable: the raw database rows and the raw files
on disk, read after a tip with a photo and a video went through the whole dialogue and the
worker."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.mediafiles import ffmpeg_make
from tests.tips.conftest import committed, drain, jpeg_with_gps, sealed_path
from watchhouse.core import crypto
from watchhouse.posts.storage import private_path
from watchhouse.tips.models import FileStatus, TipFile
from watchhouse.tips.services.dialogue import tip_message_send, tip_note_add
from watchhouse.tips.services.intake import tipster_reply
from watchhouse.tips.services.processing import WORK

pytestmark = pytest.mark.django_db

SENTENCE = "The zebra-striped moped is hidden behind 7741 Quillfeather Lane"
WHERE = "Corner of Marlowe and Vexley"
CONTACT = "witness.kowalczyk@example.net"
QUESTION = "Did the moped rider carry an orange satchel?"
ANSWER = "Yes, a bright orange satchel with a unicorn patch"
NOTE = "Matches the Brannigan burglary pattern"
PHOTO_NAME = "IMG_quillfeather_0042.jpg"
VIDEO_NAME = "VID_quillfeather_0043.mp4"
VIDEO_MAKE = "QuillPhone"


def every_value_in_the_database() -> list[str]:
    """Every value of every row of every table, as text, read with raw SQL."""
    values: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, memoryview | bytes):
                        values.append(bytes(value).decode("latin-1"))
                    elif value is not None:
                        values.append(str(value))
    return values


def test_database_and_disk_hold_nothing_readable(submit, investigator, tmp_path) -> None:
    """After a tip, its files, a question, an answer and a note, no table holds the tip's
    words, contact details, file names or metadata, and no stored file holds a readable
    piece of the originals or their metadata; the worker left no plaintext work file."""
    photo = jpeg_with_gps(tmp_path / PHOTO_NAME, size=(1600, 1200))
    video = ffmpeg_make(
        tmp_path / VIDEO_NAME,
        "-f", "lavfi", "-i", "testsrc=size=640x360:rate=25:duration=2",
        "-c:v", "libx264", "-pix_fmt", "yuv420p",
        "-metadata", "location=+38.6270-090.1994/",
        "-metadata", f"com.apple.quicktime.make={VIDEO_MAKE}",
        "-movflags", "use_metadata_tags",
    )  # fmt: skip
    with committed():
        receipt = submit(
            what=SENTENCE,
            where=WHERE,
            contact=CONTACT,
            files=[sealed_path(photo), sealed_path(video)],
        )
        tip_message_send(actor=investigator, tip=receipt.tip, body=QUESTION)
        tipster_reply(tip=receipt.tip, body=ANSWER)
        tip_note_add(actor=investigator, tip=receipt.tip, body=NOTE)
    drain()
    files = list(TipFile.objects.filter(tip=receipt.tip))
    assert {f.status for f in files} == {FileStatus.READY}
    assert all(f.preview_path for f in files)
    # The record holds what is searched for below: the search would find it if it leaked.
    makes = {f.read_metadata().get("make") for f in files}
    assert makes == {"TestCam", VIDEO_MAKE}

    secrets = [SENTENCE, "Quillfeather", WHERE, CONTACT, "kowalczyk", QUESTION, ANSWER]
    secrets += ["orange satchel", NOTE, "Brannigan", PHOTO_NAME, VIDEO_NAME, "TestCam"]
    secrets += [VIDEO_MAKE, "38.6270", "090.1994"]
    database = every_value_in_the_database()
    assert any(receipt.code in value for value in database)  # the search does see the rows
    for secret in secrets:
        leaks = [value[:80] for value in database if secret.lower() in value.lower()]
        assert not leaks, f"{secret!r} is readable in the database: {leaks}"

    originals = [photo.read_bytes(), video.read_bytes()]
    pieces = [data[len(data) // 2 : len(data) // 2 + 64] for data in originals]
    pieces += [b"TestCam", VIDEO_MAKE.encode(), b"+38.6270"]
    stored = [p for p in private_path("tips").rglob("*") if p.is_file()]
    assert len(stored) == 4  # two originals, two previews
    for path in stored:
        data = path.read_bytes()
        assert data.startswith(crypto.MAGIC)  # sealed, not a JPEG or MP4
        for piece in pieces:
            assert piece not in data, f"{path.name} holds readable bytes {piece[:16]!r}"
    work = private_path(WORK)
    assert not work.exists() or not any(work.rglob("*"))
