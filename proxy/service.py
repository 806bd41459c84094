"""The request path, top to bottom: key -> memory -> S3 -> (miss) original -> render -> reply -> store back.

``ImageService.get`` is everything a GET or HEAD does apart from speaking HTTP. It raises ``ProxyError``s;
the handler maps them to statuses.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from . import signing
from .cache import CachedObject, MemoryCache, NegativeCache
from .config import Config
from .errors import BadRequest, Forbidden, NotFound, RenderTimeout
from .keys import ThumbnailSpec, check_key, parse_thumbnail
from .render import Rendered, RenderOptions, render
from .s3 import Lookup, ObjectInfo, ObjectStore, PutResult, S3Object, Stream
from .singleflight import SingleFlight
from .workers import RenderPool

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
    timings: dict[str, float] = field(default_factory=dict)  # phase -> seconds, on renders

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

    def __init__(self, config: Config, store: ObjectStore | None = None) -> None:
        self.config = config
        self.store = store or ObjectStore(config)
        self.memory = MemoryCache(config.cache_mb * 1024 * 1024, config.memory_ttl)
        self.missing = NegativeCache(config.negative_ttl)
        self.renders = RenderPool(config.render_workers, config.render_queue)
        self.render_options = RenderOptions.from_config(config)
        self._flights: SingleFlight[_Made] = SingleFlight()
        self._writes: set[asyncio.Task[PutResult]] = set()

    # ---- the request path -------------------------------------------------------------------------------

    async def get(self, key: str, signature: str | None = None) -> Reply:
        """Answer for ``key``: the object if it exists, else the thumbnail it names (made now)."""
        check_key(key)
        self._check_signature(key, signature)
        cached = self.memory.get(key)
        if cached is not None and self.memory.is_fresh(cached):
            return Reply.cached(cached, Source.MEMORY)
        if key in self.missing:
            raise NotFound("not found")
        found = await self.store.fetch(key, lookup=Lookup.REQUESTED, stream_over=self.config.stream_threshold_bytes)
        if isinstance(found, Stream):
            return _streamed(found)
        if found is not None:
            return Reply.cached(self._remember(found), Source.S3)
        return await self._thumbnail(key, signed=signature is not None)

    def _check_signature(self, key: str, signature: str | None) -> None:
        """A signature that is given must be valid, checked before any S3 call; one is needed for every key
        with --sign-originals, else only to make a thumbnail (existing objects are served unsigned)."""
        if self.config.signing_key and (signature is not None or self.config.sign_originals):
            signing.check(key, signature, self.config.signing_key)

    async def _thumbnail(self, key: str, *, signed: bool) -> Reply:
        spec = parse_thumbnail(key)
        if spec is None:
            self.missing.add(key)
            raise NotFound("not found")
        if self.config.signing_key and not signed:
            raise Forbidden("missing signature")
        self._check_policy(spec)
        made = await self._flights.run(key, lambda: self._make(spec))
        return Reply.cached(made.obj, Source.RENDERED, made.timings)

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
        try:
            async with asyncio.timeout(self.config.render_timeout):
                original = await self._original(spec)
                fetched = time.monotonic()
                rendered = await self.renders.run(render, original.body, spec, self.render_options)
        except TimeoutError:
            raise RenderTimeout("thumbnail took too long to make") from None
        done = time.monotonic()
        obj = CachedObject(
            key=spec.key,
            body=rendered.body,
            content_type=rendered.content_type,
            etag='"' + hashlib.md5(rendered.body).hexdigest() + '"',  # what S3 will give the stored copy
            last_modified=datetime.now(UTC).replace(microsecond=0),
            cache_control=self.config.thumbnail_cache_control,
            fetched_at=done,
        )
        self.memory.put(obj)
        if self.config.write_back:
            self._start_write_back(spec, original, rendered)
        return _Made(obj, {"s3": fetched - started, "render": done - fetched})

    async def _original(self, spec: ThumbnailSpec) -> S3Object:
        """The first existing candidate original, read whole (within the source size limit)."""
        for key in spec.source_keys(self.config.source_extensions):
            found = await self.store.fetch(key, lookup=Lookup.ORIGINAL, max_bytes=self.config.max_source_bytes)
            assert not isinstance(found, Stream)  # no stream_over given
            if found is not None:
                return found
        self.missing.add(spec.key)
        raise NotFound("original not found")

    def _remember(self, found: S3Object) -> CachedObject:
        info = found.info
        obj = CachedObject(
            key=info.key,
            body=found.body,
            content_type=info.content_type,
            etag=info.etag,
            last_modified=info.last_modified,
            cache_control=info.cache_control,
            fetched_at=time.monotonic(),
        )
        self.memory.put(obj)
        return obj

    # ---- write-back ---------------------------------------------------------------------------------------

    def _start_write_back(self, spec: ThumbnailSpec, original: S3Object, rendered: Rendered) -> None:
        task = asyncio.ensure_future(
            self.store.put(spec.key, rendered.body, **thumbnail_put_args(self.config, original.info, rendered))
        )
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

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
        "metadata": {"generator": GENERATOR, "source-key": source.key, "source-etag": source.etag.strip('"')},
        "tagging": THUMBNAIL_TAGGING,
    }


def _streamed(stream: Stream) -> Reply:
    info = stream.info
    return Reply(
        content_type=info.content_type,
        etag=info.etag,
        last_modified=info.last_modified,
        cache_control=info.cache_control,
        size=info.size,
        source=Source.S3,
        stream=stream,
    )
