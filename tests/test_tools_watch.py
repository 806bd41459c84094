"""watch against moto's server, which serves S3 and SQS on one endpoint and delivers the bucket's event
notifications into the queue, as S3 does: replaced and removed originals, our own writes, duplicates, old
events, malformed messages, failures, long work, SIGTERM, and warm --queue-url shared by two watchers."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from proxy.cli import main
from proxy.config import Config
from proxy.stored import thumbnail_write
from proxy.tools import bucketconf
from proxy.tools.watch import Settings, WatchMetrics, watch
from tests.harness import ROOT, free_port, put, stored_keys
from tests.images import opened, quadrants, solid
from tests.queues import TestQueue, make_queue, wait_until
from tests.s3spy import S3Spy

SIZES = ("40x40", "20x0")


def source_etag(s3: Any, bucket: str, key: str) -> str:
    return str(s3.head_object(Bucket=bucket, Key=key)["Metadata"]["source-etag"])


def etag(s3: Any, bucket: str, key: str) -> str:
    return str(s3.head_object(Bucket=bucket, Key=key)["ETag"]).strip('"')


def put_image(s3: Any, bucket: str, key: str, body: bytes) -> str:
    """Store a JPEG original; its ETag."""
    put(s3, bucket, key, body)
    return etag(s3, bucket, key)


def notify(s3: Any, bucket: str, queue: TestQueue) -> None:
    """The bucket's created/removed events into the queue (as setup-bucket --events-queue sets them); S3 sends
    its s3:TestEvent at once, which is drained here."""
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration=bucketconf.notifications(queue.arn)
    )
    assert [json.loads(body).get("Event") for body in queue.drain()] == ["s3:TestEvent"]


def warm_cli(bucket: str, endpoint: str, *extra: str) -> int:
    return main(["warm", f"--sizes={','.join(SIZES)}", f"--bucket={bucket}", f"--s3-endpoint={endpoint}", *extra])


class RunningWatcher:
    """watch in a thread with its own event loop: the real command's work, with its counters readable."""

    def __init__(self, config: Config, settings: Settings) -> None:
        self.config, self.settings = config, settings
        self.metrics = WatchMetrics()
        self.loop = asyncio.new_event_loop()
        self.stop_event = asyncio.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.loop.run_until_complete(watch(self.config, self.settings, self.stop_event, self.metrics))
        except BaseException as exc:
            self.error = exc
        finally:
            self.loop.close()

    def value(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0

    def messages(self, result: str) -> float:
        return self.value("s3rp_watch_messages_total", result=result)

    def events(self, kind: str) -> float:
        return self.value("s3rp_watch_events_total", kind=kind)

    def wait_idle(self, queue: TestQueue, done: int, what: str = "the queue to be worked off") -> None:
        """Until ``done`` messages are finished (deleted or given up as malformed) and none is left."""
        finished = lambda: self.messages("done") + self.messages("malformed")  # noqa: E731
        wait_until(lambda: finished() >= done and queue.counts() == (0, 0), what=what)

    def stop(self) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.stop_event.set)
            self.thread.join(60)
        assert not self.thread.is_alive(), "watch did not stop"
        if self.error is not None:
            raise self.error


@pytest.fixture
def watch_spy(moto_url: str) -> Iterator[S3Spy]:
    """What the watcher's S3 calls are, apart from those of the proxy or warm in the same test."""
    forwarder = S3Spy(moto_url)
    yield forwarder
    forwarder.close()


@pytest.fixture
def queue(moto_url: str) -> TestQueue:
    return make_queue(moto_url, VisibilityTimeout="30")


@pytest.fixture
def start_watcher(
    moto_url: str, bucket: str, queue: TestQueue, watch_spy: S3Spy
) -> Iterator[Callable[..., RunningWatcher]]:
    running: list[RunningWatcher] = []

    def start(settings: Settings | None = None, **overrides: Any) -> RunningWatcher:
        options: dict[str, Any] = {
            "bucket": bucket,
            "s3_endpoint": watch_spy.url,
            "sqs_endpoint": moto_url,
            "queue_url": queue.url,
            "s3_max_attempts": 1,
        }
        options.update(overrides)
        watcher = RunningWatcher(Config.defaults(**options), settings or Settings(SIZES, concurrency=2, poll_seconds=1))
        running.append(watcher)
        return watcher

    yield start
    for watcher in running:
        watcher.stop()


