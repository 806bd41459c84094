"""How a thumbnail is stored in the bucket, and how a stored object is recognised as one of ours.

One contract for every writer and reader: the write-back, ``warm``, ``purge``, ``prune`` and the lifecycle
rule of ``setup-bucket``. If any of it changed in one place only, expiry and purging would silently stop
matching what the proxy writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import quote, unquote

GENERATOR = "s3-resize-proxy"  # metadata ``generator``
TAG_KEY, TAG_VALUE = "thumbnail", "true"  # the object tag the lifecycle rule expires
TAGGING = f"{TAG_KEY}={TAG_VALUE}"  # as PutObject's Tagging parameter takes it

# User metadata travels as HTTP headers, which botocore (and S3) take in ASCII only, while keys are UTF-8: a key
# kept in metadata is percent-encoded, only where needed ('%', space, controls, non-ASCII).
_METADATA_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%")


def metadata_key(key: str) -> str:
    """``key`` as an ASCII metadata value (``photos/été.jpg`` -> ``photos/%C3%A9t%C3%A9.jpg``)."""
    return quote(key, safe=_METADATA_SAFE)


def key_from_metadata(value: str) -> str:
    """The inverse of ``metadata_key``."""
    return unquote(value)


@dataclass(frozen=True)
class WriteParams:
    """Everything a PUT of a thumbnail carries besides its key and body."""

    content_type: str
    cache_control: str
    storage_class: str
    metadata: Mapping[str, str]
    tagging: str = TAGGING


def thumbnail_write(
    *, content_type: str, source_key: str, source_etag: str, cache_control: str, storage_class: str
) -> WriteParams:
    """The write parameters of a thumbnail made from the original ``source_key`` at ``source_etag``."""
    return WriteParams(
        content_type=content_type,
        cache_control=cache_control,
        storage_class=storage_class,
        metadata=MappingProxyType(
            {"generator": GENERATOR, "source-key": metadata_key(source_key), "source-etag": source_etag.strip('"')}
        ),
    )


@dataclass(frozen=True)
class Generated:
    """What the metadata of a thumbnail we stored says about it."""

    source_key: str
    source_etag: str


def source_of(metadata: Mapping[str, str]) -> Generated | None:
    """The original a stored object was made from, if its metadata says we made it (the tag aside)."""
    if metadata.get("generator") != GENERATOR or "source-key" not in metadata:
        return None
    return Generated(key_from_metadata(metadata["source-key"]), metadata.get("source-etag", ""))


def is_tagged(tags: Iterable[Mapping[str, str]]) -> bool:
    """Whether an object's tags (``TagSet``) carry the thumbnail tag, as the lifecycle rule matches it."""
    return any(tag.get("Key") == TAG_KEY and tag.get("Value") == TAG_VALUE for tag in tags)


FOCUS = "focus"  # an original's user metadata: ``x,y``, the point fill and smart crops keep (set by the uploader)


def focus_text(metadata: Mapping[str, str]) -> str | None:
    """The raw ``focus`` metadata of an original, if it has one (parsed by ``imaging.smartcrop.parse_focus``)."""
    return metadata.get(FOCUS)


def lifecycle_filter() -> dict[str, dict[str, str]]:
    """The lifecycle rule's filter: every object carrying the thumbnail tag, and nothing else."""
    return {"Tag": {"Key": TAG_KEY, "Value": TAG_VALUE}}
