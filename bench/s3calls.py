"""What an S3 call costs the proxy's CPU, through botocore and without its request pipeline:
``python bench/s3calls.py [--calls=300] [--rounds=5]``.

Starts moto on loopback and, in this process, times with the thread's CPU clock the calls a miss makes, with
the proxy's own botocore client (``proxy.storage.s3.make_client``): a GET of a missing key (the lookup of a
thumbnail key, answered 404), a GET of a 12.6 KB object (a thumbnail served from S3) and a PUT of a 20 KB
thumbnail with the write-back's parameters (``proxy.stored.thumbnail_write``, ``If-None-Match: *``). Beside
each, the same request signed by botocore's own SigV4 signer (payload hash included, as botocore does over
http) and sent through the client's own HTTP session (its connection pool and timeouts), the PUT with the same
CRC32 checksum header, without the rest of botocore's pipeline: events, parameter validation and serialisation,
endpoint resolution, response parsing, checksum validation of GETs, the retry handler, the exception for a 404.
That second way is not in the proxy; it measures what S3 calls outside botocore's pipeline would save (issue 16,
bench/RESULTS.md). Rounds alternate which goes first; medians with min-max; the CPU others took meanwhile is
recorded. moto closes every connection, so each call here opens one, as the proxy's do against moto (S3 keeps
them open).
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from botocore.auth import S3SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402

from bench.procs import AWS_ENV, CORES, Window, moto, put_thumbnail, spread  # noqa: E402
from proxy.config import Config  # noqa: E402
from proxy.storage.s3 import make_client  # noqa: E402
from proxy.stored import thumbnail_write  # noqa: E402

BUCKET = "bench-s3calls"
BODY = b"\xff" * 12605  # the size of bench/run.py's memory hit
THUMBNAIL = b"\xfe" * 20000  # a thumbnail as the misses of bench/run.py write back
CONFIG = Config.defaults(bucket=BUCKET)
WRITE = thumbnail_write(  # what the proxy's default configuration writes back
    content_type="image/jpeg",
    source_key="photo.jpg",
    source_etag='"0123456789abcdef0123456789abcdef"',
    cache_control=CONFIG.thumbnail_cache_control,
    storage_class=CONFIG.thumbnail_storage_class,
)
Call = Callable[[int], int]  # the n-th call -> the status S3 answered


def botocore_get(client: Any, key: str) -> Call:
    def call(_: int) -> int:
        try:
            response = client.get_object(Bucket=BUCKET, Key=key)
        except client.exceptions.NoSuchKey:
            return 404
        response["Body"].read()
        return 200

    return call


def botocore_put(client: Any, prefix: str) -> Call:
    """The write-back's PUT as proxy/storage/s3.py makes it, under a new key each call."""

    def call(n: int) -> int:
        put_thumbnail(client, BUCKET, f"{prefix}/{n}_200x200.jpg", THUMBNAIL, WRITE)
        return 200

    return call


class Signed:
    """Requests signed by the client's own SigV4 signer and credentials, sent by its own HTTP session."""

    def __init__(self, client: Any, endpoint: str) -> None:
        self.client = client
        self.endpoint = endpoint
        self.credentials = client._request_signer._credentials  # the client's own, refreshed as it does
        self.session = client._endpoint.http_session

    def send(self, method: str, key: str, body: bytes = b"", headers: dict[str, str] | None = None) -> int:
        url = f"{self.endpoint}/{BUCKET}/{quote(key, safe='/~')}"
        request = AWSRequest(method=method, url=url, data=body, headers=headers)
        S3SigV4Auth(self.credentials.get_frozen_credentials(), "s3", self.client.meta.region_name).add_auth(request)
        response = self.session.send(request.prepare())
        response.content  # noqa: B018 - read the body, as the proxy does
        return int(response.status_code)

    def get(self, key: str) -> Call:
        return lambda _: self.send("GET", key)

    def put(self, prefix: str) -> Call:
        headers = {
            "Content-Type": WRITE.content_type,
            "Cache-Control": WRITE.cache_control,
            "x-amz-storage-class": WRITE.storage_class,
            "x-amz-tagging": WRITE.tagging,
            "If-None-Match": "*",
            **{f"x-amz-meta-{name}": value for name, value in WRITE.metadata.items()},
        }

        def call(n: int) -> int:
            checksum = base64.b64encode(zlib.crc32(THUMBNAIL).to_bytes(4, "big")).decode()
            return self.send(
                "PUT", f"{prefix}/{n}_200x200.jpg", THUMBNAIL, {**headers, "x-amz-checksum-crc32": checksum}
            )

        return call


