"""The benchmark: ``python bench/run.py``. Loopback only, bounded, stops by itself; figures into bench/RESULTS.md.

It fetches the corpus if missing (Debian's plasma-workspace-wallpapers: its photographic 2560x1600 and
5120x2880 JPEGs), starts moto's S3 server, the proxy (``python -m proxy serve``, default configuration: metrics,
request ids, the access log written to a file) and the baselines as child processes, and measures:

1. memory hits, 1 process, against a bare Tornado handler returning the same bytes (bench/bare.py):
   req/s, CPU per request and p99 under ``wrk -t1 -c16``; the same for 304s answered to If-None-Match;
2. memory hits with ``--processes=2`` against 1 process, and each worker's share of the requests (from the
   workers' own request counters);
3. misses with ``--processes=2`` at concurrency 4 against the in-process limit doing the same work without
   HTTP (a botocore GET of the original, the proxy's render, a botocore PUT with the same write parameters),
   as thumbnails per second (until every write-back has landed) and CPU per thumbnail (the proxy's processes);
   beside them, what the S3 server and the load generator spent per thumbnail on the same cores, and the most
   thumbnails per second the whole machine's CPU then allows the proxy;
4. coalescing: 50 identical concurrent misses -> GETs of the original and PUTs seen by S3;
5. peak RSS of a fresh proxy after 32 concurrent distinct misses of 5120x2880 photos.

Every figure alternates contender and baseline ``--rounds`` times (at least 3) and reports the median ratio
with its min-max. Each measurement records the CPU that other processes took meanwhile (/proc/stat minus the
processes measured, wrk and this one); a run where others took more than 10% of the machine, or where the bare
handler fell below 70% of its quiet figure, is reported as INVALID instead of a ratio. The quiet figure is
the bare handler's rate measured alone before the rounds (the machine's own speed: it differs several-fold
between machines), unless ``--quiet-bare-rps`` gives it; a calibration during which others were busy makes the
run INVALID too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from operator import attrgetter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import PIL  # noqa: E402
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest  # noqa: E402

from bench.photos import wallpapers  # noqa: E402
from bench.procs import (  # noqa: E402
    CORES,
    Window,
    child,
    cpu_model,
    free_port,
    machine_busy,
    metric_total,
    moto,
    proxy,
    put_thumbnail,
    requests_by_worker,
    rss_kib,
    s3_client,
    spread,
    tree,
    wrk,
)
from proxy.config import Config  # noqa: E402
from proxy.imaging.render import RenderOptions, render_many  # noqa: E402
from proxy.keys import parse_thumbnail  # noqa: E402
from proxy.stored import thumbnail_write  # noqa: E402
from tests.s3spy import S3Spy  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
BUCKET = "bench-images"
MARK_START, MARK_END = "<!-- results: written by bench/run.py -->", "<!-- /results -->"
RUN_HEADING = "### Run "
KEEP_RUNS = 3
OTHERS_LIMIT = 0.10  # others' CPU share of the machine above which a measurement is not a result
BARE_FLOOR = 0.70  # the bare handler below this share of its quiet figure: the machine was not quiet
CONNECTIONS = 16
HELPERS: list[int] = []  # our own servers that are not measured (moto): their CPU is not "others'"


# ---- one measurement ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One wrk run against one server: its rate, CPU per request, p99, others' load, workers' shares."""

    rps: float
    cpu_us: float  # server CPU per request, microseconds
    p99_ms: float
    others: float  # others' CPU share of the machine during it
    shares: tuple[float, ...] = ()  # each worker's share of the requests (--processes > 1)
    ok: bool = True  # every answer 2xx/3xx, no socket error
    client_us: float = 0.0  # wrk's CPU per request, microseconds (it shares the cores with the server)


