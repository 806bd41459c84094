"""The in-memory caches (proxy/service/cache.py): byte bounds with ENTRY_OVERHEAD, and TTLs on an injected clock."""

from __future__ import annotations

import weakref
from datetime import UTC, datetime

from proxy.service.cache import ENTRY_OVERHEAD, CachedObject, MemoryCache, NegativeCache, OriginalsCache
from proxy.storage.s3 import ObjectInfo, S3Object
from tests.harness import FakeClock

WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def cached(key: str, size: int, fetched_at: float = 0.0) -> CachedObject:
    return CachedObject(key, b"x" * size, "image/jpeg", f'"{key}"', WHEN, None, fetched_at)


def original(key: str, size: int) -> S3Object:
    return S3Object(ObjectInfo(key, size, "image/jpeg", f'"{key}"', WHEN), b"x" * size)


# ---- MemoryCache ------------------------------------------------------------------------------------------


def test_memory_cache_is_bounded_by_bytes_and_evicts_the_least_recently_used():
    memory = MemoryCache(3 * (100 + ENTRY_OVERHEAD), ttl=60)
    for key in ("a", "b", "c"):
        memory.put(cached(key, 100))
    assert memory.bytes_used == 3 * (100 + ENTRY_OVERHEAD)
    assert memory.get("a") is not None  # now the most recently used
    memory.put(cached("d", 100))
    assert [key for key in "abcd" if memory.get(key) is not None] == ["a", "c", "d"]
    assert memory.bytes_used == 3 * (100 + ENTRY_OVERHEAD)


def test_every_entry_costs_entry_overhead_so_empty_bodies_are_bounded_too():
    memory = MemoryCache(10 * ENTRY_OVERHEAD, ttl=60)
    for i in range(25):
        memory.put(cached(f"empty-{i}", 0))
    assert sum(memory.get(f"empty-{i}") is not None for i in range(25)) == 10
    assert memory.bytes_used == 10 * ENTRY_OVERHEAD


def test_an_object_over_the_whole_budget_is_not_kept_and_evicts_nothing():
    memory = MemoryCache(1000 + ENTRY_OVERHEAD, ttl=60)
    memory.put(cached("small", 10))
    memory.put(cached("exactly", 1000 - 10 - ENTRY_OVERHEAD))  # fills the rest: both fit
    assert memory.get("small") is not None and memory.get("exactly") is not None
    memory.put(cached("big", 1001))
    assert memory.get("big") is None
    assert memory.get("small") is not None and memory.get("exactly") is not None


def test_a_memory_cache_of_zero_bytes_holds_nothing():
    memory = MemoryCache(0, ttl=60)
    memory.put(cached("a", 1))
    assert memory.get("a") is None and memory.bytes_used == 0


def test_discard_frees_the_entry_and_its_bytes():
    memory = MemoryCache(10_000, ttl=60)
    memory.put(cached("a", 100))
    memory.put(cached("b", 200))
    memory.discard("a")
    memory.discard("never-there")
    assert memory.get("a") is None and memory.get("b") is not None
    assert memory.bytes_used == 200 + ENTRY_OVERHEAD


def test_an_entry_is_fresh_for_ttl_seconds_of_the_clock_then_stale_but_still_held():
    clock = FakeClock()
    memory = MemoryCache(10_000, ttl=60, clock=clock)
    obj = cached("a", 10, fetched_at=clock())
    memory.put(obj)
    clock.advance(59.9)
    assert memory.is_fresh(obj)
    clock.advance(0.1)
    assert not memory.is_fresh(obj)  # exactly ttl old: revalidate
    assert memory.get("a") is obj  # stale entries stay: their ETag is what the conditional GET sends
    assert memory.is_fresh(cached("a", 10, fetched_at=clock()))  # confirmed again by S3 now


# ---- OriginalsCache ---------------------------------------------------------------------------------------


def test_originals_are_kept_for_ttl_seconds_of_the_clock():
    clock = FakeClock()
    originals = OriginalsCache(10_000, ttl=30, clock=clock)
    obj = original("a.jpg", 100)
    originals.put(obj)
    clock.advance(29.9)
    assert originals.get("a.jpg") is obj
    clock.advance(0.1)
    assert originals.get("a.jpg") is None


def test_expired_originals_are_released_at_the_next_lookup_of_any_key():
    clock = FakeClock()
    originals = OriginalsCache(10_000, ttl=30, clock=clock)
    originals.put(original("a.jpg", 100))
    held = weakref.ref(originals.get("a.jpg"))  # type: ignore[arg-type]
    assert held() is not None
    clock.advance(30)
    assert originals.get("other.jpg") is None
    assert held() is None  # the body is gone, not waiting for the next insert


def test_originals_are_bounded_by_bytes_with_entry_overhead():
    originals = OriginalsCache(2 * (100 + ENTRY_OVERHEAD), ttl=30, clock=FakeClock())
    for key in ("a.jpg", "b.jpg", "c.jpg"):
        originals.put(original(key, 100))
    assert [key for key in ("a.jpg", "b.jpg", "c.jpg") if originals.get(key) is not None] == ["b.jpg", "c.jpg"]
    originals.put(original("huge.jpg", 2 * 100 + ENTRY_OVERHEAD + 1))  # with its overhead: 1 byte over
    assert originals.get("huge.jpg") is None
    assert originals.get("b.jpg") is not None and originals.get("c.jpg") is not None


def test_an_originals_cache_without_bytes_or_ttl_holds_nothing():
    for originals in (OriginalsCache(0, ttl=30), OriginalsCache(10_000, ttl=0)):
        originals.put(original("a.jpg", 1))
        assert originals.get("a.jpg") is None


# ---- NegativeCache ----------------------------------------------------------------------------------------


def test_a_missing_key_is_remembered_for_ttl_seconds_of_the_clock():
    clock = FakeClock()
    missing = NegativeCache(ttl=5, clock=clock)
    missing.add("gone.jpg")
    clock.advance(4.9)
    assert "gone.jpg" in missing and "other.jpg" not in missing
    clock.advance(0.1)
    assert "gone.jpg" not in missing


def test_the_negative_cache_is_bounded_in_entries():
    missing = NegativeCache(ttl=5, max_entries=3, clock=FakeClock())
    for key in ("a", "b", "c", "d"):
        missing.add(key)
    assert [key for key in "abcd" if key in missing] == ["b", "c", "d"]


def test_a_negative_ttl_of_zero_remembers_nothing():
    missing = NegativeCache(ttl=0)
    missing.add("gone.jpg")
    assert "gone.jpg" not in missing
