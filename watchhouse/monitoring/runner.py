"""Running the stream: sources read through connectors, batches processed and stored.

Each source has a reader thread (its connector) and a worker (process + store). Between them
is a queue bounded at ``WATCHHOUSE_MONITORING_QUEUE_SIZE`` posts. Back-pressure: when a batch
would overfill the queue, the reader first sheds the posts that cannot match anything (the
cheap prefilter :meth:`StreamProcessor.could_match`: no candidate phrase or watched author,
no place named or carried); they are counted as ``shed``. Posts that could match are never
dropped: when the queue is still full, the reader waits, which slows the connector down
instead.

A batch's matches, counts and the source's cursor are stored in one transaction, so a worker
that dies re-reads from the last committed cursor: no match is lost and none is stored twice.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from watchhouse.monitoring.models import Source, SourceKind
from watchhouse.monitoring.posts import PublicPost
from watchhouse.monitoring.services.stream import stream_batch_store
from watchhouse.monitoring.stream import COUNT_NAMES, StreamProcessor, processor_current

if TYPE_CHECKING:
    from watchhouse.monitoring.connectors.base import Batch, Connector

logger = logging.getLogger("watchhouse.monitoring")

# Posts processed and stored together by posts_ingest.
INGEST_CHUNK = 500
# With --once, a streaming source is left after this long without a new batch.
ONCE_IDLE_SECONDS = 2.0
# Wait before restarting a source whose worker failed or whose stream ended.
RESTART_SECONDS = 5.0
# Seconds between looks at which sources staff switched on or off.
SOURCES_CHECK_SECONDS = 10.0


def _refused_counts(refused: dict[str, int]) -> dict[str, int]:
    return {f"refused_{reason}"[:20]: n for reason, n in refused.items() if n}


def _add(total: dict[str, int], counts: dict[str, int]) -> None:
    for name, value in counts.items():
        total[name] = total.get(name, 0) + value


def _process_store(
    processor: StreamProcessor,
    posts: list[PublicPost],
    *,
    source: Source | None,
    cursor: str | None,
    extra: dict[str, int],
    source_kind: str | None = None,
) -> dict[str, int]:
    result = processor.process(posts)
    try:
        stream_batch_store(
            source=source,
            result=result,
            cursor=cursor,
            source_kind=source_kind,
            extra_counts=extra,
        )
    except BaseException:
        # Nothing of the batch was stored: it must not count as seen when it is read again.
        processor.forget(result)
        raise
    counts = dict(result.counts)
    _add(counts, extra)
    return counts


def posts_ingest(posts: Iterable[PublicPost], *, source: Source | None = None) -> dict[str, int]:
    """Process and store posts now (file import, the fediverse inbox, the outlets' inbox);
    the counts by name. Each chunk of posts is stored in its own transaction."""
    totals = dict.fromkeys(COUNT_NAMES, 0)
    chunk: list[PublicPost] = []
    kind = source.kind if source is not None else None

    def flush() -> None:
        if chunk:
            _add(
                totals,
                _process_store(
                    processor_current(),
                    list(chunk),
                    source=source,
                    cursor=None,
                    extra={},
                    source_kind=kind or chunk[0].source,
                ),
            )
            chunk.clear()

    for post in posts:
        chunk.append(post)
        if len(chunk) >= INGEST_CHUNK:
            flush()
    flush()
    return totals


class PostQueue:
    """Batches between a source's reader and its worker, bounded in posts (see the module
    docstring for what happens when it is full)."""

    def __init__(
        self, size: int, could_match: Callable[[PublicPost], bool], stop: threading.Event
    ) -> None:
        self.size = max(1, size)
        self.could_match = could_match
        self.stop = stop
        self._items: collections.deque[tuple[Batch, int]] = collections.deque()
        self._pending = 0
        self._closed = False
        self._cond = threading.Condition()
        self.shed = 0

    def put(self, batch: Batch) -> int:
        """Queue the batch, shedding what cannot match if it does not fit; how many were shed.
        Blocks while the queue is full (until there is room or ``stop`` is set)."""
        shed = 0
        with self._cond:
            full = self._pending + len(batch.posts) > self.size
        if full:
            keep = [post for post in batch.posts if self.could_match(post)]
            shed = len(batch.posts) - len(keep)
            batch.posts = keep
        with self._cond:
            while (
                self._pending > 0
                and self._pending + len(batch.posts) > self.size
                and not self.stop.is_set()
            ):
                self._cond.wait(0.2)
            self._items.append((batch, shed))
            self._pending += len(batch.posts)
            self.shed += shed
            self._cond.notify_all()
        return shed

    def get(self, timeout: float) -> tuple[Batch, int] | None:
        """The next batch and how many of its posts were shed, or None after ``timeout``
        seconds without one or once closed and empty."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._items:
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    return None
                self._cond.wait(min(left, 0.2))
            batch, shed = self._items.popleft()
            self._pending -= len(batch.posts)
            self._cond.notify_all()
            return batch, shed

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        with self._cond:
            return self._closed and not self._items