def hit_sample(
    url: str, pids: list[int], seconds: int, headers: dict[str, str] | None = None, metrics_dir: str = ""
) -> Sample:
    before = requests_by_worker(metrics_dir) if metrics_dir else {}
    with Window(pids + HELPERS) as window:
        result = wrk(url, seconds, CONNECTIONS, headers=headers)
    window.extra = result.cpu
    window.settle()
    shares: tuple[float, ...] = ()
    if metrics_dir:
        # Workers publish their counters once a second: wait (bounded) until they account for wrk's requests.
        deadline = time.monotonic() + 3
        while True:
            after = requests_by_worker(metrics_dir)
            counted = sum(after.values()) - sum(before.values())
            if counted >= result.requests or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        served = [after[pid] - before.get(pid, 0.0) for pid in after]
        total = sum(served)
        shares = tuple(sorted(count / total for count in served)) if total else ()
    return Sample(
        rps=result.rps,
        cpu_us=window.total(pids) / result.requests * 1e6 if result.requests else 0.0,
        p99_ms=result.p99_ms,
        others=window.others_share,
        shares=shares,
        ok=result.statuses_ok,
        client_us=result.cpu / result.requests * 1e6 if result.requests else 0.0,
    )


@dataclass(frozen=True)
class MissSample:
    thumbnails: int
    seconds: float
    cpu: float  # CPU seconds of the contender's processes
    others: float
    server: float = 0.0  # CPU seconds of the S3 server (moto, on the same cores)
    client: float = 0.0  # CPU seconds of the load generator (this process), when it is not the contender

    @property
    def rate(self) -> float:
        return self.thumbnails / self.seconds

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu / self.thumbnails

    @property
    def server_ms(self) -> float:
        return 1000 * self.server / self.thumbnails

    @property
    def client_ms(self) -> float:
        return 1000 * self.client / self.thumbnails

    @property
    def machine_ms(self) -> float:
        """CPU of the whole machine per thumbnail: the contender, the S3 server and the load generator."""
        return self.cpu_ms + self.server_ms + self.client_ms


# ---- a figure: rounds of contender vs baseline -------------------------------------------------------------


@dataclass
class Figure:
    """``rounds`` pairs of samples; the ratio of each pair, its median and min-max, and whether it counts."""

    name: str
    target: str
    goal: float
    higher_is_better: bool = True
    pairs: list[tuple[float, float]] = field(default_factory=list)  # (contender, baseline)
    others: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    detail: str = ""

    def add(self, contender: float, baseline: float, *others: float) -> None:
        self.pairs.append((contender, baseline))
        self.others.extend(others)

    @property
    def ratios(self) -> list[float]:
        return [contender / baseline for contender, baseline in self.pairs if baseline]

    @property
    def valid(self) -> bool:
        return not self.problems and max(self.others, default=0.0) <= OTHERS_LIMIT

    @property
    def met(self) -> bool:
        ratios = self.ratios
        if not ratios:
            return False
        worst = min(ratios) if self.higher_is_better else max(ratios)
        median_ok = _median(ratios) >= self.goal if self.higher_is_better else _median(ratios) <= self.goal
        return median_ok and (worst >= self.goal if self.higher_is_better else worst <= self.goal)

    def row(self) -> str:
        others = f"{max(self.others, default=0.0):.1%}"
        if not self.valid:
            reasons = list(self.problems)
            if max(self.others, default=0.0) > OTHERS_LIMIT:
                reasons.append(f"others took up to {others} of the machine")
            measured = f"; measured {self.detail}" if self.detail else ""
            return (
                f"| {self.name} | INVALID: {'; '.join(reasons)}{measured} | {self.target} | not a result | {others} |"
            )
        verdict = "met" if self.met else "**missed**"
        return f"| {self.name} | **{spread(self.ratios)}** {self.detail} | {self.target} | {verdict} | {others} |"


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _values(samples: list[float], digits: int = 0) -> str:
    return spread(samples, digits)


# ---- 1 and 2: hits -------------------------------------------------------------------------------------------


