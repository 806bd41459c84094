"""The request path (proxy/service/image_service.py) against an in-memory store: no HTTP, no S3, no Tornado."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from proxy.config import Config
from proxy.errors import BadRequest, Forbidden, NotFound
from proxy.service.image_service import ImageService
from proxy.service.ranges import ByteRange
from proxy.service.reply import Origin
from proxy.storage.s3 import NOT_MODIFIED, Lookup, ObjectInfo, PutResult, S3Object, Stream
from proxy.stored import GENERATOR, TAGGING, WriteParams, key_from_metadata
from tests.images import opened, quadrants

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class FakeStore:
    """Objects in a dict; every call recorded; ``gate`` (an Event per key) holds a GET until it is set."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.calls: list[tuple[str, str]] = []
        self.puts: dict[str, tuple[bytes, WriteParams]] = {}
        self.gate: dict[str, asyncio.Event] = {}
        self.put_result = PutResult.STORED
        self._called = asyncio.Condition()

    async def called(self, call: tuple[str, str], times: int = 1) -> None:
        """Until ``call`` has been made ``times`` times."""
        async with self._called:
            await self._called.wait_for(lambda: self.calls.count(call) >= times)

    async def _record(self, call: tuple[str, str]) -> None:
        async with self._called:
            self.calls.append(call)
            self._called.notify_all()

    def add(self, key: str, body: bytes, content_type: str = "image/jpeg") -> None:
        self.objects[key] = (body, content_type)

    def info(self, key: str) -> ObjectInfo:
        body, content_type = self.objects[key]
        return ObjectInfo(key, len(body), content_type, '"' + hashlib.md5(body).hexdigest() + '"', WHEN)

    async def fetch(
        self,
        key: str,
        *,
        lookup: Lookup,
        stream_over: int | None = None,
        max_bytes: int | None = None,
        if_none_match: str | None = None,
        byte_range: str | None = None,
    ) -> S3Object | Stream | Any:
        await self._record(("GET", key))
        if key in self.gate:
            await self.gate[key].wait()
        if key not in self.objects:
            return None
        info = self.info(key)
        if if_none_match == info.etag:
            return NOT_MODIFIED
        return S3Object(info, self.objects[key][0])

    async def put(self, key: str, body: bytes, params: WriteParams) -> PutResult:
        await self._record(("PUT", key))
        self.puts[key] = (body, params)
        if self.put_result is PutResult.STORED:
            self.add(key, body, params.content_type)
        return self.put_result

    async def check_bucket(self) -> None:
        return None

    def close(self) -> None:
        return None


def scenario(test: Callable[[ImageService, FakeStore], Any], **options: Any) -> Any:
    """Run ``test(service, store)`` on a fresh loop with a service over a fake store."""

    async def main() -> Any:
        store = FakeStore()
        service = ImageService(Config.defaults(bucket="b", **options), store=store)  # type: ignore[arg-type]
        try:
            return await test(service, store)
        finally:
            await service.drain_writes(5)
            service.close()

    return asyncio.run(main())


def test_an_existing_object_is_served_then_remembered():
    async def test(service: ImageService, store: FakeStore) -> None:
        store.add("a.txt", b"hello", "text/plain")
        first = await service.get("a.txt")
        second = await service.get("a.txt")
        assert (first.origin, first.body, first.content_type) == (Origin.S3, b"hello", "text/plain")
        assert (second.origin, second.body) == (Origin.MEMORY, b"hello")
        assert store.calls == [("GET", "a.txt")]
        assert "s3" in first.timings and not second.timings

    scenario(test)


def test_a_missing_thumbnail_is_made_and_stored_with_the_contract():
    async def test(service: ImageService, store: FakeStore) -> None:
        store.add("earth.jpg", quadrants(400, 300))
        reply = await service.get("earth_100x100.jpg")
        await service.drain_writes(5)
        assert reply.origin is Origin.RENDERED and opened(reply.body).size == (100, 100)
        assert reply.etag == '"' + hashlib.md5(reply.body).hexdigest() + '"'
        assert store.calls == [("GET", "earth_100x100.jpg"), ("GET", "earth.jpg"), ("PUT", "earth_100x100.jpg")]
        body, params = store.puts["earth_100x100.jpg"]
        assert body == reply.body
        assert params.tagging == TAGGING and params.storage_class == "REDUCED_REDUNDANCY"
        assert params.metadata["generator"] == GENERATOR
        assert key_from_metadata(params.metadata["source-key"]) == "earth.jpg"
        assert params.metadata["source-etag"] == store.info("earth.jpg").etag.strip('"')
        assert set(reply.timings) == {"s3", "render"}

    scenario(test)