def _read_into(connector: Connector, cursor: str, queue: PostQueue, stop: threading.Event,
               errors: list[BaseException]) -> None:  # fmt: skip
    try:
        for batch in connector.read(cursor, stop=stop):
            queue.put(batch)
            if stop.is_set():
                break
    except Exception as error:  # noqa: BLE001 (the worker re-raises it; see source_run)
        errors.append(error)
    finally:
        queue.close()
        connection.close()


def source_run(
    source_id: int,
    *,
    once: bool = False,
    stop: threading.Event | None = None,
    connector: Connector | None = None,
) -> dict[str, int]:
    """Read one source through the stream until ``stop`` is set (a pull source: until what
    is waiting has been read; ``once``: also a streaming source once it has been idle for
    a moment); the counts by name. ``connector`` defaults to the source's registered one.

    Raises what the connector or the store raised, after recording it on the source; what
    was committed before stays committed.
    """
    from watchhouse.monitoring.connectors.registry import connector_for

    source = Source.objects.get(pk=source_id)
    connector = connector or connector_for(source)
    stop = stop or threading.Event()
    reader_stop = threading.Event()
    holder: dict[str, StreamProcessor] = {"processor": processor_current()}
    queue = PostQueue(
        int(settings.WATCHHOUSE_MONITORING_QUEUE_SIZE),
        lambda post: holder["processor"].could_match(post),
        reader_stop,
    )
    errors: list[BaseException] = []
    reader = threading.Thread(
        target=_read_into,
        args=(connector, source.cursor, queue, reader_stop, errors),
        name=f"monitoring-read-{source.pk}",
        daemon=True,
    )
    totals = dict.fromkeys(COUNT_NAMES, 0)
    reader.start()
    try:
        while True:
            if stop.is_set():
                reader_stop.set()
            item = queue.get(ONCE_IDLE_SECONDS if once else 0.5)
            if item is None:
                if queue.closed:
                    break
                if once:
                    reader_stop.set()
                continue
            batch, shed = item
            processor = processor_current()
            holder["processor"] = processor
            extra = _refused_counts(batch.refused)
            if shed:
                extra["shed"] = shed
                extra["received"] = shed
            _add(
                totals,
                _process_store(
                    processor, batch.posts, source=source, cursor=batch.cursor, extra=extra
                ),
            )
        if errors:
            raise errors[0]
    except BaseException as error:
        Source.objects.filter(pk=source.pk).update(
            last_error=f"{type(error).__name__}: {error}"[:500], last_run_at=timezone.now()
        )
        raise
    finally:
        reader_stop.set()
        reader.join(timeout=30)
    return totals