def measure_hits(endpoint: str, key: str, args: argparse.Namespace, tmp: str) -> list[str | Figure]:
    """Hits (200 and 304) of 1 process vs the bare handler, and 2 processes vs 1, alternated per round."""
    metrics_dir = os.path.join(tmp, "metrics")
    os.mkdir(metrics_dir)
    one_options = [f"--access-log={tmp}/hits-1.log", *args.proxy_arg]
    two_options = [f"--access-log={tmp}/hits-2.log", "--processes=2", *args.proxy_arg]
    thumb = key.removesuffix(".jpg") + "_320x200.jpg"
    with (
        proxy(endpoint, BUCKET, one_options) as (one_url, one),
        proxy(endpoint, BUCKET, two_options, env={"PROMETHEUS_MULTIPROC_DIR": metrics_dir}) as (two_url, two),
    ):
        body, etag = _fetch(f"{one_url}/{thumb}")
        for _ in range(4):  # every worker of the pair has it in memory (connections land on either)
            _fetch(f"{two_url}/{thumb}")
        bare_port = free_port()
        body_file = os.path.join(tmp, "body.jpg")
        Path(body_file).write_bytes(body)
        with child(
            [sys.executable, str(ROOT / "bench" / "bare.py"), str(bare_port), body_file, etag], bare_port
        ) as bare:
            bare_url = f"http://127.0.0.1:{bare_port}/x.jpg"
            one_pids, two_pids = [one.pid], tree(two.pid)
            conditional = {"If-None-Match": etag}
            for url in (f"{one_url}/{thumb}", bare_url, f"{two_url}/{thumb}"):  # warm: first calls build caches
                wrk(url, 1, CONNECTIONS)
            if args.quiet_bare_rps is None:  # the machine's own yardstick, before the rounds
                calibration = hit_sample(bare_url, [bare.pid], args.hit_seconds)
                args.quiet_bare_rps, args.calibration_others = calibration.rps, calibration.others
                print(
                    f"bare handler alone: {calibration.rps:,.0f} req/s (others took {calibration.others:.1%})",
                    flush=True,
                )
            samples: dict[str, list[Sample]] = {name: [] for name in ("one", "bare", "one304", "bare304", "two")}
            for round_ in range(args.rounds):
                order = [
                    ("one", lambda: hit_sample(f"{one_url}/{thumb}", one_pids, args.hit_seconds)),
                    ("bare", lambda: hit_sample(bare_url, [bare.pid], args.hit_seconds)),
                    ("one304", lambda: hit_sample(f"{one_url}/{thumb}", one_pids, args.hit_seconds, conditional)),
                    ("bare304", lambda: hit_sample(bare_url, [bare.pid], args.hit_seconds, conditional)),
                    ("two", lambda: hit_sample(f"{two_url}/{thumb}", two_pids, args.hit_seconds, None, metrics_dir)),
                ]
                if round_ % 2:
                    order.reverse()
                for name, measure in order:
                    samples[name].append(measure())
                last = {name: group[-1] for name, group in samples.items()}
                print(
                    f"hits round {round_ + 1}: proxy {last['one'].rps:,.0f}/s, bare {last['bare'].rps:,.0f}/s, "
                    f"304 {last['one304'].rps:,.0f} vs {last['bare304'].rps:,.0f}/s, "
                    f"2 processes {last['two'].rps:,.0f}/s (worker shares "
                    + "/".join(f"{share:.0%}" for share in last["two"].shares)
                    + ")",
                    flush=True,
                )
    return hit_figures(samples, len(body), args)


