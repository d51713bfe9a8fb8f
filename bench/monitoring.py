"""The public-post stream: posts per second with 10,000 phrase rules, 100 areas and the
classifier on, beside the bare phrase-matching rate; memory over a long replay.

Everything :meth:`StreamProcessor.process` uses is built in memory (it touches no database):

- areas: the St. Louis neighbourhoods that have a geometry (88) and wards to make 100
  (``../shared/data/crime/st-louis``);
- a gazetteer of those areas, 400 generated street names ("Walnut St", "N Cedar Ave") at
  random points in the city, and 40 landmarks with an alias each;
- 10,000 phrase rules of 1-3 phrases each, made from emergency words, the gazetteer's place
  names and everyday words ("shooting", "flooding on walnut st", "fire downtown", "gas leak
  near school"); a tenth also have an area, a twentieth a radius, a twentieth languages;
- the classifier as ``scorer_load()`` gives it (the trained model when one is installed at
  ``WATCHHOUSE_MONITORING_MODEL``, else the built-in lexicon; ``--model PATH`` for another);
- posts: every text of CrisisLex T26 ("Tweet Text") and T6 ("tweet")
  (``../shared/data/crisis``; research-only data, read in place), about 88,000, replayed as
  :class:`PublicPost` with unique ids.

Figures (medians of ``--repeats`` runs over all posts, batches of 500):

- ``posts_per_s``: through ``StreamProcessor.process`` in this one process, fresh duplicate
  and story memory each run; the classifier scores only posts with a candidate rule or a
  local place (``scored_share`` says how many), see the stream module;
- ``bare_phrase_per_s``: the same automaton's ``iter`` over the same texts, already
  normalised, nothing else (no normalising, places, rules, classifier or stories); ``ratio``;
- ``matched``: posts matched per pass; ``two_process_posts_per_s``: two forked processes
  each processing half the posts (wall time of both);
- memory: a replay of ``--seconds`` × 6,000 posts (default 60 s; ``--seconds 3600`` is the
  one-hour replay at the target rate), posts cycled with fresh ids and authors, VmRSS from
  /proc/self/status sampled every 20 batches: start, end, max, and the slope (MB/min of
  replayed stream time) over the second half, when every bounded memory is full;
- ``classifier``: ``bench/monitoring_classifier.py``'s figures when ``--classifier`` is given
  (it trains and evaluates on T26, which takes minutes).

Prints one JSON line; exits 1 when a stream target is missed (≥ 6,000 posts/s in one
process; a memory slope under 1 MB/min); the classifier's own targets are in its dict.
For the cost of a trained model rather than the lexicon, train one on T26 to a scratch file
(never shipped) and pass ``--model``. Usage, from the repository root:
``python -m bench.monitoring [--repeats N] [--seconds N] [--classifier]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("WATCHHOUSE_SHARED_DATA", REPO.parent / "shared" / "data"))
CRISIS = SHARED / "crisis"
STL = SHARED / "crime" / "st-louis"
TARGET_POSTS_PER_S = 6000
TARGET_SLOPE_MB_PER_MIN = 1.0
BATCH = 500
RULES = 10_000
AREAS = 100

EMERGENCY = (
    "fire", "house fire", "smoke", "flames", "explosion", "shots fired", "shooting", "gunshots",
    "stabbing", "flood", "flooding", "flash flood", "tornado", "earthquake", "collapse",
    "building collapse", "gas leak", "evacuate", "evacuation", "crash", "car crash",
    "train crash", "derailment", "power outage", "downed lines", "injured", "trapped",
    "missing child", "amber alert", "hazmat", "chemical spill", "bomb", "suspicious package",
    "lockdown", "hostage", "riot", "looting", "wildfire", "hail", "storm damage",
    "water rescue", "road closed", "sinkhole", "carbon monoxide", "overdose", "dead body",
)  # fmt: skip
CONNECT = ("on", "near", "at", "in", "by")
WORDS = (
    "school", "downtown", "bridge", "park", "church", "hospital", "mall", "station", "river",
    "highway", "apartment", "warehouse", "bus", "stadium", "campus", "market", "library",
    "tonight", "now", "again", "huge", "big", "massive", "reported", "police", "firefighters",
)  # fmt: skip
STREET_NAMES = (
    "Walnut", "Cedar", "Oak", "Maple", "Pine", "Elm", "Chestnut", "Spruce", "Olive", "Locust",
    "Market", "Grand", "Kingshighway", "Jefferson", "Gravois", "Chippewa", "Arsenal", "Delmar",
    "Lindell", "Forest Park", "Natural Bridge", "Broadway", "Tucker", "Union", "Skinker",
    "Hampton", "Manchester", "Shaw", "Tower Grove", "Compton", "Cherokee", "Morganford",
    "Florissant", "Goodfellow", "Page", "Easton", "Cass", "Washington", "Lafayette", "Russell",
)  # fmt: skip
STREET_TYPES = ("ST", "AVE", "BLVD", "DR", "RD", "PL", "CT", "PKWY", "LN", "TER")
DIRECTIONS = ("", "", "N ", "S ", "E ", "W ")


def _django() -> None:
    os.environ.setdefault("WATCHHOUSE_VAR_DIR", "/tmp/wh-monitoring")  # noqa: S108
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchhouse.config.settings")
    os.makedirs(os.environ["WATCHHOUSE_VAR_DIR"], exist_ok=True)
    import django

    django.setup()


def rss_mb() -> float:
    """This process's resident set size in MB (VmRSS)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def crisis_texts() -> list[str]:
    """Every post text of CrisisLex T26 and T6."""
    texts: list[str] = []
    for folder, column in (("crisislex-t26", "tweet text"), ("crisislex-t6", "tweet")):
        for path in sorted((CRISIS / folder).glob("*/*.csv")):
            with path.open(encoding="utf-8", errors="replace", newline="") as handle:
                reader = csv.reader(handle)
                header = [name.strip().lower() for name in next(reader)]
                index = header.index(column)
                texts.extend(row[index] for row in reader if len(row) > index)
    return texts