def _run_forever(source_id: int, stop: threading.Event) -> None:
    """Keep one source running until ``stop``: a streaming source is reconnected a moment after
    it ends or fails, a pull source is read again every ``WATCHHOUSE_MONITORING_POLL_SECONDS``."""
    from watchhouse.monitoring.connectors.registry import connector_for

    try:
        while not stop.is_set():
            source = Source.objects.get(pk=source_id)
            pause = RESTART_SECONDS
            try:
                connector = connector_for(source)
                if not connector.streaming:
                    pause = settings.WATCHHOUSE_MONITORING_POLL_SECONDS
                source_run(source_id, stop=stop, connector=connector)
            except Exception:
                logger.exception("Monitoring source %s failed; restarting.", source_id)
                pause = RESTART_SECONDS
            close_old_connections()
            stop.wait(pause)
    finally:
        connection.close()


def _supervise(stop: threading.Event, only: str = "") -> None:
    """Run every enabled source (or the one named ``only``) until ``stop``, starting sources
    staff switch on and stopping those they switch off, checked every few seconds."""
    running: dict[int, tuple[threading.Thread, threading.Event]] = {}
    try:
        while not stop.is_set():
            # A source named on the command line runs even while switched off in the console.
            sources = (
                Source.objects.filter(name=only) if only else Source.objects.filter(enabled=True)
            )
            wanted = set(sources.values_list("pk", flat=True))
            close_old_connections()
            for pk, (thread, own_stop) in list(running.items()):
                if pk not in wanted or not thread.is_alive():
                    own_stop.set()
                    thread.join(timeout=30)
                    del running[pk]
            for pk in wanted - running.keys():
                own_stop = threading.Event()
                thread = threading.Thread(
                    target=_run_forever, args=(pk, own_stop), name=f"monitoring-{pk}", daemon=True
                )
                thread.start()
                running[pk] = (thread, own_stop)
            stop.wait(SOURCES_CHECK_SECONDS)
    finally:
        for _thread, own_stop in running.values():
            own_stop.set()
        for thread, _own_stop in running.values():
            thread.join(timeout=30)
        connection.close()


def _print_counts(stdout: Any, label: str, counts: dict[str, int]) -> None:
    shown = ", ".join(f"{name} {value}" for name, value in counts.items() if value)
    stdout.write(f"{label}: {shown or 'nothing'}")


def _file_batches(path: Path) -> Iterator[Batch]:
    # Imported lazily: the file connector is optional at import time of this module.
    from watchhouse.monitoring.connectors.files import posts_read_file

    return posts_read_file(path)


def command(what: str, opts: dict[str, Any], stdout: Any) -> None:
    """``monitoring run`` and ``monitoring import FILE``."""
    if what == "import":
        path = Path(opts["file"])
        totals = dict.fromkeys(COUNT_NAMES, 0)
        for batch in _file_batches(path):
            _add(totals, posts_ingest(batch.posts))
            refused = _refused_counts(batch.refused)
            if refused:
                from watchhouse.monitoring.services.stream import counts_add

                counts_add(source_kind=SourceKind.FILE, counts=refused, at=timezone.now())
                _add(totals, refused)
        _print_counts(stdout, str(path), totals)
        return
    sources = Source.objects.filter(enabled=True)
    if opts.get("source"):
        sources = Source.objects.filter(name=opts["source"])
        if not sources.exists():
            from watchhouse.core.errors import InvalidInputError

            raise InvalidInputError(f"There is no source named {opts['source']!r}.")
    ids = list(sources.values_list("id", flat=True))
    if opts.get("once"):
        for source_id in ids:
            counts = source_run(source_id, once=True)
            _print_counts(stdout, Source.objects.get(pk=source_id).name, counts)
        return
    stop = threading.Event()
    stdout.write("Reading the enabled monitoring sources (Ctrl-C stops).")
    try:
        _supervise(stop, only=opts.get("source") or "")
    except KeyboardInterrupt:
        stdout.write("Stopping…")
        stop.set()
