"""Demo posts, media, topics and officers over Alderford (run after the geo, accounts and
alerts demos).

Everything is made by the project's own code: pictures drawn with Pillow, a short video and
a podcast episode generated with ffmpeg when it is on PATH, all uploaded and processed
through the same services the console uses (synchronously here, so the demo shows real
renditions). Posts go through the real workflow: published, approved, scheduled, retracted,
and an appeal resolved. Loading again changes nothing: demo posts are found by the title of
their first version, officers and topics by name.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.core.files.base import File
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFont

from watchhouse.accounts.models import User
from watchhouse.accounts.roles import Role
from watchhouse.accounts.services import staff_create
from watchhouse.geo.models import Area, AreaKind
from watchhouse.posts.models import MediaAsset, OfficerProfile, Post, PostRevision, Topic
from watchhouse.posts.services import (
    Attachment,
    OfficerFields,
    PostFields,
    appeal_resolve,
    media_process,
    media_update,
    media_upload,
    officer_create,
    post_approve,
    post_create,
    post_publish,
    post_retract,
    post_schedule,
    post_submit,
    topic_create,
)

TOPICS = ("Road safety", "Burglary prevention", "Community", "Recruitment")
OFFICERS = [
    ("Sgt. Alex Rivera", "Sergeant, Beat 1", "Alex has walked Old Town since 2012.",
     "- Community Policing Award, 2023\n- 500 hours of youth mentoring", (40, 80, 160)),
    ("Officer Priya Shah", "Patrol officer, Beat 2", "Priya runs the bike-safety clinics.",
     "- Lifesaving Medal, 2022", (150, 60, 60)),
    ("Officer Sam Okafor", "School resource officer", "Sam works with Alderford's schools.",
     "", (40, 130, 80)),
]  # fmt: skip


def _staff(username: str, role: Role, first: str, last: str) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        user, _password = staff_create(
            actor=None, username=username, email=f"{username}@police.invalid",
            roles=[role], first_name=first, last_name=last,
        )  # fmt: skip
    return user


def _draw(path: Path, text: str, colour: tuple[int, int, int], size: tuple[int, int]) -> Path:
    image = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(image)
    width, height = size
    for n in range(0, width, 40):
        draw.line([(n, 0), (n + height // 2, height)], fill=tuple(min(c + 30, 255) for c in colour))
    draw.rectangle(
        [width // 10, height // 3, width * 9 // 10, height * 2 // 3], fill=(250, 250, 245)
    )
    font = ImageFont.load_default(size=height // 12)
    draw.text((width // 2, height // 2), text, fill=(20, 20, 20), font=font, anchor="mm")
    image.save(path, "JPEG", quality=88)
    return path


def _ffmpeg(path: Path, *args: str) -> Path | None:
    if shutil.which("ffmpeg") is None:
        return None
    try:
        subprocess.run(  # noqa: S603 - fixed tool and arguments
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args, str(path)],  # noqa: S607
            check=True, timeout=300, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return path


def _media(
    actor: User, path: Path | None, alt_text: str = "", caption: str = ""
) -> MediaAsset | None:
    """Upload and process a file now; None when there is no file (no ffmpeg)."""
    if path is None:
        return None
    existing = MediaAsset.objects.filter(original_name=path.name, status="ready").first()
    if existing is not None:
        return existing
    with path.open("rb") as handle:
        media = media_upload(
            actor=actor, file=File(handle, name=path.name), alt_text=alt_text, caption=caption
        )
    media_process(media_id=media.pk)
    media.refresh_from_db()
    return media


def _exists(title: str) -> bool:
    return PostRevision.objects.filter(number=1, title=title).exists()


def _areas(kind: str, count: int, offset: int = 0) -> tuple[int, ...]:
    ids = list(Area.objects.filter(kind=kind).order_by("name").values_list("pk", flat=True))
    return tuple(ids[offset : offset + count])


def load(*, stdout: Any) -> None:
    """Create the demo topics, officers, media and posts that are not there yet."""
    pio = _staff("pio", Role.PIO, "Pat", "Press")
    supervisor = _staff("duty-supervisor", Role.SUPERVISOR, "Sam", "Sergeant")
    topics = {}
    for name in TOPICS:
        topic = Topic.objects.filter(name=name).first() or topic_create(actor=None, name=name)
        topics[name] = topic.pk
    hoods = _areas(AreaKind.NEIGHBOURHOOD, 6)
    beats = _areas(AreaKind.BEAT, 3)
    made = 0
    with tempfile.TemporaryDirectory(prefix="watchhouse-demo-posts-") as folder:
        tmp = Path(folder)
        officers = []
        for n, (name, title, bio, achievements, colour) in enumerate(OFFICERS):
            officer = OfficerProfile.objects.filter(name=name).first()
            if officer is None:
                photo = _media(
                    pio, _draw(tmp / f"officer-{n + 1}.jpg", name, colour, (600, 600)),
                    alt_text=f"Portrait of {name}",
                )  # fmt: skip
                officer = officer_create(
                    actor=None,
                    fields=OfficerFields(
                        name=name, title=title, bio=bio, achievements=achievements,
                        contact_email=f"beat{n + 1}@police.invalid", position=n,
                        area_ids=beats[n : n + 1] + hoods[n : n + 1],
                        photo_id=photo.pk if photo else None,
                    ),
                )  # fmt: skip
            officers.append(officer)

        def post(title: str, **values: Any) -> Post | None:
            nonlocal made
            if _exists(title):
                return None
            made += 1
            author = values.pop("author", pio)
            return post_create(actor=author, fields=PostFields(title=title, **values))

        def image(name: str, text: str, colour: tuple[int, int, int], alt: str) -> int:
            media = _media(pio, _draw(tmp / name, text, colour, (1600, 900)), alt_text=alt)
            assert media is not None  # noqa: S101 - images need no ffmpeg
            return media.pk

        now = timezone.now()
        if p := post(
            "Main Street resurfacing: night closures this week", kind="update",
            summary="Main Street is closed 8 pm to 5 am, Monday to Thursday.",
            body="Crews resurface **Main Street** between 1st and 5th Avenue.\n\n"
                 "- Use Oak Avenue\n- Buses divert to Elm Street",
            area_ids=hoods[:2], topic_ids=(topics["Road safety"],),
            attachments=(Attachment(image("roadworks.jpg", "Road works", (200, 120, 30),
                                          "A closed road with cones and a digger"), "cover"),),
        ):  # fmt: skip
            post_publish(actor=pio, post=p)
        if p := post(
            "Burglaries down 18% after the Lock It campaign", kind="article",
            summary="A year of the Lock It campaign, in figures.",
            body="## What changed\n\nReported burglaries fell by 18%.\n\n| Year | Burglaries |\n"
                 "|------|-----------:|\n| 2024 | 412 |\n| 2025 | 338 |",
            topic_ids=(topics["Burglary prevention"],), area_ids=hoods,
        ):  # fmt: skip
            post_submit(actor=pio, post=p)
            post_approve(actor=supervisor, post=p)
        if p := post(
            "Five ways to keep your bike", kind="safety_tip",
            summary="A good lock and a photo of the frame number help most.",
            body="1. Use a D-lock\n2. Lock the frame, not the wheel\n3. Photograph the "
                 "frame number\n4. Register it\n5. Park where people pass",
            topic_ids=(topics["Burglary prevention"], topics["Road safety"]),
            attachments=(Attachment(image("bike.jpg", "Lock it", (30, 90, 160),
                                          "A bicycle locked to a stand with a D-lock"), "cover"),),
        ):  # fmt: skip
            post_publish(actor=pio, post=p)
        if p := post(
            "Coffee with a Cop at the library", kind="event",
            summary="Meet your beat officers over coffee.",
            body="Bring questions, ideas and complaints.",
            event_start=now + timedelta(days=9), event_end=now + timedelta(days=9, hours=2),
            event_location="Alderford Public Library, 12 Market Square",
            topic_ids=(topics["Community"],), area_ids=hoods[2:3],
        ):  # fmt: skip
            post_publish(actor=pio, post=p)
        if p := post(
            "Recruitment open day next month", kind="event",
            summary="See what the job is like.", topic_ids=(topics["Recruitment"],),
            event_start=now + timedelta(days=30), event_location="Police headquarters",
        ):  # fmt: skip
            post_schedule(actor=pio, post=p, publish_at=now + timedelta(days=2))
        if p := post(
            "Help us identify this man (Riverside shop theft)", kind="appeal",
            summary="Do you recognise him? Tell us, anonymously if you like.",
            body="Seen leaving the Riverside pharmacy on Tuesday afternoon.",
            area_ids=hoods[3:4],
            attachments=(Attachment(image("cctv.jpg", "CCTV still", (90, 90, 90),
                                          "A man in a red jacket at a shop door"), "cover"),),
        ):  # fmt: skip
            post_submit(actor=pio, post=p)
            p = post_approve(actor=supervisor, post=p)
            appeal_resolve(actor=supervisor, post=p, outcome="identified")
        if p := post(
            "Missing: Jordan, 15, last seen near Cedar Park", kind="missing",
            summary="Jordan is 5 ft 6, slim, with a green backpack.",
            body="Call 911 if you see Jordan. Please do not share guesses on social media.",
            area_ids=hoods[1:2], author=supervisor,
            attachments=(Attachment(image("missing.jpg", "Jordan", (60, 110, 140),
                                          "Photo of Jordan, smiling, in a school uniform"),
                                    "cover"),),
        ):  # fmt: skip
            post_publish(actor=supervisor, post=p)
        if p := post(
            f"Meet {officers[0].name}, Beat 1's sergeant", kind="story",
            summary="Twelve years on the same streets.", officer_id=officers[0].pk,
            body="Alex knows every shopkeeper on Market Street by name.",
            topic_ids=(topics["Community"],), area_ids=beats[:1],
        ):  # fmt: skip
            post_submit(actor=pio, post=p)
            post_approve(actor=supervisor, post=p)
        if p := post(
            "Street party road closures", kind="update",
            summary="Wrong date: see the corrected post.", body="Saturday 14th.",
        ):  # fmt: skip
            p = post_publish(actor=pio, post=p)
            post_retract(actor=pio, post=p, reason="Posted with the wrong date; the party is "
                                                   "on Sunday 15th.")  # fmt: skip
        video_title = "Video: bike-safety clinic highlights"
        clip = None if _exists(video_title) else _media(
            pio,
            _ffmpeg(tmp / "bike-clinic.mp4",
                    "-f", "lavfi", "-i", "testsrc=size=640x360:rate=25:duration=4",
                    "-f", "lavfi", "-i", "sine=frequency=440:duration=4",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"),
            caption="Bike-safety clinic",
        )  # fmt: skip
        if clip is not None and clip.status == "ready" and (p := post(
            video_title, kind="video",
            summary="Four seconds of the clinic.", topic_ids=(topics["Road safety"],),
            attachments=(Attachment(clip.pk, "video"),),
        )):  # fmt: skip
            post_submit(actor=pio, post=p)
            post_approve(actor=supervisor, post=p)
        podcast_title = "Beat Briefing, episode 1: the new beats"
        episode = None if _exists(podcast_title) else _media(
            pio,
            _ffmpeg(tmp / "beat-briefing-1.wav", "-f", "lavfi", "-i",
                    "sine=frequency=330:duration=6", "-c:a", "pcm_s16le"),
        )  # fmt: skip
        if episode is not None and episode.status == "ready" and (p := post(
            podcast_title, kind="podcast",
            summary="How the beats changed and who walks yours.",
            body="Chapters: the map, the officers, your questions.",
            attachments=(Attachment(episode.pk, "audio"),),
        )):  # fmt: skip
            media_update(
                actor=pio, media=episode, alt_text="", caption="Beat Briefing, episode 1",
                chapters=[{"start_s": 0, "title": "The map"},
                          {"start_s": 2, "title": "The officers"},
                          {"start_s": 4, "title": "Your questions"}],
            )  # fmt: skip
            post_submit(actor=pio, post=p)
            post_approve(actor=supervisor, post=p)
    if made:
        stdout.write(
            f"Demo posts: {made} created, {Post.objects.count()} in all; "
            f"{OfficerProfile.objects.count()} officers, {Topic.objects.count()} topics."
        )
    else:
        stdout.write("Demo posts: already loaded.")
