"""The soak: ``python bench/soak.py [--minutes=10] [--processes=1]``. Loopback only, bounded in time.

Starts moto and the proxy (``--cache-mb=64 --originals-cache-mb=32`` unless ``--proxy-arg`` says otherwise),
uploads 30 real photos (bench/photos.py: the 2560x1600 and 5120x2880 wallpapers, each under several keys),
then runs ``--threads`` clients (16) for ``--minutes`` with this mix:

    60% memory hits (a hot set made at start), 20% misses at sizes never asked before, 10% conditional GETs
    (If-None-Match of a hot thumbnail), 5% bad keys (400), 5% thumbnails of missing originals (404)

It samples the RSS of every proxy process each second and prints requests, statuses, p50/p99, RSS at start,
mid, end and peak, and what the memory LRUs hold at the end. It fails (exit 1) when any answer is a 5xx or a
connection error, when any process's RSS grows more than 10% over the second half, or when the processes
together peak above the memory budget of the configuration (proxy/daemon/budget.py).

Growth is measured on the floor of RSS: the 10th percentile of the last minute's samples against that of the
minute around the middle. RSS jumps by 90-170 MiB for the seconds a few large originals are in flight and
falls back when they are done, so a median moves with how many of a minute's seconds had one (31% in one
minute, 57% in the next, in one run) and not with what the process keeps; what it keeps (caches, heap
fragmentation, a leak) raises the floor. The medians are printed beside it; the peak is held to the budget.
``--json FILE`` keeps the samples.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.photos import wallpapers
from bench.procs import machine_busy, median, metric_total, moto, proxy, rss_kib, s3_client, tree
from proxy.config import load
from proxy.daemon.budget import budget

BUCKET = "bench-soak"
PHOTOS = 30
HOT = 120  # thumbnails in the hot set: a few MB, well inside --cache-mb
GROWTH_LIMIT = 0.10
MIX = (("hit", 60), ("miss", 20), ("conditional", 10), ("bad", 5), ("missing", 5))
EXPECTED = {"hit": {200}, "miss": {200}, "conditional": {304}, "bad": {400}, "missing": {404}}
BAD_KEYS = ("/a_0x0.jpg", "/x_99999x99999.jpg", "/%ff.jpg", "/a/../b.jpg", "/photo_10x10_bogus.jpg")


@dataclass
class Tally:
    """What the clients saw, shared under a lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[int] = field(default_factory=Counter)
    unexpected: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    def add(self, kind: str, status: int, seconds: float) -> None:
        with self.lock:
            self.statuses[status] += 1
            self.latencies.append(seconds)
            if status not in EXPECTED[kind]:
                self.unexpected[f"{kind} -> {status}"] += 1

    def error(self, kind: str, exc: Exception) -> None:
        with self.lock:
            self.errors[f"{kind}: {type(exc).__name__}"] += 1


