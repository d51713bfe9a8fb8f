"""Public posts under load with 100,000 posts, beside nginx serving the same bytes.

Sets up a scratch install in ``WATCHHOUSE_VAR_DIR`` (default /tmp/wh-posts; its SQLite file is
recreated): ``migrate``, ``collectstatic``, ``demo`` (areas), then writes ``--posts`` published
posts straight into the database (three of 47 topical words each among filler from a large
made-up vocabulary, a tenth tagged with one neighbourhood, a topic on a fifth, 40 podcast
episodes with an audio file), and starts ``watchhouse serve`` on a free loopback port exactly as
``make run`` does (its default workers and threads, ``WATCHHOUSE_DEBUG=0``). It fetches the
timeline ``/news/``, the neighbourhood's area page and each feed once, writes their bytes to
files and starts Debian's nginx (a generated config, ``daemon off``) serving them on another
free port. Then ``wrk -t2 -c64 -d<duration>s --latency`` runs ``--repeats`` times (medians
reported) against each URL (Watchhouse and nginx), and against each feed with ``If-None-Match``
set to its ETag (the 304 path; one such request is checked to be a 304). Search is timed apart:
``--searches`` sequential requests to ``/news/search`` for distinct two-word queries (so no
answer comes from the page cache); its p95 is reported.

Prints one JSON line; exits 1 when Watchhouse misses a target of the issue (pages and feeds ≥
3,000 requests/s with p99 ≤ 100 ms, 304s ≥ 6,000 requests/s, search p95 ≤ 50 ms) or any response
was not a 2xx/3xx. Usage, from the repository root: ``python -m bench.posts [--posts N]
[--repeats N] [--duration S] [--searches N]``. Needs ``apt-get install wrk nginx``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from bench.loadtest import (
    fetch,
    free_port,
    missing_tools,
    nginx_serving,
    prepare,
    run_wrk,
    scratch_env,
    served,
)

REPO = Path(__file__).resolve().parent.parent
TARGET_RPS = 3000.0
TARGET_P99_MS = 100.0
TARGET_304_RPS = 6000.0
TARGET_SEARCH_P95_MS = 50.0
WORDS = (  # noqa: SIM905 - one string reads better than 47 quoted words
    "bicycle burglary patrol community meeting traffic safety school bridge river park "
    "market festival volunteer officer training station lock window garage theft scam phone "
    "elderly neighbour lights crossing speed camera parking license youth league coffee "
    "library museum flood storm snow heat shelter missing found dog cat vehicle witness"
).split()
# Writes the posts in bulk, as the services would have left them (run in the scratch install).
SEED = """
import os, random, sys
from datetime import timedelta
import django
django.setup()
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from watchhouse.accounts.models import User
from watchhouse.geo.models import Area
from watchhouse.posts.models import MediaAsset, Post, PostMedia, Topic

count, words = int(sys.argv[1]), sys.argv[2].split()
rng = random.Random(4)
syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "da", "pe", "gu", "ro"]
vocabulary = sorted({"".join(rng.choice(syllables) for _ in range(3)) for _ in range(5000)})
author, _ = User.objects.get_or_create(username="bench-pio", defaults={"is_staff": True})
area = Area.objects.filter(kind="neighbourhood").order_by("name").first()
topic, _ = Topic.objects.get_or_create(slug="road-safety", defaults={"name": "Road safety"})
kinds = ["update", "article", "safety_tip", "event", "appeal", "story", "video"]
start = timezone.now() - timedelta(minutes=count)
batch = 5000
with transaction.atomic():
    for first in range(0, count, batch):
        rows = []
        for n in range(first, min(first + batch, count)):
            # Three topical words per post among filler drawn from a large vocabulary, so a
            # topical word is in about one post in sixteen, as a subject is in real news.
            topical = rng.sample(words, 3)
            filler = [rng.choice(vocabulary) for _ in range(57)]
            text = " ".join(topical + filler)
            title = " ".join(topical[:2] + filler[:3]).capitalize()
            rows.append(Post(
                kind=kinds[n % len(kinds)], state="published", title=title,
                slug=title.lower().replace(" ", "-")[:200], summary=text[:200], body=text,
                body_html=f"<p>{text}</p>", author=author,
                published_at=start + timedelta(minutes=n),
            ))
        made = Post.objects.bulk_create(rows)
        if area is not None:
            Post.areas.through.objects.bulk_create(
                [Post.areas.through(post_id=p.pk, area_id=area.pk) for p in made[::10]]
            )
        Post.topics.through.objects.bulk_create(
            [Post.topics.through(post_id=p.pk, topic_id=topic.pk) for p in made[::5]]
        )
    for n in range(40):
        post = Post.objects.create(
            kind="podcast", state="published", title=f"Episode {n + 1}", slug=f"episode-{n + 1}",
            summary="A voice update.", body="Listen.", body_html="<p>Listen.</p>", author=author,
            published_at=timezone.now() - timedelta(hours=40 - n),
        )
        media = MediaAsset.objects.create(
            kind="audio", status="ready", original="bench/none", mime="audio/mpeg",
            sha256="0" * 64, duration_s=600.0, uploaded_by=author,
        )
        folder = settings.MEDIA_ROOT / "posts" / str(media.pk)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "audio.mp3").write_bytes(b"\\xff\\xfb\\x90\\x00" * 4096)
        media.renditions = {"audio": {"name": "audio", "path": f"posts/{media.pk}/audio.mp3",
                                      "mime": "audio/mpeg", "bytes": 16384}}
        media.save()
        PostMedia.objects.create(post=post, media=media, role="audio")
