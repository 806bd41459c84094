"""Write-back bookkeeping (proxy/service/writeback.py): what is answered from here until S3 holds it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from proxy.service.cache import CachedObject
from proxy.service.writeback import WriteBacks
from proxy.storage.s3 import PutResult


def thumb(key: str) -> CachedObject:
    return CachedObject(key, b"x", "image/jpeg", '"e"', datetime(2026, 1, 1, tzinfo=UTC), None, 0.0)


async def gated(gate: asyncio.Event, result: PutResult) -> PutResult:
    await gate.wait()
    return result


def test_a_thumbnail_is_answered_from_here_until_its_write_is_done():
    async def scenario() -> None:
        writes = WriteBacks(on_exists=lambda key: None)
        gate = asyncio.Event()
        writes.start(thumb("a_1x1.jpg"), gated(gate, PutResult.STORED))
        assert writes.recent("a_1x1.jpg") is not None and writes.pending == 1
        gate.set()
        assert await writes.drain(5)
        assert writes.recent("a_1x1.jpg") is None and writes.pending == 0

    asyncio.run(scenario())


def test_a_lookup_sent_before_the_write_finished_keeps_it_until_it_returns():
    async def scenario() -> None:
        writes = WriteBacks(on_exists=lambda key: None)
        gate = asyncio.Event()
        writes.start(thumb("a_1x1.jpg"), gated(gate, PutResult.STORED))
        with writes.lookup("a_1x1.jpg"), writes.lookup("a_1x1.jpg"):  # two lookups on their way to S3
            gate.set()
            await writes.drain(5)
            assert writes.recent("a_1x1.jpg") is not None  # they may still miss: answer them from here
        assert writes.recent("a_1x1.jpg") is None  # the last one returned

    asyncio.run(scenario())


def test_an_existing_object_wins_and_is_reported():
    async def scenario() -> list[str]:
        reported: list[str] = []
        writes = WriteBacks(on_exists=reported.append)
        for key, result in (("a_1x1.jpg", PutResult.EXISTS), ("b_1x1.jpg", PutResult.STORED)):
            writes.start(thumb(key), _now(result))
        await writes.drain(5)
        return reported

    assert asyncio.run(scenario()) == ["a_1x1.jpg"]


async def _now(result: PutResult) -> PutResult:
    return result


def test_drain_reports_unfinished_writes():
    async def scenario() -> tuple[bool, bool]:
        writes = WriteBacks(on_exists=lambda key: None)
        gate = asyncio.Event()
        writes.start(thumb("a_1x1.jpg"), gated(gate, PutResult.STORED))  # held until the first drain gave up
        unfinished = await writes.drain(0.01)
        gate.set()
        return unfinished, await writes.drain(5)

    assert asyncio.run(scenario()) == (False, True)
