"""Single-flight: concurrent calls for the same key share one execution and its result (or error)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """Coalesce concurrent ``run(key, fn)`` calls: the first runs ``fn``, the others await its outcome."""

    def __init__(self) -> None:
        self._flights: dict[Hashable, asyncio.Task[T]] = {}

    async def run(self, key: Hashable, fn: Callable[[], Awaitable[T]]) -> T:
        task = self._flights.get(key)
        if task is None:
            task = asyncio.ensure_future(fn())
            self._flights[key] = task
            task.add_done_callback(lambda _: self._flights.pop(key, None))
        # shield: one waiter giving up (client gone, deadline) must not cancel the shared work.
        return await asyncio.shield(task)