class Client(threading.Thread):
    """One keep-alive connection sending the mix until ``deadline``."""

    def __init__(
        self,
        port: int,
        keys: list[str],
        hot: list[tuple[str, str]],
        fresh: Counter[str],
        lock: threading.Lock,
        tally: Tally,
        deadline: float,
        seed: int,
    ) -> None:
        super().__init__(daemon=True)
        self.port, self.keys, self.hot, self.fresh, self.lock = port, keys, hot, fresh, lock
        self.tally, self.deadline, self.random = tally, deadline, random.Random(seed)
        self.conn: http.client.HTTPConnection | None = None

    def run(self) -> None:
        kinds = [kind for kind, weight in MIX for _ in range(weight)]
        while time.monotonic() < self.deadline:
            kind = self.random.choice(kinds)
            path, headers = self.request(kind)
            started = time.perf_counter()
            try:
                status = self.send(path, headers)
            except (OSError, http.client.HTTPException) as exc:
                self.tally.error(kind, exc)
                self.close()
                continue
            self.tally.add(kind, status, time.perf_counter() - started)
        self.close()

    def request(self, kind: str) -> tuple[str, dict[str, str]]:
        if kind == "hit":
            return self.random.choice(self.hot)[0], {}
        if kind == "conditional":
            path, etag = self.random.choice(self.hot)
            return path, {"If-None-Match": etag}
        if kind == "bad":
            return self.random.choice(BAD_KEYS), {}
        if kind == "missing":
            return f"/missing/nothing-{self.random.randrange(10**9)}_100x100.jpg", {}
        key = self.random.choice(self.keys)
        with self.lock:  # a size never asked for this original: a real miss (S3 lookup, GET, render, PUT)
            n = self.fresh[key]
            self.fresh[key] += 1
        width, height = fresh_size(n)
        return f"/{key.removesuffix('.jpg')}_{width}x{height}.jpg", {}

    def send(self, path: str, headers: dict[str, str]) -> int:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        self.conn.request("GET", path, headers=headers)
        response = self.conn.getresponse()
        response.read()
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return response.status

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def fresh_size(n: int) -> tuple[int, int]:
    """The ``n``-th size asked of one original: never the same twice (for n < 250,000), and drawn from the same
    spread (100-599 x 60-559) all along. Sizes that grew with ``n`` made later misses cost more memory than
    early ones, which a soak would read as growth."""
    return 100 + (7 * n) % 500, 60 + (13 * n + 101 * (n // 500)) % 500


def sample_rss(pid: int, samples: list[tuple[float, dict[int, int]]], stop: threading.Event, started: float) -> None:
    """RSS (KiB) of the proxy and its workers, once a second."""
    while True:
        samples.append((time.monotonic() - started, {p: rss_kib(p)["VmRSS"] for p in tree(pid)}))
        if stop.wait(1.0):
            return


def budget_mib(options: list[str]) -> float:
    """The memory budget (proxy/daemon/budget.py) of serve with these options, all its processes together."""
    flags = dict(option.removeprefix("--").split("=", 1) for option in options)
    config = load({"bucket": BUCKET, **flags}, environ={})
    return budget(config).service(config.process_count)


def rss_at(samples: list[tuple[float, dict[int, int]]], pid: int, start: float, end: float) -> tuple[float, float]:
    """The floor (10th percentile) and the median of ``pid``'s RSS samples between two times, MiB."""
    values = sorted(rss[pid] for at, rss in samples if start <= at <= end and rss.get(pid))
    if not values:
        return 0.0, 0.0
    return values[len(values) // 10] / 1024, median(values) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument(
        "--proxy-arg", action="append", default=[], metavar="--OPTION=VALUE", help="extra serve option (repeatable)"
    )
    parser.add_argument("--no-caches-args", action="store_true", help="the default cache sizes instead of 64/32 MB")
    parser.add_argument("--json", metavar="FILE", help="write the RSS samples and counts here")
    args = parser.parse_args()
    corpus = wallpapers()
    photos = [*corpus[(2560, 1600)], *corpus[(5120, 2880)]]
    options = [f"--processes={args.processes}", "--access-log=", *args.proxy_arg]
    if not args.no_caches_args:
        options = ["--cache-mb=64", "--originals-cache-mb=32", *options]
    with moto() as (endpoint, _):
        s3 = s3_client(endpoint)
        s3.create_bucket(Bucket=BUCKET)  # type: ignore[attr-defined]
        keys = []
        for n in range(PHOTOS):
            path = photos[n % len(photos)]
            key = f"photos/{path.stem}-{n:02d}.jpg"
            s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes(), ContentType="image/jpeg")  # type: ignore[attr-defined]
            keys.append(key)
        with proxy(endpoint, BUCKET, options) as (url, process):
            port = int(url.rsplit(":", 1)[1])
            hot = []
            for n in range(HOT):  # the hot set: made once, then answered from memory
                path = f"/{keys[n % PHOTOS].removesuffix('.jpg')}_{40 + n}x{40 + n}.jpg"
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                conn.close()
                assert response.status == 200, (path, response.status)
                hot.append((path, response.getheader("ETag") or ""))
            tally, fresh, lock = Tally(), Counter[str](), threading.Lock()
            samples: list[tuple[float, dict[int, int]]] = []
            stop = threading.Event()
            started = time.monotonic()
            busy = machine_busy()
            sampler = threading.Thread(target=sample_rss, args=(process.pid, samples, stop, started), daemon=True)
            sampler.start()
            deadline = started + args.minutes * 60
            clients = [Client(port, keys, hot, fresh, lock, tally, deadline, seed) for seed in range(args.threads)]
            for client in clients:
                client.start()
            for client in clients:
                client.join()
            stop.set()
            sampler.join()
            seconds = time.monotonic() - started
            load = (machine_busy() - busy) / seconds
            alive = process.poll() is None
            cached = metric_total(url, "s3rp_memory_cache_bytes") / 2**20 if alive else 0.0  # all workers
    return report(args, options, tally, samples, seconds, load, alive, cached)


def report(
    args: argparse.Namespace,
    options: list[str],
    tally: Tally,
    samples: list[tuple[float, dict[int, int]]],
    seconds: float,
    load: float,
    alive: bool,
    cached: float,
) -> int:
    total = sum(tally.statuses.values())
    latencies = sorted(tally.latencies)
    p50 = latencies[len(latencies) // 2] * 1000 if latencies else 0.0
    p99 = latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0.0
    print(
        f"soak: {args.minutes:g} min, {args.threads} clients, serve {' '.join(options)}; machine busy {load:.2f} cores"
    )
    print(
        f"requests: {total} ({total / seconds:.0f}/s); statuses: "
        + ", ".join(f"{n}x{code}" for code, n in sorted(tally.statuses.items()))
    )
    print(f"latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    failures = []
    fivexx = sum(n for code, n in tally.statuses.items() if code >= 500)
    if fivexx:
        failures.append(f"{fivexx} answers were 5xx")
    if tally.errors:
        failures.append(f"connection errors: {dict(tally.errors)}")
    if tally.unexpected:
        print(f"unexpected statuses (not failures unless 5xx): {dict(tally.unexpected)}")
    if not alive:
        failures.append("the proxy exited")
    pids = sorted({pid for _, rss in samples for pid in rss})
    mid, end = seconds / 2, seconds
    rows = {}
    for pid in pids:
        values = [rss[pid] / 1024 for _, rss in samples if pid in rss]
        start_mib, peak = values[0], max(values)
        floor_mid, at_mid = rss_at(samples, pid, mid - 30, mid + 30)
        floor_end, at_end = rss_at(samples, pid, end - 60, end)
        growth = floor_end / floor_mid - 1 if floor_mid else 0.0
        rows[pid] = {
            "start": start_mib,
            "mid": at_mid,
            "end": at_end,
            "peak": peak,
            "floor_mid": floor_mid,
            "floor_end": floor_end,
            "growth": growth,
            "median_growth": at_end / at_mid - 1 if at_mid else 0.0,
        }
        print(
            f"RSS of pid {pid}: start {start_mib:.0f} MiB, mid {at_mid:.0f}, end {at_end:.0f}, peak {peak:.0f} "
            f"(medians); floor mid {floor_mid:.0f}, end {floor_end:.0f}: second half {growth:+.1%}"
        )
        floors = [rss_at(samples, pid, minute * 60, minute * 60 + 60)[0] for minute in range(int(end // 60))]
        print(f"  floor minute by minute: {' '.join(f'{floor:.0f}' for floor in floors)}")
        if growth > GROWTH_LIMIT:
            failures.append(f"pid {pid} grew {growth:+.1%} over the second half")
    totals = [sum(rss.values()) / 1024 for _, rss in samples]
    allowed = budget_mib(options)
    print(f"RSS of all processes: start {totals[0]:.0f} MiB, peak {max(totals):.0f} MiB; budget {allowed:,.0f} MiB")
    if max(totals) > allowed:
        failures.append(f"peak RSS {max(totals):.0f} MiB is over the budget of {allowed:,.0f} MiB")
    print(f"memory LRU at the end: {cached:.0f} MiB (all workers)")
    if args.json:
        Path(args.json).write_text(json.dumps({"samples": samples, "statuses": tally.statuses, "rows": rows}))
    print("FAILED: " + "; ".join(failures) if failures else "passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