def test_replaced_original_loses_stale_variants_and_gets_warm_sizes_again(
    proxy, s3, bucket, http, moto_url, queue, start_watcher, watch_spy
):
    old = put_image(s3, bucket, "earth.jpg", quadrants(160, 120))
    put_image(s3, bucket, "moon.jpg", quadrants(160, 120))
    put(s3, bucket, "earth.png", solid(90, 60, fmt="PNG"), "image/png")
    put(s3, bucket, "earth_80x80.jpg", solid(80, 80))  # an original named like a thumbnail
    for path in ("earth_30x30.webp", "earth_60x40_fit.jpg", "earth_70x70.png", "moon_30x30.webp"):
        assert http.get(f"{proxy.url}/{path}").status_code == 200, path
    proxy.flush()
    assert warm_cli(bucket, moto_url) == 0
    before = stored_keys(s3, bucket)
    assert {"earth_40x40.jpg", "earth_20x0.jpg", "moon_40x40.jpg"} <= before
    moon = {key: etag(s3, bucket, key) for key in before if key.startswith("moon")}
    notify(s3, bucket, queue)
    admin = free_port()
    watcher = start_watcher(admin_port=admin, admin_address="127.0.0.1")

    new = put_image(s3, bucket, "earth.jpg", solid(100, 50))  # replaced: one ObjectCreated:Put event
    assert new != old
    watcher.wait_idle(queue, 1 + 4 + 2)  # the event, then those of watch's own 4 deletes and 2 writes
    after = stored_keys(s3, bucket)
    assert after == before - {"earth_30x30.webp", "earth_60x40_fit.jpg"}  # the other variants are made again
    for key in ("earth_40x40.jpg", "earth_20x0.jpg"):
        assert source_etag(s3, bucket, key) == new
        assert watch_spy.count("PUT", f"/{key}", 200) == 1
    assert opened(s3.get_object(Bucket=bucket, Key="earth_20x0.jpg")["Body"].read()).size == (20, 10)
    assert source_etag(s3, bucket, "earth_70x70.png") == etag(s3, bucket, "earth.png")  # made from earth.png: kept
    assert s3.get_object(Bucket=bucket, Key="earth_80x80.jpg")["Body"].read() == solid(80, 80)  # not generated
    assert {key: etag(s3, bucket, key) for key in after if key.startswith("moon")} == moon  # untouched
    assert watcher.events("original") == 1 and watcher.events("thumbnail") == 6
    assert watcher.value("s3rp_watch_thumbnails_total", result="deleted") == 4  # 2 variants + 2 sizes remade
    metrics = requests.get(f"http://127.0.0.1:{admin}/metrics", timeout=10).text
    assert 's3rp_watch_messages_total{result="done"} 7.0' in metrics
    assert 's3rp_watch_thumbnails_total{result="stored"} 2.0' in metrics


def test_removed_original_loses_every_variant(proxy, s3, bucket, http, moto_url, queue, start_watcher):
    put_image(s3, bucket, "photos/a b+c.jpg", quadrants(80, 60))  # '+' and ' ' in keys: encoded in the event
    put_image(s3, bucket, "photos/other.jpg", quadrants(80, 60))
    for path in ("photos/a%20b%2Bc_30x30.webp", "photos/a%20b%2Bc_25x25_pad.png", "photos/other_30x30.jpg"):
        assert http.get(f"{proxy.url}/{path}").status_code == 200, path
    proxy.flush()
    assert warm_cli(bucket, moto_url) == 0
    variant = "photos/a b+c_25x25_pad.png.avif"  # a negotiated variant, stored under the contract
    made = thumbnail_write(
        content_type="image/avif",
        source_key="photos/a b+c.jpg",
        source_etag=etag(s3, bucket, "photos/a b+c.jpg"),
        cache_control="public",
        storage_class="STANDARD",
    )
    put(s3, bucket, variant, b"avif", "image/avif", Metadata=dict(made.metadata), Tagging=made.tagging)
    notify(s3, bucket, queue)
    watcher = start_watcher()
    s3.delete_object(Bucket=bucket, Key="photos/a b+c.jpg")
    watcher.wait_idle(queue, 1 + 5)
    assert {key for key in stored_keys(s3, bucket) if key.startswith("photos/a b")} == set()
    assert stored_keys(s3, bucket) == {
        "photos/other.jpg",
        "photos/other_30x30.jpg",
        "photos/other_40x40.jpg",
        "photos/other_20x0.jpg",
    }


