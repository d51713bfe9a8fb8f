"""Demo monitoring (run after the staff, areas, addresses and outlets demos): sources, the
city's landmarks, watch rules, a refused rule and an override waiting for a supervisor, a case
workspace opened by two people, and synthetic public posts run through the real stream.

Every post here was written for this demo (no real accounts, no research corpus: the CrisisLex
terms forbid publishing its texts); the accounts are on ``social.example`` and the posts arrive
as a file import. Nothing calls the internet: the Jetstream source is set up but switched off
(it needs the internet). Loading
again adds nothing: sources, landmarks, rules and cases are found by name, the refusal by its
audit entry, and the posts are fed to the stream only while none of them is stored.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from watchhouse.accounts.models import User
from watchhouse.accounts.roles import Role
from watchhouse.audit.models import AuditEntry
from watchhouse.core.errors import WatchhouseError
from watchhouse.geo.demo import CENTRE
from watchhouse.geo.distance import destination
from watchhouse.geo.models import Area
from watchhouse.monitoring import policy
from watchhouse.monitoring.models import (
    Approval,
    ApprovalKind,
    ApprovalState,
    Case,
    CaseState,
    Landmark,
    MatchedPost,
    Source,
    SourceKind,
    WatchRule,
)
from watchhouse.monitoring.posts import PublicPost

REMOTE_PREFIX = "https://social.example/demo/"
STORY_SIZE = 20

# Demo staff beside the all-roles "demo" account, so each two-person step has two people:
# (username, first name, last name, role).
DEMO_PEOPLE = [
    ("analyst", "Avery", "Analyst", Role.ANALYST),
    ("detective", "Devon", "Detective", Role.INVESTIGATOR),
]

# (name, aliases, bearing from the centre in degrees, distance in metres)
LANDMARKS = [
    ("Alderford Memorial Stadium", ["Memorial Stadium", "the stadium"], 40, 1800),
    ("Alderford High School", ["AHS"], 200, 1500),
    ("Union Station", ["the train station"], 300, 900),
    ("Alderford General Hospital", ["General Hospital"], 120, 2200),
    ("City Hall", [], 0, 150),
    ("Riverside Mall", ["the mall"], 250, 3000),
]

JETSTREAM_NAME = "Bluesky Jetstream (switched off: needs the internet)"
FILE_NAME = "Demo posts (file import, written for the demo)"
RSS_NAME = "Our own alerts feed (Atom)"


def _people() -> dict[str, User]:
    from watchhouse.accounts.services import staff_create

    people = {}
    for username, first, last, role in DEMO_PEOPLE:
        user = User.objects.filter(username=username).first()
        if user is None:
            user, _password = staff_create(
                actor=None, username=username, email=f"{username}@police.invalid",
                roles=[role], first_name=first, last_name=last,
            )  # fmt: skip
        people[username] = user
    return people


def _sources(actor: User, out: list[str]) -> dict[str, Source | None]:
    from watchhouse.monitoring.services.sources import source_create, source_update

    wanted: list[tuple[str, str, str, dict[str, Any], bool]] = [
        ("rss", RSS_NAME, SourceKind.RSS,
         {"urls": [settings.SITE_URL + reverse("alerts:feed_atom")]}, True),
        ("jetstream", JETSTREAM_NAME, SourceKind.JETSTREAM,
         {"endpoint": "wss://jetstream2.us-east.bsky.network/subscribe",
          "collections": ["app.bsky.feed.post"]}, False),
        # The demo's posts, also written to a file so `watchhouse monitoring import` and the
        # file source can read them again (they are dropped as duplicates).
        ("file", FILE_NAME, SourceKind.FILE, {"path": str(_posts_file())}, False),
    ]  # fmt: skip
    found: dict[str, Source | None] = {}
    for key, name, kind, config, enabled in wanted:
        source = Source.objects.filter(name=name).first()
        if source is None:
            try:
                source = source_create(actor=actor, kind=kind, name=name, config=config)
                if not enabled:
                    source = source_update(actor=actor, source_id=source.pk, enabled=False)
            except WatchhouseError as exc:
                out.append(f"source “{name}” not created: {exc}")
                source = None
        found[key] = source
    return found


def _landmarks(actor: User) -> list[Landmark]:
    from watchhouse.monitoring.services.landmarks import landmark_save

    made = []
    for name, aliases, bearing, metres in LANDMARKS:
        landmark = Landmark.objects.filter(name=name).first()
        if landmark is None:
            lat, lon = destination(*CENTRE, bearing_deg=bearing, distance_m=metres)
            landmark = landmark_save(
                actor=actor, name=name, aliases=aliases, lat=round(float(lat), 6),
                lon=round(float(lon), 6),
            )  # fmt: skip
        made.append(landmark)
    return made


def _rules(actor: User, out: list[str]) -> list[WatchRule]:
    from watchhouse.monitoring.services.rules import rule_create

    stadium = Landmark.objects.filter(name=LANDMARKS[0][0]).first()
    riverside = Area.objects.filter(name="Riverside").order_by("pk").first()
    expires = timezone.now() + timedelta(days=30)
    wanted: list[dict[str, Any]] = [
        {"name": "Shots fired", "purpose": "Reports of gunfire, to send a car before a 911 "
         "call arrives.", "phrases": ["shots fired", "gunshots", "heard gunfire"]},
        {"name": "Smoke and flames", "purpose": "Fires reported by people who see them.",
         "expression": "(smoke OR flames OR fire) AND NOT (drill OR barbecue OR bbq)"},
        {"name": "Gas leak", "purpose": "Gas leaks, passed to the fire department and the "
         "utility.", "phrases": ["gas leak", "smell of gas", "smells like gas"]},
        {"name": "Spanish: emergencias", "purpose": "Emergencies reported in Spanish.",
         "phrases": ["incendio", "disparos", "fuga de gas", "humo"], "languages": ["es"]},
    ]  # fmt: skip
    if stadium is not None:
        wanted.append(
            {"name": "Crowd trouble near the stadium", "purpose": "Crowd safety at events.",
             "phrases": ["crowd", "crush", "fight", "stampede", "injured"],
             "lat": stadium.lat, "lon": stadium.lon, "radius_m": 800},
        )  # fmt: skip
    if riverside is not None:
        wanted.append(
            {"name": "Flooding in Riverside", "purpose": "River flooding in the low streets.",
             "phrases": ["flooding", "flooded", "water rising"], "area_id": riverside.pk},
        )  # fmt: skip
    rules = []
    for fields in wanted:
        rule = WatchRule.objects.filter(name=fields["name"]).first()
        if rule is None:
            try:
                rule = rule_create(actor=actor, expires_at=expires, **fields)
            except WatchhouseError as exc:
                out.append(f"rule “{fields['name']}” not created: {exc}")
                continue
        rules.append(rule)
    return rules


def _refused_rule(actor: User) -> bool:
    """One attempt to watch a protest: refused and counted on the transparency page."""
    from watchhouse.monitoring.services.rules import rule_create

    if AuditEntry.objects.filter(action=policy.ACTION_RULE_REFUSE, actor=actor).exists():
        return False
    try:
        rule_create(
            actor=actor, name="Protest watch", purpose="See who goes to Saturday's rally.",
            phrases=["protest", "rally"], expires_at=timezone.now() + timedelta(days=7),
        )  # fmt: skip
    except WatchhouseError:
        return True
    return False


def _override_request(actor: User) -> Approval | None:
    """A rule naming a protest, with a criminal nexus, waiting for a supervisor."""
    from watchhouse.monitoring.services.rules import rule_override_request

    name = "Arson threat at Saturday's march"
    rule = WatchRule.objects.filter(name=name).first()
    if rule is None:
        rule = rule_override_request(
            actor=actor, name=name,
            purpose="Find further posts about a specific threat to set fire to the courthouse.",
            nexus="An anonymous post on the 27th named a plan to throw petrol bombs at the "
                  "courthouse during Saturday's march (arson, attempted). The rule looks only "
                  "for fire-bomb words together with the march, for three days.",
            expression="(molotov OR \"petrol bomb\" OR firebomb) AND (march OR protest)",
            expires_at=timezone.now() + timedelta(days=3),
        )  # fmt: skip
    return Approval.objects.filter(rule=rule, kind=ApprovalKind.RULE_OVERRIDE).first()


def _case(investigator: User, supervisor: User) -> Case | None:
    from watchhouse.monitoring.services.cases import case_decide, case_posts_add, case_request

    number = "AF-2026-0147"
    case = Case.objects.filter(number=number).first()
    if case is None:
        case = case_request(
            actor=investigator, number=number, title="Missing person: Jordan Example (demo)",
            justification="Jordan Example, 16, has not been seen since Tuesday evening; their "
                          "own public posts may show where they went.",
            predicate="Suspected custodial interference / endangerment of a minor reported by "
                      "the family (a criminal predicate under 28 CFR Part 23).",
        )  # fmt: skip
    if case.state == CaseState.REQUESTED:
        case = case_decide(actor=supervisor, case_id=case.pk, approve=True, note="Demo approval.")
    if case.state == CaseState.OPEN and not case.items.exists():
        case_posts_add(
            actor=investigator, case_id=case.pk, posts=_missing_person_posts(),
            justification="Jordan's own public posts, exported by the family for the search.",
        )  # fmt: skip
    return case


def _missing_person_posts() -> list[PublicPost]:
    """The missing person's own public posts (written for the demo): places named, one
    carrying its coordinates, so the case's timeline and map have something to show."""
    station_lat, station_lon = destination(*CENTRE, bearing_deg=300, distance_m=900)
    texts = [
        (2900, "Last day of the term at Alderford High School, finally", {}),
        (1500, "Walking to Riverside Mall with nobody, as usual", {}),
        (95, "At Union Station, the 9:40 is late again",
         {"lat": station_lat + 0.0004, "lon": station_lon - 0.0003}),
        (80, "Leaving town for a bit. Don't look for me", {}),
    ]  # fmt: skip
    return [
        _post(900 + n, minutes, "jordan.m", text, **extra)
        for n, (minutes, text, extra) in enumerate(texts)
    ]


