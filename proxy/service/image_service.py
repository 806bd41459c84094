"""The request path, top to bottom: key -> memory -> S3 -> (miss) original -> render -> reply -> store back.

``ImageService.get`` is everything a GET or HEAD does apart from speaking HTTP. It raises ``ProxyError``s;
the handler maps them to statuses.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from enum import Enum
from typing import Any

from proxy import signing
from proxy.config import Config
from proxy.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    RenderTimeout,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from proxy.imaging.pool import RenderPool
from proxy.imaging.render import Rendered, RenderOptions, render
from proxy.keys import ThumbnailSpec, check_key, parse_thumbnail
from proxy.service.cache import CachedObject, MemoryCache, NegativeCache, OriginalsCache
from proxy.service.ranges import ByteRange
from proxy.service.singleflight import SingleFlight
from proxy.storage.s3 import NOT_MODIFIED, Lookup, ObjectInfo, ObjectStore, PutResult, S3Object, Stream, metadata_key

log = logging.getLogger(__name__)

GENERATOR = "s3-resize-proxy"
THUMBNAIL_TAGGING = "thumbnail=true"


class Source(Enum):
    """Where a reply came from (the cache result in logs and metrics)."""

    MEMORY = "memory"
    S3 = "s3"
    RENDERED = "rendered"


@dataclass(frozen=True)
class Reply:
    """What to answer: either a body in memory or a stream from S3, with its headers."""

    content_type: str
    etag: str
    last_modified: datetime
    cache_control: str | None
    size: int
    source: Source
    body: bytes | None = None
    stream: Stream | None = None
    timings: dict[str, float] = field(default_factory=dict)  # phase -> seconds, when S3 or a render was involved
    content_range: str | None = None  # a 206: ``bytes a-b/total``; ``body``/``stream`` then hold that part

    @classmethod
    def cached(cls, obj: CachedObject, source: Source, timings: dict[str, float] | None = None) -> Reply:
        return cls(
            content_type=obj.content_type,
            etag=obj.etag,
            last_modified=obj.last_modified,
            cache_control=obj.cache_control,
            size=len(obj.body),
            source=source,
            body=obj.body,
            timings=timings or {},
        )


@dataclass(frozen=True)
class _Made:
    """A freshly rendered thumbnail and how long each phase took."""

    obj: CachedObject
    timings: dict[str, float]


class ImageService:
    """Serves one bucket: objects as they are, thumbnails made on a miss and stored back."""

    def __init__(
        self, config: Config, store: ObjectStore | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config
        self.store = store or ObjectStore(config)
        self.clock = clock  # what the TTLs count in (tests pass a fake one); timings use time.monotonic()
        self.memory = MemoryCache(config.cache_mb * 1024 * 1024, config.memory_ttl, clock)
        self.missing = NegativeCache(config.negative_ttl, clock=clock)
        self.renders = RenderPool(config.render_workers, config.render_queue)
        self.render_options = RenderOptions.from_config(config)
        self.originals = OriginalsCache(config.originals_cache_mb * 1024 * 1024, config.originals_ttl, clock)
        self._flights: SingleFlight[_Made] = SingleFlight()
        self._original_flights: SingleFlight[S3Object | None] = SingleFlight()
        self._revalidations: SingleFlight[CachedObject | None] = SingleFlight()
        self._recent: dict[str, CachedObject] = {}  # rendered, write-back not finished yet
        self._lookups: Counter[str] = Counter()  # S3 lookups on their way, per key
        self._stored: set[str] = set()  # in _recent, written back, waiting for older lookups to return
        self._writes: set[asyncio.Task[PutResult]] = set()

    # ---- the request path -------------------------------------------------------------------------------

    async def get(
        self,
        key: str,
        signature: str | None = None,
        *,
        byte_range: ByteRange | None = None,
        if_range: str | None = None,
    ) -> Reply:
        """Answer for ``key``: the object if it exists, else the thumbnail it names (made now).

        A ``byte_range`` is served from memory when the object is there, else passed to S3; a thumbnail made
        now is always sent whole. ``if_range`` (an ETag or HTTP date) drops the range unless it still matches.
        """
        check_key(key)
        self._check_signature(key, signature)
        cached = self._recent.get(key) or self.memory.get(key)
        timings: dict[str, float] = {}
        stale_etag = None
        if cached is not None and not self.memory.is_fresh(cached) and key not in self._recent:
            stale_etag = cached.etag
            cached = await self._revalidate(cached, timings)
        if cached is not None:
            source = Source.MEMORY if "s3" not in timings or cached.etag == stale_etag else Source.S3
            return _ranged(Reply.cached(cached, source, timings), byte_range, if_range)
        if key in self.missing:
            raise NotFound("not found")
        started = time.monotonic()
        self._lookups[key] += 1
        try:
            found = await self.store.fetch(
                key,
                lookup=Lookup.REQUESTED,
                stream_over=self.config.stream_threshold_bytes,
                byte_range=byte_range.header if byte_range is not None and if_range is None else None,
            )
            # Made while our lookup was on its way? S3 just did not have it yet: answer it, no second render.
            recent = self._recent.get(key) if found is None else None
        finally:
            self._lookup_done(key)
        timings["s3"] = time.monotonic() - started
        assert found is not NOT_MODIFIED  # not a conditional GET
        if isinstance(found, Stream):
            return _from_s3(found.info, timings, stream=found)
        if isinstance(found, S3Object):
            if found.info.content_range is not None:
                return _from_s3(found.info, timings, body=found.body)
            return _ranged(Reply.cached(self._remember(found), Source.S3, timings), byte_range, if_range)
        if recent is not None:
            return Reply.cached(recent, Source.MEMORY, timings)
        return await self._thumbnail(key, timings, signed=signature is not None)

    def _check_signature(self, key: str, signature: str | None) -> None:
        """A signature that is given must be valid, checked before any S3 call; one is needed for every key
        with --sign-originals, else only to make a thumbnail (existing objects are served unsigned)."""
        if self.config.signing_key and (signature is not None or self.config.sign_originals):
            signing.check(key, signature, self.config.signing_key)

    async def _revalidate(self, cached: CachedObject, timings: dict[str, float]) -> CachedObject | None:
        """Ask S3 whether a stale memory entry changed (conditional GET); None if it is gone or now large."""
        started = time.monotonic()
        try:
            return await self._revalidations.run(cached.key, lambda: self._conditional_get(cached))
        except (UpstreamError, UpstreamTimeout, UpstreamUnavailable) as exc:
            # S3 trouble: the copy we hold is still the best answer (stale-if-error).
            log.warning("revalidation of %s failed (%s): serving the cached copy", cached.key, exc.reason)
            return cached
        finally:
            timings["s3"] = time.monotonic() - started

    async def _conditional_get(self, cached: CachedObject) -> CachedObject | None:
        found = await self.store.fetch(
            cached.key,
            lookup=Lookup.REQUESTED,
            stream_over=self.config.stream_threshold_bytes,
            if_none_match=cached.etag,
        )
        if found is NOT_MODIFIED:
            confirmed = replace(cached, fetched_at=self.clock())
            self.memory.put(confirmed)
            return confirmed
        self.memory.discard(cached.key)
        if isinstance(found, Stream):
            found.close()  # now too large to keep: the request path streams it
            return None
        return self._remember(found) if isinstance(found, S3Object) else None

    async def _thumbnail(self, key: str, timings: dict[str, float], *, signed: bool) -> Reply:
        spec = parse_thumbnail(key)
        if spec is None:
            self.missing.add(key)
            raise NotFound("not found")
        if self.config.signing_key and not signed:
            raise Forbidden("missing signature")
        self._check_policy(spec)
        made_meanwhile = self.memory.get(key)
        if made_meanwhile is not None:
            return Reply.cached(made_meanwhile, Source.MEMORY, timings)
        made = await self._flights.run(key, lambda: self._make(spec))
        timings["s3"] = timings.get("s3", 0.0) + made.timings["s3"]
        timings["render"] = made.timings["render"]
        return Reply.cached(made.obj, Source.RENDERED, timings)

    def _check_policy(self, spec: ThumbnailSpec) -> None:
        """Size policy: a size over the maximum is malformed (400); one outside the presets is refused (403)."""
        limit = self.config.max_dimension
        if spec.target_width > limit or spec.target_height > limit:
            raise BadRequest(f"size over the maximum of {limit} pixels")
        if self.config.allowed_sizes and spec.size not in self.config.allowed_sizes:
            raise Forbidden("size not allowed")

    async def _make(self, spec: ThumbnailSpec) -> _Made:
        """Fetch the original, render, remember, and start the write-back (which the reply does not wait for)."""
        started = time.monotonic()
        ticket = self.renders.admit()  # a full render queue refuses (503) before the original is fetched
        try:
            async with asyncio.timeout(self.config.render_timeout):
                original = await self._original(spec)
                fetched = time.monotonic()
                rendered = await ticket.run(render, original.body, spec, self.render_options)
        except TimeoutError:
            raise RenderTimeout("thumbnail took too long to make") from None
        finally:
            ticket.release()
        done = time.monotonic()
        obj = CachedObject(
            key=spec.key,
            body=rendered.body,
            content_type=rendered.content_type,
            etag='"' + hashlib.md5(rendered.body).hexdigest() + '"',  # what S3 will give the stored copy
            last_modified=datetime.now(UTC).replace(microsecond=0),
            cache_control=self.config.thumbnail_cache_control,
            fetched_at=self.clock(),
        )
        self.memory.put(obj)
        if self.config.write_back:
            self._start_write_back(spec, original, rendered, obj)
        return _Made(obj, {"s3": fetched - started, "render": done - fetched})

    async def _original(self, spec: ThumbnailSpec) -> S3Object:
        """The first existing candidate original, read whole (within the source size limit)."""
        for key in spec.source_keys(self.config.source_extensions):
            found = self.originals.get(key) or await self._original_flights.run(key, lambda k=key: self._fetch(k))
            if found is not None:
                return found
        self.missing.add(spec.key)
        raise NotFound("original not found")

    async def _fetch(self, key: str) -> S3Object | None:
        """One GET of an original, shared by every size asked for meanwhile and kept briefly for later ones."""
        found = await self.store.fetch(key, lookup=Lookup.ORIGINAL, max_bytes=self.config.max_source_bytes)
        assert found is None or isinstance(found, S3Object)  # neither streamed nor conditional
        if found is not None:
            self.originals.put(found)
        return found

    def _remember(self, found: S3Object) -> CachedObject:
        info = found.info
        obj = CachedObject(
            key=info.key,
            body=found.body,
            content_type=info.content_type,
            etag=info.etag,
            last_modified=info.last_modified,
            cache_control=info.cache_control,
            fetched_at=self.clock(),
        )
        self.memory.put(obj)
        return obj

    # ---- write-back ---------------------------------------------------------------------------------------

    def _start_write_back(self, spec: ThumbnailSpec, original: S3Object, rendered: Rendered, obj: CachedObject) -> None:
        task = asyncio.ensure_future(
            self.store.put(spec.key, rendered.body, **thumbnail_put_args(self.config, original.info, rendered))
        )
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)
        # Until S3 holds it, answer from here: a request whose S3 lookup missed while this render ran must
        # not start a second render (whatever the memory cache's size).
        self._recent[spec.key] = obj
        task.add_done_callback(lambda _: self._forget_recent(spec.key))
        task.add_done_callback(lambda done: self._written(spec.key, done))

    def _forget_recent(self, key: str) -> None:
        """Write-back done: S3 now answers for ``key``, except to lookups sent before (they keep it)."""
        if self._lookups[key]:
            self._stored.add(key)
        else:
            self._recent.pop(key, None)

    def _lookup_done(self, key: str) -> None:
        self._lookups[key] -= 1
        if not self._lookups[key]:
            del self._lookups[key]
            if key in self._stored:
                self._stored.discard(key)
                self._recent.pop(key, None)

    def _written(self, key: str, task: asyncio.Task[PutResult]) -> None:
        """S3 already held ``key`` (an original named like a thumbnail, created after our lookup): it wins, so
        forget our render and serve what S3 holds from the next request on."""
        if not task.cancelled() and task.exception() is None and task.result() is PutResult.EXISTS:
            self.memory.discard(key)

    @property
    def pending_writes(self) -> int:
        return len(self._writes)

    async def drain_writes(self, timeout: float | None = None) -> bool:
        """Wait for pending write-backs; True if all finished within ``timeout``."""
        if not self._writes:
            return True
        _, pending = await asyncio.wait(set(self._writes), timeout=timeout)
        return not pending

    def close(self) -> None:
        self.renders.close()
        self.store.close()


def thumbnail_put_args(config: Config, source: ObjectInfo, rendered: Rendered) -> dict[str, Any]:
    """How a thumbnail is stored (``ObjectStore.put`` keywords): shared by the write-back and ``warm``."""
    return {
        "content_type": rendered.content_type,
        "cache_control": config.thumbnail_cache_control,
        "storage_class": config.thumbnail_storage_class,
        "metadata": {
            "generator": GENERATOR,
            "source-key": metadata_key(source.key),
            "source-etag": source.etag.strip('"'),
        },
        "tagging": THUMBNAIL_TAGGING,
    }


def _from_s3(
    info: ObjectInfo, timings: dict[str, float], *, body: bytes | None = None, stream: Stream | None = None
) -> Reply:
    """An S3 answer passed on as it is, not cached: a large object as a stream, or a 206 part in memory."""
    return Reply(
        content_type=info.content_type,
        etag=info.etag,
        last_modified=info.last_modified,
        cache_control=info.cache_control,
        size=info.size if body is None else len(body),
        source=Source.S3,
        body=body,
        stream=stream,
        timings=timings,
        content_range=info.content_range,
    )


def _ranged(reply: Reply, byte_range: ByteRange | None, if_range: str | None) -> Reply:
    """Cut a whole in-memory reply down to ``byte_range`` (206), unless If-Range says the client's copy is old."""
    if byte_range is None or reply.body is None or not _if_range_holds(reply, if_range):
        return reply
    first, last = byte_range.resolve(reply.size)
    return replace(
        reply,
        body=reply.body[first : last + 1],
        size=last - first + 1,
        content_range=f"bytes {first}-{last}/{reply.size}",
    )


def _if_range_holds(reply: Reply, if_range: str | None) -> bool:
    if if_range is None:
        return True
    if if_range.startswith('"'):
        return if_range == reply.etag  # strong comparison (RFC 9110 13.1.5)
    return if_range == format_datetime(reply.last_modified.astimezone(UTC), usegmt=True)