def test_concurrent_misses_make_one_render_and_one_put():
    async def test(service: ImageService, store: FakeStore) -> None:
        store.add("earth.jpg", quadrants(400, 300))
        store.gate["earth.jpg"] = asyncio.Event()
        waiting = [asyncio.ensure_future(service.get("earth_50x50.jpg")) for _ in range(8)]
        await store.called(("GET", "earth_50x50.jpg"), 8)  # all eight missed and wait for the one render
        await store.called(("GET", "earth.jpg"))
        store.gate["earth.jpg"].set()
        replies = await asyncio.gather(*waiting)
        await service.drain_writes(5)
        assert len({reply.body for reply in replies}) == 1
        assert store.calls.count(("GET", "earth.jpg")) == 1
        assert store.calls.count(("PUT", "earth_50x50.jpg")) == 1

    scenario(test)


def test_a_lookup_that_missed_while_the_write_back_ran_is_answered_without_a_second_render():
    async def test(service: ImageService, store: FakeStore) -> None:
        store.add("earth.jpg", quadrants(400, 300))
        store.put_result = PutResult.FAILED  # the stored copy never appears: only the service can answer
        store.gate["earth.jpg"] = asyncio.Event()
        first = asyncio.ensure_future(service.get("earth_60x60.jpg"))
        await store.called(("GET", "earth.jpg"))  # first missed, and is fetching the original
        store.gate["earth_60x60.jpg"] = asyncio.Event()
        second = asyncio.ensure_future(service.get("earth_60x60.jpg"))
        await store.called(("GET", "earth_60x60.jpg"), 2)  # second's lookup is on its way
        store.gate["earth.jpg"].set()
        made = await first
        await service.drain_writes(5)  # the write-back is over before second's lookup returns
        service.memory.discard("earth_60x60.jpg")  # and the LRU let it go: only the write-back record is left
        store.gate["earth_60x60.jpg"].set()
        reply = await second
        assert (reply.origin, reply.body) == (Origin.MEMORY, made.body)
        assert store.calls.count(("PUT", "earth_60x60.jpg")) == 1
        assert service.writes.recent("earth_60x60.jpg") is None  # forgotten once the last lookup returned

    scenario(test)


def test_a_412_on_write_back_drops_our_render_from_memory():
    async def test(service: ImageService, store: FakeStore) -> None:
        store.add("banner.jpg", quadrants(400, 300))
        store.put_result = PutResult.EXISTS
        await service.get("banner_40x40.jpg")
        await service.drain_writes(5)
        assert service.memory.get("banner_40x40.jpg") is None
        assert service.writes.recent("banner_40x40.jpg") is None

    scenario(test)


def test_size_policy_and_signatures_are_checked_before_the_original_is_fetched():
    async def test(service: ImageService, store: FakeStore) -> None:
        store.add("earth.jpg", quadrants(400, 300))
        with pytest.raises(BadRequest):
            await service.get("earth_500x500.jpg")
        with pytest.raises(Forbidden):
            await service.get("earth_100x50.jpg")
        assert ("GET", "earth.jpg") not in store.calls

    scenario(test, max_dimension=400, allowed_sizes=((100, 100),))


def test_a_key_that_is_no_thumbnail_and_not_there_is_404_and_remembered():
    async def test(service: ImageService, store: FakeStore) -> None:
        for _ in range(3):
            with pytest.raises(NotFound):
                await service.get("nothing.txt")
        assert store.calls == [("GET", "nothing.txt")]

    scenario(test)


def test_a_range_of_a_remembered_object_is_cut_in_memory():
    async def test(service: ImageService, store: FakeStore) -> None:
        store.add("a.bin", bytes(range(100)), "application/octet-stream")
        await service.get("a.bin")
        part = await service.get("a.bin", byte_range=ByteRange(10, 19))
        assert part.body == bytes(range(10, 20)) and part.content_range == "bytes 10-19/100"
        old = await service.get("a.bin", byte_range=ByteRange(10, 19), if_range='"other"')
        assert old.body == bytes(range(100)) and old.content_range is None

    scenario(test)