def build(rng: random.Random, model: Path | None) -> tuple[Any, Any, Any, dict[str, Any]]:
    """The rules, gazetteer and scorer of the bench."""
    import shapely

    from watchhouse.monitoring.classifier import model_load, scorer_load
    from watchhouse.monitoring.matching import CompiledRule, CompiledRules
    from watchhouse.monitoring.normalise import normalise_text
    from watchhouse.monitoring.places import Gazetteer, street_variants

    areas: list[tuple[int, str, float, float, Any]] = []
    for name, field in (
        ("stl_neighborhoods.geojson", "neighborhood_name"),
        ("stl_wards.geojson", "NAME"),
    ):
        document = json.loads((STL / name).read_text(encoding="utf-8"))
        features = [f for f in document["features"] if f.get("geometry")]
        for feature in features[: AREAS - len(areas)]:
            shape = shapely.geometry.shape(feature["geometry"])
            point = shape.representative_point()
            areas.append(
                (len(areas) + 1, str(feature["properties"][field]), point.y, point.x, shape)
            )
    city = shapely.union_all([a[4] for a in areas])
    minx, miny, maxx, maxy = city.bounds

    def point_in_city() -> tuple[float, float]:
        while True:
            x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            if city.contains(shapely.Point(x, y)):
                return y, x

    streets = []
    for _ in range(400):
        name = f"{rng.choice(DIRECTIONS)}{rng.choice(STREET_NAMES)} {rng.choice(STREET_TYPES)}"
        streets.append((name.upper(), *point_in_city()))
    landmarks = [
        (f"{rng.choice(STREET_NAMES)} {kind}", [f"the {kind.lower()} {n}"], *point_in_city())
        for n, kind in enumerate(["High School", "Hospital", "Stadium", "Library", "Mall"] * 8)
    ]
    gazetteer = Gazetteer(areas=areas, streets=streets, landmarks=landmarks, extent=city)
    place_names = [normalise_text(a[1]) for a in areas] + [
        v for s in streets for v in street_variants(s[0])[:2]
    ]

    def phrase() -> str:
        roll = rng.random()
        word = rng.choice(EMERGENCY)
        if roll < 0.2:
            return word
        if roll < 0.7:
            return f"{word} {rng.choice(CONNECT)} {rng.choice(place_names)}"
        return (
            f"{word} {rng.choice(WORDS)}" if rng.random() < 0.5 else f"{rng.choice(WORDS)} {word}"
        )

    far = datetime.now(UTC) + timedelta(days=365)
    compiled = []
    for number in range(1, RULES + 1):
        extra: dict[str, Any] = {}
        roll = rng.random()
        if roll < 0.10:
            area = rng.choice(areas)
            extra = {"area_id": area[0], "area": area[4]}
        elif roll < 0.15:
            lat, lon = point_in_city()
            extra = {"lat": lat, "lon": lon, "radius_m": rng.choice([500.0, 1000.0, 2000.0])}
        elif roll < 0.20:
            extra = {"languages": frozenset({"en"})}
        compiled.append(
            CompiledRule(
                id=number,
                name=f"rule {number}",
                phrases=frozenset(normalise_text(phrase()) for _ in range(rng.randint(1, 3))),
                expires_at=far,
                **extra,
            )
        )
    rules = CompiledRules(compiled)
    scorer = model_load(model) if model is not None else scorer_load()
    setup = {
        "rules": len(rules),
        "distinct_phrases": rules.phrase_count,
        "areas": len(areas),
        "gazetteer_names": gazetteer.names,
        "scorer": scorer.name,
    }
    return rules, gazetteer, scorer, setup