def test_own_writes_and_other_objects_are_ignored_without_any_s3_call(
    proxy, s3, bucket, http, moto_url, queue, start_watcher, watch_spy
):
    put_image(s3, bucket, "earth.jpg", quadrants(80, 60))
    notify(s3, bucket, queue)
    watcher = start_watcher()
    for path in ("earth_30x30.jpg", "earth_20x20@2x.webp", "earth_25x0_fit.png"):  # write-backs of the proxy
        assert http.get(f"{proxy.url}/{path}").status_code == 200, path
    proxy.flush()
    put(s3, bucket, "earth_30x30.jpg.avif", b"a negotiated variant", "image/avif")
    put(s3, bucket, "notes.txt", b"not an image", "text/plain")
    put(s3, bucket, "logo.svg", b"<svg/>", "image/svg+xml")
    watcher.wait_idle(queue, 6)
    assert watcher.events("thumbnail") == 4 and watcher.events("other") == 2
    assert [(s.method, s.path) for s in watch_spy.seen] == [("HEAD", f"/{bucket}")]  # its start-up check only


def test_duplicated_message_does_the_work_once(s3, bucket, moto_url, queue, start_watcher, watch_spy):
    put_image(s3, bucket, "earth.jpg", quadrants(80, 60))
    assert warm_cli(bucket, moto_url) == 0
    notify(s3, bucket, queue)
    new = put_image(s3, bucket, "earth.jpg", solid(60, 40))
    (body,) = queue.drain()
    for _ in range(3):  # at-least-once delivery: the same event three times
        queue.send(body)
    watcher = start_watcher(settings=Settings(SIZES, concurrency=1, poll_seconds=1))
    watcher.wait_idle(queue, 3 + 4)
    assert watcher.events("original") == 3
    for key in ("earth_40x40.jpg", "earth_20x0.jpg"):
        assert source_etag(s3, bucket, key) == new
        assert watch_spy.count("PUT", f"/{key}", 200) == 1
    assert watch_spy.count("POST", f"/{bucket}") == 1  # one DeleteObjects: the duplicates found nothing stale


def test_old_events_after_newer_ones_keep_the_current_thumbnails(s3, bucket, moto_url, queue, start_watcher, watch_spy):
    put_image(s3, bucket, "earth.jpg", quadrants(80, 60))
    assert warm_cli(bucket, moto_url) == 0  # thumbnails of v1
    notify(s3, bucket, queue)
    put_image(s3, bucket, "earth.jpg", solid(60, 40, (0, 0, 255)))  # v2
    s3.delete_object(Bucket=bucket, Key="earth.jpg")
    v3 = put_image(s3, bucket, "earth.jpg", solid(60, 40, (0, 255, 0)))
    created_v2, removed, created_v3 = queue.drain()
    assert json.loads(removed)["Records"][0]["eventName"] == "ObjectRemoved:Delete"
    for body in (created_v3, created_v2, removed):  # the newest first, then the old ones
        queue.send(body)
    watcher = start_watcher(settings=Settings(SIZES, concurrency=1, poll_seconds=1))
    watcher.wait_idle(queue, 3 + 4)
    for key in ("earth_40x40.jpg", "earth_20x0.jpg"):
        assert source_etag(s3, bucket, key) == v3
        assert watch_spy.count("PUT", f"/{key}", 200) == 1  # made once: never deleted by the old events
    assert watch_spy.count("POST", f"/{bucket}") == 1  # the v1 thumbnails, deleted on the newest event
    assert stored_keys(s3, bucket) == {"earth.jpg", "earth_40x40.jpg", "earth_20x0.jpg"}


