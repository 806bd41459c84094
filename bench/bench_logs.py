"""analyze-logs over a big generated log: CPU, wall and peak RSS of one run, with the machine.

    python bench/bench_logs.py --lines=1000000
    python bench/bench_logs.py --lines=10000000      # ~2.7 GB of text, ~0.6 GB gzip in bench/out/

Writes ``bench/out/logs-<lines>.log.gz`` (kept and reused; ``--regenerate`` rewrites it): half AWS S3 server
access log lines with every documented field, half proxy access-log lines as proxy/accesslog.py writes them,
interleaved, about 20 lines a second. Keys are ``photos/<album>/<stem>_<size>.<ext>`` over ``lines // 8``
originals (a hot set of 1,000 gets 30% of requests, the rest is spread evenly), seven sizes and three formats,
so there are millions of distinct thumbnail keys and the per-key tables hit ``--max-keys``. Then it runs
``/usr/bin/time -v s3-resize-proxy analyze-logs FILE --json`` and prints user CPU, wall and max RSS.
Figures go to bench/RESULTS.md under "analyze-logs".
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

OUT = Path(__file__).resolve().parent / "out"
T0 = datetime(2026, 11, 1, tzinfo=UTC)
LINES_PER_SECOND = 20
HOT_STEMS = 1000
SIZES = ("200x200", "400x0", "100x100@2x", "300x200_fit", "800x600_pad", "1200x0", "64x64")
SIZE_WEIGHTS = (30, 20, 15, 12, 10, 8, 5)
EXTENSIONS = ("jpg", "webp", "png")
EXT_WEIGHTS = (70, 20, 10)
OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
BUCKET = "images.example.com"
HOST_IDS = tuple(
    "".join(random.Random(n).choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", k=76)) + "="
    for n in range(64)
)
AGENTS = (
    '"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"',
    '"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"',
    '"s3-resize-proxy/0.1 botocore/1.35.0"',
)


class Lines:
    """Deterministic (seeded) generator of interleaved S3 and proxy access-log lines."""

    def __init__(self, total: int, seed: int = 7) -> None:
        self.total = total
        self.stems = max(total // 8, HOT_STEMS * 2)
        self.rng = random.Random(seed)
        self._second = -1
        self._s3_time = self._iso_time = ""

    def __iter__(self):
        rng = self.rng
        for number in range(self.total):
            at = number / LINES_PER_SECOND + rng.random() * 2  # S3 delivers slightly out of order
            key, thumbnail = self._key()
            yield self._s3(key, thumbnail, at) if number % 2 else self._proxy(key, thumbnail, at)

    def _key(self) -> tuple[str, bool]:
        rng = self.rng
        stem = rng.randrange(HOT_STEMS) if rng.random() < 0.3 else rng.randrange(self.stems)
        name = f"photos/{stem % 997:03d}/img{stem:08d}" + (" copy" if stem % 20 == 0 else "")  # some need quoting
        if rng.random() < 0.05:
            return name + ".jpg", False
        size = rng.choices(SIZES, SIZE_WEIGHTS)[0]
        return f"{name}_{size}.{rng.choices(EXTENSIONS, EXT_WEIGHTS)[0]}", True

    def _times(self, at: float) -> tuple[str, str]:
        second = int(at)
        if second != self._second:
            moment = T0 + timedelta(seconds=second)
            self._second = second
            self._s3_time = moment.strftime("[%d/%b/%Y:%H:%M:%S +0000]")
            self._iso_time = moment.strftime("%Y-%m-%dT%H:%M:%S")
        return self._s3_time, self._iso_time

    def _proxy(self, key: str, thumbnail: bool, at: float) -> str:
        rng = self.rng
        roll = rng.random()
        cache, status = ("memory", 200) if roll < 0.6 else ("s3", 200) if roll < 0.85 else ("rendered", 200)
        if roll > 0.98:
            cache, status = "error", 404 if roll > 0.99 else 400
        if not thumbnail:
            cache = "s3" if cache == "rendered" else cache
        render = f"{rng.uniform(20, 400):.1f}" if cache == "rendered" else "-"
        total = f"{rng.uniform(0.3, 500):.1f}"
        millis = f"{int((at % 1) * 1000):03d}"
        size = rng.randrange(2_000, 400_000) if status == 200 else 10
        method = "HEAD" if roll < 0.01 else "GET"
        return (
            f"{self._times(at)[1]}.{millis}Z 203.0.{rng.randrange(256)}.{rng.randrange(1, 255)} {method} "
            f"{quote(key, safe='/@_.-~=,')} {status} {size} {cache} {render} {total} {rng.getrandbits(64):016x}"
        )

    def _s3(self, key: str, thumbnail: bool, at: float) -> str:
        rng = self.rng
        roll = rng.random()
        operation, status = "REST.GET.OBJECT", 200
        if roll < 0.25:
            operation = "WEBSITE.GET.OBJECT"
            status = 302 if roll < 0.03 and thumbnail else 200
        elif roll < 0.28:
            operation, status = "REST.PUT.OBJECT", 200  # the proxy's write-back
        elif roll < 0.30:
            operation = "REST.HEAD.OBJECT"
        elif roll < 0.33:
            status = 404
        elif roll < 0.36:
            status = 304
        elif roll < 0.365:
            status = 403
        size = rng.randrange(2_000, 400_000)
        sent = str(size) if status == 200 else "-"
        error = {404: "NoSuchKey", 403: "AccessDenied"}.get(status, "-")
        encoded = quote(key, safe="/")
        method = operation.split(".")[1]
        return " ".join(
            (
                OWNER,
                BUCKET,
                self._times(at)[0],
                f"198.51.{rng.randrange(256)}.{rng.randrange(1, 255)}",
                "-" if operation != "REST.PUT.OBJECT" else "arn:aws:iam::123456789012:user/resizer",
                f"{rng.getrandbits(64):016X}",
                operation,
                encoded,
                f'"{method} /{encoded} HTTP/1.1"',
                str(status),
                error,
                sent,
                str(size),
                str(rng.randrange(1, 300)),
                str(rng.randrange(1, 50)) if status == 200 else "-",
                '"https://www.example.com/gallery.html"',
                rng.choice(AGENTS),
                "-",
                rng.choice(HOST_IDS),
                "SigV4" if operation.startswith("REST") else "-",
                "TLS_AES_128_GCM_SHA256",
                "AuthHeader" if operation.startswith("REST") else "-",
                f"{BUCKET}.s3.us-west-1.amazonaws.com",
                "TLSv1.3",
                "-",
                "-" if operation.startswith("REST") else "Yes",
            )
        )


def generate(path: Path, lines: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    batch: list[str] = []
    with gzip.open(partial, "wt", encoding="utf-8", compresslevel=1) as out:
        for line in Lines(lines):
            batch.append(line)
            if len(batch) == 50_000:
                out.write("\n".join(batch) + "\n")
                batch.clear()
        if batch:
            out.write("\n".join(batch) + "\n")
    partial.rename(path)


def measure(path: Path, max_keys: int | None) -> dict[str, str]:
    """One ``/usr/bin/time -v`` run of analyze-logs; its figures plus the report's read counts."""
    command = ["/usr/bin/time", "-v", "s3-resize-proxy", "analyze-logs", str(path), "--json"]
    if max_keys:
        command.append(f"--max-keys={max_keys}")
    with tempfile.TemporaryFile("w+") as report:
        done = subprocess.run(command, stdout=report, stderr=subprocess.PIPE, text=True, check=True)
        report.seek(0)
        result = json.load(report)
    times = {name.strip(): value for name, _, value in (row.rpartition(": ") for row in done.stderr.splitlines())}
    return {
        "user": times["User time (seconds)"],
        "system": times["System time (seconds)"],
        "wall": times["Elapsed (wall clock) time (h:mm:ss or m:ss)"],
        "max_rss_mb": f"{int(times['Maximum resident set size (kbytes)']) / 1024:.0f}",
        "read": json.dumps(result["read"]),
        "distinct": str(result["thumbnails_by_last_access"]["distinct"]),
        "approximate": str(result["approximate"]),
    }


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    models = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    cpu = models[0] if models else platform.processor() or "unknown CPU"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, nproc {os.cpu_count()}, Python {platform.python_version()}, load average {load:.1f}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--max-keys", type=int, help="Passed to analyze-logs (default: its own).")
    parser.add_argument("--regenerate", action="store_true", help="Rewrite the log even if it exists.")
    args = parser.parse_args()
    path = OUT / f"logs-{args.lines}.log.gz"
    if args.regenerate or not path.exists():
        print(f"writing {path} ...", file=sys.stderr)
        generate(path, args.lines)
    print(f"machine: {machine()}")
    figures = measure(path, args.max_keys)
    millions = args.lines / 1e6
    print(
        f"{args.lines:,} lines ({path.stat().st_size / 1e6:.0f} MB gzip): user CPU {figures['user']} s "
        f"({float(figures['user']) / millions:.1f} s per million lines), system {figures['system']} s, "
        f"wall {figures['wall']}, max RSS {figures['max_rss_mb']} MB"
    )
    print(f"read {figures['read']}; thumbnails kept {figures['distinct']}; approximate {figures['approximate']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