def make_posts(texts: Sequence[str], *, start: int = 0) -> list[Any]:
    from watchhouse.monitoring.posts import PublicPost

    now = datetime.now(UTC)
    return [
        PublicPost(
            source="file",
            remote_id=f"bench-{start + n}",
            text=text,
            posted_at=now,
            author_handle=f"user{(start + n) * 7919 % 1_000_003}",
            language="en",
        )
        for n, text in enumerate(texts)
    ]


def one_pass(rules: Any, gazetteer: Any, scorer: Any, posts: Sequence[Any]) -> dict[str, Any]:
    from watchhouse.monitoring.stream import StreamProcessor, StreamState

    processor = StreamProcessor(rules, gazetteer, scorer, state=StreamState())
    matched = scored = 0
    counts: dict[str, int] = {}
    started = time.perf_counter()
    for at in range(0, len(posts), BATCH):
        result = processor.process(posts[at : at + BATCH])
        matched += result.counts["matched"]
        scored += result.scored
        for name, value in result.counts.items():
            counts[name] = counts.get(name, 0) + value
    elapsed = time.perf_counter() - started
    return {"rate": len(posts) / elapsed, "matched": matched, "scored": scored, "counts": counts}


def bare_rate(rules: Any, texts_norm: Sequence[str]) -> float:
    automaton = rules._automaton
    started = time.perf_counter()
    found = 0
    for text in texts_norm:
        for _ in automaton.iter(text):
            found += 1
    return len(texts_norm) / (time.perf_counter() - started)


def two_processes(rules: Any, gazetteer: Any, scorer: Any, posts: Sequence[Any]) -> float:
    """Posts per second with two forked workers, each processing half the posts."""
    half = len(posts) // 2
    started = time.perf_counter()
    children = []
    for part in (posts[:half], posts[half:]):
        pid = os.fork()
        if pid == 0:
            try:
                one_pass(rules, gazetteer, scorer, part)
            finally:
                os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    return len(posts) / (time.perf_counter() - started)


