"""Demo tips over Alderford (run after the posts demo): every stage of an investigator's work.

Tips come in through the same services the public form, SMS and e-mail use, with photos drawn
by Pillow (carrying EXIF GPS and a camera make, as a phone's would) and a short video made by
ffmpeg when it is on PATH; the worker's processing runs synchronously here so previews and
metadata exist at first start. One tip has a known passphrase, printed below, so a newcomer can
follow it up at /tips/status. Loading again changes nothing: the demo is found by that tip.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.utils import timezone
from PIL import Image, ImageDraw

from watchhouse.accounts.models import User
from watchhouse.audit.models import AuditEntry
from watchhouse.core import crypto
from watchhouse.posts.models import Post, PostRevision
from watchhouse.posts.storage import private_path
from watchhouse.tips.intake import STAGING, SealedUpload
from watchhouse.tips.models import QuestionTemplate, Tip, TipChannel, TipFile
from watchhouse.tips.services.dialogue import tip_message_send, tip_note_add
from watchhouse.tips.services.intake import tip_submit, tipster_reply
from watchhouse.tips.services.processing import tip_file_process
from watchhouse.tips.services.work import (
    tip_action,
    tip_assign,
    tip_close,
    tip_link_add,
    tip_reward_approve,
    tip_triage,
)
from watchhouse.tips.states import TipOutcome

DEMO_PASSPHRASE = "alderford demo tip"  # noqa: S105 - printed for the demo on purpose
QUESTIONS = [
    ("Time of the video", "Thank you. What time did you take the video, as exactly as you can?"),
    ("Direction of travel", "Which way did the person go when they left?"),
    ("Description", "Can you describe the clothing, and anything carried?"),
    ("Still there?", "Is the vehicle still there now? Please do not approach it."),
]


def _staged(path: Path) -> SealedUpload:
    """A demo file as the upload handler would stage it."""
    import secrets

    relative = f"{STAGING}/{secrets.token_hex(16)}"
    with path.open("rb") as fh:
        sealed = crypto.seal_file(private_path(relative), iter(lambda: fh.read(1 << 20), b""))
    return SealedUpload(name=path.name, relative=relative, sealed=sealed)


def _photo(path: Path, text: str, lat: float, lon: float) -> Path:
    """A phone photo: a drawn street scene with the EXIF a phone writes (make, time, GPS)."""
    image = Image.new("RGB", (1600, 1200), (70, 80, 95))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 800, 1600, 1200], fill=(55, 55, 60))
    draw.rectangle([500, 520, 1100, 860], fill=(30, 60, 150))
    draw.text((800, 300), text, fill=(240, 240, 240), anchor="mm", font_size=64)

    def dms(value: float) -> tuple[float, float, float]:
        value = abs(value)
        degrees = int(value)
        minutes = int((value - degrees) * 60)
        return (float(degrees), float(minutes), round((value - degrees - minutes / 60) * 3600, 2))

    exif = Image.Exif()
    exif[0x010F] = "DemoPhone"  # Make
    exif[0x0110] = "DemoPhone 12"  # Model
    exif[0x0132] = timezone.localtime().strftime("%Y:%m:%d %H:%M:%S")  # DateTime
    exif[0x8825] = {1: "N" if lat >= 0 else "S", 2: dms(lat), 3: "E" if lon >= 0 else "W",
                    4: dms(lon)}  # fmt: skip
    image.save(path, "JPEG", quality=85, exif=exif)
    return path


def _video(path: Path) -> Path | None:
    if shutil.which("ffmpeg") is None:
        return None
    try:
        subprocess.run(  # noqa: S603 - fixed tool and arguments
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",  # noqa: S607
             "-f", "lavfi", "-i", "testsrc=size=640x360:rate=25:duration=4",
             "-f", "lavfi", "-i", "sine=frequency=300:duration=4",
             "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
             "-metadata", "creation_time=2026-11-24T16:42:00Z",
             "-metadata", "location=+38.6270-090.1994/", "-movflags", "+use_metadata_tags",
             str(path)],
            check=True, timeout=300, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return path


def _post(title: str) -> Post | None:
    revision = PostRevision.objects.filter(number=1, title=title).select_related("post").first()
    return revision.post if revision else None


def _process(files: list[TipFile]) -> None:
    for stored in files:
        tip_file_process(file_id=stored.pk)


def _demo_tip() -> Tip | None:
    """The demo tip with the known passphrase, found by its receipt in the audit log."""
    entry = AuditEntry.objects.filter(action="tips.demo_loaded").order_by("-seq").first()
    if entry is None:
        return None
    return Tip.objects.filter(pk=entry.object_id).first()


def load(*, stdout: Any) -> None:
    """Create the demo tips unless they are there."""
    from django.db import transaction

    from watchhouse.audit.services import audit_record

    existing = _demo_tip()
    if existing is not None:
        stdout.write(
            f"Demo tip: code {existing.code}, passphrase '{DEMO_PASSPHRASE}' (at /tips/status)."
        )
        return
    demo = User.objects.get(username="demo")
    for title, body in QUESTIONS:
        QuestionTemplate.objects.get_or_create(title=title, defaults={"body": body})
    appeal = _post("Help us identify this man (Riverside shop theft)")
    missing = _post("Missing: Jordan, 15, last seen near Cedar Park")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        # 1. The scenario's tipster: answers the Riverside appeal with a phone video, is asked
        # when she took it, answers; the tip led to an arrest and earned a reward.
        video = _video(tmp / "VID_20261124_164200.mp4")
        first = tip_submit(
            what="The man in the red jacket from your appeal works at the car wash on Mill "
            "Road. I filmed him there this afternoon.",
            where="Car wash, Mill Road",
            when="Tuesday afternoon",
            appeal_id=appeal.pk if appeal else None,
            passphrase=DEMO_PASSPHRASE,
            wants_reward=True,
            files=[_staged(video)] if video else [],
        )
        _process(list(first.tip.files.all()))
        tip = first.tip
        tip_triage(actor=demo, tip=tip)
        tip_assign(actor=demo, tip=tip, assignee=demo)
        tip_message_send(actor=demo, tip=tip, body=QUESTIONS[0][1])
        tipster_reply(tip=tip, body="About 4:40 pm, just before the car wash closed.")
        tip_note_add(actor=demo, tip=tip, body="Matches the CCTV timeline. Case 26-004117.")
        tip_link_add(actor=demo, tip=tip, case_number="26-004117")
        tip_action(actor=demo, tip=tip)
        tip.refresh_from_db()
        tip_close(actor=demo, tip=tip, outcome=TipOutcome.LED_TO_ARREST)
        tip.refresh_from_db()
        tip_reward_approve(
            actor=demo,
            tip=tip,
            amount=Decimal("500.00"),
            instructions="Give the code at the cashier's desk of Alderford Savings, Market "
            "Square, within 60 days. No name or ID is asked.",
        )
        with transaction.atomic():
            audit_record(actor=None, action="tips.demo_loaded", obj=tip)
        # 2. A photo for the missing-person appeal, with the phone's GPS position: new.
        photo = _photo(tmp / "IMG_4411.jpg", "Cedar Park bus stop", 38.6330, -90.2415)
        second = tip_submit(
            what="I think I saw Jordan at the Cedar Park bus stop with a green backpack, "
            "about 20 minutes ago.",
            lat=38.6330,
            lon=-90.2415,
            appeal_id=missing.pk if missing else None,
            files=[_staged(photo)],
        )
        _process(list(second.tip.files.all()))
        # 3. A text-message tip, triaged and waiting for an investigator.
        third = tip_submit(
            what="Cars racing on Harbor Drive every night after midnight.",
            channel=TipChannel.SMS,
            sender_hash=crypto.lookup_hash("+15550100999", purpose="sms"),
        )
        tip_triage(actor=demo, tip=third.tip)
        # 4. An e-mail tip with a question sent back, assigned.
        fourth = tip_submit(
            what="A white van has been parked outside 41XX Elm St for three days with the "
            "engine running at night.",
            where="Elm St",
            channel=TipChannel.EMAIL,
            contact="neighbour@example.invalid",
            sender_hash=crypto.lookup_hash("neighbour@example.invalid", purpose="email"),
        )
        tip_assign(actor=demo, tip=fourth.tip, assignee=demo)
        tip_message_send(actor=demo, tip=fourth.tip, body=QUESTIONS[3][1])
        # 5. Spam, closed.
        fifth = tip_submit(what="Buy cheap watches at example dot com")
        tip_close(actor=demo, tip=fifth.tip, outcome=TipOutcome.SPAM)
    stdout.write(
        f"Demo tips: 5 (code {tip.code}, passphrase '{DEMO_PASSPHRASE}' at /tips/status; "
        "the inbox is at /console/tips/)."
    )
