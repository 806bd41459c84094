"""The object store (proxy/storage/s3.py) against moto's server, through the spy for S3's failures."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Callable, Coroutine, Iterator
from datetime import datetime
from typing import Any, TypeVar

import pytest

from proxy.config import Config
from proxy.errors import RangeNotSatisfiable, Unprocessable, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from proxy.storage.s3 import (
    CHUNK,
    NOT_MODIFIED,
    Lookup,
    ObjectStore,
    PutResult,
    S3Object,
    Stream,
    _read_capped,
)
from proxy.stored import WriteParams
from tests.harness import free_port, put
from tests.s3spy import S3Spy

T = TypeVar("T")

PUT_ARGS = WriteParams(
    content_type="image/png",
    cache_control="public, max-age=60",
    storage_class="REDUCED_REDUNDANCY",
    metadata={"source-key": "a.jpg"},
    tagging="thumbnail=true",
)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture
def open_store(spy: S3Spy, bucket: str) -> Iterator[Callable[..., ObjectStore]]:
    """An ObjectStore on ``bucket`` through the spy (one attempt per call); options as Config overrides."""
    with contextlib.ExitStack() as closing:

        def make(**overrides: Any) -> ObjectStore:
            options = {"bucket": bucket, "s3_endpoint": spy.url, "s3_max_attempts": 1, **overrides}
            return closing.enter_context(contextlib.closing(ObjectStore(Config.defaults(**options))))

        yield make


@pytest.fixture
def store(open_store: Callable[..., ObjectStore]) -> ObjectStore:
    return open_store()


# ---- fetch ------------------------------------------------------------------------------------------------


def test_fetch_reads_an_object_whole_with_what_s3_says_about_it(store, s3, bucket):
    put(s3, bucket, "a.txt", b"hello", "text/plain", CacheControl="max-age=60", Metadata={"k": "v"})
    found = run(store.fetch("a.txt", lookup=Lookup.REQUESTED))
    assert isinstance(found, S3Object) and found.body == b"hello"
    info = found.info
    assert (info.key, info.size, info.content_type, info.cache_control) == ("a.txt", 5, "text/plain", "max-age=60")
    assert info.etag == s3.head_object(Bucket=bucket, Key="a.txt")["ETag"] and info.etag.startswith('"')
    assert isinstance(info.last_modified, datetime) and info.last_modified.tzinfo is not None
    assert info.metadata == {"k": "v"} and info.content_range is None


def test_a_missing_key_is_none_for_either_lookup(store):
    assert run(store.fetch("nothing.jpg", lookup=Lookup.REQUESTED)) is None
    assert run(store.fetch("nothing.jpg", lookup=Lookup.ORIGINAL)) is None


def test_an_object_over_stream_over_is_a_stream_read_chunk_by_chunk(store, s3, bucket):
    body = bytes(range(256)) * (3 * CHUNK // 256) + b"tail"
    put(s3, bucket, "big.bin", body, "application/octet-stream")
    assert isinstance(run(store.fetch("big.bin", lookup=Lookup.REQUESTED, stream_over=len(body))), S3Object)

    async def read_all() -> tuple[int, list[bytes]]:
        stream = await store.fetch("big.bin", lookup=Lookup.REQUESTED, stream_over=CHUNK)
        assert isinstance(stream, Stream)
        chunks = []
        try:
            while chunk := await stream.read():
                chunks.append(chunk)
        finally:
            stream.close()
        return stream.info.size, chunks

    size, chunks = run(read_all())
    assert size == len(body) and b"".join(chunks) == body
    assert max(len(chunk) for chunk in chunks) <= CHUNK


def test_a_conditional_fetch_is_not_modified_while_the_etag_matches(store, s3, bucket):
    put(s3, bucket, "a.txt", b"one", "text/plain")
    etag = s3.head_object(Bucket=bucket, Key="a.txt")["ETag"]
    assert run(store.fetch("a.txt", lookup=Lookup.REQUESTED, if_none_match=etag)) is NOT_MODIFIED
    put(s3, bucket, "a.txt", b"two", "text/plain")
    found = run(store.fetch("a.txt", lookup=Lookup.REQUESTED, if_none_match=etag))
    assert isinstance(found, S3Object) and found.body == b"two" and found.info.etag != etag


def test_a_byte_range_is_passed_to_s3(store, s3, bucket, spy):
    body = b"0123456789"
    put(s3, bucket, "digits.txt", body, "text/plain")
    part = run(store.fetch("digits.txt", lookup=Lookup.REQUESTED, byte_range="bytes=2-4"))
    assert isinstance(part, S3Object) and part.body == b"234"
    assert part.info.content_range == "bytes 2-4/10" and part.info.size == 3
    assert spy.seen[-1].headers.get("Range") == "bytes=2-4"
    with pytest.raises(RangeNotSatisfiable) as past:
        run(store.fetch("digits.txt", lookup=Lookup.REQUESTED, byte_range="bytes=10-"))
    assert past.value.size == len(body) and past.value.headers() == {"Content-Range": "bytes */10"}


def test_max_bytes_refuses_a_larger_object_by_its_length(store, s3, bucket):
    put(s3, bucket, "a.jpg", b"x" * 1000)
    assert run(store.fetch("a.jpg", lookup=Lookup.ORIGINAL, max_bytes=1000)).body == b"x" * 1000  # type: ignore[union-attr]
    with pytest.raises(Unprocessable, match="larger than"):
        run(store.fetch("a.jpg", lookup=Lookup.ORIGINAL, max_bytes=999))


def test_max_bytes_holds_while_reading_when_there_is_no_content_length(store, s3, bucket, spy):
    put(s3, bucket, "a.jpg", b"x" * (3 * CHUNK))
    spy.chunked("GET", "/a.jpg")  # nothing to check up front: only reading can tell
    with pytest.raises(Unprocessable, match="larger than"):
        run(store.fetch("a.jpg", lookup=Lookup.ORIGINAL, max_bytes=CHUNK))
    found = run(store.fetch("a.jpg", lookup=Lookup.ORIGINAL, max_bytes=3 * CHUNK))
    assert isinstance(found, S3Object) and len(found.body) == 3 * CHUNK


class CountingBody(io.BytesIO):
    """A response body that records how much was read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.taken = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.taken += len(chunk)
        return chunk


