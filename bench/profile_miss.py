"""Where the CPU of a miss goes: ``python bench/profile_miss.py [--misses=48] [--rounds=2] [--proxy-arg=...]``.

Starts moto and one proxy (``python -m proxy serve`` in its default configuration, one process, the access log
written to a file) in a child process whose S3 calls and renders are timed with the CPU clock of the thread that
runs them, then sends ``--misses`` distinct misses of 2560x1600 photos at concurrency 4 (the misses of
bench/run.py) and waits until each thumbnail is in S3. Beside it, the in-process limit of bench/run.py does the
same work without HTTP (a botocore GET, the same render, a botocore PUT), timed the same way. It prints, per
miss and for both, the milliseconds of CPU spent in: the lookup of the thumbnail key (the proxy's GET answered
404), the GET of the original, the render, the PUT, and everything else (the event loop, HTTP in and out, the
access log and metrics, hand-offs between threads), the process's user and system CPU, and the proxy's time in
Python's cyclic garbage collector (in whichever part triggered it). Rounds alternate
which one goes first. A breakdown, not a benchmark: compare it with itself, not with another machine.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.photos import wallpapers  # noqa: E402
from bench.procs import AWS_ENV, cpu_times, free_port, moto, s3_client, wait_listening  # noqa: E402

BUCKET = "bench-images"  # bench.run.upload writes there
PARTS = ("lookup", "original", "render", "put")


class Accounts:
    """CPU seconds per part, summed over the threads that did it (each timed with its own thread's clock)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self.lock = threading.RLock()  # the SIGUSR1 handler may run in a thread that holds it

    def timed(self, part: Callable[[Any], str], fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` wrapped: its thread's CPU is added to ``part(result or exception)``."""

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            outcome: Any = None
            try:
                outcome = fn(*args, **kwargs)
                return outcome
            except Exception as exc:
                outcome = exc
                raise
            finally:
                with self.lock:
                    self.spent[part(outcome)] += time.thread_time() - started

        return wrapper


# ---- the proxy, instrumented (the child process) --------------------------------------------------------------


def serve_instrumented(argv: list[str], accounts_file: str) -> int:
    """``python -m proxy serve`` with its S3 calls and renders timed; SIGUSR1 writes the accounts."""
    import proxy.service.image_service as service
    import proxy.storage.s3 as s3
    from proxy.cli import main

    accounts = Accounts()
    s3.ObjectStore._get = accounts.timed(  # type: ignore[method-assign]
        lambda outcome: "original" if isinstance(outcome, tuple) else "lookup", s3.ObjectStore._get
    )
    translated = s3._translated

    def _translated(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if getattr(fn, "__name__", "") == "put_object":
            return accounts.timed(lambda _: "put", translated)(fn, *args, **kwargs)
        return translated(fn, *args, **kwargs)

    s3._translated = _translated
    service.render_many = accounts.timed(lambda _: "render", service.render_many)
    collecting: dict[str, float] = {}

    def collected(phase: str, info: dict[str, int]) -> None:  # the cyclic GC, in whichever thread ran it
        if phase == "start":
            collecting["started"] = time.thread_time()
        elif "started" in collecting:
            with accounts.lock:
                accounts.spent["gc"] += time.thread_time() - collecting.pop("started")

    gc.callbacks.append(collected)

    written = 0

    def write(*_: object) -> None:  # numbered, and replaced whole: the parent never reads a half-written file
        nonlocal written
        written += 1
        with accounts.lock:
            Path(f"{accounts_file}.tmp").write_text(json.dumps({"written": written, "spent": dict(accounts.spent)}))
        os.replace(f"{accounts_file}.tmp", accounts_file)

    signal.signal(signal.SIGUSR1, write)
    return main(argv)


# ---- the parent ------------------------------------------------------------------------------------------------


def user_system(pid: int | None = None) -> tuple[float, float]:
    """User and system CPU seconds of ``pid``, or of this process."""
    if pid is None:
        times = os.times()
        return times.user, times.system
    return cpu_times(pid)


def wait_stored(s3: Any, keys: list[str]) -> None:
    """Until every key is in S3 (asked of moto, whose CPU is not counted: the proxy is not charged for it)."""
    for key in keys:
        while True:
            try:
                s3.head_object(Bucket=BUCKET, Key=key)
                break
            except s3.exceptions.ClientError:
                time.sleep(0.005)  # nothing to wait on but S3: the write-back is the proxy's own business


def accounts_of(process: subprocess.Popen[bytes], path: str) -> dict[str, float]:
    """The child's accounts now: asked with SIGUSR1, then read once the file has a newer number."""
    before = written_accounts(path)[0]
    process.send_signal(signal.SIGUSR1)
    while (found := written_accounts(path))[0] == before:
        time.sleep(0.01)  # the child writes the file from its signal handler: nothing else to wait on
    return found[1]


def written_accounts(path: str) -> tuple[int, dict[str, float]]:
    """The number of the child's last write of its accounts (0: none yet) and those accounts."""
    if not os.path.exists(path):
        return 0, {}
    found = json.loads(Path(path).read_text())
    return found["written"], found["spent"]


def proxy_round(
    process: subprocess.Popen[bytes], url: str, s3: Any, keys: list[str], thumb: str, path: str
) -> dict[str, float]:
    from bench.run import fetch_all

    before, times = accounts_of(process, path), user_system(process.pid)
    statuses = asyncio.run(fetch_all([f"{url}/{key.removesuffix('.jpg')}{thumb}" for key in keys], 4))
    wait_stored(s3, [key.removesuffix(".jpg") + thumb for key in keys])
    user, system = (b - a for a, b in zip(times, user_system(process.pid), strict=True))
    after = accounts_of(process, path)
    assert statuses == [200] * len(keys), statuses
    spent = {part: after.get(part, 0.0) - before.get(part, 0.0) for part in (*PARTS, "gc")}
    return {**spent, "user": user, "system": system}


def limit_round(endpoint: str, keys: list[str], thumb: str, prefix: str) -> dict[str, float]:
    """bench/run.py's in-process limit, with the same accounts."""
    from bench.run import Limit

    accounts = Accounts()
    limit = Limit(endpoint, wrap=lambda part, step: accounts.timed(lambda _: part, step))
    try:
        asyncio.run(limit.run(keys[-1:], thumb, f"{prefix}-warm-up", 4))  # botocore's models, Pillow's plugins
        accounts.spent.clear()
        times = user_system()
        asyncio.run(limit.run(keys, thumb, prefix, 4))
        user, system = (b - a for a, b in zip(times, user_system(), strict=True))
    finally:
        limit.close()
    return {**{part: accounts.spent.get(part, 0.0) for part in PARTS}, "user": user, "system": system}


def row(name: str, spent: dict[str, float], misses: int) -> str:
    total = spent["user"] + spent["system"]
    other = total - sum(spent[part] for part in PARTS)
    cells = [spent[part] / misses * 1000 for part in PARTS] + [other / misses * 1000, total / misses * 1000]
    cells += [spent["user"] / misses * 1000, spent["system"] / misses * 1000]
    gc_ms = f"{spent['gc'] / misses * 1000:.2f}" if "gc" in spent else "-"  # counted in the proxy only
    return f"| {name} | " + " | ".join(f"{cell:.2f}" for cell in cells) + f" | {gc_ms} |"


def main() -> int:
    if sys.argv[1:2] == ["--serve"]:  # the instrumented proxy, started by the parent below
        return serve_instrumented(sys.argv[3:], sys.argv[2])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", type=int, default=48, help="distinct misses per round (default 48)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--proxy-arg", action="append", default=[], metavar="--OPTION=VALUE", help="extra serve option (repeatable)"
    )
    args = parser.parse_args()
    from bench.run import upload

    photos = wallpapers()[(2560, 1600)]
    with moto() as (endpoint, _), tempfile.TemporaryDirectory() as tmp:
        s3: Any = s3_client(endpoint)
        s3.create_bucket(Bucket=BUCKET)
        keys = upload(s3, photos, -(-(args.misses * args.rounds + 8) // len(photos)), "2560")
        port, path = free_port(), f"{tmp}/accounts.json"
        command = [sys.executable, __file__, "--serve", path, "serve", f"--bucket={BUCKET}"]
        command += [f"--s3-endpoint={endpoint}", "--address=127.0.0.1", f"--port={port}", "--log-level=warning"]
        command += [f"--access-log={tmp}/access.log", "--processes=1", *args.proxy_arg]
        with open(f"{tmp}/proxy.log", "wb") as log:
            process = subprocess.Popen(command, env={**os.environ, **AWS_ENV}, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_listening(port, process)
            url = f"http://127.0.0.1:{port}"
            from bench.run import fetch_all

            warm = [key.removesuffix(".jpg") + "_300x180.jpg" for key in keys[:8]]  # first calls load models
            assert set(asyncio.run(fetch_all([f"{url}/{key}" for key in warm], 4))) == {200}
            wait_stored(s3, warm)
            print(f"ms of CPU per miss ({args.misses} distinct 2560x1600 misses per round, concurrency 4)")
            print("\n| | lookup (404) | GET original | render | PUT | everything else | total | user | system | GC |")
            print("|---|---|---|---|---|---|---|---|---|---|")
            for round_ in range(args.rounds):
                batch = keys[8 + round_ * args.misses : 8 + (round_ + 1) * args.misses]
                thumb = f"_{320 + 40 * round_}x{200 + 25 * round_}.jpg"
                contenders = [
                    ("proxy", partial(proxy_round, process, url, s3, batch, thumb, path)),
                    ("limit", partial(limit_round, endpoint, batch, thumb, f"limit-{round_}")),
                ]
                for name, measure in contenders if round_ % 2 == 0 else reversed(contenders):
                    print(row(f"{name}, round {round_ + 1} ({thumb[1:-4]})", measure(), len(batch)), flush=True)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
