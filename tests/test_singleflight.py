"""Single-flight (proxy/service/singleflight.py): one execution per key at a time, its outcome shared."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from proxy.service.singleflight import SingleFlight


class Work:
    """An async function that counts its runs and finishes only when ``gate`` is set."""

    def __init__(self, result: object = "done", error: Exception | None = None) -> None:
        self.gate = asyncio.Event()
        self.runs = 0
        self.finished = 0
        self.result = result
        self.error = error

    async def __call__(self) -> object:
        self.runs += 1
        await self.gate.wait()
        self.finished += 1
        if self.error is not None:
            raise self.error
        return self.result


async def settle() -> None:
    """Let every task started so far run up to its first real wait."""
    for _ in range(3):
        await asyncio.sleep(0)


def test_concurrent_calls_for_one_key_share_one_run_and_its_result():
    async def scenario() -> None:
        flights: SingleFlight[object] = SingleFlight()
        work = Work(result=object())
        waiters = [asyncio.ensure_future(flights.run("k", work)) for _ in range(5)]
        await settle()
        work.gate.set()
        results = await asyncio.gather(*waiters)
        assert work.runs == 1
        assert all(result is work.result for result in results)

    asyncio.run(scenario())


def test_an_error_is_shared_by_every_caller():
    async def scenario() -> None:
        flights: SingleFlight[object] = SingleFlight()
        work = Work(error=ValueError("broken"))
        waiters = [asyncio.ensure_future(flights.run("k", work)) for _ in range(3)]
        await settle()
        work.gate.set()
        outcomes = await asyncio.gather(*waiters, return_exceptions=True)
        assert work.runs == 1
        assert [type(o) for o in outcomes] == [ValueError] * 3 and len({id(o) for o in outcomes}) == 1

    asyncio.run(scenario())


def test_a_finished_flight_is_forgotten_so_the_next_call_runs_again():
    async def scenario() -> None:
        flights: SingleFlight[object] = SingleFlight()
        done, failed, again = Work(), Work(error=ValueError("once")), Work(result="again")
        for work in (done, failed, again):
            work.gate.set()
        assert await flights.run("k", done) == "done"
        with pytest.raises(ValueError):
            await flights.run("k", failed)  # not the finished flight's result: a run of its own
        assert await flights.run("k", again) == "again"  # nor the failed one's error
        assert (done.runs, failed.runs, again.runs) == (1, 1, 1)

    asyncio.run(scenario())


def test_different_keys_run_separately():
    async def scenario() -> None:
        flights: SingleFlight[str] = SingleFlight()
        runs: Counter[str] = Counter()

        async def make(key: str) -> str:
            runs[key] += 1
            await asyncio.sleep(0)
            return key

        results = await asyncio.gather(*(flights.run(key, lambda k=key: make(k)) for key in ("a", "b", "a", "c")))
        assert results == ["a", "b", "a", "c"]
        assert runs == {"a": 1, "b": 1, "c": 1}

    asyncio.run(scenario())


def test_callers_giving_up_cancel_nothing_the_others_and_later_callers_get_the_result():
    async def scenario() -> None:
        flights: SingleFlight[object] = SingleFlight()
        work = Work(result="made")
        quitter = asyncio.ensure_future(flights.run("k", work))
        stayer = asyncio.ensure_future(flights.run("k", work))
        await settle()
        quitter.cancel()
        stayer.cancel()  # every caller gone: the work goes on all the same
        await settle()
        assert quitter.cancelled() and stayer.cancelled()
        late = Work(result="not this one")
        joined = asyncio.ensure_future(flights.run("k", late))  # still in flight: joins it
        await settle()
        work.gate.set()
        assert await joined == "made"
        assert (work.runs, work.finished, late.runs) == (1, 1, 0)

    asyncio.run(scenario())
