"""``analyze-logs PATH...``: what is requested, how often S3/memory answer, and what nobody asks for any more.

Streams the logs once. Memory is bounded whatever the number of lines: per-key and per-size tables keep the
``--max-keys`` most requested entries whenever they reach twice that (the report says when it had to drop
some and counts are then lower bounds), the other tables are small by nature.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from proxy.tools import bucket as b
from proxy.tools import logs
from proxy.tools.counters import BoundedCounter, TopCounter
from proxy.tools.progress import Progress

_ORIGINAL = {outcome: "original " + outcome for outcome in (logs.HIT, logs.MISS, logs.ERROR)}
AGE_BUCKETS = ((1, "1 day"), (7, "7 days"), (30, "30 days"), (90, "90 days"), (365, "1 year"))


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "analyze-logs",
        help="Report sizes, hit ratio and thumbnail usage from access logs.",
        description="Read S3 server access logs and the proxy's access log (auto-detected per line; gzip "
        "accepted; directories walked) and report the most requested sizes, the hit/miss ratio, thumbnails "
        "by last access and the originals with the most thumbnail traffic.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="Log files or directories.")
    parser.add_argument("--json", action="store_true", help="One JSON document on stdout instead of text.")
    parser.add_argument("--top", type=b.positive, default=10, help="Rows per ranking. Default: 10.")
    parser.add_argument(
        "--max-keys", type=b.positive, default=100_000, help="Per-key entries kept in memory. Default: 100000."
    )
    parser.add_argument("--now", metavar="ISO8601", help="Reference for ages. Default: the newest log line.")
    parser.set_defaults(run=b.guarded(run))


@dataclass
class Report:
    """Everything counted in one pass."""

    capacity: int
    outcomes: Counter[str] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    formats: Counter[str] = field(default_factory=Counter)  # formats sent for thumbnails (negotiated ones too)
    sizes_by_ext: dict[str, BoundedCounter] = field(default_factory=dict)  # at most one per output format
    first: datetime | None = None
    last: datetime | None = None
    sizes: BoundedCounter = field(init=False)  # sizes are any numbers a client asked for: bounded too
    thumbnails: TopCounter = field(init=False)
    originals: TopCounter = field(init=False)

    def __post_init__(self) -> None:
        self.sizes = BoundedCounter(self.capacity)
        self.thumbnails = TopCounter(self.capacity)
        self.originals = TopCounter(self.capacity)

    def add(self, request: logs.Request) -> None:
        time, key, outcome = request.time, request.key, request.outcome
        self.sources[request.source] += 1
        if self.first is None or time < self.first:
            self.first = time
        if self.last is None or time > self.last:
            self.last = time
        thumb, sent = logs.thumbnail(key), request.sent_format
        if thumb is None and (named := logs.variant(key)) is not None:
            (thumb, sent), key = named, key.rpartition(".")[0]  # counted as the thumbnail it answers for
        if thumb is None:
            self.outcomes[_ORIGINAL[outcome]] += 1
            return
        self.outcomes[outcome] += 1
        if outcome == logs.ERROR:
            return
        self.formats[sent or thumb.ext] += 1
        self.sizes.add(thumb.size)
        by_ext = self.sizes_by_ext.get(thumb.ext)
        if by_ext is None:
            by_ext = self.sizes_by_ext[thumb.ext] = BoundedCounter(self.capacity)
        by_ext.add(thumb.size)
        self.thumbnails.add(key, time)
        self.originals.add(thumb.stem, time)

    @property
    def approximate(self) -> bool:
        """Whether a per-key table had to drop keys: its counts are then lower bounds."""
        tables = [self.sizes, self.thumbnails, self.originals, *self.sizes_by_ext.values()]
        return any(table.dropped for table in tables)


def analyze(paths: list[str], capacity: int, stats: logs.ReadStats) -> Report:
    report = Report(capacity)
    progress = Progress("lines read")
    counted = 0
    for request in logs.requests(paths, stats):
        report.add(request)
        if stats.lines - counted >= 10_000:
            progress.advance(stats.lines - counted)
            counted = stats.lines
    progress.advance(stats.lines - counted)
    progress.close()
    return report


def summary(report: Report, stats: logs.ReadStats, now: datetime, top: int) -> dict[str, Any]:
    hits, misses = report.outcomes[logs.HIT], report.outcomes[logs.MISS]
    ages = Counter[str]()
    for _count, last in report.thumbnails.entries.values():
        days = (now - last).total_seconds() / 86400
        label = next((f"within {name}" for limit, name in AGE_BUCKETS if days <= limit), "older than 1 year")
        ages[label] += 1
    stalest = sorted(report.thumbnails.entries.items(), key=lambda item: (item[1][1], item[0]))[:top]
    return {
        "read": vars(stats),
        "period": {"first": _iso(report.first), "last": _iso(report.last), "reference": _iso(now)},
        "requests": dict(report.sources),
        "thumbnail_requests": {
            "hits": hits,
            "misses": misses,
            "errors": report.outcomes[logs.ERROR],
            "hit_ratio": round(hits / (hits + misses), 4) if hits + misses else None,
        },
        "original_requests": {
            name.removeprefix("original "): count
            for name, count in report.outcomes.items()
            if name.startswith("original ")
        },
        "formats_sent": dict(report.formats.most_common()),
        "sizes": [{"size": size, "requests": count} for size, count in report.sizes.most_common(top)],
        "sizes_by_extension": {
            ext: [{"size": size, "requests": count} for size, count in counter.most_common(top)]
            for ext, counter in sorted(report.sizes_by_ext.items(), key=lambda item: -item[1].total())
        },
        "thumbnails_by_last_access": {
            "distinct": len(report.thumbnails.entries),
            "ages": [
                {"last_access": label, "thumbnails": ages[label]}
                for label in [f"within {name}" for _, name in AGE_BUCKETS] + ["older than 1 year"]
            ],
            "least_recent": [
                {"key": key, "last_access": _iso(entry[1]), "requests": entry[0]} for key, entry in stalest
            ],
        },
        "originals": [{"stem": stem, "thumbnail_requests": count} for stem, count in report.originals.top(top)],
        "approximate": report.approximate,
    }


def run(args: argparse.Namespace) -> int:
    try:
        given = logs.reference_time(args.now) if args.now else None
    except ValueError as exc:
        raise b.ToolError(str(exc)) from None
    stats = logs.ReadStats()
    try:
        report = analyze(args.paths, args.max_keys, stats)
    except OSError as exc:
        raise b.ToolError(str(exc)) from None
    now = given or report.last or datetime.now(UTC)
    result = summary(report, stats, now, args.top)
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
    else:
        print(render_text(result))
    return 0


def render_text(result: dict[str, Any]) -> str:
    read, period, thumbs = result["read"], result["period"], result["thumbnail_requests"]
    ratio = "n/a" if thumbs["hit_ratio"] is None else f"{thumbs['hit_ratio']:.1%}"
    lines = [
        f"Read {read['lines']} lines in {read['files']} file(s): {read['proxy_lines']} proxy, {read['s3_lines']} S3, "
        f"{read['skipped']} unrecognised; period {period['first']} .. {period['last']}",
        f"Thumbnail requests: {thumbs['hits']} hits, {thumbs['misses']} misses (made), {thumbs['errors']} errors; "
        f"hit ratio {ratio}",
        "Formats sent: " + (", ".join(f"{fmt} {count}" for fmt, count in result["formats_sent"].items()) or "-"),
        "",
        "Most requested sizes:",
        *[f"  {row['requests']:>10}  {row['size']}" for row in result["sizes"]],
    ]
    for ext, rows in result["sizes_by_extension"].items():
        lines += [f"  .{ext}:", *[f"    {row['requests']:>10}  {row['size']}" for row in rows]]
    by_access = result["thumbnails_by_last_access"]
    lines += ["", f"Thumbnails by last access ({by_access['distinct']} distinct, ages from {period['reference']}):"]
    lines += [f"  {row['thumbnails']:>10}  {row['last_access']}" for row in by_access["ages"]]
    lines += ["  least recently requested:"]
    lines += [f"    {row['last_access']}  {row['key']} ({row['requests']})" for row in by_access["least_recent"]]
    lines += ["", "Originals with the most thumbnail traffic (by stem):"]
    lines += [f"  {row['thumbnail_requests']:>10}  {row['stem']}" for row in result["originals"]]
    if result["approximate"]:
        lines += ["", "Note: more distinct keys than --max-keys: per-key figures are lower bounds."]
    return "\n".join(lines)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
