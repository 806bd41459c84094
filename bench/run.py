"""The benchmark: ``python bench/run.py``. One run, loopback only, bounded request counts, stops by itself.

It fetches the corpus if missing (Debian's plasma-workspace-wallpapers: its photographic 2560x1600 and
5120x2880 JPEGs), starts moto's S3 server and the proxy (``python -m proxy serve``) as child processes,
measures the four figures of issue 5 and writes them, with the machine, into bench/RESULTS.md:

1. miss throughput (distinct thumbnails, concurrency 4) / the in-process limit (plain botocore GETs of the
   same originals from the same endpoint + the same ``render()`` called directly, same worker counts);
2. memory-hit throughput / a bare Tornado handler returning the same bytes (bench/bare.py), both with wrk;
3. coalescing: 50 identical concurrent misses -> GETs of the original and PUTs seen by S3 (recorded by
   tests/s3spy.py, a forwarder between the proxy and moto);
4. peak RSS of a fresh proxy after 32 concurrent distinct misses of 5120x2880 photos.

Misses and coalescing use a bounded asyncio client (Tornado's AsyncHTTPClient, max_clients = concurrency);
hits use wrk (Debian package ``wrk``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import botocore.session  # noqa: E402
import PIL  # noqa: E402
from botocore.config import Config as BotoConfig  # noqa: E402
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest  # noqa: E402

from bench.photos import wallpapers  # noqa: E402
from proxy.config import Config  # noqa: E402
from proxy.imaging.render import RenderOptions, render  # noqa: E402
from proxy.keys import parse_thumbnail  # noqa: E402
from tests.harness import free_port  # noqa: E402
from tests.s3spy import S3Spy  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
LOGS = ROOT / "bench" / "out"  # children's logs (git-ignored)
BUCKET = "bench-images"
MARK_START, MARK_END = "<!-- results: written by bench/run.py -->", "<!-- /results -->"

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
)


# ---- processes --------------------------------------------------------------------------------------------


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{process.args} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)  # start-up poll: nothing to wait on but the port
    raise SystemExit(f"{process.args} did not listen on {port}")


@contextmanager
def child(args: list[str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A child process listening on ``port``; stopped with SIGTERM (then SIGKILL) on exit."""
    LOGS.mkdir(parents=True, exist_ok=True)
    name = Path(args[1]).stem if args[1] != "-m" else args[2].replace(".", "-")
    with (LOGS / f"{name}-{port}.log").open("wb") as log:  # a pipe nobody reads would stall the child
        process = subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_listening(port, process)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def proxy(endpoint: str, extra: list[str], **options: object) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    args = [sys.executable, "-m", "proxy", "serve", f"--bucket={BUCKET}", f"--s3-endpoint={endpoint}"]
    args += ["--address=127.0.0.1", f"--port={port}", "--access-log=", "--log-level=warning"]
    args += [f"--{name.replace('_', '-')}={value}" for name, value in options.items()] + extra
    with child(args, port) as process:
        yield f"http://127.0.0.1:{port}", process


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _self_cpu() -> float:
    times = os.times()
    return times.user + times.system


def rss_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


# ---- load ----------------------------------------------------------------------------------------------------


async def fetch_all(urls: list[str], concurrency: int) -> tuple[float, list[int]]:
    """GET every URL, ``concurrency`` at a time; (seconds, statuses)."""
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

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    client.close()
    return elapsed, statuses


async def fetch_body(url: str) -> bytes:
    client = AsyncHTTPClient(force_instance=True)
    try:
        return (await client.fetch(url)).body
    finally:
        client.close()


def miss_round(base: str, keys: list[str], thumb: str) -> float:
    """Seconds for the proxy at ``base`` to answer one thumbnail of each original, 4 at a time."""
    seconds, statuses = asyncio.run(fetch_all([f"{base}/{key.removesuffix('.jpg')}{thumb}" for key in keys], 4))
    assert set(statuses) == {200}, statuses
    return seconds