def test_source_limit_stops_reading_early():
    body = CountingBody(b"x" * (10 * CHUNK))
    with pytest.raises(Exception, match="larger than"):
        _read_capped(body, 2 * CHUNK)
    assert body.taken <= 3 * CHUNK and body.closed
    assert _read_capped(CountingBody(b"y" * 1000), 1000) == b"y" * 1000


@pytest.mark.parametrize("status", [403, 405])
def test_403_and_405_on_the_requested_key_mean_not_there(store, s3, bucket, spy, status):
    put(s3, bucket, "a_10x10.jpg", b"stored")
    spy.fail("GET", "/a_10x10.jpg", status, times=1)
    assert run(store.fetch("a_10x10.jpg", lookup=Lookup.REQUESTED)) is None


def test_403_on_an_original_is_a_denial_not_a_missing_original(store, s3, bucket, spy):
    put(s3, bucket, "a.jpg", b"original")
    spy.fail("GET", "/a.jpg", 403, times=1)
    with pytest.raises(UpstreamError, match="denied"):
        run(store.fetch("a.jpg", lookup=Lookup.ORIGINAL))
    spy.fail("GET", "/a.jpg", 405, times=1)
    assert run(store.fetch("a.jpg", lookup=Lookup.ORIGINAL)) is None


# ---- put --------------------------------------------------------------------------------------------------