def memory(
    rules: Any, gazetteer: Any, scorer: Any, texts: Sequence[str], seconds: int
) -> dict[str, Any]:
    from watchhouse.monitoring.stream import StreamProcessor, StreamState

    total = seconds * TARGET_POSTS_PER_S
    processor = StreamProcessor(rules, gazetteer, scorer, state=StreamState())
    samples: list[tuple[float, float]] = []  # (stream minutes replayed, RSS MB)
    start_rss = rss_mb()
    started = time.perf_counter()
    done = 0
    batch_number = 0
    while done < total:
        offset = done % len(texts)
        chunk = list(texts[offset : offset + BATCH])[: total - done]
        processor.process(make_posts(chunk, start=done))
        done += len(chunk)
        batch_number += 1
        if batch_number % 20 == 0:
            samples.append((done / TARGET_POSTS_PER_S / 60, rss_mb()))
    elapsed = time.perf_counter() - started
    second_half = samples[len(samples) // 2 :]
    slope = 0.0
    if len(second_half) >= 2:
        xs = [s[0] for s in second_half]
        ys = [s[1] for s in second_half]
        mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
        var = sum((x - mean_x) ** 2 for x in xs)
        slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var
    return {
        "replayed_posts": done,
        "replay_stream_seconds": seconds,
        "replay_wall_s": round(elapsed, 1),
        "rss_start_mb": round(start_rss, 1),
        "rss_end_mb": round(rss_mb(), 1),
        "rss_max_mb": round(max([s[1] for s in samples] or [start_rss]), 1),
        "rss_slope_mb_per_min_second_half": round(slope, 3),
        "duplicate_memory": len(processor.state.seen),
        "story_bands": len(processor.state.stories),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=60, help="Replayed stream seconds.")
    parser.add_argument("--model", type=Path, default=None, help="A trained model file.")
    parser.add_argument("--classifier", action="store_true", help="Add the classifier bench.")
    parser.add_argument("--no-fork", action="store_true", help="Skip the two-process figure.")
    args = parser.parse_args(argv)
    if not (CRISIS / "crisislex-t26").is_dir() or not STL.is_dir():
        print(json.dumps({"skipped": f"{CRISIS} or {STL} is missing"}))  # noqa: T201
        return 1
    _django()
    from watchhouse.monitoring.normalise import normalise_text

    rng = random.Random(20260601)  # noqa: S311 - reproducible test data, not security
    rules, gazetteer, scorer, setup = build(rng, args.model)
    texts = crisis_texts()
    posts = make_posts(texts)
    norm = [normalise_text(t) for t in texts]
    passes = [one_pass(rules, gazetteer, scorer, posts) for _ in range(args.repeats)]
    bares = [bare_rate(rules, norm) for _ in range(args.repeats)]
    rate = statistics.median(p["rate"] for p in passes)
    bare = statistics.median(bares)
    figures: dict[str, Any] = {
        **setup,
        "posts": len(posts),
        "batch": BATCH,
        "gating": "classifier scores only posts with a candidate rule or a local place",
        "posts_per_s": round(rate),
        "bare_phrase_per_s": round(bare),
        "ratio": round(rate / bare, 4),
        "matched": passes[0]["matched"],
        "scored_share": round(passes[0]["scored"] / len(posts), 3),
        "counts": passes[0]["counts"],
    }
    if not args.no_fork:
        figures["two_process_posts_per_s"] = round(
            statistics.median(
                two_processes(rules, gazetteer, scorer, posts) for _ in range(args.repeats)
            )
        )
    figures["memory"] = memory(rules, gazetteer, scorer, texts, args.seconds)
    if args.classifier:
        try:
            from bench.monitoring_classifier import bench_figures
        except ImportError as error:
            figures["classifier"] = {"skipped": str(error)}
        else:
            figures["classifier"] = bench_figures()
    else:
        figures["classifier"] = {"skipped": "run with --classifier (trains on T26, minutes)"}
    figures["targets_met"] = (
        rate >= TARGET_POSTS_PER_S
        and figures["memory"]["rss_slope_mb_per_min_second_half"] < TARGET_SLOPE_MB_PER_MIN
    )
    print(json.dumps(figures))  # noqa: T201
    return 0 if figures["targets_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