def hit_figures(samples: dict[str, list[Sample]], size: int, args: argparse.Namespace) -> list[str | Figure]:
    one, bare, one304, bare304, two = (samples[name] for name in ("one", "bare", "one304", "bare304", "two"))
    floor = BARE_FLOOR * args.quiet_bare_rps
    bare_problem = (
        [
            f"the bare handler did {min(s.rps for s in bare):,.0f} req/s, under {BARE_FLOOR:.0%} of its quiet "
            f"{args.quiet_bare_rps:,.0f}"
        ]
        if min(s.rps for s in bare) < floor
        else []
    )
    if args.calibration_others > OTHERS_LIMIT:
        bare_problem.append(
            f"others took {args.calibration_others:.1%} of the machine while the bare handler was timed alone"
        )
    errors = [] if all(s.ok for group in samples.values() for s in group) else ["some answers were errors"]
    figures: list[str | Figure] = []

    def pair(
        name: str,
        target: str,
        goal: float,
        a: list[Sample],
        b: list[Sample],
        value: Callable[[Sample], float],
        higher: bool = True,
        detail: str = "",
    ) -> None:
        figure = Figure(name, target, goal, higher, problems=[*bare_problem, *errors], detail=detail)
        for x, y in zip(a, b, strict=True):
            figure.add(value(x), value(y), x.others, y.others)
        figures.append(figure)

    rps = attrgetter("rps")
    cpu = attrgetter("cpu_us")
    p99 = attrgetter("p99_ms")
    pair(
        f"memory hit req/s, 1 process / bare handler ({size} B, wrk -t1 -c{CONNECTIONS} -d{args.hit_seconds}s)",
        ">= 0.90",
        0.90,
        one,
        bare,
        rps,
        detail=f"({_values([s.rps for s in one])} vs {_values([s.rps for s in bare])} req/s)",
    )
    pair(
        "CPU per memory hit / bare handler's per request",
        "<= 1.10",
        1.10,
        one,
        bare,
        cpu,
        higher=False,
        detail=f"({_values([s.cpu_us for s in one])} vs {_values([s.cpu_us for s in bare])} µs)",
    )
    pair(
        "memory hit p99 / bare handler's p99",
        "<= 1.50",
        1.50,
        one,
        bare,
        p99,
        higher=False,
        detail=f"({_values([s.p99_ms for s in one], 2)} vs {_values([s.p99_ms for s in bare], 2)} ms)",
    )
    pair(
        "304 (If-None-Match) req/s / bare handler's 304",
        ">= 0.90",
        0.90,
        one304,
        bare304,
        rps,
        detail=f"({_values([s.rps for s in one304])} vs {_values([s.rps for s in bare304])} req/s)",
    )
    pair(
        "CPU per 304 / bare handler's per 304",
        "<= 1.10",
        1.10,
        one304,
        bare304,
        cpu,
        higher=False,
        detail=f"({_values([s.cpu_us for s in one304])} vs {_values([s.cpu_us for s in bare304])} µs)",
    )
    pair(
        "304 p99 / bare handler's 304 p99",
        "<= 1.50",
        1.50,
        one304,
        bare304,
        p99,
        higher=False,
        detail=f"({_values([s.p99_ms for s in one304], 2)} vs {_values([s.p99_ms for s in bare304], 2)} ms)",
    )
    shares = [share for s in two for share in s.shares]
    spread_problem = (
        []
        if shares and min(shares) >= 0.35 and max(shares) <= 0.65
        else [f"a worker served {min(shares, default=0):.0%}-{max(shares, default=0):.0%} of a run (target 35-65%)"]
    )
    figure = Figure(
        "memory hit req/s, --processes=2 / 1 process",
        ">= 1.80, each worker 35-65% of every run",
        1.80,
        problems=[*errors],
        detail=f"({_values([s.rps for s in two])} vs {_values([s.rps for s in one])} req/s; worker shares "
        + ", ".join("/".join(f"{share:.0%}" for share in s.shares) for s in two)
        + ")",
    )
    for x, y in zip(two, one, strict=True):
        figure.add(x.rps, y.rps, x.others, y.others)
    figures.append(figure)
    # On a machine that also runs wrk, 2 processes can use at most the cores wrk leaves: what that allows.
    ceiling = [CORES / ((x.cpu_us + x.client_us) * 1e-6) / y.rps for x, y in zip(two, one, strict=True)]
    figures.append(
        f"2 processes: CPU per hit {_values([s.cpu_us for s in two])} µs (1 process: {_values([s.cpu_us for s in one])}"
        f" µs); wrk on the same cores {_values([s.client_us for s in two])} µs per request, so with all "
        f"{CORES} cores busy the most 2 processes can do is {spread(ceiling)}x one process."
    )
    if spread_problem and figure.valid:
        figures.append(f"Workers' shares outside 35-65%: {spread_problem[0]}.")
    return figures


