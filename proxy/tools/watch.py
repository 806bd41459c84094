"""``watch --queue-url=URL``: keep the bucket's thumbnails in line with its originals, from S3's event notifications.

Each event for an original is a hint that it may have changed; what to do is decided from the original's
state now (a HEAD), never from the event: generated thumbnails whose ``source-etag`` is not the original's
current ETag are deleted (all of them when it is gone), then the ``--warm-sizes`` it lacks are made. So an
event handled twice, late or out of order does no harm. Messages are deleted only once their work is done;
a failed one is left to SQS (visibility timeout, then the dead-letter queue), a malformed one is deleted.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import logging
import math
import signal
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import tornado.web
from botocore.exceptions import BotoCoreError, ClientError
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from proxy.config import Config, Scope, option_names
from proxy.errors import ProxyError, UpstreamError
from proxy.http.handlers import BaseHandler, HealthHandler
from proxy.observe.metrics import CONTENT_TYPE, SECONDS
from proxy.storage import sqs
from proxy.storage.s3 import ObjectStore, PutResult, StoreHooks
from proxy.tools import bucket as b
from proxy.tools import events, purge, warm
from proxy.tools.events import KeyKind, Malformed

log = logging.getLogger(__name__)
T = TypeVar("T")

# Besides the S3 and render options: the admin listener, drain and log of a service, the queue, its own.
WATCH_OPTIONS = (*option_names(Scope.SERVICE), *option_names(Scope.QUEUE), *option_names(Scope.WATCH))
CHECK_THREADS = 8  # HEAD + GetObjectTagging of one original's thumbnail candidates, at once
RETRY_SECONDS = 30.0  # the longest wait between receives while the queue fails


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "watch",
        help="Keep thumbnails in line with their originals, from the bucket's S3 event notifications.",
        description="Long-poll an SQS queue of the bucket's event notifications (see setup-bucket --events-queue): "
        "when an original is replaced, delete its thumbnails made from the old one and make --warm-sizes; when it "
        "is removed, delete them all. Also makes the thumbnails that warm --queue-url asks for. Options come from "
        "the same flags, environment and --config file as serve.",
    )
    parser.add_argument("--concurrency", type=b.positive, default=4, help="Messages worked on at once. Default: 4.")
    parser.add_argument(
        "--poll-seconds",
        type=int,
        choices=range(sqs.MAX_WAIT_SECONDS + 1),
        default=sqs.MAX_WAIT_SECONDS,
        metavar="0..20",
        help="Long-poll wait for messages; stopping waits for the poll in progress. Default: 20.",
    )
    parser.add_argument(
        "--summary-every", type=float, default=60.0, metavar="SECONDS", help="Summary log interval. Default: 60."
    )
    parser.add_argument(
        "--recheck-seconds",
        type=float,
        metavar="SECONDS",
        help="Handle an original's event again this long after the change, for thumbnails that proxies were "
        "still making from the old original (0: never). Default: originals-ttl + render-timeout (50).",
    )
    b.add_s3_options(parser, *warm.RENDER_OPTIONS, *WATCH_OPTIONS)
    parser.set_defaults(run=b.guarded(run))


@dataclass(frozen=True)
class Settings:
    """What watch takes beyond ``Config``."""

    labels: tuple[str, ...] = ()  # --warm-sizes, checked
    concurrency: int = 4
    poll_seconds: int = sqs.MAX_WAIT_SECONDS
    summary_every: float = 60.0
    recheck_seconds: float = 0.0  # an original's event is handled again this long after the change (0: never)


# ---- counters: Prometheus and the summary line --------------------------------------------------------------

MESSAGE_RESULTS = ("done", "deferred", "failed", "malformed", "released")
EVENT_KINDS = ("original", "warm", "thumbnail", "other", "test")
THUMBNAIL_RESULTS = ("deleted", "stored", "exists", "failed")


class WatchMetrics:
    """watch's counters: on ``/metrics`` of the admin port, and summed since the last periodic summary line."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        reg = self.registry = CollectorRegistry(auto_describe=True)
        self.messages = Counter(
            "s3rp_watch_messages",
            "Queue messages handled, by result: done (deleted), deferred (to be handled again), failed (left to "
            "SQS), malformed (deleted), released (given back at stop).",
            ["result"],
            registry=reg,
        )
        self.events = Counter(
            "s3rp_watch_events",
            "Events and requests, by kind: original (an original changed), warm, thumbnail (our own write, "
            "ignored), other (not an image, another bucket or event type: ignored), test (s3:TestEvent).",
            ["kind"],
            registry=reg,
        )
        self.thumbnails = Counter(
            "s3rp_watch_thumbnails",
            "Thumbnails deleted, or written by result (stored, exists, failed).",
            ["result"],
            registry=reg,
        )
        self.extensions = Counter(
            "s3rp_watch_visibility_extensions", "Visibility timeouts extended for long work.", registry=reg
        )
        self.in_flight = Gauge("s3rp_watch_messages_in_flight", "Messages received and not finished.", registry=reg)
        self.seconds = Histogram(
            "s3rp_watch_message_duration_seconds", "Time to handle one message.", buckets=SECONDS, registry=reg
        )
        self.s3_errors = Counter(
            "s3rp_s3_errors", "Failed S3 calls, by kind (timeout, throttled, error).", ["kind"], registry=reg
        )
        for name, labels in ((self.messages, MESSAGE_RESULTS), (self.events, EVENT_KINDS)):
            for label in labels:
                name.labels(label)
        for label in THUMBNAIL_RESULTS:
            self.thumbnails.labels(label)
        for kind in ("timeout", "throttled", "error"):
            self.s3_errors.labels(kind)
        self._recent: collections.Counter[str] = collections.Counter()
        self._since = clock()
        self._holding = 0

    def holding(self, change: int) -> None:
        """Messages received and not finished: ``change`` more (or fewer)."""
        self._holding += change
        self.in_flight.set(self._holding)

    def message(self, result: str) -> None:
        self.messages.labels(result).inc()
        self._recent[result] += 1

    def event(self, kind: str) -> None:
        self.events.labels(kind).inc()
        self._recent[kind] += 1

    def thumbnail(self, result: str, count: int = 1) -> None:
        self.thumbnails.labels(result).inc(count)
        self._recent[f"thumbnails {result}"] += count

    def summary(self) -> str:
        """The counts since the previous summary, in one line; starts the next period."""
        now, counts = self.clock(), self._recent
        seconds, self._since, self._recent = now - self._since, now, collections.Counter()
        messages = ", ".join(f"{counts[r]} {r}" for r in MESSAGE_RESULTS)
        kinds = ", ".join(f"{counts[k]} {k}" for k in EVENT_KINDS)
        thumbnails = ", ".join(f"{counts['thumbnails ' + r]} {r}" for r in THUMBNAIL_RESULTS)
        return (
            f"watch: last {seconds:.0f}s: messages {messages}; events {kinds}; thumbnails {thumbnails}; "
            f"{self._holding} in flight"
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _MetricsHandler(BaseHandler):
    """``GET /metrics`` of watch's admin listener."""

    admin = True

    def initialize(self, metrics: WatchMetrics) -> None:
        self.metrics = metrics

    def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Type", CONTENT_TYPE)
        self.finish(self.metrics.render())


# ---- what one event does to the bucket (blocking botocore calls, run in the watcher's threads) ------------


@dataclass(frozen=True)
class Reconciled:
    etag: str | None  # the original's ETag now, without quotes; None: it is gone
    deleted: list[str]
    missing: list[str]  # thumbnails of --warm-sizes it lacks (none when it is gone)


def current_etag(s3: Any, bucket: str, key: str) -> str | None:
    """The object's ETag now (HEAD), or None if it does not exist."""
    try:
        return str(s3.head_object(Bucket=bucket, Key=key)["ETag"]).strip('"')
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def reconcile(s3: Any, bucket: str, key: str, wanted: list[str]) -> Reconciled:
    """Delete the thumbnails generated from ``key`` that its current state does not match (its thumbnails
    whose source-etag is not its ETag now; all of them when it is gone), matched as purge does."""
    etag = current_etag(s3, bucket, key)
    candidates = purge.thumbnail_candidates(s3, bucket, key)
    found = b.check_all(s3, bucket, candidates, CHECK_THREADS, lambda: None)
    stale = [t.key for t in found if t.source_key == key and (etag is None or t.source_etag != etag)]
    errors = b.delete(s3, bucket, stale, lambda _: None) if stale else []
    if errors:
        raise UpstreamError(f"{len(errors)} thumbnail(s) not deleted, first {errors[0]}")
    present = set(candidates) - set(stale)
    return Reconciled(etag, stale, [] if etag is None else [thumb for thumb in wanted if thumb not in present])


# ---- the watcher ----------------------------------------------------------------------------------------------


@dataclass
class _Held:
    """A received message until it is deleted, left or given back."""

    message: sqs.Message
    visible_until: float  # by the clock; the heartbeat extends it
    started: bool = False
    released: bool = False


class _KeyLocks:
    """One lock per key, so that this process never works on two events of one original at once."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> Any:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class Watcher:
    """Receive, work on at most ``concurrency`` messages at once, keep them invisible while they run, delete
    what succeeded; on stop, give back what has not started and finish the rest."""

    def __init__(
        self,
        config: Config,
        settings: Settings,
        s3: Any,
        queue: sqs.Queue,
        lease: int,
        metrics: WatchMetrics,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.settings = settings
        self.s3 = s3
        self.queue = queue
        self.lease = lease  # the queue's visibility timeout, in seconds
        self.metrics = metrics
        self.clock = clock
        self.now = now  # wall time, against S3's eventTime
        hooks = StoreHooks(
            error=lambda kind: metrics.s3_errors.labels(kind).inc(),
            written=lambda result, _: metrics.thumbnail(result.value),
        )
        self.store = ObjectStore(config, hooks=hooks, client=s3)
        self.renders = ThreadPoolExecutor(config.render_thread_count, thread_name_prefix="watch-render")
        self.io = ThreadPoolExecutor(settings.concurrency + 2, thread_name_prefix="watch-io")
        self.receiver = ThreadPoolExecutor(1, thread_name_prefix="watch-receive")
        self.maker = warm.ThumbnailMaker(config, self.store, self.renders)
        self.slots = asyncio.Semaphore(settings.concurrency)
        self.room = asyncio.Event()  # set when a held message is finished
        self.held: dict[str, _Held] = {}
        self.tasks: set[asyncio.Future[None]] = set()
        self.keys = _KeyLocks()
        self.stopping = False
        self.drain_deadline = 0.0  # by the loop's clock, once stopping

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set; then within ``drain-seconds`` (and the poll in progress)."""
        background = [asyncio.ensure_future(self._heartbeat()), asyncio.ensure_future(self._summaries())]
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await self._receive_until(stopped)
        finally:
            stopped.cancel()
            await self._stop_starting()
            if self.tasks:
                working = sum(held.started for held in self.held.values())
                log.info("stopping: finishing %d message(s) in progress", working)
                timeout = max(0.0, self.drain_deadline - asyncio.get_running_loop().time())
                _, unfinished = await asyncio.wait(self.tasks, timeout=timeout)
                if unfinished:
                    log.warning("stopped with %d message(s) unfinished: SQS gives them out again", len(unfinished))
            for task in background:
                task.cancel()
            log.info(self.metrics.summary())
            self.close()

    async def _stop_starting(self) -> None:
        """From now on nothing starts: messages waiting for a slot are given back; the drain time begins."""
        if not self.stopping:
            self.stopping = True  # before any await, so that no waiting message starts after this
            self.drain_deadline = asyncio.get_running_loop().time() + self.config.drain_seconds
        await self._release([held for held in self.held.values() if not held.started])

    def close(self) -> None:
        for pool in (self.renders, self.io, self.receiver):
            pool.shutdown(wait=False, cancel_futures=True)
        self.store.close()

    async def _receive_until(self, stopped: asyncio.Future[Any]) -> None:
        retry = 0.0
        while not stopped.done():
            while len(self.held) >= self.settings.concurrency and not stopped.done():
                self.room.clear()
                room = asyncio.ensure_future(self.room.wait())
                await asyncio.wait([room, stopped], return_when="FIRST_COMPLETED")
                room.cancel()
            if stopped.done():
                return
            since = self.clock()  # messages turn invisible at the latest now: reckon their lease from here
            receiving = self._in(self.receiver, self.queue.receive, self.settings.poll_seconds)
            await asyncio.wait([receiving, stopped], return_when="FIRST_COMPLETED")
            if stopped.done():
                await self._stop_starting()
            try:
                messages = await receiving  # after a stop too: what it brings is given back, not left invisible
            except ProxyError as exc:
                retry = min(max(retry * 2, 1.0), RETRY_SECONDS)
                log.warning("receiving from the queue failed (%s); again in %.0fs", exc.reason, retry)
                await asyncio.wait([stopped], timeout=retry)
                continue
            retry = 0.0
            if self.stopping:
                await self._release([_Held(message, since) for message in messages])
                return
            for message in messages:
                self._start(_Held(message, since + self.lease))

    def _start(self, held: _Held) -> None:
        self.held[held.message.id] = held
        self.metrics.holding(+1)
        task = asyncio.ensure_future(self._handle(held))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _handle(self, held: _Held) -> None:
        try:
            async with self.slots:
                if held.released or self.stopping:
                    await self._release([held])
                    return
                held.started = True
                started = self.clock()
                again = await self._work(held.message)
                with contextlib.suppress(ProxyError):  # else SQS gives it out again: redoing it is harmless
                    if again == 0:
                        await self._in(self.io, self.queue.delete, held.message)
                    elif again is not None:
                        await self._in(self.io, self.queue.change_visibility, [held.message], math.ceil(again))
                self.metrics.seconds.observe(self.clock() - started)
        finally:
            del self.held[held.message.id]
            self.metrics.holding(-1)
            self.room.set()

    async def _release(self, holds: list[_Held]) -> None:
        """Make messages that will not be worked on visible again at once (at stop)."""
        holds = [held for held in holds if not held.released]
        for held in holds:
            held.released = True
        if not holds:
            return
        try:
            await self._in(self.io, self.queue.change_visibility, [held.message for held in holds], 0)
        except ProxyError as exc:
            log.warning("could not give back %d message(s) (%s): visible again after the timeout", len(holds), exc)
        for _ in holds:
            self.metrics.message("released")

    async def _work(self, message: sqs.Message) -> float | None:
        """Do what the message asks. 0: done with it (succeeded, or malformed: it never will); N: to be handled
        again in N seconds; None: failed, leave it to SQS."""
        again = 0.0
        try:
            for event in events.parse(message.body):
                again = max(again, await self._event(event))
        except Malformed as exc:
            log.warning("message %s is malformed (%s), deleted: %.200r", message.id, exc, message.body)
            self.metrics.message("malformed")
            return 0
        except (ProxyError, ClientError, BotoCoreError, OSError) as exc:
            reason = exc.reason if isinstance(exc, ProxyError) else str(exc)
            log.warning(
                "message %s failed (%s); left on the queue (received %d time(s))",
                message.id,
                reason,
                message.receive_count,
            )
            self.metrics.message("failed")
            return None
        except Exception:
            log.exception("message %s failed; left on the queue", message.id)
            self.metrics.message("failed")
            return None
        self.metrics.message("deferred" if again else "done")
        return again

    async def _event(self, event: events.Event) -> float:
        """Do what one event asks; seconds until it is to be handled again (0: never)."""
        if isinstance(event, events.TestEvent):
            log.info("s3:TestEvent from bucket %s: its notifications reach the queue", event.bucket)
            self.metrics.event("test")
        elif isinstance(event, events.WarmRequest):
            self.metrics.event("warm")
            await self._warm(event)
        elif isinstance(event, events.OtherEvent) or event.bucket != self.config.bucket:
            self.metrics.event("other")
        else:
            kind = events.classify(event.key, self.config.source_extensions)
            if kind is KeyKind.ORIGINAL:
                self.metrics.event("original")
                return await self._original(event)
            self.metrics.event(kind.value)
        return 0.0

    async def _original(self, event: events.ObjectEvent) -> float:
        """Bring the thumbnails of an original in line with it as it is now; seconds until the recheck."""
        key = event.key
        wanted = warm.thumbnail_keys(key, self.settings.labels, self.config.auto_format)
        async with self.keys.hold(key):
            done = await self._in(self.io, reconcile, self.s3, self.config.bucket, key, wanted)
            self.metrics.thumbnail("deleted", len(done.deleted))
            made = await self._make(key, done.missing) if done.missing else []
        # A proxy may still make a thumbnail from the old original it fetched before the change (it keeps
        # originals for --originals-ttl, a render lasts up to --render-timeout) and store it after this pass:
        # its write is an event watch ignores, so the original is looked at once more when that time is over.
        since = (self.now() - event.time).total_seconds() if event.time is not None else float("inf")
        again = min(self.settings.recheck_seconds - since, self.settings.recheck_seconds)
        state = "gone" if done.etag is None else f"etag {done.etag}"
        log.info(
            "%s %s (%s): deleted %d thumbnail(s)%s, made %s%s",
            event.name,
            key,
            state,
            len(done.deleted),
            f" ({', '.join(done.deleted[:5])}{', ...' if len(done.deleted) > 5 else ''})" if done.deleted else "",
            ", ".join(made) or "none",
            f"; again in {math.ceil(again)}s, for what proxies may still make from the old one" if again > 0 else "",
        )
        return max(again, 0.0)

    async def _warm(self, request: events.WarmRequest) -> None:
        key = request.key
        if events.classify(key, self.config.source_extensions) is KeyKind.OTHER:
            raise Malformed(f"warm request for {key!r}, not an image with a --source-extensions extension")
        try:
            labels = warm.parse_sizes(",".join(request.sizes), self.config)
        except b.ToolError as exc:  # sizes this watcher's policy refuses: warm would have refused them too
            raise Malformed(f"warm request for {key}: {exc}") from None
        async with self.keys.hold(key):
            made = await self._make(key, warm.thumbnail_keys(key, labels, self.config.auto_format))
        log.info("warm %s: made %s", key, ", ".join(made) or "none (the original is gone)")

    async def _make(self, key: str, thumbnails: list[str]) -> list[str]:
        """Make ``thumbnails`` of ``key``; what each PUT did (``a_200x200.jpg stored``). Raise if one failed."""
        results = await self.maker.make(key, thumbnails)
        if results is None:
            return []  # removed since: its ObjectRemoved event will follow
        if PutResult.FAILED in results:
            raise UpstreamError(f"{results.count(PutResult.FAILED)} thumbnail(s) of {key} not stored")
        return [f"{thumb} {result.value}" for thumb, result in zip(thumbnails, results, strict=True)]

    async def _heartbeat(self) -> None:
        """Extend the visibility of held messages before it runs out (at half their lease)."""
        while True:
            await asyncio.sleep(max(self.lease / 4, 0.25))
            now = self.clock()
            due = [h for h in self.held.values() if not h.released and h.visible_until - now < self.lease / 2]
            if not due:
                continue
            try:
                refused = await self._in(self.io, self.queue.change_visibility, [h.message for h in due], self.lease)
            except ProxyError as exc:
                log.warning("could not extend the visibility of %d message(s): %s", len(due), exc.reason)
                continue
            for held in due:
                if held.message.id in refused:
                    log.warning("message %s: visibility not extended, another watcher may get it", held.message.id)
                else:
                    held.visible_until = now + self.lease
                    self.metrics.extensions.inc()

    async def _summaries(self) -> None:
        while True:
            await asyncio.sleep(self.settings.summary_every)
            log.info(self.metrics.summary())

    def _in(self, pool: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        return asyncio.get_running_loop().run_in_executor(pool, fn, *args)


# ---- the command -------------------------------------------------------------------------------------------


@dataclass
class Connected:
    """The clients watch works with, checked at start."""

    s3: Any
    queue: sqs.Queue
    lease: int
    notes: list[str] = field(default_factory=list)


def connect(config: Config, settings: Settings) -> Connected:
    """S3 and SQS clients; the bucket and the queue must answer (ToolError otherwise)."""
    s3 = b.client(config)
    b.require_bucket(s3, config.bucket)
    queue = sqs.open_queue(config, config.queue_url, settings.poll_seconds)
    try:
        attributes = queue.attributes("VisibilityTimeout", "RedrivePolicy")
    except ProxyError as exc:
        raise b.ToolError(f"queue {config.queue_url} is not reachable ({exc.reason})") from None
    connected = Connected(s3, queue, int(attributes.get("VisibilityTimeout", 30)))
    if "RedrivePolicy" not in attributes:
        connected.notes.append("the queue has no dead-letter queue: a message that always fails comes back forever")
    return connected


async def watch(
    config: Config,
    settings: Settings,
    stop: asyncio.Event,
    metrics: WatchMetrics | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Run a watcher (and the admin listener, with ``admin-port``) until ``stop`` is set."""
    connected = connect(config, settings)
    metrics = metrics or WatchMetrics(clock)
    for note in connected.notes:
        log.warning(note)
    with _admin(config, metrics):
        log.info(
            "watching %s for bucket %s: %d at once, warm sizes %s, visibility timeout %ds",
            config.queue_url,
            config.bucket,
            settings.concurrency,
            ", ".join(settings.labels) or "none",
            connected.lease,
        )
        watcher = Watcher(config, settings, connected.s3, connected.queue, connected.lease, metrics, clock)
        try:
            await watcher.run(stop)
        finally:
            connected.queue.close()


@contextlib.contextmanager
def _admin(config: Config, metrics: WatchMetrics) -> Iterator[None]:
    """``/healthz`` and ``/metrics`` on ``admin-port``, as serve has them (none when it is 0)."""
    if not config.admin_port:
        yield
        return
    app = tornado.web.Application([(r"/healthz", HealthHandler), (r"/metrics", _MetricsHandler, {"metrics": metrics})])
    server = HTTPServer(app)
    server.add_sockets(bind_sockets(config.admin_port, config.admin_address or config.address or None))
    log.info("admin on %s:%d", config.admin_address or config.address, config.admin_port)
    try:
        yield
    finally:
        server.stop()


def run(args: argparse.Namespace) -> int:
    config = b.load_config(args)
    if not config.queue_url:
        raise b.ToolError("--queue-url is required (or S3RP_QUEUE_URL, or queue-url in the config file)")
    settings = Settings(
        labels=tuple(warm.parse_sizes(config.warm_sizes, config, "--warm-sizes")),
        concurrency=args.concurrency,
        poll_seconds=args.poll_seconds,
        summary_every=args.summary_every,
        recheck_seconds=config.originals_ttl + config.render_timeout
        if args.recheck_seconds is None
        else args.recheck_seconds,
    )
    # Enough pooled connections for every message in flight: its checks, or its GET and PUTs.
    pool = settings.concurrency * (max(CHECK_THREADS, len(settings.labels)) + 1)
    config = dataclasses.replace(config, io_threads=max(config.io_threads, pool))
    logging.basicConfig(  # as serve logs (proxy/cli.py)
        level=getattr(logging, config.log_level.upper()),
        format="%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s",
        stream=sys.stderr,
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await watch(config, settings, stop)

    asyncio.run(main())
    log.info("stopped")
    return 0