def stored(client: Any, key: str) -> tuple[Any, ...]:
    head = client.head_object(Bucket=BUCKET, Key=key)
    tags = client.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]
    fields = ("ContentLength", "ContentType", "CacheControl", "StorageClass", "Metadata", "ETag")
    return (*(head.get(name) for name in fields), tags)


def cpu_ms(call: Call, calls: int, expected: int, server: int) -> tuple[float, float]:
    """Milliseconds of this thread's CPU per call, and the share of the machine others (not this process, not
    the S3 server ``server``) took meanwhile."""
    with Window([server]) as window:
        started = time.thread_time()
        for n in range(calls):
            assert call(n) == expected
        spent = time.thread_time() - started
    window.settle()
    return spent / calls * 1000, window.others_share


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per measurement (default 300)")
    parser.add_argument("--rounds", type=int, default=5, help="alternated rounds (default 5)")
    args = parser.parse_args()
    os.environ.update(AWS_ENV)
    with moto() as (endpoint, server):
        client = make_client(replace(CONFIG, s3_endpoint=endpoint))
        client.create_bucket(Bucket=BUCKET)
        client.put_object(Bucket=BUCKET, Key="thumb_200x200.jpg", Body=BODY, ContentType="image/jpeg")
        signed = Signed(client, endpoint)
        cases: dict[str, tuple[int, Callable[[str], Call], Callable[[str], Call]]] = {
            "GET answered 404 (a thumbnail key's lookup)": (
                404,
                lambda _: botocore_get(client, "missing_200x200.jpg"),
                lambda _: signed.get("missing_200x200.jpg"),
            ),
            "GET of a 12.6 KB object (a thumbnail served from S3)": (
                200,
                lambda _: botocore_get(client, "thumb_200x200.jpg"),
                lambda _: signed.get("thumb_200x200.jpg"),
            ),
            "PUT of a 20 KB thumbnail (the write-back)": (
                200,
                lambda prefix: botocore_put(client, prefix),
                lambda prefix: signed.put(prefix),
            ),
        }
        print(f"ms of CPU per call, {args.calls} calls a measurement, {args.rounds} alternated rounds, {CORES} cores\n")
        print("| call | botocore (the proxy's client) | signer + HTTP session only | ratio | others' CPU (max) |")
        print("|---|---|---|---|---|")
        for name, (status, through_botocore, signed_only) in cases.items():
            spent: dict[str, list[float]] = {"botocore": [], "signed": []}
            others: list[float] = []
            for round_ in range(args.rounds + 1):  # round 0 warms up (botocore's models, the pool): not counted
                order = [("botocore", through_botocore), ("signed", signed_only)]
                for way, make in order if round_ % 2 == 0 else reversed(order):
                    ms, share = cpu_ms(make(f"{way}-{round_}"), args.calls if round_ else 20, status, server.pid)
                    if round_:
                        spent[way].append(ms)
                        others.append(share)
            ratios = [s / b for s, b in zip(spent["signed"], spent["botocore"], strict=True)]
            print(
                f"| {name} | {spread(spent['botocore'], 2)} | {spread(spent['signed'], 2)} | "
                f"{statistics.median(ratios):.2f} | {max(others):.1%} |",
                flush=True,
            )
        # Both ways wrote the same object: same headers, metadata, storage class and tags.
        assert stored(client, "botocore-1/0_200x200.jpg") == stored(client, "signed-1/0_200x200.jpg")
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