def _fetch(url: str) -> tuple[bytes, str]:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read(), response.headers["ETag"]


# ---- 3: misses -------------------------------------------------------------------------------------------------


async def fetch_all(urls: list[str], concurrency: int) -> list[int]:
    """GET every URL, ``concurrency`` at a time; the statuses."""
    client = AsyncHTTPClient(force_instance=True, max_clients=concurrency)
    queue = list(reversed(urls))
    statuses: list[int] = []

    async def worker() -> None:
        while queue:
            url = queue.pop()
            try:
                response = await client.fetch(HTTPRequest(url, request_timeout=120))
                statuses.append(response.code)
            except HTTPClientError as exc:
                statuses.append(exc.code)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    client.close()
    return statuses


def write_backs(url: str) -> float:
    """Write-backs finished so far (stored, exists or failed), summed over workers, from /metrics."""
    return metric_total(url, "s3rp_write_backs_total")


def proxy_misses(url: str, pids: list[int], keys: list[str], thumb: str, concurrency: int) -> MissSample:
    """Thumbnails of ``keys`` through the proxy; timed until the last write-back has landed."""
    done_before = write_backs(url)
    with Window(pids + HELPERS) as window:
        statuses = asyncio.run(fetch_all([f"{url}/{key.removesuffix('.jpg')}{thumb}" for key in keys], concurrency))
        while write_backs(url) < done_before + len(keys):
            time.sleep(0.01)  # polled only after the last answer: a few scrapes, counted against the proxy
    window.settle()
    assert statuses == [200] * len(keys), statuses
    return MissSample(
        len(keys), window.seconds, window.total(pids), window.others_share, window.total(HELPERS), window.own
    )


class Limit:
    """The in-process limit: the proxy's work on a miss without HTTP. A botocore GET of the original, the proxy's
    render, a botocore PUT with the same write parameters (under ``into`` so that the proxy's keys stay misses),
    render threads as the proxy's. ``wrap(part, step)`` may wrap each step: "original", "render", "put"."""

    def __init__(self, endpoint: str, wrap: Callable[[str, Callable[..., Any]], Callable[..., Any]] | None = None):
        self.config = Config.defaults(bucket=BUCKET)
        self.client: Any = s3_client(endpoint)
        self.options = RenderOptions.from_config(self.config)
        self.io_pool = ThreadPoolExecutor(self.config.io_threads)
        self.render_pool = ThreadPoolExecutor(self.config.render_thread_count)
        wrap = wrap or (lambda _part, step: step)
        self.get = wrap("original", self._get)
        self.render = wrap("render", partial(render_many, focus=None))
        self.put = wrap("put", self._put)

    def _get(self, key: str) -> tuple[bytes, str]:
        found = self.client.get_object(Bucket=BUCKET, Key=key)
        return found["Body"].read(), found["ETag"]

    def _put(self, key: str, body: bytes, content_type: str, source: str, etag: str) -> None:
        params = thumbnail_write(
            content_type=content_type,
            source_key=source,
            source_etag=etag,
            cache_control=self.config.thumbnail_cache_control,
            storage_class=self.config.thumbnail_storage_class,
        )
        put_thumbnail(self.client, BUCKET, key, body, params)

    async def run(self, batch: list[str], thumb: str, into: str, concurrency: int) -> None:
        """The thumbnails ``thumb`` of every original in ``batch``, ``concurrency`` at a time."""
        loop = asyncio.get_running_loop()
        queue = list(reversed(batch))

        async def worker() -> None:
            while queue:
                key = queue.pop()
                spec = parse_thumbnail(key.removesuffix(".jpg") + thumb)
                assert spec is not None
                data, etag = await loop.run_in_executor(self.io_pool, self.get, key)
                [made] = await loop.run_in_executor(self.render_pool, self.render, data, [spec], self.options)
                await loop.run_in_executor(
                    self.io_pool, self.put, f"{into}/{spec.key}", made.body, made.content_type, key, etag
                )

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    def close(self) -> None:
        self.io_pool.shutdown()
        self.render_pool.shutdown()
        self.client.close()