def _posts_file() -> Path:
    """The demo posts as JSONL (the file import format), written once."""
    path = Path(settings.VAR_DIR) / "demo" / "monitoring-posts.jsonl"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = [
            {"id": p.remote_id, "text": p.text, "time": p.posted_at.isoformat(),
             "author": p.author_handle, "url": p.url, "lang": p.language, "lat": p.lat,
             "lon": p.lon}
            for p in demo_posts()
        ]  # fmt: skip
        path.write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )
    return path


def _post(n: int, minutes_ago: float, handle: str, text: str, **extra: Any) -> PublicPost:
    return PublicPost(
        source=SourceKind.FILE, remote_id=f"{REMOTE_PREFIX}{n}", text=text,
        posted_at=timezone.now() - timedelta(minutes=minutes_ago),
        author_handle=f"{handle}@social.example", author_name=f"{handle} (demo account)",
        url=f"{REMOTE_PREFIX}{n}", language=extra.pop("language", "en"), **extra,
    )  # fmt: skip


def demo_posts(source_id: int | None = None) -> list[PublicPost]:
    """The demo's synthetic posts, oldest first: matches for every rule, a story of
    near-duplicates, one found only by the classifier, an evasion attempt, and chatter that
    matches nothing (counted, then forgotten)."""
    stadium_lat, stadium_lon = destination(*CENTRE, bearing_deg=40, distance_m=1800)
    posts = [
        _post(
            1,
            55,
            "nightowl",
            "Heard what sounded like shots fired near 9th St and Oak Ave, "
            "four or five pops, then a car speeding off.",
        ),
        _post(
            2,
            50,
            "maple_mom",
            "Strong smell of gas on Maple Ave by Alderford High School, "
            "the whole block smells like gas. Calling it in.",
        ),
        _post(
            3,
            48,
            "lucia_r",
            "Hay mucho humo saliendo de un edificio cerca de Union "
            "Station, ¡llamen a los bomberos!",
            language="es",
        ),
        _post(
            4,
            45,
            "gamefan22",
            "Fight broke out in the crowd outside Memorial Stadium, someone on the ground injured.",
        ),
        _post(
            5,
            44,
            "ticketguy",
            "People pushing at gate C, getting crushed against the "
            "barrier, crowd is out of control",
            lat=float(stadium_lat) + 0.001,
            lon=float(stadium_lon),
        ),
        _post(
            6,
            40,
            "riverwalker",
            "Water rising fast on the river path in Riverside, the underpass is already flooded.",
        ),
        # Look-alike letters (fullwidth G, Cyrillic а) do not hide a gas leak.
        _post(
            7,
            38,
            "washday",
            "\uff27\u0430s leak at the laundromat on 3rd St, they evacuated everyone.",
        ),
        # No rule names this; the classifier alone keeps it.
        _post(
            8,
            30,
            "commuter_jo",
            "Car flipped over at the exit by Riverside Mall, driver trapped inside and "
            "bleeding, ambulance needed urgently.",
        ),
        _post(9, 28, "foodie", "Anyone know a good pizza place in Old Town? Asking for a friend."),
        _post(10, 27, "sunsetsnap", "Lovely sunset over the river tonight, what a view."),
        _post(11, 26, "bbq_king", "Smoke everywhere in my yard, barbecue season is back!"),
    ]
    story = ("Huge plume of black smoke and flames over the rail yard behind Union Station, "
             "fire trucks heading there now")  # fmt: skip
    variants = ["", "RT ", "Wow. ", "Stay away: ", "!! ", "Look at this: "]
    for i in range(STORY_SIZE):
        prefix = variants[i % len(variants)]
        suffix = "" if i % 3 else " #alderford"
        _handle = f"neighbour{i + 1}"
        posts.append(_post(100 + i, 20 - i * 0.4, _handle, f"{prefix}{story}{suffix}"))
    for post in posts:
        post.source_id = source_id
    return posts


