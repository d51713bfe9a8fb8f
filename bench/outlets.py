"""Fediverse delivery: one Create to 10,000 followers on 500 loopback servers, against bare
signed POSTs.

Sets up a scratch install in ``WATCHHOUSE_VAR_DIR`` (default /tmp/wh-outlets; SQLite, or
``DATABASE_URL``) and ``migrate``s it. ``--inboxes`` (500) loopback servers stand in for the
remote fediverse: one aiohttp process listening on that many ports, each port a server with
a shared inbox that takes a POST carrying ``Signature`` and ``Digest`` (202) and counts it.
``--followers`` (10,000) remote actors follow the department actor, spread evenly over the
servers, all with the server's shared inbox.

After one unmeasured run of each (warm-up), each repetition publishes one post through the
posts service and times, in the same process:

- ``watchhouse_s``: from ``post_publish`` to every delivery recorded: ``ap_post_changed``
  (the Create, one delivery row per shared inbox, audit entry) and ``ap_deliveries_send``
  (claim, sign each POST with the actor's RSA-2048 key, send from the thread pool, record);
- ``bare_s``: the same number of signed POSTs (same signer, same payload size, same thread
  count, ``requests`` sessions) with no Watchhouse in between.

``posts_received`` must equal the number of servers (one POST per shared inbox, not per
follower). Prints one JSON line with the medians of ``--repeats`` runs: seconds, signatures
(= signed POSTs) per second, the bare rate and the ratio; ``sign_only_per_s`` is the signing
rate alone. Exits 1 when a target is missed (≤ 10 s, ≥ 0.8 of the bare rate, one POST per
inbox). Usage, from the repository root: ``python -m bench.outlets [--followers N]
[--inboxes N] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

TARGET_SECONDS = 10.0
TARGET_SHARE = 0.8


# --- the loopback servers (own process, no Django) ----------------------------------------


def serve(count: int) -> None:
    """Listen on ``count`` loopback ports; print them as a JSON list; count signed POSTs."""
    from aiohttp import web

    received = 0

    async def inbox(request: web.Request) -> web.Response:
        nonlocal received
        await request.read()
        if "Signature" not in request.headers or "Digest" not in request.headers:
            return web.Response(status=401)
        received += 1
        return web.Response(status=202)

    async def counted(request: web.Request) -> web.Response:
        return web.json_response({"received": received})

    async def run() -> None:
        app = web.Application()
        app.router.add_post("/inbox", inbox)
        app.router.add_get("/_count", counted)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        ports = []
        for _ in range(count):
            site = web.TCPSite(runner, "127.0.0.1", 0, backlog=512)
            await site.start()
            server = site._server
            assert server is not None  # noqa: S101 - started just above
            ports.append(server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        print(json.dumps(ports), flush=True)  # noqa: T201 - read by the parent process
        await asyncio.Event().wait()

    asyncio.run(run())


# --- the bench ------------------------------------------------------------------------------


def _django() -> None:
    os.environ.setdefault("WATCHHOUSE_VAR_DIR", "/tmp/wh-outlets")  # noqa: S108
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchhouse.config.settings")
    os.makedirs(os.environ["WATCHHOUSE_VAR_DIR"], exist_ok=True)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def _followers(ports: list[int], followers: int) -> None:
    """Exactly ``followers`` remote actors on the loopback servers follow the department."""
    from watchhouse.outlets.activitypub.services import department_actor
    from watchhouse.outlets.models import ApDelivery, ApServer, Follower, RemoteActor

    local = department_actor()
    Follower.objects.all().delete()
    ApDelivery.objects.all().delete()
    ApServer.objects.all().delete()
    RemoteActor.objects.all().delete()
    remotes = []
    for n in range(followers):
        port = ports[n % len(ports)]
        base = f"http://127.0.0.1:{port}"
        remotes.append(RemoteActor(
            uri=f"{base}/users/u{n}", inbox=f"{base}/users/u{n}/inbox",
            shared_inbox=f"{base}/inbox", key_id=f"{base}/users/u{n}#main-key",
            public_key_pem="-", handle=f"u{n}@127.0.0.1:{port}",
        ))  # fmt: skip
    RemoteActor.objects.bulk_create(remotes, batch_size=2000)
    Follower.objects.bulk_create(
        [Follower(actor=local, remote=r) for r in RemoteActor.objects.all()], batch_size=2000
    )
    # Each server's row, as the Accepts of these follows would have left it.
    ApServer.objects.bulk_create([ApServer(host=f"127.0.0.1:{port}") for port in ports])


def _received(ports: list[int]) -> int:
    import requests

    return int(requests.get(f"http://127.0.0.1:{ports[0]}/_count", timeout=10).json()["received"])


def _watchhouse_run(author: Any, n: int) -> tuple[float, int, int]:
    """Publish one post and deliver it; (seconds, deliveries delivered, deliveries rows)."""
    from watchhouse.outlets.activitypub.delivery import ap_deliveries_send
    from watchhouse.outlets.activitypub.publishing import ap_post_changed
    from watchhouse.outlets.models import Activity, ApDelivery, ApDeliveryStatus
    from watchhouse.posts.services import PostFields, post_create, post_publish

    post = post_create(actor=author, fields=PostFields(
        kind="update", title=f"Bench update {n}", summary="Road works this week.",
        body="Crews work **every night** from 8 pm near the mill. " * 8,
    ))  # fmt: skip
    start = time.perf_counter()
    post_publish(actor=author, post=post)
    ap_post_changed(post.pk)
    activity = Activity.objects.get(post=post, type="Create")
    ap_deliveries_send(activity_id=activity.pk)
    seconds = time.perf_counter() - start
    rows = ApDelivery.objects.filter(activity=activity)
    return seconds, rows.filter(status=ApDeliveryStatus.DELIVERED).count(), rows.count()


_bare_local = threading.local()
_bare_pools: dict[int, ThreadPoolExecutor] = {}


def _bare_run(ports: list[int], body: bytes, key_id: str, pem: str, threads: int) -> float:
    """The same number of signed POSTs, straight from a thread pool (kept from run to run,
    each thread with its own session, as Watchhouse's sender keeps them)."""
    import requests

    from watchhouse.outlets.activitypub.signatures import sign_request

    local = _bare_local
    failures = []

    def post(port: int) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        url = f"http://127.0.0.1:{port}/inbox"
        headers = sign_request(method="POST", url=url, body=body, key_id=key_id,
                               private_key_pem=pem)  # fmt: skip
        headers["Content-Type"] = "application/activity+json"
        response = session.post(url, data=body, headers=headers, timeout=(5, 10))
        if response.status_code != 202:
            failures.append(response.status_code)

    pool = _bare_pools.setdefault(threads, ThreadPoolExecutor(max_workers=threads))
    start = time.perf_counter()
    list(pool.map(post, ports))
    seconds = time.perf_counter() - start
    if failures:
        raise RuntimeError(f"bare POSTs failed: {failures[:5]}")
    return seconds


def _sign_rate(key_id: str, pem: str, count: int = 2000) -> float:
    from watchhouse.outlets.activitypub.signatures import sign_request

    body = b"x" * 2000
    start = time.perf_counter()
    for n in range(count):
        sign_request(method="POST", url=f"http://127.0.0.1:{n}/inbox", body=body,
                     key_id=key_id, private_key_pem=pem)  # fmt: skip
    return count / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--followers", type=int, default=10_000)
    parser.add_argument("--inboxes", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--serve", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    _django()
    import logging

    from django.conf import settings
    from django.db import connection
    from django.urls import reverse

    from watchhouse.accounts.models import RoleAssignment, User
    from watchhouse.outlets.activitypub import documents
    from watchhouse.outlets.activitypub.services import department_actor
    from watchhouse.outlets.models import Activity

    logging.disable(logging.INFO)
    settings.WATCHHOUSE_AP_ALLOW_PRIVATE = True
    server = subprocess.Popen(  # noqa: S603 - this very module
        [sys.executable, "-m", "bench.outlets", "--serve", str(args.inboxes)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None  # noqa: S101
        ports: list[int] = json.loads(server.stdout.readline())
        _followers(ports, args.followers)
        author, _ = User.objects.get_or_create(username="bench-pio",
                                               defaults={"is_staff": True})  # fmt: skip
        RoleAssignment.objects.get_or_create(user=author, role="pio")
        local = department_actor()
        # A running worker has its URLconf loaded (the first reverse() imports every view).
        reverse("web:home")
        key_id, pem = documents.key_id(local), documents.private_key_pem(local)
        threads = int(getattr(settings, "WATCHHOUSE_AP_DELIVERY_CONCURRENCY", 32))
        # One unmeasured run of each first: connections, caches and code paths warmed alike.
        _watchhouse_run(author, -1)
        warm_body = json.dumps(
            Activity.objects.filter(type="Create").latest("id").payload, separators=(",", ":")
        ).encode()
        _bare_run(ports, warm_body, key_id, pem, threads)
        runs = []
        for n in range(args.repeats):
            before = _received(ports)
            seconds, delivered, rows = _watchhouse_run(author, n)
            posts = _received(ports) - before
            body = json.dumps(Activity.objects.filter(type="Create").latest("id").payload,
                              separators=(",", ":")).encode()  # fmt: skip
            bare = _bare_run(ports, body, key_id, pem, threads)
            runs.append({"watchhouse_s": seconds, "bare_s": bare, "delivered": delivered,
                         "rows": rows, "posts_received": posts})  # fmt: skip
        ours = statistics.median(r["watchhouse_s"] for r in runs)
        bare = statistics.median(r["bare_s"] for r in runs)
        count = len(ports)
        figures = {
            "bench": "outlets",
            "database": connection.vendor,
            "followers": args.followers,
            "inboxes": count,
            "threads": threads,
            "posts_received": [r["posts_received"] for r in runs],
            "one_post_per_inbox": all(
                r["posts_received"] == count == r["rows"] == r["delivered"] for r in runs
            ),  # fmt: skip
            "watchhouse_s": round(ours, 3),
            "watchhouse_signatures_per_s": round(count / ours),
            "bare_s": round(bare, 3),
            "bare_signatures_per_s": round(count / bare),
            "share_of_bare": round(bare / ours, 2),
            "sign_only_per_s": round(_sign_rate(key_id, pem)),
            "runs_watchhouse_s": [round(r["watchhouse_s"], 3) for r in runs],
            "runs_bare_s": [round(r["bare_s"], 3) for r in runs],
        }
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(json.dumps(figures))  # noqa: T201 - the bench's output
    ok = (
        figures["one_post_per_inbox"]
        and figures["watchhouse_s"] <= TARGET_SECONDS
        and figures["share_of_bare"] >= TARGET_SHARE
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
