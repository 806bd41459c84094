"""What the benchmarks share: child processes (moto, the proxy, the bare handler), their CPU and memory from
/proc, the machine's load from others, and wrk.

Every figure is taken with a ``Window``: the CPU of the processes a measurement owns and of everything else on
the machine during it, so that a run taken while something else was busy says so instead of printing a ratio.
"""

from __future__ import annotations

import glob
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from proxy.stored import WriteParams  # noqa: E402
from tests.harness import free_port as free_port  # noqa: E402  (re-exported: the benchmarks' helpers are here)

LOGS = ROOT / "bench" / "out"  # children's logs (git-ignored)
TICK = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


# ---- /proc ----------------------------------------------------------------------------------------------------


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU of a process (all its threads) so far, seconds; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0, 0.0
    return int(fields[11]) / TICK, int(fields[12]) / TICK


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads) so far; 0 once it is gone."""
    return sum(cpu_times(pid))


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (the workers of ``--processes``)."""
    found = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.split("/")[2]))
    return sorted(found)


def tree(pid: int) -> list[int]:
    """``pid`` and its children."""
    return [pid, *children(pid)]


def rss_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, KiB."""
    fields = {"VmRSS": 0, "VmHWM": 0}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return fields
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in fields:
            fields[name] = int(value.split()[0])
    return fields


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (every core, everything but idle and iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / TICK


def own_cpu() -> float:
    """This process's CPU so far (the benchmark's own client work)."""
    times = os.times()
    return times.user + times.system


@dataclass
class Window:
    """CPU during one measurement: of the processes it watches (by pid), of ours, and of everything else."""

    pids: list[int]
    started: float = 0.0
    seconds: float = 0.0
    cpu: dict[int, float] = field(default_factory=dict)  # pid -> CPU seconds in the window
    own: float = 0.0  # this process
    extra: float = 0.0  # measured children reaped inside the window (wrk), added by the caller
    others: float = 0.0  # everything else on the machine, CPU seconds

    def __enter__(self) -> Window:
        self._busy = machine_busy()
        self._cpu = {pid: cpu_seconds(pid) for pid in self.pids}
        self._own = own_cpu()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = time.perf_counter() - self.started
        self.own = own_cpu() - self._own
        self.cpu = {pid: cpu_seconds(pid) - before for pid, before in self._cpu.items()}
        self._busy_delta = machine_busy() - self._busy

    def settle(self) -> None:
        """Work out the others' share once ``extra`` is known (call after adding a reaped child's CPU)."""
        self.others = max(0.0, self._busy_delta - sum(self.cpu.values()) - self.own - self.extra)

    @property
    def others_share(self) -> float:
        """Others' CPU as a share of the machine (every core) during the window."""
        return self.others / (CORES * self.seconds) if self.seconds else 0.0

    def total(self, pids: list[int] | None = None) -> float:
        """CPU seconds of ``pids`` (all the watched processes when None; none for an empty list)."""
        return sum(self.cpu[pid] for pid in (self.pids if pids is None else pids))


# ---- child processes ------------------------------------------------------------------------------------------


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
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


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def child(args: list[str], port: int, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """A child process listening on ``port``; stopped with SIGTERM (then SIGKILL) on exit."""
    LOGS.mkdir(parents=True, exist_ok=True)
    name = Path(args[1]).stem if args[1] != "-m" else args[2].replace(".", "-")
    with (LOGS / f"{name}-{port}.log").open("wb") as log:  # a pipe nobody reads would stall the child
        process = subprocess.Popen(
            args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **AWS_ENV, **(env or {})}
        )
    try:
        wait_listening(port, process)
        yield process
    finally:
        stop(process)


@contextmanager
def moto() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    with child([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], port) as process:
        yield f"http://127.0.0.1:{port}", process


@contextmanager
def proxy(
    endpoint: str, bucket: str, options: list[str], env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``python -m proxy serve`` on a free port; ``options`` as on its command line."""
    port = free_port()
    args = [sys.executable, "-m", "proxy", "serve", f"--bucket={bucket}", f"--s3-endpoint={endpoint}"]
    args += ["--address=127.0.0.1", f"--port={port}", "--log-level=warning", *options]
    with child(args, port, env) as process:
        yield f"http://127.0.0.1:{port}", process


def s3_client(endpoint: str) -> object:
    import botocore.session
    from botocore.config import Config as BotoConfig

    return botocore.session.get_session().create_client(
        "s3",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=BotoConfig(max_pool_connections=32),
    )


def put_thumbnail(client: Any, bucket: str, key: str, body: bytes, params: WriteParams) -> None:
    """A PUT with the write-back's parameters and ``If-None-Match: *``, as proxy/storage/s3.py makes it."""
    client.put_object(
        Bucket=bucket,
        Key=key,
        Body=body,
        ContentType=params.content_type,
        CacheControl=params.cache_control,
        StorageClass=params.storage_class,
        Metadata=dict(params.metadata),
        Tagging=params.tagging,
        IfNoneMatch="*",
    )


# ---- wrk ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    cpu: float  # wrk's own CPU seconds
    statuses_ok: bool

    @property
    def summary(self) -> str:
        return f"{self.rps:,.0f} req/s, p99 {self.p99_ms:.2f} ms"


def wrk(
    url: str, seconds: float, connections: int, threads: int = 1, headers: dict[str, str] | None = None
) -> WrkResult:
    """Run wrk with latency percentiles; its CPU comes from its rusage."""
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{int(seconds)}s", "--latency"]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    process = subprocess.Popen([*args, url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"wrk failed:\n{out}")
    done = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if done is None or rps is None:
        raise SystemExit(f"wrk printed no figures:\n{out}")
    took = float(done.group(2)) * (1 if done.group(3) == "s" else 0.001)
    return WrkResult(
        requests=int(done.group(1)),
        seconds=took,
        rps=float(rps.group(1)),
        p50_ms=_percentile(out, "50"),
        p99_ms=_percentile(out, "99"),
        cpu=usage.ru_utime + usage.ru_stime,
        statuses_ok="Non-2xx" not in out and "Socket errors" not in out,
    )


def _percentile(out: str, which: str) -> float:
    match = re.search(rf"^\s+{which}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
    if match is None:
        return 0.0
    return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]


# ---- the proxy's per-worker request counts (its multi-process metrics files) --------------------------------


def metric_total(url: str, name: str) -> float:
    """The sum of every sample of ``name`` on the server's /metrics, whatever its labels (workers, results)."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as response:
        text = response.read().decode()
    prefixes = (f"{name}{{", f"{name} ")
    return sum(float(line.rpartition(" ")[2]) for line in text.splitlines() if line.startswith(prefixes))


def requests_by_worker(metrics_dir: str) -> dict[int, float]:
    """Object requests answered so far by each worker, read from its prometheus_client counter file."""
    from prometheus_client.mmap_dict import MmapedDict

    counts: dict[int, float] = {}
    for path in glob.glob(os.path.join(metrics_dir, "counter_*.db")):
        pid = int(Path(path).stem.rpartition("_")[2])
        total = 0.0
        for key, value, *_ in MmapedDict.read_all_values_from_file(path):
            name = json.loads(key)[1]
            if name == "s3rp_requests_total":
                total += value
        counts[pid] = total
    return counts


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return "unknown CPU"


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def spread(values: list[float], digits: int = 2) -> str:
    """``median (min-max)``."""
    return f"{median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"
