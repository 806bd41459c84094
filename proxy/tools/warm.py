"""``warm --sizes=200x200,400x0``: make the thumbnails of every original under a prefix before anyone asks.

Per original: one GET, one ``render_many`` (one decode, every size), one conditional PUT per size with the
proxy's own write parameters (``proxy.stored``), so S3 ends up exactly as if the proxy had made
them. Thumbnails that exist are skipped, so an interrupted run is resumed by running it again.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from proxy.config import Config, Scope, option_names
from proxy.errors import BadRequest, Forbidden, ProxyError
from proxy.imaging.render import RenderOptions, render_many
from proxy.imaging.smartcrop import focus_or_warn
from proxy.keys import (
    NEGOTIABLE_EXTENSIONS,
    OUTPUT_FORMATS,
    answered_thumbnail,
    parse_thumbnail,
    variant_key,
    variant_of,
)
from proxy.policy import check_size
from proxy.storage import sqs
from proxy.storage.s3 import Lookup, ObjectStore, PutResult, S3Object
from proxy.stored import WriteParams, focus_text, thumbnail_write
from proxy.tools import bucket as b
from proxy.tools import events, logs
from proxy.tools.counters import BoundedCounter
from proxy.tools.progress import Progress

# What decides how thumbnails look and are stored: warm takes them exactly as serve does.
RENDER_OPTIONS = option_names(Scope.RENDER)
QUEUE_OPTIONS = option_names(Scope.QUEUE)  # for --queue-url


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "warm",
        help="Pre-generate thumbnails of the originals under a prefix.",
        description="Make the given sizes (or the --top sizes most requested in --from-logs) of every original "
        "under --prefix and store them as the proxy would. Existing thumbnails are skipped: run it again to "
        "resume. Rendering options come from the same flags, environment and --config file as serve.",
    )
    parser.add_argument("--sizes", default="", help="Comma-separated sizes: 200x200, 400x0, 300x200_fit, 200x200@2x.")
    parser.add_argument("--prefix", default="", help="Only originals under this key prefix.")
    parser.add_argument("--from-logs", nargs="+", action="extend", metavar="PATH", help="Take sizes from these logs.")
    parser.add_argument("--top", type=b.positive, default=3, help="With --from-logs: how many sizes. Default: 3.")
    parser.add_argument("--concurrency", type=b.positive, default=8, help="Originals in flight at once. Default: 8.")
    parser.add_argument("--dry-run", action="store_true", help="Count what would be made; make nothing.")
    parser.add_argument(  # the flag only, never the config file: a proxy's file with watch's queue-url in it
        "--queue-url",  # must not turn every warm that is given that --config into a queued one
        dest="send_to",  # nor be read as that option
        metavar="URL",
        help="Render nothing here: send one request per original to this SQS queue, for the watch processes.",
    )
    parser.add_argument(
        "--progress-every", type=float, metavar="SECONDS", help="Progress interval (default: 0.1 on a TTY, else 10)."
    )
    b.add_s3_options(parser, *RENDER_OPTIONS, *QUEUE_OPTIONS)
    parser.set_defaults(run=b.guarded(run))


@dataclass
class Summary:
    """What a run did, for the last line and the exit status."""

    originals: int = 0
    complete: int = 0  # every size already there
    warmed: int = 0
    results: Counter[str] = field(default_factory=Counter)  # PutResult values
    failures: list[str] = field(default_factory=list)
    interrupted: bool = False
    seconds: float = 0.0

    def line(self) -> str:
        rate = (self.warmed + self.complete) / self.seconds if self.seconds else 0.0
        text = (
            f"warm: {self.originals} originals: {self.warmed} warmed, {self.complete} already complete, "
            f"{len(self.failures)} failed; thumbnails: {self.results['stored']} stored, "
            f"{self.results['exists']} already there, {self.results['failed']} not stored; "
            f"{self.seconds:.1f}s ({rate:.1f} originals/s)"
        )
        return text + (" — interrupted: run again to resume" if self.interrupted else "")


def parse_sizes(text: str, config: Config, option: str = "--sizes") -> list[str]:
    """Size labels, each checked against the key grammar and serve's size policy (which warm must not bypass);
    ``option`` names the flag in errors."""
    labels: list[str] = []
    for label in (part.strip() for part in text.split(",")):
        if not label:
            continue
        try:
            spec = parse_thumbnail(f"x_{label}.jpg")
        except BadRequest as exc:
            raise b.ToolError(f"{option}: {label!r}: {exc.reason}") from None
        if spec is None or spec.label != label:
            raise b.ToolError(f"{option}: {label!r} is not WxH[_mode][@Nx]")
        try:
            check_size(spec, config.max_dimension, config.allowed_sizes)
        except BadRequest:
            raise b.ToolError(f"{option}: {label} is over --max-dimension {config.max_dimension}") from None
        except Forbidden:
            raise b.ToolError(f"{option}: {label} is not in --allowed-sizes") from None
        if label not in labels:
            labels.append(label)
    return labels


SIZES_KEPT = 10_000  # distinct sizes counted from logs: any number a client typed is a size, so bounded


def sizes_from_logs(paths: list[str], top: int) -> list[str]:
    """The ``top`` most requested thumbnail sizes (hits and misses; errors do not count)."""
    counts = BoundedCounter(SIZES_KEPT)
    for request in logs.requests(paths):
        if request.outcome != logs.ERROR and (named := logs.thumbnail(request.key)) is not None:
            counts.add(named.size)
    return [label for label, _ in counts.most_common(top)]


@dataclass
class _Stem:
    """The listed keys ``<stem>.<ext>`` of one stem, its originals and which of their thumbnails exist."""

    listed: set[str] = field(default_factory=set)
    originals: list[str] = field(default_factory=list)
    thumbnails: set[str] = field(default_factory=set)


def plan(
    listing: Iterable[str],
    prefix: str,
    labels: list[str],
    extensions: tuple[str, ...],
    formats: tuple[str, ...] = (),
) -> Iterator[tuple[str, list[str]]]:
    """(original, thumbnail keys it still lacks) for every original under ``prefix``, from a listing in key
    order (as S3 lists), holding only the stems that are a prefix of the key at hand.

    A key shaped like a thumbnail whose original is listed is a thumbnail; one whose original is not (a camera
    file named ``IMG_1024x768.jpg``) is an original. Every key of a stem ``s`` (``s.jpg``, ``s.png``,
    ``s_200x200.jpg``) starts with ``s``, and keys sharing a prefix are listed together: once a key does not
    start with ``s``, ``s`` is complete. The stems still open are all prefixes of the current key, so memory
    stays small whatever the size of the bucket. With ``formats`` (``--auto-format``), the negotiated variants
    of JPEG and PNG thumbnails (``s_200x200.jpg.avif``) are wanted too; a variant key is never an original.
    """
    open_stems: dict[str, _Stem] = {}
    for key in listing:
        for stem in [stem for stem in open_stems if not key.startswith(stem)]:
            yield from _complete(stem, open_stems.pop(stem), labels, formats)
        stem, dot, ext = key.rpartition(".")
        if not dot or not key.startswith(prefix):
            continue
        variant = variant_of(key)
        own_ext = ext if variant is None else variant[0].ext  # a variant stands with its thumbnail's original
        for other, entry in open_stems.items():  # a thumbnail of an original listed before it?
            if key.startswith(other + "_") and any(
                thumbnail_ext(original) == own_ext for original in entry.originals if original.startswith(other + ".")
            ):
                entry.thumbnails.add(key)
        open_stems.setdefault(stem, _Stem()).listed.add(key)
        if ext.lower() not in extensions or "/" in ext or variant is not None:
            continue
        if not _has_listed_original(key, open_stems, extensions):
            open_stems[stem].originals.append(key)
    for stem in list(open_stems):
        yield from _complete(stem, open_stems.pop(stem), labels, formats)


def _has_listed_original(key: str, open_stems: dict[str, _Stem], extensions: tuple[str, ...]) -> bool:
    """Whether ``key`` is shaped like a thumbnail of a listed key (which, sorting before it, is open)."""
    try:
        spec = parse_thumbnail(key)
    except BadRequest:
        return False
    if spec is None or spec.stem not in open_stems:
        return False
    listed = open_stems[spec.stem].listed
    return any(source in listed for source in spec.source_keys(extensions) if source != key)


def _complete(stem: str, entry: _Stem, labels: list[str], formats: tuple[str, ...]) -> Iterator[tuple[str, list[str]]]:
    for original in entry.originals:
        thumbs = thumbnail_keys(original, labels, formats)
        yield original, [thumb for thumb in thumbs if thumb not in entry.thumbnails]


def thumbnail_keys(original: str, labels: Iterable[str], formats: tuple[str, ...] = ()) -> list[str]:
    """The thumbnails of ``original`` for ``labels`` and, for ``--auto-format``'s ``formats``, the negotiated
    variants of those that are JPEG or PNG."""
    keys: list[str] = []
    for label in labels:
        key = thumbnail_key(original, label)
        keys.append(key)
        if formats and thumbnail_ext(original).lower() in NEGOTIABLE_EXTENSIONS:
            keys += [variant_key(key, fmt) for fmt in formats]
    return keys


def thumbnail_key(original: str, label: str) -> str:
    """The thumbnail of ``original`` in its own format: ``photos/a.jpg``, ``200x200`` -> ``photos/a_200x200.jpg``
    (a HEIC original, which is no output format, in JPEG: ``IMG_1.heic`` -> ``IMG_1_200x200.jpg``)."""
    stem, _, _ = original.rpartition(".")
    return f"{stem}_{label}.{thumbnail_ext(original)}"


def thumbnail_ext(original: str) -> str:
    """The extension warm gives the thumbnails of ``original``: its own, or ``jpg`` where it is not an output."""
    ext = original.rpartition(".")[2]
    return ext if ext.lower() in OUTPUT_FORMATS else "jpg"


class ThumbnailMaker:
    """One GET, one decode for every size (``render_many``), one conditional PUT per size with the proxy's own
    write parameters: how warm and watch make the thumbnails of an original."""

    def __init__(self, config: Config, store: ObjectStore, renders: Executor) -> None:
        self.config = config
        self.store = store
        self.options = RenderOptions.from_config(config)
        self.renders = renders

    async def make(self, key: str, thumbnails: list[str]) -> list[PutResult] | None:
        """The result of each PUT, or None if the original is not there; ProxyError if it cannot be read or
        rendered (then nothing is stored)."""
        original = await self.store.fetch(key, lookup=Lookup.ORIGINAL, max_bytes=self.config.max_source_bytes)
        if original is None:
            return None
        assert isinstance(original, S3Object)  # no stream_over given
        # Each thumbnail once, whether asked for or only needed to weigh its variants against.
        wanted = [(key, answered_thumbnail(key), variant_of(key)) for key in thumbnails]
        bases = list({spec.key: spec for _, spec, _ in wanted if spec is not None}.values())
        variants = [spec.variant(found[1]) for _, spec, found in wanted if spec is not None and found is not None]
        loop = asyncio.get_running_loop()
        focus = focus_or_warn(focus_text(original.info.metadata), key)
        outputs = await loop.run_in_executor(
            self.renders, partial(render_many, focus=focus), original.body, [*bases, *variants], self.options
        )
        made = dict(zip([spec.key for spec in [*bases, *variants]], outputs, strict=True))
        puts = []
        for key, spec, found in wanted:
            if spec is None:
                continue
            thumb = made[key]
            if found is not None and len(thumb.body) >= len(made[spec.key].body):
                thumb = made[spec.key]  # never more bytes than the requested format: the variant key holds that
            puts.append(self.store.put(key, thumb.body, self._write_params(original, thumb.content_type)))
        return await asyncio.gather(*puts)

    def _write_params(self, original: S3Object, content_type: str) -> WriteParams:
        return thumbnail_write(
            content_type=content_type,
            source_key=original.info.key,
            source_etag=original.info.etag,
            cache_control=self.config.thumbnail_cache_control,
            storage_class=self.config.thumbnail_storage_class,
        )


class Warmer:
    """Fetch, render all sizes from one decode, store: ``concurrency`` originals at a time."""

    def __init__(self, config: Config, s3: Any, concurrency: int, progress: Progress, summary: Summary) -> None:
        self.store = ObjectStore(config, client=s3)  # the listing's client: one connection pool for all
        self.renders = ThreadPoolExecutor(config.render_thread_count, thread_name_prefix="warm-render")
        self.maker = ThumbnailMaker(config, self.store, self.renders)
        self.concurrency = concurrency
        self.progress = progress
        self.summary = summary

    async def run(self, work: Iterator[tuple[str, list[str]]]) -> None:
        items = _Items(work)
        workers = [asyncio.ensure_future(self._worker(items)) for _ in range(self.concurrency)]
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            items.close()
            self.renders.shutdown(wait=False, cancel_futures=True)
            self.store.close()

    async def _worker(self, items: _Items) -> None:
        while (item := await items.next()) is not None:  # each item goes to exactly one worker
            original, missing = item
            if missing:
                await self._warm(original, missing)
            else:
                self.summary.complete += 1
            self.progress.advance()

    async def _warm(self, key: str, missing: list[str]) -> None:
        try:
            results = await self.maker.make(key, missing)
            if results is None:
                raise ProxyError("original vanished")
        except ProxyError as exc:
            self.summary.failures.append(f"{key}: {exc.reason}")
            return
        self.summary.results.update(result.value for result in results)
        if PutResult.FAILED in results:
            self.summary.failures.append(f"{key}: {results.count(PutResult.FAILED)} thumbnail(s) not stored")
        else:
            self.summary.warmed += 1


class _Items:
    """The plan, advanced one item at a time in a thread of its own: it lists the bucket page by page (a
    blocking botocore call), which must not stall the event loop the GETs and PUTs are waiting on."""

    def __init__(self, work: Iterator[tuple[str, list[str]]]) -> None:
        self.work = work
        self.lister = ThreadPoolExecutor(1, thread_name_prefix="warm-list")
        self.lock = asyncio.Lock()

    async def next(self) -> tuple[str, list[str]] | None:
        async with self.lock:  # a generator is advanced by one caller at a time
            return await asyncio.get_running_loop().run_in_executor(self.lister, next, self.work, None)

    def close(self) -> None:
        self.lister.shutdown(wait=False, cancel_futures=True)


async def warm(
    config: Config,
    work: Iterator[tuple[str, list[str]]],
    total: int,
    concurrency: int,
    every: float | None,
    s3: Any = None,
) -> Summary:
    """Make the thumbnails of ``work``; ``s3``: the client that lists (its connection pool is shared)."""
    summary = Summary(originals=total)
    progress = Progress("warm", total, every=every)
    started = time.monotonic()
    try:
        await Warmer(config, s3 or b.client(config), concurrency, progress, summary).run(work)
    except asyncio.CancelledError:  # Ctrl-C: asyncio.run cancels us; report what was done
        summary.interrupted = True
    except (ClientError, BotoCoreError) as exc:  # the listing, read as the work goes: what was done stands
        summary.failures.append(f"listing the bucket failed, run again to resume: {exc}")
    progress.close()
    summary.seconds = time.monotonic() - started
    return summary


def run(args: argparse.Namespace) -> int:
    config = b.load_config(args)
    labels = parse_sizes(args.sizes, config)
    if args.from_logs:
        try:
            labels += [label for label in parse_sizes(",".join(sizes_from_logs(args.from_logs, args.top)), config)]
        except OSError as exc:
            raise b.ToolError(str(exc)) from None
        labels = list(dict.fromkeys(labels))
        print(f"sizes: {', '.join(labels) or '(none in the logs)'}", file=sys.stderr)
    if not labels:
        raise b.ToolError("no sizes: give --sizes and/or --from-logs")
    # Enough pooled connections for every PUT of every original in flight, plus their GETs.
    config = dataclasses.replace(config, io_threads=max(config.io_threads, args.concurrency * (len(labels) + 1)))
    s3 = b.client(config)
    b.require_bucket(s3, config.bucket)

    def work() -> Iterator[tuple[str, list[str]]]:
        listing = (obj["Key"] for obj in b.list_objects(s3, config.bucket, args.prefix))
        return plan(listing, args.prefix, labels, config.source_extensions, config.auto_format)

    # A first pass counts the originals for the progress bar (the listing again: nothing of it is kept).
    originals = todo = missing = 0
    for _, thumbs in work():
        originals, todo, missing = originals + 1, todo + bool(thumbs), missing + len(thumbs)
    if args.dry_run:
        lacking = f"{todo} lacking some of {', '.join(labels)}"
        queued = f" ({todo} requests to {args.send_to})" if args.send_to else ""
        print(f"warm (dry run): {originals} originals, {lacking}: would make {missing}{queued}")
        return 0
    if args.send_to:
        return enqueue(config, args.send_to, work(), labels, originals, args.progress_every)
    summary = asyncio.run(warm(config, work(), originals, args.concurrency, args.progress_every, s3))
    for failure in summary.failures[:20]:
        print(f"failed: {failure}")
    if len(summary.failures) > 20:
        print(f"... and {len(summary.failures) - 20} more failures")
    print(summary.line())
    if summary.interrupted:
        return 130
    return 1 if summary.failures else 0


@dataclass
class QueueSummary:
    """What ``warm --queue-url`` sent, for the last line and the exit status."""

    originals: int = 0
    complete: int = 0
    queued: int = 0
    thumbnails: int = 0
    failures: list[str] = field(default_factory=list)
    interrupted: bool = False
    seconds: float = 0.0

    def line(self) -> str:
        rate = (self.queued + self.complete) / self.seconds if self.seconds else 0.0
        text = (
            f"warm: {self.originals} originals: {self.queued} queued, {self.complete} already complete, "
            f"{len(self.failures)} not queued; thumbnails: {self.thumbnails} for the watchers to make; "
            f"{self.seconds:.1f}s ({rate:.1f} originals/s)"
        )
        return text + (" — interrupted: run again to resume" if self.interrupted else "")


def enqueue(
    config: Config,
    queue_url: str,
    work: Iterator[tuple[str, list[str]]],
    labels: list[str],
    total: int,
    every: float | None,
) -> int:
    """Send one warm request per original lacking a size, 10 per SendMessageBatch, instead of rendering: the
    watch processes on the queue each make their share. Sending again is harmless (conditional writes)."""
    queue = sqs.open_queue(config, queue_url)
    summary = QueueSummary(originals=total)
    progress = Progress("warm: queueing", total, every=every)
    started = time.monotonic()
    batch: list[tuple[str, str]] = []  # (original, message body)

    def send() -> None:
        refused = queue.send_batch([body for _, body in batch])
        summary.failures += [f"{batch[i][0]}: {reason}" for i, reason in refused.items()]
        summary.queued += len(batch) - len(refused)
        progress.advance(len(batch))
        batch.clear()

    try:
        for original, missing in work:
            if not missing:
                summary.complete += 1
                progress.advance()
                continue
            sizes = [label for label in labels if thumbnail_key(original, label) in missing]
            summary.thumbnails += len(sizes)
            batch.append((original, events.warm_message(original, sizes)))
            if len(batch) == sqs.BATCH:
                send()
        if batch:
            send()
    except KeyboardInterrupt:
        summary.interrupted = True
    except ProxyError as exc:
        summary.failures.append(f"sending to the queue failed, run again to resume: {exc.reason}")
    except (ClientError, BotoCoreError) as exc:
        summary.failures.append(f"listing the bucket failed, run again to resume: {exc}")
    finally:
        queue.close()
    progress.close()
    summary.seconds = time.monotonic() - started
    for failure in summary.failures[:20]:
        print(f"failed: {failure}")
    print(summary.line())
    if summary.interrupted:
        return 130
    return 1 if summary.failures else 0
