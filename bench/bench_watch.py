"""warm --queue-url shared by W watch processes, against a local warm of the same originals, on one moto server.

    python bench/bench_watch.py [--originals=300] [--watchers=2] [--concurrency=4]

Both runs make the same sizes of the same tiny JPEGs (as bench/bench_warm.py does), one after the other, so
they see the same machine. The load average is printed before and after: the development machine is shared.
Figures go to README.md, "Warming a large bucket on many machines".
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import botocore.session
import requests
from moto.server import ThreadedMotoServer
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.harness import free_port  # noqa: E402

SIZES = ("200x200", "400x0", "100x100")


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def fill(s3: Any, bucket: str, originals: int) -> None:
    tiny = io.BytesIO()
    Image.new("RGB", (64, 48), (40, 90, 200)).save(tiny, "JPEG")
    s3.create_bucket(Bucket=bucket)
    for i in range(originals):
        s3.put_object(Bucket=bucket, Key=f"photos/{i:05}.jpg", Body=tiny.getvalue(), ContentType="image/jpeg")


def metric(port: int, name: str) -> float:
    for line in requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--originals", type=int, default=300)
    parser.add_argument("--watchers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4, help="--concurrency of each watcher. Default: 4.")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"before: {load()}")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    session = botocore.session.get_session()
    s3 = session.create_client("s3", region_name="us-east-1", endpoint_url=endpoint)
    sqs = session.create_client("sqs", region_name="us-east-1", endpoint_url=endpoint)
    fill(s3, "bench-local", args.originals)
    fill(s3, "bench-queue", args.originals)
    queue = sqs.create_queue(QueueName="bench-warm")["QueueUrl"]
    proxy = [sys.executable, "-m", "proxy"]
    sizes = f"--sizes={','.join(SIZES)}"

    started = time.monotonic()
    local = [*proxy, "warm", sizes, "--bucket=bench-local", f"--s3-endpoint={endpoint}", "--progress-every=60"]
    print("$", " ".join(local[2:]), flush=True)
    subprocess.run(local, check=True, cwd=ROOT, stderr=subprocess.DEVNULL)
    local_seconds = time.monotonic() - started

    ports = [free_port() for _ in range(args.watchers)]
    watch = [*proxy, "watch", "--bucket=bench-queue", f"--s3-endpoint={endpoint}", f"--sqs-endpoint={endpoint}"]
    watch += [f"--queue-url={queue}", f"--concurrency={args.concurrency}", "--poll-seconds=1"]
    watchers = [subprocess.Popen([*watch, f"--admin-port={p}"], cwd=ROOT, stderr=subprocess.DEVNULL) for p in ports]
    try:
        for p in ports:  # up and polling
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    requests.get(f"http://127.0.0.1:{p}/healthz", timeout=1)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
        started = time.monotonic()
        send = [*proxy, "warm", sizes, "--bucket=bench-queue", f"--s3-endpoint={endpoint}"]
        send += [f"--sqs-endpoint={endpoint}", f"--queue-url={queue}", "--progress-every=60"]
        print("$", " ".join(send[2:]), f"  (+ {args.watchers} x watch --concurrency={args.concurrency})", flush=True)
        subprocess.run(send, check=True, cwd=ROOT, stderr=subprocess.DEVNULL)
        sent = time.monotonic() - started
        shares = [0.0] * len(ports)
        while sum(shares) < args.originals:
            time.sleep(0.2)
            shares = [metric(p, 's3rp_watch_events_total{kind="warm"}') for p in ports]
        queued_seconds = time.monotonic() - started
        stored = sum(metric(p, 's3rp_watch_thumbnails_total{result="stored"}') for p in ports)
    finally:
        for process in watchers:
            process.terminate()
            process.wait(60)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket="bench-queue")
    listed = sum(len(page.get("Contents", [])) for page in pages)
    print(
        f"local warm: {args.originals} originals in {local_seconds:.1f}s ({args.originals / local_seconds:.1f}/s)\n"
        f"queued warm: sent in {sent:.1f}s, all made in {queued_seconds:.1f}s "
        f"({args.originals / queued_seconds:.1f}/s) by {args.watchers} watchers: "
        f"{', '.join(str(int(s)) for s in shares)} originals each; {int(stored)} thumbnails stored, "
        f"{listed} objects in the bucket"
    )
    print(f"after: {load()}")
    server.stop()


if __name__ == "__main__":
    main()