def limit_misses(endpoint: str, keys: list[str], thumb: str, concurrency: int, prefix: str) -> MissSample:
    """The thumbnails of ``keys`` made by the in-process limit; this process's CPU."""
    limit = Limit(endpoint)
    try:
        # First calls load botocore's models and Pillow's plugins: not timed.
        asyncio.run(limit.run(keys[-1:], thumb, f"{prefix}-warm-up", concurrency))
        with Window(HELPERS) as window:
            asyncio.run(limit.run(keys, thumb, prefix, concurrency))
        window.settle()
        # This process is the contender: its CPU is the limit's.
        return MissSample(len(keys), window.seconds, window.own, window.others_share, window.total(HELPERS))
    finally:
        limit.close()


def measure_misses(
    endpoint: str, batches: list[list[str]], warm: list[str], args: argparse.Namespace, tmp: str
) -> list[str | Figure]:
    options = [f"--access-log={tmp}/misses.log", "--processes=2", *args.proxy_arg]
    wall = Figure(
        f"miss thumbnails/s, --processes=2 / in-process limit ({len(batches[0])} distinct 2560x1600 originals "
        "per round, concurrency 4, until written back)",
        ">= 0.95",
        0.95,
    )
    cpu = Figure(
        "CPU per miss thumbnail / in-process limit's",
        "<= 1.05 (0.95x the limit's efficiency)",
        1 / 0.95,
        higher_is_better=False,
    )
    proxies: list[MissSample] = []
    limits: list[MissSample] = []
    with proxy(endpoint, BUCKET, options) as (url, parent):
        pids = tree(parent.pid)
        statuses = asyncio.run(fetch_all([f"{url}/{key.removesuffix('.jpg')}_300x180.jpg" for key in warm], 4))
        assert set(statuses) == {200}, statuses
        for round_, keys in enumerate(batches):
            thumb = f"_{320 + 40 * round_}x{200 + 25 * round_}.jpg"
            contenders: list[tuple[str, Callable[[], MissSample]]] = [
                ("limit", partial(limit_misses, endpoint, keys, thumb, 4, f"limit-{round_}")),
                ("proxy", partial(proxy_misses, url, pids, keys, thumb, 4)),
            ]
            if round_ % 2:
                contenders.reverse()
            results = {name: measure() for name, measure in contenders}
            proxies.append(results["proxy"])
            limits.append(results["limit"])
            wall.add(results["proxy"].rate, results["limit"].rate, results["proxy"].others, results["limit"].others)
            cpu.add(results["proxy"].cpu_ms, results["limit"].cpu_ms)
            print(
                f"misses round {round_ + 1}: proxy {results['proxy'].rate:.1f}/s {results['proxy'].cpu_ms:.0f} ms CPU "
                f"(S3 server {results['proxy'].server_ms:.0f} ms), limit {results['limit'].rate:.1f}/s "
                f"{results['limit'].cpu_ms:.0f} ms CPU (S3 server {results['limit'].server_ms:.0f} ms)",
                flush=True,
            )
    wall.detail = f"({_values([s.rate for s in proxies], 1)} vs {_values([s.rate for s in limits], 1)}/s)"
    cpu.detail = f"({_values([s.cpu_ms for s in proxies], 1)} vs {_values([s.cpu_ms for s in limits], 1)} ms)"
    cpu.others = list(wall.others)
    # Here the S3 server and the load generator share the cores: what the proxy's wall rate can be when they are busy.
    ceiling = [CORES / (x.machine_ms / 1000) / y.rate for x, y in zip(proxies, limits, strict=True)]
    note = (
        f"Misses: the S3 server (moto, on the same cores) spends {_values([s.server_ms for s in proxies], 1)} ms per "
        f"thumbnail for the proxy and {_values([s.server_ms for s in limits], 1)} for the limit (the proxy's lookup "
        f"of the thumbnail key is one request more, and moto closes every connection), the load generator "
        f"{_values([s.client_ms for s in proxies], 1)} ms; the machine {_values([s.machine_ms for s in proxies], 1)} "
        f"against {_values([s.machine_ms for s in limits], 1)} ms per thumbnail, so with all {CORES} cores busy the "
        f"proxy can make at most {spread(ceiling)}x the limit's thumbnails per second."
    )
    return [wall, cpu, note]


