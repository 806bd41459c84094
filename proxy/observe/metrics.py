"""Prometheus metrics of one proxy (prometheus_client), per process or shared by ``--processes`` workers.

With ``PROMETHEUS_MULTIPROC_DIR`` set (the supervisor sets it for ``--processes`` > 1), every process writes
its values to files there and ``/metrics`` on any worker reports the sum over all of them. prometheus_client's
own multi-process store writes the file on every update (a counter and two histogram values per request);
here updates stay in memory and ``publish()`` writes them, every second and before ``/metrics`` is answered,
so another worker's figures are at most a second old.
"""

from __future__ import annotations

import glob
import os
import threading
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PHASES = ("queue_wait", "s3_fetch", "render", "write_back")
SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def clear_multiprocess_dir(path: str) -> None:
    """Remove values left by an earlier run (prometheus_client requires a clean directory at start)."""
    for name in glob.glob(os.path.join(path, "*.db")):
        os.remove(name)


def process_exited(pid: int) -> None:
    """Drop a dead worker's live gauges (renders in progress, LRU bytes) from the sums."""
    path = multiprocess_dir()
    if path:
        mark_process_dead(pid, path)


class _BufferedStore:
    """A value store for prometheus_client in multi-process mode: values kept in memory, written to this
    process's files (the layout ``MultiProcessCollector`` reads) by ``publish``."""

    def __init__(self, directory: str) -> None:
        self._directory = directory
        self._files: dict[str, MmapedDict] = {}
        self._dirty: set[_BufferedValue] = set()
        self.lock = threading.Lock()  # render and S3 threads update metrics too

    def value(
        self,
        typ: str,
        metric_name: str,
        name: str,
        labelnames: Any,
        labelvalues: Any,
        help_text: str,
        multiprocess_mode: str = "",
        **_: Any,
    ) -> _BufferedValue:
        """prometheus_client's ``values.ValueClass``: one value of one metric."""
        prefix = f"{typ}_{multiprocess_mode}" if typ == "gauge" else typ
        file = self._files.get(prefix)
        if file is None:
            path = os.path.join(self._directory, f"{prefix}_{os.getpid()}.db")
            file = self._files[prefix] = MmapedDict(path)
        key = mmap_key(metric_name, name, labelnames, labelvalues, help_text)
        with self.lock:
            value = _BufferedValue(self, file, key)
            file.write_value(key, 0.0, 0.0)  # listed from the start, as prometheus_client's own store does
        return value

    def changed(self, value: _BufferedValue) -> None:
        self._dirty.add(value)  # called with the lock held

    def publish(self) -> None:
        with self.lock:
            for value in self._dirty:
                value.file.write_value(value.key, value.number, 0.0)
            self._dirty.clear()


class _BufferedValue:
    _multiprocess = True

    def __init__(self, store: _BufferedStore, file: MmapedDict, key: str) -> None:
        self.store, self.file, self.key = store, file, key
        self.number = 0.0

    def inc(self, amount: float) -> None:
        with self.store.lock:
            self.number += amount
            self.store.changed(self)

    def set(self, value: float, timestamp: float | None = None) -> None:
        with self.store.lock:
            self.number = value
            self.store.changed(self)

    def get(self) -> float:
        return self.number

    def set_exemplar(self, exemplar: object) -> None:
        return None  # no exemplars in multi-process mode (as in prometheus_client's own store)

    def get_exemplar(self) -> None:
        return None


class Metrics:
    """The proxy's metrics; ``render()`` is the body of ``GET /metrics``."""

    def __init__(self) -> None:
        directory = multiprocess_dir()
        self.multiprocess = directory is not None
        self._store: _BufferedStore | None = None
        # prometheus_client takes its value store from values.ValueClass when a metric is made.
        values.ValueClass = values.MutexValue
        if directory is not None:
            self._store = _BufferedStore(directory)
            values.ValueClass = self._store.value  # type: ignore[assignment,misc]
        reg = self._own = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "s3rp_requests",
            "Object requests answered, by status and cache result.",
            ["status", "cache"],
            registry=reg,
        )
        self.request_seconds = Histogram(
            "s3rp_request_duration_seconds",
            "Time to answer, by cache result.",
            ["cache"],
            buckets=SECONDS,
            registry=reg,
        )
        self.phase_seconds = Histogram(
            "s3rp_phase_duration_seconds",
            "Time spent per phase: queue_wait (render queue), s3_fetch (one GET), render, write_back (one PUT).",
            ["phase"],
            buckets=SECONDS,
            registry=reg,
        )
        self.renders_in_progress = Gauge(
            "s3rp_renders_in_progress", "Renders running now.", registry=reg, multiprocess_mode="livesum"
        )
        self.renders_queued = Gauge(
            "s3rp_renders_queued",
            "Renders waiting for a render thread.",
            registry=reg,
            multiprocess_mode="livesum",
        )
        self.memory_bytes = Gauge(
            "s3rp_memory_cache_bytes", "Bytes held by the memory LRU.", registry=reg, multiprocess_mode="livesum"
        )
        self.in_flight = Gauge(
            "s3rp_requests_in_flight", "Requests being answered now.", registry=reg, multiprocess_mode="livesum"
        )
        self.write_backs = Counter(
            "s3rp_write_backs",
            "Thumbnail write-backs to S3, by result (stored, exists, failed).",
            ["result"],
            registry=reg,
        )
        self.s3_errors = Counter(
            "s3rp_s3_errors", "Failed S3 calls, by kind (timeout, throttled, error).", ["kind"], registry=reg
        )
        for phase in PHASES:  # present from the start, so dashboards see zeros rather than gaps
            self.phase_seconds.labels(phase)
        for kind in ("timeout", "throttled", "error"):
            self.s3_errors.labels(kind)
        for result in ("stored", "exists", "failed"):
            self.write_backs.labels(result)

    def publish(self) -> None:
        """Write this process's values to its files for the other workers' ``/metrics`` (multi-process only)."""
        if self._store is not None:
            self._store.publish()

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric (summed over all workers in multi-process mode)."""
        source: Collector = self._own
        if self.multiprocess:
            self.publish()
            source = MultiProcessCollector(None)  # type: ignore[assignment]  # reads every worker's files
        output = CollectorRegistry(auto_describe=False)
        output.register(source)
        output.register(_HitRatio(source))
        return generate_latest(output)


class _HitRatio(Collector):
    """The memory hit ratio, derived from the requests counter so that it is right across workers too."""

    def __init__(self, source: Collector) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        hits = answered = 0.0
        for metric in self._source.collect():
            if metric.name != "s3rp_requests":
                continue
            for sample in metric.samples:
                cache = sample.labels.get("cache")
                if sample.name == "s3rp_requests_total" and cache in ("memory", "s3", "rendered"):
                    answered += sample.value
                    hits += sample.value if cache == "memory" else 0.0
        yield GaugeMetricFamily(
            "s3rp_memory_cache_hit_ratio",
            "Share of answered object requests served from the memory LRU (0 before any).",
            value=hits / answered if answered else 0.0,
        )
