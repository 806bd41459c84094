"""Counters with a bounded number of keys, for tables whose keys come from clients (log keys, sizes)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any


class TopCounter:
    """Counts per key plus the last time seen, keeping at most ``capacity`` keys (the most counted)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(capacity, 1)
        self.entries: dict[str, list[Any]] = {}  # key -> [count, last time]
        self.dropped = 0

    def add(self, key: str, moment: datetime) -> None:
        entry = self.entries.get(key)
        if entry is None:
            self.entries[key] = [1, moment]
            if len(self.entries) > 2 * self.capacity:
                self._shrink()
        else:
            entry[0] += 1
            if moment > entry[1]:
                entry[1] = moment

    def top(self, count: int) -> list[tuple[str, int]]:
        ranked = sorted(self.entries.items(), key=lambda item: (-item[1][0], item[0]))
        return [(key, entry[0]) for key, entry in ranked[:count]]

    def _shrink(self) -> None:
        kept = sorted(self.entries.items(), key=lambda item: -item[1][0])[: self.capacity]
        self.dropped += len(self.entries) - len(kept)
        self.entries = dict(kept)


class BoundedCounter:
    """A Counter keeping at most ``capacity`` keys (the most counted) once it reaches twice that many."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(capacity, 1)
        self.counts: Counter[str] = Counter()
        self.dropped = 0

    def add(self, key: str) -> None:
        counts = self.counts
        if key in counts:
            counts[key] += 1
            return
        counts[key] = 1
        if len(counts) > 2 * self.capacity:
            kept = counts.most_common(self.capacity)
            self.dropped += len(counts) - len(kept)
            self.counts = Counter(dict(kept))

    def most_common(self, count: int) -> list[tuple[str, int]]:
        return self.counts.most_common(count)

    def total(self) -> int:
        return self.counts.total()