# ---- 4 and 5: coalescing and peak RSS -------------------------------------------------------------------------


def measure_coalescing(endpoint: str, original: str, args: argparse.Namespace, tmp: str) -> str:
    spy = S3Spy(endpoint)
    try:
        with proxy(spy.url, BUCKET, [f"--access-log={tmp}/coalesce.log", *args.proxy_arg]) as (url, _):
            statuses = asyncio.run(fetch_all([f"{url}/{original.removesuffix('.jpg')}_400x300.jpg"] * 50, 50))
        # The proxy has stopped (SIGTERM drains write-backs): every PUT it made is counted.
        gets = spy.count("GET", "/" + original)
        puts = spy.count("PUT", original.removesuffix(".jpg") + "_400x300.jpg")
    finally:
        spy.close()
    verdict = "met" if gets == 1 and puts == 1 else "**missed**"
    return (
        f"| coalescing: 50 identical concurrent misses of a 5120x2880 photo ({_statuses(statuses)}) | **{gets}** GET "
        f"of the original, **{puts}** PUT | 1 and 1 | {verdict} | |"
    )


def measure_rss(endpoint: str, originals: list[str], args: argparse.Namespace, tmp: str) -> str:
    config = Config.defaults(bucket=BUCKET)
    budget = config.cache_mb + config.originals_cache_mb + 250
    with proxy(endpoint, BUCKET, [f"--access-log={tmp}/rss.log", *args.proxy_arg]) as (url, process):
        idle = rss_kib(process.pid)["VmRSS"] / 1024
        statuses = asyncio.run(fetch_all([f"{url}/{key.removesuffix('.jpg')}_300x300.jpg" for key in originals], 32))
        peak = rss_kib(process.pid)["VmHWM"] / 1024
    verdict = "met" if peak <= budget else "**missed**"
    return (
        f"| peak RSS (VmHWM) of a fresh proxy, {len(originals)} concurrent distinct 5120x2880 misses "
        f"({_statuses(statuses)}) | **{peak:.0f} MiB** (idle {idle:.0f} MiB) | <= {budget} MiB (cache-mb + "
        f"originals-cache-mb + 250) | {verdict} | |"
    )


def _statuses(statuses: list[int]) -> str:
    return ", ".join(f"{statuses.count(code)}x{code}" for code in sorted(set(statuses)))


# ---- the run ----------------------------------------------------------------------------------------------------