def wrk(url: str, seconds: int, connections: int) -> float:
    out = subprocess.run(
        ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if match is None or re.search(r"Non-2xx", out):
        raise SystemExit(f"wrk failed:\n{out}")
    return float(match.group(1))


def in_process_limit(endpoint: str, keys: list[str], thumb: str, concurrency: int, workers: int, warm_up: str) -> float:
    """Seconds for: botocore GET of each original + render() of its thumbnail, with the proxy's pool shapes."""
    client = botocore.session.get_session().create_client(
        "s3", region_name="us-east-1", endpoint_url=endpoint, config=BotoConfig(max_pool_connections=32)
    )
    options = RenderOptions.from_config(Config.defaults(bucket=BUCKET))
    io_pool = ThreadPoolExecutor(32)
    render_pool = ThreadPoolExecutor(workers)

    def get(key: str) -> bytes:
        data: bytes = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        return data

    async def run() -> float:
        loop = asyncio.get_running_loop()
        queue: list[str] = []

        async def worker() -> None:
            while queue:
                key = queue.pop()
                spec = parse_thumbnail(key.removesuffix(".jpg") + thumb)
                assert spec is not None
                data = await loop.run_in_executor(io_pool, get, key)
                await loop.run_in_executor(render_pool, render, data, spec, options)

        queue.append(warm_up)  # first calls load botocore's models and Pillow's plugins: not timed
        await worker()
        queue.extend(reversed(keys))
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started

    try:
        return asyncio.run(run())
    finally:
        io_pool.shutdown()
        render_pool.shutdown()
        client.close()


# ---- the run --------------------------------------------------------------------------------------------------


@dataclass
class Misses:
    """One contender's miss rounds: requests, wall seconds, and CPU seconds of its own process and of moto."""

    requests: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    moto_cpu: float = 0.0
    rps: list[float] = field(default_factory=list)

    def add(self, requests: int, seconds: float, cpu: float, moto_cpu: float) -> None:
        self.requests += requests
        self.seconds += seconds
        self.cpu += cpu
        self.moto_cpu += moto_cpu
        self.rps.append(requests / seconds)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def per_request_ms(self, cpu: float) -> float:
        return 1000 * cpu / self.requests if self.requests else 0.0


@dataclass
class Figures:
    misses: int = 0
    proxy: Misses = field(default_factory=Misses)
    no_write: Misses = field(default_factory=Misses)
    limit: Misses = field(default_factory=Misses)
    hit_rps: float = 0.0
    bare_rps: float = 0.0
    hit_bytes: int = 0
    coalesce_gets: int = 0
    coalesce_puts: int = 0
    coalesce_statuses: str = ""
    rss_before_mib: float = 0.0
    rss_peak_mib: float = 0.0
    rss_budget_mib: float = 0.0
    rss_statuses: str = ""


def upload(client: object, corpus: dict[tuple[int, int], list[Path]], copies: int) -> dict[str, list[str]]:
    """Each photo under ``copies`` keys, so every thumbnail asked for is a miss on its own original."""
    keys: dict[str, list[str]] = {"2560": [], "5120": []}
    for size, paths in corpus.items():
        group = "2560" if size[0] == 2560 else "5120"
        for copy in range(copies):
            for path in paths:
                key = f"{group}/{path.stem}-{copy:02d}.jpg"
                client.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes(), ContentType="image/jpeg")  # type: ignore[attr-defined]
                keys[group].append(key)
    return keys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", type=int, default=48, help="distinct misses per round (default 48)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of miss measurement (default 2)")
    parser.add_argument("--hit-seconds", type=int, default=5, help="wrk duration per hit measurement")
    parser.add_argument("--no-write", action="store_true", help="print the figures, leave RESULTS.md alone")
    parser.add_argument(
        "--proxy-arg", action="append", default=[], metavar="--OPTION=VALUE", help="extra serve option (repeatable)"
    )
    parser.add_argument("--misses-only", action="store_true", help="measure miss throughput only (quick check)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("the hit measurement needs wrk: apt-get install wrk")
    corpus = wallpapers()
    workers = os.cpu_count() or 1
    figures = Figures(misses=args.misses)
    moto_port = free_port()
    moto = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)]
    with child(moto, moto_port) as moto_process:
        endpoint = f"http://127.0.0.1:{moto_port}"
        s3 = botocore.session.get_session().create_client("s3", region_name="us-east-1", endpoint_url=endpoint)
        s3.create_bucket(Bucket=BUCKET)
        copies = max(-(-(args.misses + 1) // len(corpus[(2560, 1600)])), -(-32 // len(corpus[(5120, 2880)])))
        keys = upload(s3, corpus, copies)
        photos, warm_up = keys["2560"][: args.misses], keys["2560"][-1]
        print(f"corpus: {len(corpus[(2560, 1600)])} + {len(corpus[(5120, 2880)])} photos; {copies} copies each")

        # 1. misses vs the in-process limit, alternating so that machine noise hits all alike. The same
        # thumbnails are made three times per round: by the limit, by a proxy without write-back (the same
        # work as the limit), then by the proxy as deployed (write-back on); CPU seconds are counted per process.
        with proxy(endpoint, [*args.proxy_arg, "--no-write-back"]) as (no_write_url, no_write):
            for round_ in range(args.rounds):
                thumb = f"_{320 + 40 * round_}x{200 + 25 * round_}.jpg"
                moto_cpu, own_cpu = cpu_seconds(moto_process.pid), _self_cpu()
                limit = in_process_limit(endpoint, photos, thumb, 4, workers, warm_up)
                figures.limit.add(len(photos), limit, _self_cpu() - own_cpu, cpu_seconds(moto_process.pid) - moto_cpu)

                miss_round(no_write_url, [warm_up], thumb)
                moto_cpu, proxy_cpu = cpu_seconds(moto_process.pid), cpu_seconds(no_write.pid)
                seconds = miss_round(no_write_url, photos, thumb)
                figures.no_write.add(
                    len(photos),
                    seconds,
                    cpu_seconds(no_write.pid) - proxy_cpu,
                    cpu_seconds(moto_process.pid) - moto_cpu,
                )

                with proxy(endpoint, args.proxy_arg) as (url, deployed):
                    miss_round(url, [warm_up], thumb.replace(".jpg", "_fit.jpg"))  # a fresh process: warm it up
                    moto_cpu, proxy_cpu = cpu_seconds(moto_process.pid), cpu_seconds(deployed.pid)
                    seconds = miss_round(url, photos, thumb)
                    # The write-backs are part of the work: SIGTERM drains them; count until the proxy is gone.
                    stopping = time.perf_counter()
                    deployed.send_signal(signal.SIGTERM)
                    _, status, usage = os.wait4(deployed.pid, 0)
                    deployed.returncode = os.waitstatus_to_exitcode(status)
                    seconds += time.perf_counter() - stopping
                    total_cpu = usage.ru_utime + usage.ru_stime
                    figures.proxy.add(
                        len(photos), seconds, total_cpu - proxy_cpu, cpu_seconds(moto_process.pid) - moto_cpu
                    )
                print(
                    f"misses round {round_ + 1}: proxy {figures.proxy.rps[-1]:.1f}/s, without write-back "
                    f"{figures.no_write.rps[-1]:.1f}/s, limit {figures.limit.rps[-1]:.1f}/s"
                )
            if args.misses_only:
                print(render_report(figures, workers).rpartition("\n\n")[2])
                return 0

        with proxy(endpoint, args.proxy_arg) as (url, _):
            # 2. memory hits vs a bare Tornado handler with the same bytes, alternated; best of each.
            hit = f"{url}/{photos[0].removesuffix('.jpg')}_320x200.jpg"
            body = asyncio.run(fetch_body(hit))
            figures.hit_bytes = len(body)
            bare_port = free_port()
            with tempfile.NamedTemporaryFile(suffix=".jpg") as fixed:
                fixed.write(body)
                fixed.flush()
                with child([sys.executable, str(ROOT / "bench" / "bare.py"), str(bare_port), fixed.name], bare_port):
                    for _ in range(2):
                        figures.hit_rps = max(figures.hit_rps, wrk(hit, args.hit_seconds, 32))
                        bare = wrk(f"http://127.0.0.1:{bare_port}/x.jpg", args.hit_seconds, 32)
                        figures.bare_rps = max(figures.bare_rps, bare)
        print(f"hits: proxy {figures.hit_rps:.0f}/s, bare Tornado {figures.bare_rps:.0f}/s")

        # 3. coalescing: 50 identical concurrent misses, counted by a recording forwarder in front of moto.
        spy = S3Spy(endpoint)
        try:
            original = keys["5120"][0]
            with proxy(spy.url, args.proxy_arg) as (url, _):
                target = f"{url}/{original.removesuffix('.jpg')}_400x300.jpg"
                _, statuses = asyncio.run(fetch_all([target] * 50, 50))
            # The proxy has stopped (SIGTERM drains write-backs): every PUT it made is counted.
            figures.coalesce_gets = spy.count("GET", "/" + original)
            figures.coalesce_puts = spy.count("PUT", original.removesuffix(".jpg") + "_400x300.jpg")
            figures.coalesce_statuses = _statuses(statuses)
        finally:
            spy.close()
        print(f"coalescing: {figures.coalesce_gets} GET(s) of the original, {figures.coalesce_puts} PUT(s)")

        # 4. peak RSS: a fresh proxy, 32 concurrent distinct misses of 5120x2880 photos.
        config = Config.defaults(bucket=BUCKET)
        figures.rss_budget_mib = config.cache_mb + config.originals_cache_mb + 250
        with proxy(endpoint, args.proxy_arg) as (url, process):
            figures.rss_before_mib = rss_kib(process.pid)["VmRSS"] / 1024
            urls = [f"{url}/{key.removesuffix('.jpg')}_300x300.jpg" for key in keys["5120"][:32]]
            _, statuses = asyncio.run(fetch_all(urls, 32))
            figures.rss_peak_mib = rss_kib(process.pid)["VmHWM"] / 1024
            figures.rss_statuses = _statuses(statuses)
        print(f"peak RSS: {figures.rss_peak_mib:.0f} MiB (budget {figures.rss_budget_mib:.0f} MiB)")

    report = render_report(figures, workers)
    print(report)
    if not args.no_write:
        write_results(report)
    return 0


def _statuses(statuses: list[int]) -> str:
    return ", ".join(f"{statuses.count(code)}x{code}" for code in sorted(set(statuses)))


def render_report(f: Figures, workers: int) -> str:
    miss_ratio = f.proxy.throughput / f.limit.throughput if f.limit.throughput else 0.0
    no_write_ratio = f.no_write.throughput / f.limit.throughput if f.limit.throughput else 0.0
    hit_ratio = f.hit_rps / f.bare_rps if f.bare_rps else 0.0

    def rounds(m: Misses) -> str:
        return ", ".join(f"{rps:.1f}" for rps in m.rps)

    def verdict(ok: bool) -> str:
        return "met" if ok else "**missed**"

    def cpu(m: Misses) -> str:
        return f"{m.per_request_ms(m.cpu):.0f} ms own + {m.per_request_ms(m.moto_cpu):.0f} ms moto"

    return "\n".join(
        [
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {os.cpu_count()} cores ({_cpu_model()}), "
            f"Python {platform.python_version()}, Pillow {PIL.__version__}, render pool {workers} threads "
            f"(render-threads 0 = one per core); moto, the proxy and the load generators share these cores.",
            "",
            "| figure | measured | target | |",
            "|---|---|---|---|",
            f"| miss throughput / in-process limit ({f.misses} distinct 2560x1600 misses x {len(f.limit.rps)} "
            f"rounds, concurrency 4, asyncio client; until the write-backs are stored) | "
            f"{f.proxy.throughput:.1f} / {f.limit.throughput:.1f} req/s = **{miss_ratio:.2f}** | >= 0.90 | "
            f"{verdict(miss_ratio >= 0.90)} |",
            f"| the same, proxy with `--no-write-back` (the limit's work plus the S3 lookup) | "
            f"{f.no_write.throughput:.1f} / {f.limit.throughput:.1f} req/s = **{no_write_ratio:.2f}** | >= 0.90 | "
            f"{verdict(no_write_ratio >= 0.90)} |",
            f"| memory-hit throughput / bare Tornado ({f.hit_bytes} B thumbnail, wrk -t2 -c32, best of 2 "
            f"alternated runs) | {f.hit_rps:.0f} / {f.bare_rps:.0f} req/s = **{hit_ratio:.2f}** | >= 0.80 | "
            f"{verdict(hit_ratio >= 0.80)} |",
            f"| coalescing: 50 identical concurrent misses of a 5120x2880 photo ({f.coalesce_statuses}) | "
            f"**{f.coalesce_gets}** GET of the original, **{f.coalesce_puts}** PUT | 1 and 1 | "
            f"{verdict(f.coalesce_gets == 1 and f.coalesce_puts == 1)} |",
            f"| peak RSS (VmHWM) of a fresh proxy, 32 concurrent distinct 5120x2880 misses ({f.rss_statuses}) | "
            f"**{f.rss_peak_mib:.0f} MiB** (idle {f.rss_before_mib:.0f} MiB) | <= {f.rss_budget_mib:.0f} MiB "
            f"(cache-mb + originals-cache-mb + 250) | {verdict(f.rss_peak_mib <= f.rss_budget_mib)} |",
            "",
            "Miss rounds (req/s): proxy "
            + rounds(f.proxy)
            + "; without write-back "
            + rounds(f.no_write)
            + "; limit "
            + rounds(f.limit)
            + ".",
            "",
            "CPU per miss: proxy "
            + cpu(f.proxy)
            + "; without write-back "
            + cpu(f.no_write)
            + "; limit "
            + cpu(f.limit)
            + ".",
        ]
    )


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return platform.processor() or "unknown CPU"


def write_results(report: str) -> None:
    """Replace the block between the markers in bench/RESULTS.md (other benchmarks' sections stay)."""
    block = f"{MARK_START}\n{report}\n{MARK_END}"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if MARK_START in text:
        head, _, rest = text.partition(MARK_START)
        _, _, tail = rest.partition(MARK_END)
        RESULTS.write_text(head + block + tail)
    else:
        RESULTS.write_text(text.rstrip("\n") + f"\n\n## proxy: bench/run.py\n\n{block}\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