def _ingest(source: Source | None) -> dict[str, int] | None:
    from watchhouse.monitoring.runner import posts_ingest

    if MatchedPost.objects.filter(remote_id__startswith=REMOTE_PREFIX).exists():
        return None
    return posts_ingest(demo_posts(source.pk if source else None), source=source)


def load(*, stdout: Any) -> None:
    """Create the demo sources, landmarks, rules, requests, case and matched posts
    (idempotent)."""
    supervisor = User.objects.filter(username="demo").first()
    if supervisor is None:
        stdout.write("Demo monitoring: skipped (load the demo staff first).")
        return
    notes: list[str] = []
    people = _people()
    analyst = people["analyst"]
    sources = _sources(analyst, notes)
    landmarks = _landmarks(analyst)
    rules = _rules(analyst, notes)
    refused = _refused_rule(analyst)
    approval = _override_request(analyst)
    try:
        case = _case(people["detective"], supervisor)
    except (ImportError, WatchhouseError) as exc:
        case = None
        notes.append(f"case not opened: {exc}")
    counts = _ingest(sources.get("file"))
    waiting = approval is not None and approval.state == ApprovalState.PENDING
    stdout.write(
        f"Demo monitoring: {len([s for s in sources.values() if s])} sources (Jetstream "
        f"switched off: it needs the internet), {len(landmarks)} landmarks, {len(rules)} watch "
        f"rules, {'a refused protest rule, ' if refused else ''}"
        f"{'an override waiting for a supervisor, ' if waiting else ''}"
        f"{'case ' + case.number + ' open, ' if case else ''}"
        + (f"demo posts: {counts}" if counts is not None else "demo posts already in")
        + " (see /console/monitoring/)."
        + ("".join(f"\n  {n}" for n in notes))
    )