def test_malformed_messages_are_deleted_and_the_watcher_goes_on(s3, bucket, queue, start_watcher):
    put_image(s3, bucket, "earth.jpg", quadrants(80, 60))
    notify(s3, bucket, queue)
    queue.send("not json at all")
    queue.send({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": bucket}}}]})
    queue.send({"s3-resize-proxy": "warm", "key": "earth.jpg", "sizes": ["9000x9000"]})  # over --max-dimension
    queue.send({"s3-resize-proxy": "warm", "key": "notes.txt", "sizes": ["40x40"]})
    watcher = start_watcher(settings=Settings((), concurrency=1, poll_seconds=1))
    watcher.wait_idle(queue, 4)
    assert watcher.messages("malformed") == 4
    s3.delete_object(Bucket=bucket, Key="earth.jpg")  # and the next event is worked on as usual
    watcher.wait_idle(queue, 5)
    assert watcher.messages("done") == 1 and watcher.events("original") == 1


def test_a_failing_s3_call_leaves_the_message_for_a_later_attempt(moto_url, s3, bucket, watch_spy, start_watcher):
    queue = make_queue(moto_url, VisibilityTimeout="2")
    put_image(s3, bucket, "earth.jpg", quadrants(80, 60))
    assert warm_cli(bucket, moto_url) == 0
    notify(s3, bucket, queue)
    new = put_image(s3, bucket, "earth.jpg", solid(60, 40))
    watch_spy.fail("GET", "/earth.jpg", 500, times=1)  # the GET of the original, to make --warm-sizes
    watcher = start_watcher(queue_url=queue.url)
    watcher.wait_idle(queue, 1 + 4, what="the retried message")
    assert watcher.messages("failed") == 1  # left on the queue, given out again once its visibility ran out
    assert watch_spy.count("GET", "/earth.jpg") == 2
    for key in ("earth_40x40.jpg", "earth_20x0.jpg"):
        assert source_etag(s3, bucket, key) == new


def test_long_work_keeps_its_message_invisible(moto_url, s3, bucket, watch_spy, start_watcher):
    queue = make_queue(moto_url, VisibilityTimeout="4")  # extended with 2 s left, however busy the machine
    put_image(s3, bucket, "earth.jpg", quadrants(80, 60))
    notify(s3, bucket, queue)
    put_image(s3, bucket, "earth.jpg", solid(60, 40))
    release = watch_spy.stall("GET", "/earth.jpg")
    watcher = start_watcher(queue_url=queue.url, s3_read_timeout=30)  # the stalled GET must not time out
    try:
        wait_until(lambda: watcher.value("s3rp_watch_visibility_extensions_total") >= 3, what="extensions")
        assert queue.counts() == (0, 1)  # still in flight, never given out again
    finally:
        release.set()
    watcher.wait_idle(queue, 1 + 2)
    assert watcher.messages("failed") == 0 and watch_spy.count("GET", "/earth.jpg") == 1


def test_a_late_thumbnail_of_the_old_original_goes_on_the_recheck(s3, bucket, moto_url, queue, start_watcher):
    """A proxy that fetched the old original just before it was replaced stores its thumbnail after watch's
    first pass (its write is an event watch ignores): the event comes back once --recheck-seconds are over."""
    old = put_image(s3, bucket, "earth.jpg", quadrants(80, 60))
    notify(s3, bucket, queue)
    new = put_image(s3, bucket, "earth.jpg", solid(60, 40))
    watcher = start_watcher(settings=Settings(SIZES, concurrency=2, poll_seconds=1, recheck_seconds=10))
    wait_until(lambda: watcher.messages("deferred") == 1, what="the first pass")
    late = thumbnail_write(
        content_type="image/jpeg", source_key="earth.jpg", source_etag=old, cache_control="x", storage_class="STANDARD"
    )
    put(s3, bucket, "earth_33x33.jpg", solid(33, 33), Metadata=dict(late.metadata), Tagging=late.tagging)
    watcher.wait_idle(queue, 1 + 2 + 1 + 1)  # the event (done the 2nd time), our 2 writes, the late one, its delete
    assert stored_keys(s3, bucket) == {"earth.jpg", "earth_40x40.jpg", "earth_20x0.jpg"}
    assert watcher.events("original") == 2 and source_etag(s3, bucket, "earth_40x40.jpg") == new


def test_summary_line_counts_since_the_last_one():
    now = [100.0]
    metrics = WatchMetrics(clock=lambda: now[0])
    metrics.message("done")
    metrics.message("done")
    metrics.message("malformed")
    metrics.event("original")
    metrics.event("thumbnail")
    metrics.thumbnail("deleted", 3)
    metrics.holding(+2)
    now[0] = 160.0
    assert metrics.summary() == (
        "watch: last 60s: messages 2 done, 0 deferred, 0 failed, 1 malformed, 0 released; "
        "events 1 original, 0 warm, 1 thumbnail, 0 other, 0 test; "
        "thumbnails 3 deleted, 0 stored, 0 exists, 0 failed; 2 in flight"
    )
    now[0] = 170.0
    assert metrics.summary().startswith("watch: last 10s: messages 0 done, 0 deferred, 0 failed, 0 malformed")
    assert metrics.registry.get_sample_value("s3rp_watch_messages_total", {"result": "done"}) == 2


def test_sigterm_in_the_middle_of_a_batch(moto_url, s3, bucket, watch_spy):
    """A real ``python -m proxy watch``: two messages at work, two waiting for a slot; SIGTERM gives the waiting
    two back at once, finishes the two at work, deletes only those, and exits 0."""
    queue = make_queue(moto_url, VisibilityTimeout="60")
    names = ["a", "b", "c", "d"]
    for name in names:
        put_image(s3, bucket, f"{name}.jpg", quadrants(40, 30))
    stalls = {name: watch_spy.stall("GET", f"/{name}.jpg") for name in ("a", "b")}
    for name in names:
        queue.send({"s3-resize-proxy": "warm", "key": f"{name}.jpg", "sizes": ["10x10"]})
    command = [
        sys.executable,
        "-m",
        "proxy",
        "watch",
        f"--bucket={bucket}",
        f"--s3-endpoint={watch_spy.url}",
        f"--sqs-endpoint={moto_url}",
        f"--queue-url={queue.url}",
        "--concurrency=2",
        "--poll-seconds=1",
        "--s3-max-attempts=1",
    ]
    process = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True, env={**os.environ})
    try:
        wait_until(lambda: queue.counts() == (0, 4), what="four messages received")
        wait_until(lambda: all(f.times < 1_000_000 for f in watch_spy.faults), what="the GETs of a and b")
        process.send_signal(signal.SIGTERM)
        wait_until(lambda: queue.counts() == (2, 2), what="the two waiting messages given back")
    finally:
        for release in stalls.values():
            release.set()
    assert process.wait(60) == 0
    assert process.stderr is not None
    log = process.stderr.read()
    assert "stopping: finishing 2 message(s) in progress" in log, log
    assert queue.counts() == (2, 0)
    assert sorted(json.loads(body)["key"] for body in queue.drain()) == ["c.jpg", "d.jpg"]
    assert {key for key in stored_keys(s3, bucket) if "_" in key} == {"a_10x10.jpg", "b_10x10.jpg"}


def test_two_watchers_share_the_work_of_warm_queue_url(moto_url, s3, bucket, capsys):
    queue = make_queue(moto_url, VisibilityTimeout="30")
    count = 30
    for i in range(count):
        put_image(s3, bucket, f"p/{i:03}.jpg", solid(24, 16))
    put_image(s3, bucket, "p/000_40x40.jpg", solid(40, 40))  # already there: the rest of p/000 is asked for
    args = [f"--bucket={bucket}", f"--s3-endpoint={moto_url}", f"--sqs-endpoint={moto_url}", f"--queue-url={queue.url}"]
    assert warm_cli(bucket, moto_url, *args[2:], "--dry-run") == 0
    assert f"would make {2 * count - 1} ({count} requests to {queue.url})" in capsys.readouterr().out
    spies = [S3Spy(moto_url), S3Spy(moto_url)]
    watchers = []
    try:
        for spy in spies:
            config = Config.defaults(
                bucket=bucket, s3_endpoint=spy.url, sqs_endpoint=moto_url, queue_url=queue.url, s3_max_attempts=1
            )
            watchers.append(RunningWatcher(config, Settings(concurrency=2, poll_seconds=1)))
        assert warm_cli(bucket, moto_url, *args[2:]) == 0
        out = capsys.readouterr().out
        assert f"warm: {count} originals: {count} queued, 0 already complete, 0 not queued" in out
        assert f"thumbnails: {2 * count - 1} for the watchers to make" in out
        # SQS delivers at least once: two watchers receiving at the same moment may both get one message (moto
        # does it too, about one run in ten here). The second pass finds the thumbnails stored (412): harmless.
        wait_until(lambda: sum(w.events("warm") for w in watchers) >= count and queue.counts() == (0, 0))
        thumbnails = {key for key in stored_keys(s3, bucket) if "_" in key}
        assert len(thumbnails) == 2 * count  # the bucket is complete
        for key in thumbnails - {"p/000_40x40.jpg"}:  # each stored once, by one watcher or the other
            assert sum(spy.count("PUT", f"/{key}", 200) for spy in spies) == 1, key
        assert s3.get_object(Bucket=bucket, Key="p/000_40x40.jpg")["Body"].read() == solid(40, 40)
    finally:
        for watcher in watchers:
            watcher.stop()
        for spy in spies:
            spy.close()
