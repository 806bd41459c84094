"""The render pool (proxy/imaging/pool.py): admission, slots held until threads end, the observe hook."""

from __future__ import annotations

import asyncio
import threading

import pytest

from proxy.errors import Overloaded
from proxy.imaging.pool import RenderPool


def test_render_pool_refuses_when_full_and_holds_slots_until_threads_finish():
    async def scenario() -> None:
        pool = RenderPool(workers=1, queue=1)
        gate = threading.Event()
        first = asyncio.ensure_future(pool.run(gate.wait, 10))
        second = asyncio.ensure_future(pool.run(gate.wait, 10))
        await asyncio.sleep(0)  # let both tasks take their slots
        assert (pool.in_progress, pool.queued) == (1, 1)
        with pytest.raises(Overloaded) as refused:
            await pool.run(lambda: None)
        assert refused.value.status == 503 and refused.value.retry_after == 1
        with pytest.raises(Overloaded):
            pool.admit()
        # A waiter giving up does not free the slot: its thread still runs.
        first.cancel()
        await asyncio.sleep(0)
        with pytest.raises(Overloaded):
            pool.admit()
        gate.set()
        # One thread: the second render ran only once the cancelled one's thread had ended, and that slot's
        # release (a callback of its thread's future) was queued on the loop before the second's result.
        assert await second is True
        assert pool.in_progress + pool.queued == 0
        # An admitted render that never runs (its original failed) gives its slot back.
        with pool.admit():
            assert pool.in_progress == 1
        assert pool.in_progress == 0
        assert await pool.run(sum, (1, 2)) == 3
        pool.close()

    asyncio.run(scenario())


def test_observe_hears_every_render_even_a_failing_one():
    async def scenario() -> None:
        pool = RenderPool(workers=1, queue=0)
        heard: list[tuple[float, float]] = []
        pool.observe = lambda waited, ran: heard.append((waited, ran))
        assert await pool.run(sum, (1, 2)) == 3
        with pytest.raises(ZeroDivisionError):
            await pool.run(divmod, 1, 0)
        assert len(heard) == 2 and all(seconds >= 0 for pair in heard for seconds in pair)
        assert pool.in_progress == 0  # the failed render gave its slot back
        pool.close()

    asyncio.run(scenario())


def test_a_closed_pool_refuses_and_keeps_no_slot():
    async def scenario() -> None:
        pool = RenderPool(workers=1, queue=0)
        pool.close()
        with pytest.raises(Overloaded, match="shutting down"):
            await pool.run(sum, (1, 2))
        assert pool.in_progress + pool.queued == 0

    asyncio.run(scenario())
