"""The request path, top to bottom: key -> memory -> S3 -> (miss) original -> render -> reply -> store back.

``ImageService.get`` is everything a GET or HEAD does apart from speaking HTTP. It raises ``ProxyError``s;
the handler maps them to statuses.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial

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
from proxy.imaging.render import Rendered, RenderOptions, render_many
from proxy.imaging.smartcrop import focus_or_warn
from proxy.keys import (
    AUTO_FORMATS,
    CONTENT_TYPES,
    OUTPUT_FORMATS,
    ThumbnailSpec,
    check_key,
    parse_thumbnail,
    variant_key,
    variant_of,
)
from proxy.policy import check_size
from proxy.service.cache import CachedObject, MemoryCache, NegativeCache, OriginalsCache
from proxy.service.ranges import ByteRange
from proxy.service.reply import Origin, Reply
from proxy.service.singleflight import SingleFlight
from proxy.service.writeback import WriteBacks
from proxy.storage.s3 import NOT_MODIFIED, Lookup, ObjectStore, S3Object, Stream
from proxy.stored import focus_text, source_of, thumbnail_write

log = logging.getLogger(__name__)

VARIANT_TYPES = frozenset(CONTENT_TYPES[OUTPUT_FORMATS[fmt]] for fmt in AUTO_FORMATS)


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
        self.renders = RenderPool(config.render_thread_count, config.render_queue)
        self.render_options = RenderOptions.from_config(config)
        self.originals = OriginalsCache(config.originals_cache_mb * 1024 * 1024, config.originals_ttl, clock)
        self._flights: SingleFlight[_Made] = SingleFlight()
        self._original_flights: SingleFlight[S3Object | None] = SingleFlight()
        self._revalidations: SingleFlight[CachedObject | None] = SingleFlight()
        self.writes = WriteBacks(on_exists=self.memory.discard)  # S3 holds the key already: serve its copy

    # ---- the request path -------------------------------------------------------------------------------

    async def get(
        self,
        key: str,
        signature: str | None = None,
        *,
        byte_range: ByteRange | None = None,
        if_range: str | None = None,
        prefer: str | None = None,
    ) -> Reply:
        """Answer for ``key``: the object if it exists, else the thumbnail it names (made now).

        A ``byte_range`` is served from memory when the object is there, else passed to S3; a thumbnail made
        now is always sent whole. ``if_range`` (an ETag or HTTP date) drops the range unless it still matches.
        ``prefer``: the ``--auto-format`` format the client takes (``http.accept.negotiate``); a negotiable
        thumbnail is then answered in it (and stored under its variant key) unless that is not smaller.
        """
        check_key(key)
        self._check_signature(key, signature)
        timings: dict[str, float] = {}
        fmt = prefer if prefer in self.config.auto_format and self.negotiates(key) else None
        if fmt is not None:
            variant = await self._existing(variant_key(key, fmt), timings, None, None)
            if variant is not None and variant.generated:
                return variant.ranged(byte_range, if_range)
        found = await self._existing(key, timings, byte_range, if_range)
        if found is None:
            return await self._thumbnail(key, timings, signed=signature is not None, fmt=fmt)
        if fmt is None or not found.generated or (self.config.signing_key and signature is None):
            return found  # as stored: the variant of a thumbnail we made is made only for a signed URL
        try:
            made = await self._thumbnail(key, timings, signed=True, fmt=fmt, stored=True)
        except (BadRequest, Forbidden):  # the size policy changed since the thumbnail was made: serve it
            return found
        if found.stream is not None:
            found.stream.close()
        return made

    def memory_hit(self, key: str) -> CachedObject | None:
        """The entry ``get(key)`` would answer as it is from memory (no signature, range or negotiation asked),
        if it is there and fresh; else None (``get`` then decides). The HTTP layer's fast path for hits."""
        if self.config.signing_key and self.config.sign_originals:
            return None
        try:
            check_key(key)
        except BadRequest:
            return None
        if self.negotiates(key):
            return None
        recent = self.writes.recent(key)
        if recent is not None:
            return recent
        cached = self.memory.get(key)
        return cached if cached is not None and self.memory.is_fresh(cached) else None

    def negotiates(self, key: str) -> bool:
        """Whether answers for ``key`` depend on the client's ``Accept`` (they then carry ``Vary: Accept``)."""
        if not self.config.auto_format:
            return False
        try:
            spec = parse_thumbnail(key)
        except BadRequest:
            return False
        return spec is not None and spec.negotiable

    async def _existing(
        self, key: str, timings: dict[str, float], byte_range: ByteRange | None, if_range: str | None
    ) -> Reply | None:
        """The object at ``key`` from memory (revalidated when stale) or S3; None if S3 has none."""
        cached = self.writes.recent(key) or self.memory.get(key)
        stale_etag = None
        if cached is not None and not self.memory.is_fresh(cached) and self.writes.recent(key) is None:
            stale_etag = cached.etag
            cached = await self._revalidate(cached, timings)
        if cached is not None:
            origin = Origin.MEMORY if "s3" not in timings or cached.etag == stale_etag else Origin.S3
            return Reply.cached(cached, origin, timings).ranged(byte_range, if_range)
        if key in self.missing:
            raise NotFound("not found")
        started = time.monotonic()
        with self.writes.lookup(key):
            found = await self.store.fetch(
                key,
                lookup=Lookup.REQUESTED,
                stream_over=self.config.stream_threshold_bytes,
                byte_range=byte_range.header if byte_range is not None and if_range is None else None,
            )
            # Made while our lookup was on its way? S3 just did not have it yet: answer it, no second render.
            recent = self.writes.recent(key) if found is None else None
        timings["s3"] = timings.get("s3", 0.0) + time.monotonic() - started  # after a revalidation: both
        assert found is not NOT_MODIFIED  # not a conditional GET
        if isinstance(found, Stream):
            return Reply.passed_on(found.info, timings, stream=found)
        if isinstance(found, S3Object):
            if found.info.content_range is not None:
                return Reply.passed_on(found.info, timings, body=found.body)
            return Reply.cached(self._remember(found), Origin.S3, timings).ranged(byte_range, if_range)
        if recent is not None:
            return Reply.cached(recent, Origin.MEMORY, timings)
        return None

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

    async def _thumbnail(
        self, key: str, timings: dict[str, float], *, signed: bool, fmt: str | None, stored: bool = False
    ) -> Reply:
        """Make the thumbnail ``key`` names (in ``fmt`` when negotiated; ``stored``: S3 holds ``key`` already)."""
        spec = parse_thumbnail(key)
        if spec is None:
            self.missing.add(key)
            raise NotFound("not found")
        if self.config.signing_key and not signed:
            raise Forbidden("missing signature")
        check_size(spec, self.config.max_dimension, self.config.allowed_sizes)
        answer_key = key if fmt is None else variant_key(key, fmt)
        made_meanwhile = self.memory.get(answer_key)
        if made_meanwhile is not None:
            return Reply.cached(made_meanwhile, Origin.MEMORY, timings)
        made = await self._flights.run(answer_key, lambda: self._make(spec, fmt, stored))
        timings["s3"] = timings.get("s3", 0.0) + made.timings["s3"]
        timings["render"] = made.timings["render"]
        return Reply.cached(made.obj, Origin.RENDERED, timings)

    async def _make(self, spec: ThumbnailSpec, fmt: str | None, stored: bool) -> _Made:
        """Fetch the original, render, remember, and start the write-back (which the reply does not wait for).

        With ``fmt``, the thumbnail and its ``fmt`` variant come from one decode; the variant key then holds
        whichever is smaller, so that the choice is made once and S3 remembers it.
        """
        started = time.monotonic()
        ticket = self.renders.admit()  # a full render queue refuses (503) before the original is fetched
        specs = [spec] if fmt is None else [spec, spec.variant(fmt)]
        try:
            async with asyncio.timeout(self.config.render_timeout):
                original = await self._original(spec)
                fetched = time.monotonic()
                focus = focus_or_warn(focus_text(original.info.metadata), original.info.key)
                rendered = await ticket.run(
                    partial(render_many, focus=focus), original.body, specs, self.render_options
                )
        except TimeoutError:
            raise RenderTimeout("thumbnail took too long to make") from None
        finally:
            ticket.release()
        done = time.monotonic()
        obj = self._made(spec.key, rendered[0], original, write_back=not stored)
        if fmt is not None:  # never more bytes than the requested format: then the variant key holds that
            smaller = rendered[1] if len(rendered[1].body) < len(rendered[0].body) else rendered[0]
            obj = self._made(specs[1].key, smaller, original, variant=smaller is rendered[1])
        return _Made(obj, {"s3": fetched - started, "render": done - fetched})

    def _made(
        self,
        key: str,
        rendered: Rendered,
        original: S3Object,
        *,
        variant: bool = False,
        write_back: bool = True,
    ) -> CachedObject:
        """A thumbnail just rendered: remembered, and written back (unless S3 holds ``key`` already)."""
        obj = CachedObject(
            key=key,
            body=rendered.body,
            content_type=rendered.content_type,
            etag='"' + hashlib.md5(rendered.body).hexdigest() + '"',  # what S3 will give the stored copy
            last_modified=datetime.now(UTC).replace(microsecond=0),
            cache_control=self.config.thumbnail_cache_control,
            fetched_at=self.clock(),
            generated=True,
            variant=variant,
        )
        self.memory.put(obj)
        if self.config.write_back and write_back:
            params = thumbnail_write(
                content_type=rendered.content_type,
                source_key=original.info.key,
                source_etag=original.info.etag,
                cache_control=self.config.thumbnail_cache_control,
                storage_class=self.config.thumbnail_storage_class,
            )
            self.writes.start(obj, self.store.put(key, rendered.body, params))
        return obj

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
            generated=source_of(info.metadata) is not None,
            variant=variant_of(info.key) is not None and info.content_type in VARIANT_TYPES,
        )
        self.memory.put(obj)
        return obj

    @property
    def pending_writes(self) -> int:
        return self.writes.pending

    async def drain_writes(self, timeout: float | None = None) -> bool:
        """Wait for pending write-backs; True if all finished within ``timeout``."""
        return await self.writes.drain(timeout)

    def close(self) -> None:
        self.renders.close()
        self.store.close()