print(area.get_absolute_url() if area is not None else "")
"""


def time_searches(base: str, count: int) -> list[float]:
    rng = random.Random(7)
    seen: set[str] = set()
    timings: list[float] = []
    while len(timings) < count:
        q = f"{rng.choice(WORDS)} {rng.choice(WORDS)}"
        if q in seen:
            continue
        seen.add(q)
        started = time.perf_counter()
        fetch(f"{base}/news/search?q={urllib.parse.quote(q)}")
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def not_modified(url: str, etag: str) -> bool:
    """True when a GET of ``url`` with ``If-None-Match: etag`` is answered 304."""
    request = urllib.request.Request(url, headers={"If-None-Match": etag})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30):  # noqa: S310 - loopback
            return False
    except urllib.error.HTTPError as exc:
        return exc.code == 304


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3, help="wrk runs per URL (medians).")
    parser.add_argument("--duration", type=int, default=10, help="Seconds per wrk run.")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--searches", type=int, default=200)
    args = parser.parse_args()
    if missing := missing_tools():
        print(json.dumps({"bench": "posts", "error": f"not installed: {missing}"}))
        return 1
    var_dir = Path(os.environ.get("WATCHHOUSE_VAR_DIR", "/tmp/wh-posts"))  # noqa: S108
    shutil.rmtree(var_dir / "media", ignore_errors=True)
    env = scratch_env(var_dir, free_port())
    prepare(env)
    started = time.monotonic()
    area_path = subprocess.run(
        [sys.executable, "-c", SEED, str(args.posts), " ".join(WORDS)],
        env={**env, "DJANGO_SETTINGS_MODULE": "watchhouse.config.settings"},
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    seed_s = time.monotonic() - started
    pages = {
        "timeline": ("/news/", "timeline.html"),
        "area": (area_path, "area.html"),
        "rss": ("/news/feed.rss", "feed.rss"),
        "atom": ("/news/feed.atom", "feed.atom"),
        "json": ("/news/feed.json", "feed.json"),
        "podcast": ("/podcast/feed.rss", "podcast.rss"),
    }
    samples: dict[str, list[dict[str, float]]] = {}
    with served(env, var_dir) as base:
        fetched = {name: fetch(base + path) for name, (path, _file) in pages.items()}
        files = {pages[name][1]: body for name, (body, _headers) in fetched.items()}
        with nginx_serving(files) as static:
            targets: dict[str, tuple[str, list[str]]] = {}
            for name, (path, file_name) in pages.items():
                targets[name] = (base + path, [])
                targets[f"nginx_{name}"] = (f"{static}/{file_name}", [])
            for name in ("rss", "atom", "json", "podcast"):
                etag = fetched[name][1].get("ETag", "")
                if not not_modified(base + pages[name][0], etag):
                    raise RuntimeError(f"the {name} feed does not answer its ETag with a 304")
                targets[f"{name}_304"] = (base + pages[name][0], [f"If-None-Match: {etag}"])
            for url, headers in targets.values():  # warm up: first renders, caches, connections
                run_wrk(url, 2, args.connections, headers)
            for _ in range(args.repeats):
                for name, (url, headers) in targets.items():
                    samples.setdefault(name, []).append(
                        run_wrk(url, args.duration, args.connections, headers)
                    )
        search_ms = time_searches(base, args.searches)

    result: dict[str, Any] = {
        "bench": "posts",
        "posts": args.posts,
        "seed_s": round(seed_s, 1),
        "connections": args.connections,
        "duration_s": args.duration,
        "repeats": args.repeats,
        "cpus": os.cpu_count(),
    }
    ok = True
    runs = {
        name: {
            "rps": statistics.median(r["rps"] for r in rows),
            "p99_ms": statistics.median(r["p99_ms"] for r in rows),
            "bad": sum(r["bad"] for r in rows),
        }
        for name, rows in samples.items()
    }
    for name, sample in runs.items():
        result[f"{name}_rps"] = round(sample["rps"])
        result[f"{name}_p99_ms"] = round(sample["p99_ms"], 2)
        if sample["bad"]:
            result[f"{name}_non_2xx"] = int(sample["bad"])
            ok = False
        if name.startswith("nginx"):
            continue
        if name.endswith("_304"):
            ok = ok and sample["rps"] >= TARGET_304_RPS
        else:
            ok = ok and sample["rps"] >= TARGET_RPS and sample["p99_ms"] <= TARGET_P99_MS
    for name in pages:
        result[f"{name}_share_of_nginx"] = round(
            runs[name]["rps"] / runs[f"nginx_{name}"]["rps"], 3
        )
    result["bytes"] = {name: len(body) for name, (body, _headers) in fetched.items()}
    search_p95 = statistics.quantiles(search_ms, n=20)[18] if len(search_ms) >= 20 else None
    result["search_p95_ms"] = round(search_p95, 2) if search_p95 is not None else None
    result["search_median_ms"] = round(statistics.median(search_ms), 2) if search_ms else None
    ok = ok and search_p95 is not None and search_p95 <= TARGET_SEARCH_P95_MS
    result["target_met"] = ok
    print(json.dumps(result))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
