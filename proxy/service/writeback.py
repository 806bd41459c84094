"""Write-backs in flight, and the thumbnails they make that S3 cannot answer for yet.

A thumbnail just rendered is stored in the background. Until S3 holds it, a request whose S3 lookup missed
meanwhile must be answered from here instead of starting a second render; a lookup sent before the write
finished may still miss after it, so the thumbnail stays here until every such lookup has returned.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

from proxy.service.cache import CachedObject
from proxy.storage.s3 import PutResult


class WriteBacks:
    """The write-back bookkeeping of one service. ``on_exists(key)``: S3 already held ``key`` (412)."""

    def __init__(self, on_exists: Callable[[str], None]) -> None:
        self._on_exists = on_exists
        self._recent: dict[str, CachedObject] = {}  # rendered, write-back not known to be visible yet
        self._lookups: Counter[str] = Counter()  # S3 lookups on their way, per key
        self._stored: set[str] = set()  # in _recent, written back, waiting for older lookups to return
        self._writes: set[asyncio.Task[PutResult]] = set()

    def recent(self, key: str) -> CachedObject | None:
        """The thumbnail made here for ``key`` that S3 may not answer for yet."""
        return self._recent.get(key)

    @contextmanager
    def lookup(self, key: str) -> Iterator[None]:
        """Around an S3 lookup of ``key``: a thumbnail written meanwhile is kept until the lookup returns."""
        self._lookups[key] += 1
        try:
            yield
        finally:
            self._lookups[key] -= 1
            if not self._lookups[key]:
                del self._lookups[key]
                if key in self._stored:
                    self._stored.discard(key)
                    self._recent.pop(key, None)

    def start(self, obj: CachedObject, write: Coroutine[Any, Any, PutResult]) -> None:
        """Run ``write`` (the PUT of ``obj``) in the background; answer for ``obj.key`` from here meanwhile."""
        key = obj.key
        task = asyncio.ensure_future(write)
        self._writes.add(task)
        self._recent[key] = obj
        task.add_done_callback(lambda done: self._finished(key, done))

    def _finished(self, key: str, task: asyncio.Task[PutResult]) -> None:
        self._writes.discard(task)
        if self._lookups[key]:
            self._stored.add(key)
        else:
            self._recent.pop(key, None)
        # S3 already held the key (an original named like a thumbnail, created after our lookup): it wins.
        if not task.cancelled() and task.exception() is None and task.result() is PutResult.EXISTS:
            self._on_exists(key)

    @property
    def pending(self) -> int:
        return len(self._writes)

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait for pending write-backs; True if all finished within ``timeout``."""
        if not self._writes:
            return True
        _, pending = await asyncio.wait(set(self._writes), timeout=timeout)
        return not pending
