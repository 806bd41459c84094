"""The render pool: a fixed number of threads and a bounded queue in front of them.

Pillow releases the GIL while decoding, resampling and encoding, so threads use several cores. When every
thread is busy and ``queue`` renders already wait, a new render is refused at once (503 + Retry-After)
rather than piling up memory.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from proxy.errors import Overloaded

T = TypeVar("T")


class RenderPool:
    def __init__(self, workers: int, queue: int) -> None:
        self.workers = workers
        self.capacity = workers + queue
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="render")
        self._admitted = 0  # running + waiting; only touched on the event loop
        self.observe: Callable[[float, float], None] = lambda waited, ran: None  # metrics hook, seconds

    @property
    def in_progress(self) -> int:
        return min(self._admitted, self.workers)

    @property
    def queued(self) -> int:
        return max(0, self._admitted - self.workers)

    def admit(self) -> Ticket:
        """Take a slot now, or refuse (Overloaded) when full: taken before the original is fetched, so at most
        ``capacity`` originals are ever held for rendering, however many misses arrive."""
        if self._admitted >= self.capacity:
            raise Overloaded("render queue is full")
        self._admitted += 1
        return Ticket(self)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Admit and run ``fn(*args)`` in a render thread."""
        with self.admit() as ticket:
            return await ticket.run(fn, *args)

    def _timed(self, fn: Callable[..., T], submitted: float) -> Callable[..., T]:
        """``fn`` reporting its wait for a thread and its run time to ``observe``."""

        def timed(*args: Any) -> T:
            started = time.monotonic()
            try:
                return fn(*args)
            finally:
                self.observe(started - submitted, time.monotonic() - started)

        return timed

    def _release(self) -> None:
        self._admitted -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class Ticket:
    """One admitted render: its slot is freed by ``release`` if it never ran, else when its thread finishes."""

    def __init__(self, pool: RenderPool) -> None:
        self._pool = pool
        self._held = True

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        if not self._held:
            raise RuntimeError("ticket already used")
        try:
            timed = self._pool._timed(fn, time.monotonic())
            future = asyncio.get_running_loop().run_in_executor(self._pool._executor, timed, *args)
        except RuntimeError:  # executor shut down
            raise Overloaded("shutting down") from None
        self._held = False
        # The slot is held until the thread really finishes, even if the awaiting request gives up.
        future.add_done_callback(lambda _: self._pool._release())
        return await asyncio.shield(future)

    def release(self) -> None:
        """Free the slot unless a thread has it (idempotent)."""
        if self._held:
            self._held = False
            self._pool._release()

    def __enter__(self) -> Ticket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