def test_put_stores_with_if_none_match_and_never_overwrites(store, s3, bucket, spy):
    assert run(store.put("a_10x10.png", b"first", PUT_ARGS)) is PutResult.STORED
    assert run(store.put("a_10x10.png", b"second", PUT_ARGS)) is PutResult.EXISTS
    puts = [s for s in spy.seen if s.method == "PUT"]
    assert [(s.status, s.headers.get("If-None-Match")) for s in puts] == [(200, "*"), (412, "*")]
    stored = s3.get_object(Bucket=bucket, Key="a_10x10.png")
    assert stored["Body"].read() == b"first"
    assert (stored["ContentType"], stored["CacheControl"], stored["StorageClass"]) == (
        "image/png",
        "public, max-age=60",
        "REDUCED_REDUNDANCY",
    )
    assert stored["Metadata"] == {"source-key": "a.jpg"}
    assert s3.get_object_tagging(Bucket=bucket, Key="a_10x10.png")["TagSet"] == [{"Key": "thumbnail", "Value": "true"}]


def test_put_with_conditional_write_auto_falls_back_once_the_endpoint_rejects_the_header(store, spy):
    spy.fail("PUT", "/a_10x10.png", 501, times=1)
    assert run(store.put("a_10x10.png", b"x", PUT_ARGS)) is PutResult.STORED
    assert run(store.put("b_10x10.png", b"x", PUT_ARGS)) is PutResult.STORED
    puts = [(s.path.rsplit("/", 1)[1], s.status, s.headers.get("If-None-Match")) for s in spy.seen]
    assert puts == [("a_10x10.png", 501, "*"), ("a_10x10.png", 200, None), ("b_10x10.png", 200, None)]


def test_put_with_conditional_write_on_fails_rather_than_write_unconditionally(open_store, s3, bucket, spy):
    store = open_store(conditional_write="on")
    spy.fail("PUT", "/a_10x10.png", 501)
    assert run(store.put("a_10x10.png", b"x", PUT_ARGS)) is PutResult.FAILED
    assert spy.count("PUT", "/a_10x10.png") == 1
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_put_with_conditional_write_off_sends_no_header_and_overwrites(open_store, s3, bucket, spy):
    store = open_store(conditional_write="off")
    assert run(store.put("a_10x10.png", b"first", PUT_ARGS)) is PutResult.STORED
    assert run(store.put("a_10x10.png", b"second", PUT_ARGS)) is PutResult.STORED
    assert all("If-None-Match" not in s.headers for s in spy.seen)
    assert s3.get_object(Bucket=bucket, Key="a_10x10.png")["Body"].read() == b"second"


@pytest.mark.parametrize("status", [403, 500, 503])
def test_a_refused_or_failed_put_is_failed_never_an_exception(store, spy, status):
    spy.fail("PUT", "/a_10x10.png", status)
    assert run(store.put("a_10x10.png", b"x", PUT_ARGS)) is PutResult.FAILED


# ---- errors become the proxy's own --------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "error"), [(500, UpstreamError), (502, UpstreamError), (503, UpstreamUnavailable)])
def test_s3_errors_become_upstream_errors(store, spy, status, error):
    spy.fail("GET", "/a.jpg", status)
    with pytest.raises(error) as raised:
        run(store.fetch("a.jpg", lookup=Lookup.REQUESTED))
    assert type(raised.value) is error


def test_a_stalled_s3_is_a_timeout(open_store, spy):
    store = open_store(s3_read_timeout=0.3)
    release = spy.stall("GET", "/slow.jpg")
    try:
        with pytest.raises(UpstreamTimeout):
            run(store.fetch("slow.jpg", lookup=Lookup.REQUESTED))
    finally:
        release.set()


def test_an_unreachable_endpoint_is_an_upstream_error(open_store):
    store = open_store(s3_endpoint=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(UpstreamError, match="unreachable"):
        run(store.fetch("a.jpg", lookup=Lookup.REQUESTED))


def test_check_bucket_raises_unless_the_bucket_answers(store, open_store, spy):
    run(store.check_bucket())
    with pytest.raises(UpstreamError, match="404"):
        run(open_store(bucket="no-such-bucket-here").check_bucket())
    spy.fail("HEAD", None, 500)
    with pytest.raises(UpstreamError):
        run(store.check_bucket())
