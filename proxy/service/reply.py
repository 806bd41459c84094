"""What the service answers with: a body in memory or a stream from S3, its headers, and where it came from."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum

from proxy.service.cache import CachedObject
from proxy.service.ranges import ByteRange, cut, if_range_holds
from proxy.storage.s3 import ObjectInfo, Stream
from proxy.stored import source_of


class Origin(Enum):
    """Where a reply came from (the cache result in logs, metrics and ``X-Cache``)."""

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
    origin: Origin
    body: bytes | None = None
    stream: Stream | None = None
    timings: dict[str, float] = field(default_factory=dict)  # phase -> seconds, when S3 or a render was involved
    content_range: str | None = None  # a 206: ``bytes a-b/total``; ``body``/``stream`` then hold that part
    generated: bool = False  # a thumbnail we made (not an object someone uploaded)
    variant: bool = False  # sent in a negotiated format (--auto-format), not the one the key names

    @classmethod
    def cached(cls, obj: CachedObject, origin: Origin, timings: dict[str, float] | None = None) -> Reply:
        return cls(
            content_type=obj.content_type,
            etag=obj.etag,
            last_modified=obj.last_modified,
            cache_control=obj.cache_control,
            size=len(obj.body),
            origin=origin,
            body=obj.body,
            timings=timings or {},
            generated=obj.generated,
            variant=obj.variant,
        )

    @classmethod
    def passed_on(
        cls, info: ObjectInfo, timings: dict[str, float], *, body: bytes | None = None, stream: Stream | None = None
    ) -> Reply:
        """An S3 answer passed on as it is, not cached: a large object as a stream, or a 206 part in memory."""
        return cls(
            content_type=info.content_type,
            etag=info.etag,
            last_modified=info.last_modified,
            cache_control=info.cache_control,
            size=info.size if body is None else len(body),
            origin=Origin.S3,
            body=body,
            stream=stream,
            timings=timings,
            content_range=info.content_range,
            generated=source_of(info.metadata) is not None,
        )

    def ranged(self, byte_range: ByteRange | None, if_range: str | None) -> Reply:
        """This whole in-memory reply cut down to ``byte_range`` (206), unless If-Range says the copy is old."""
        if byte_range is None or self.body is None or not if_range_holds(if_range, self.etag, self.last_modified):
            return self
        part, content_range = cut(self.body, byte_range)
        return replace(self, body=part, size=len(part), content_range=content_range)
