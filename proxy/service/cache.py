"""In-memory caches, all owned by the event loop thread: hot objects (byte-bounded LRU), recently fetched
originals (byte-bounded, short-lived) and recent 404s."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from cachetools import LRUCache, TTLCache

from proxy.storage.s3 import S3Object

# Per-entry bookkeeping (key, headers, dataclass) counted against the byte budget so tiny objects still cost.
ENTRY_OVERHEAD = 512


@dataclass(frozen=True)
class CachedObject:
    """An object body with the headers needed to answer for it."""

    key: str
    body: bytes
    content_type: str
    etag: str
    last_modified: datetime
    cache_control: str | None
    fetched_at: float  # the service's clock when S3 last confirmed it
    generated: bool = False  # a thumbnail we made (rendered here, or stored with our metadata)
    variant: bool = False  # a negotiated variant in another format than its key's thumbnail asks for
    # What callers derive once per entry rather than on every hit (the HTTP layer's response headers). Not an
    # init field: a ``replace()``d copy (a revalidation) starts empty.
    prepared: dict[str, object] = field(default_factory=dict, init=False, compare=False, repr=False)


class MemoryCache:
    """LRU of objects bounded by total bytes; entries older than ``ttl`` are reported stale for revalidation."""

    def __init__(self, max_bytes: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._lru: LRUCache[str, CachedObject] | None = (
            LRUCache(maxsize=max_bytes, getsizeof=lambda obj: len(obj.body) + ENTRY_OVERHEAD) if max_bytes else None
        )

    def get(self, key: str) -> CachedObject | None:
        return self._lru.get(key) if self._lru is not None else None

    def is_fresh(self, obj: CachedObject) -> bool:
        return self._clock() - obj.fetched_at < self.ttl

    def put(self, obj: CachedObject) -> None:
        if self._lru is None or len(obj.body) + ENTRY_OVERHEAD > self._lru.maxsize:
            return
        self._lru[obj.key] = obj

    def discard(self, key: str) -> None:
        if self._lru is not None:
            self._lru.pop(key, None)

    @property
    def bytes_used(self) -> int:
        return int(self._lru.currsize) if self._lru is not None else 0


class OriginalsCache:
    """Originals kept for ``ttl`` seconds after their GET, so that further sizes of a new image cost no GET."""

    def __init__(self, max_bytes: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._lru: TTLCache[str, S3Object] | None = (
            TTLCache(maxsize=max_bytes, ttl=ttl, timer=clock, getsizeof=lambda obj: len(obj.body) + ENTRY_OVERHEAD)
            if max_bytes and ttl > 0
            else None
        )

    def get(self, key: str) -> S3Object | None:
        if self._lru is None:
            return None
        self._lru.expire()  # release expired bodies now, not at the next insert
        return self._lru.get(key)

    def put(self, obj: S3Object) -> None:
        if self._lru is None or len(obj.body) + ENTRY_OVERHEAD > self._lru.maxsize:
            return
        self._lru[obj.info.key] = obj


class NegativeCache:
    """Keys recently found missing (404), remembered for a few seconds only."""

    def __init__(self, ttl: float, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._seen: TTLCache[str, bool] | None = (
            TTLCache(maxsize=max_entries, ttl=ttl, timer=clock) if ttl > 0 else None
        )

    def __contains__(self, key: str) -> bool:
        return self._seen is not None and key in self._seen

    def add(self, key: str) -> None:
        if self._seen is not None:
            self._seen[key] = True
