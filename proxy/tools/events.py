"""What arrives on the watch queue: the bucket's S3 event notifications and warm's own requests. Pure.

S3 sends one JSON document per message: ``{"Records": [...]}`` (``eventName`` without the ``s3:`` prefix, the
object key URL-encoded with ``+`` for spaces), or ``{"Event": "s3:TestEvent", ...}`` when a notification
configuration is set. ``warm --queue-url`` sends ``{"s3-resize-proxy": "warm", "key": ..., "sizes": [...]}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any
from urllib.parse import unquote_plus

from proxy.keys import answered_thumbnail

MARKER = "s3-resize-proxy"  # the field that makes a message one of ours; its value names the request
WARM = "warm"


class Malformed(ValueError):
    """A message that is none of the documents above (or a broken one): it will never become valid."""


@dataclass(frozen=True)
class ObjectEvent:
    """One S3 event record: ``key`` (decoded) was created (``ObjectCreated:*``) or removed (``ObjectRemoved:*``)."""

    bucket: str
    key: str
    created: bool
    name: str  # eventName as S3 wrote it: ObjectCreated:Put, ObjectRemoved:DeleteMarkerCreated...
    time: datetime | None = None  # eventTime: when S3 saw the change (None if absent or unreadable)


@dataclass(frozen=True)
class OtherEvent:
    """A record of another event type (tagging, lifecycle, restore...): nothing to do."""

    name: str


@dataclass(frozen=True)
class TestEvent:
    """``s3:TestEvent``: S3 checking that it may send to the queue, when its configuration is set."""

    bucket: str


@dataclass(frozen=True)
class WarmRequest:
    """Make these sizes of one original (``warm --queue-url``)."""

    key: str
    sizes: tuple[str, ...]


Event = ObjectEvent | OtherEvent | TestEvent | WarmRequest


def warm_message(key: str, sizes: list[str]) -> str:
    """The body ``warm --queue-url`` sends for one original."""
    return json.dumps({MARKER: WARM, "key": key, "sizes": sizes}, ensure_ascii=False, separators=(",", ":"))


def parse(body: str) -> list[Event]:
    """The events of one message body, in order; Malformed if it is not a document we know."""
    try:
        document = json.loads(body)
    except ValueError:
        raise Malformed("not JSON") from None
    if not isinstance(document, dict):
        raise Malformed("not a JSON object")
    if MARKER in document:
        return [_warm_request(document)]
    if document.get("Event") == "s3:TestEvent":
        return [TestEvent(str(document.get("Bucket", "")))]
    records = document.get("Records")
    if not isinstance(records, list) or not records:
        raise Malformed("neither S3 event records, s3:TestEvent nor a warm request")
    return [_record(record) for record in records]


class KeyKind(Enum):
    ORIGINAL = "original"  # a --source-extensions image that is not one of our thumbnails
    THUMBNAIL = "thumbnail"  # a key the proxy writes: a thumbnail of the grammar or a negotiated variant of one
    OTHER = "other"  # anything else (not an image, a folder marker)


def classify(key: str, source_extensions: tuple[str, ...]) -> KeyKind:
    """What a key is, from its name alone (no S3 call). A camera file named like a thumbnail
    (``IMG_1024x768.jpg``) counts as a thumbnail here: watch cannot tell it from a write-back by name."""
    if answered_thumbnail(key) is not None:  # invalid ones (``a_1x1_blur.jpg``) are never written by us
        return KeyKind.THUMBNAIL
    stem, dot, ext = key.rpartition(".")
    if stem and dot and "/" not in ext and ext.lower() in source_extensions:
        return KeyKind.ORIGINAL
    return KeyKind.OTHER


def _warm_request(document: dict[str, Any]) -> WarmRequest:
    if document[MARKER] != WARM:
        raise Malformed(f"unknown request {document[MARKER]!r}")
    key, sizes = document.get("key"), document.get("sizes")
    if not isinstance(key, str) or not key:
        raise Malformed("warm request without a key")
    if not isinstance(sizes, list) or not sizes or not all(isinstance(size, str) for size in sizes):
        raise Malformed("warm request without a list of sizes")
    return WarmRequest(key, tuple(sizes))


def _record(record: Any) -> ObjectEvent | OtherEvent:
    try:
        name, bucket, raw_key = record["eventName"], record["s3"]["bucket"]["name"], record["s3"]["object"]["key"]
    except (KeyError, TypeError):
        raise Malformed("an event record without eventName, bucket name or object key") from None
    if not all(isinstance(value, str) for value in (name, bucket, raw_key)):
        raise Malformed("an event record whose eventName, bucket name or object key is not a string")
    created, removed = name.startswith("ObjectCreated:"), name.startswith("ObjectRemoved:")
    if not (created or removed):
        return OtherEvent(name)
    try:
        key = unquote_plus(raw_key, errors="strict")  # as S3 encodes it: form encoding, '+' for a space
    except UnicodeDecodeError:
        raise Malformed(f"object key {raw_key!r} is not URL-encoded UTF-8") from None
    if not key:
        raise Malformed("an event record with an empty object key")
    return ObjectEvent(bucket, key, created, name, _time(record.get("eventTime")))


def _time(value: Any) -> datetime | None:
    """An ISO 8601 time with a zone (``2026-11-27T05:01:02.123Z``); None otherwise: it only decides a recheck."""
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None