def upload(client: object, paths: list[Path], copies: int, group: str) -> list[str]:
    """Each photo under ``copies`` keys, so that every thumbnail asked for is a miss on its own original."""
    keys = []
    for copy in range(copies):
        for path in paths:
            key = f"{group}/{path.stem}-{copy:02d}.jpg"
            client.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes(), ContentType="image/jpeg")  # type: ignore[attr-defined]
            keys.append(key)
    return keys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds per figure (at least 3; default 3)")
    parser.add_argument("--misses", type=int, default=48, help="distinct misses per round (default 48)")
    parser.add_argument("--hit-seconds", type=int, default=4, help="wrk duration per hit measurement (default 4)")
    parser.add_argument(
        "--quiet-bare-rps",
        type=float,
        default=None,
        help="the bare handler's req/s on this machine when quiet (default: measured alone before the rounds)",
    )
    parser.add_argument("--only", choices=("hits", "misses"), help="measure only these (a quick check)")
    parser.add_argument("--no-write", action="store_true", help="print the figures, leave RESULTS.md alone")
    parser.add_argument(
        "--proxy-arg", action="append", default=[], metavar="--OPTION=VALUE", help="extra serve option (repeatable)"
    )
    args = parser.parse_args()
    args.calibration_others = 0.0
    if args.rounds < 3:
        raise SystemExit("--rounds: at least 3 (a ratio needs its spread)")
    if shutil.which("wrk") is None:
        raise SystemExit("the hit measurement needs wrk: apt-get install wrk")
    corpus = wallpapers()
    started = datetime.now(UTC)
    busy_before, clock_before = machine_busy(), time.monotonic()
    rows: list[str | Figure] = []
    with moto() as (endpoint, moto_process), tempfile.TemporaryDirectory() as tmp:
        HELPERS.append(moto_process.pid)
        s3 = s3_client(endpoint)
        s3.create_bucket(Bucket=BUCKET)  # type: ignore[attr-defined]
        small = corpus[(2560, 1600)]
        needed = args.misses * args.rounds + 8
        keys = upload(s3, small, -(-needed // len(small)), "2560")
        large = upload(s3, corpus[(5120, 2880)], -(-32 // len(corpus[(5120, 2880)])), "5120")
        print(f"corpus: {len(small)} + {len(corpus[(5120, 2880)])} photos; {len(keys)} + {len(large)} keys", flush=True)
        if args.only in (None, "hits"):
            rows += measure_hits(endpoint, keys[0], args, tmp)
        if args.only in (None, "misses"):
            batches = [keys[8 + n * args.misses : 8 + (n + 1) * args.misses] for n in range(args.rounds)]
            rows += measure_misses(endpoint, batches, keys[:8], args, tmp)
        if args.only is None:
            rows.append(measure_coalescing(endpoint, large[0], args, tmp))
            rows.append(measure_rss(endpoint, large[:32], args, tmp))
    load = (machine_busy() - busy_before) / (time.monotonic() - clock_before)
    report = render_report(rows, started, load, args)
    print(report)
    if not args.no_write and args.only is None:
        write_results(report)
    figures = [row for row in rows if isinstance(row, Figure)]
    return 0 if all(f.valid and f.met for f in figures) else 1


def render_report(rows: list[str | Figure], started: datetime, load: float, args: argparse.Namespace) -> str:
    figures = [row for row in rows if isinstance(row, Figure)]
    invalid = [f for f in figures if not f.valid]
    status = (
        "INVALID (see the rows)"
        if invalid
        else ("all targets met" if all(f.met for f in figures) else "targets missed")
    )
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    lines = [
        f"{RUN_HEADING}{started:%Y-%m-%d %H:%M} UTC at {commit}: {status}",
        "",
        f"{CORES} cores ({cpu_model()}), Python {platform.python_version()}, Pillow {PIL.__version__}; moto, the "
        f"proxy, the baselines and the load generators share these cores. Machine busy {load:.2f} cores on "
        f"average over the whole run (all of it ours unless the last column says otherwise); {args.rounds} "
        f"alternated rounds per figure.",
        "",
        "| figure | ratio: median (min-max), figures | target | | others' CPU (max) |",
        "|---|---|---|---|---|",
    ]
    lines += [
        row.row() if isinstance(row, Figure) else row for row in rows if isinstance(row, Figure) or row.startswith("|")
    ]
    notes = [row for row in rows if isinstance(row, str) and not row.startswith("|")]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)


def write_results(report: str) -> None:
    """Put this run first between the markers in bench/RESULTS.md, keeping the previous runs (KEEP_RUNS)."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if MARK_START in text:
        head, _, rest = text.partition(MARK_START)
        old, _, tail = rest.partition(MARK_END)
    else:
        head, old, tail = text.rstrip("\n") + "\n\n## proxy: bench/run.py\n\n", "", "\n"
    runs = [RUN_HEADING + chunk.strip() for chunk in old.split(RUN_HEADING)[1:]]
    kept = "\n\n".join([report, *runs][:KEEP_RUNS])
    RESULTS.write_text(f"{head}{MARK_START}\n{kept}\n{MARK_END}{tail}")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
