"""The key grammar: which object keys are safe to look up, and which name a thumbnail to make.

A thumbnail key is ``<stem>_<W>x<H>[_<mode>][@<d>x].<ext>``; its original is ``<stem>.<ext>`` (or the stem
with another source extension). The plain original grammar ``<stem>_<W>x<H>.<ext>`` is a subset of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Literal

from proxy.errors import BadRequest

Mode = Literal["fill", "fit", "pad", "stretch", "smart"]
MODES: tuple[Mode, ...] = ("fill", "fit", "pad", "stretch", "smart")

MAX_KEY_BYTES = 1024
MAX_DPR = 4

# Output extensions and the Pillow format each one encodes to.
OUTPUT_FORMATS: dict[str, str] = {
    "jpg": "JPEG",
    "jpeg": "JPEG",
    "png": "PNG",
    "webp": "WEBP",
    "gif": "GIF",
    "avif": "AVIF",
}

# Extensions an original may have: every output format, and HEIC/HEIF, which are decoded but never encoded
# (``photo_200x200.heic`` is a 400; ``photo_200x200.jpg`` is made from ``photo.heic``).
SOURCE_EXTENSIONS: frozenset[str] = frozenset(OUTPUT_FORMATS) | {"heic", "heif"}

CONTENT_TYPES: dict[str, str] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "AVIF": "image/avif",
}

# --auto-format: a thumbnail whose key asks for JPEG or PNG may be answered in a format the client accepts. That
# variant is stored under the requested key plus the format's extension (``earth_200x200.jpg.avif``): a key the
# thumbnail grammar never produces, so it cannot be taken for a thumbnail of another original (``earth.avif``).
NEGOTIABLE_EXTENSIONS = ("jpg", "jpeg", "png")
AUTO_FORMATS = ("avif", "webp")

# Loose on purpose: anything shaped like a thumbnail is then validated strictly, so that a near-miss such as
# ``photo_200x200_blur.jpg`` gets a 400 with a reason rather than a silent 404.
_THUMB_RE = re.compile(
    r"^(?P<stem>.*[^/])_(?P<w>\d+)x(?P<h>\d+)(?:_(?P<mode>[A-Za-z]+))?(?:@(?P<dpr>\d+)x)?\.(?P<ext>[A-Za-z0-9]+)$",
    re.DOTALL,
)
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class ThumbnailSpec:
    """A parsed thumbnail key. ``width``/``height`` are as written (CSS pixels); 0 means 'follow the aspect'."""

    key: str
    stem: str
    width: int
    height: int
    mode: Mode | None  # None: the configured default mode
    dpr: int
    ext: str  # as written in the key (case kept, for the original's name)
    looks_like: str | None = None  # a negotiated variant: the format whose look it keeps (JPEG: no alpha, still)

    @property
    def format(self) -> str:
        """The Pillow format name of the output."""
        return OUTPUT_FORMATS[self.ext.lower()]

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]

    @property
    def target_width(self) -> int:
        return self.width * self.dpr

    @property
    def target_height(self) -> int:
        return self.height * self.dpr

    @property
    def size(self) -> tuple[int, int]:
        """The size as written, ``(W, H)``: what the size presets are compared with."""
        return (self.width, self.height)

    @property
    def label(self) -> str:
        """The key after the stem, without extension: ``200x200``, ``400x0_fit``, ``200x200@2x``."""
        label = f"{self.width}x{self.height}"
        if self.mode:
            label += f"_{self.mode}"
        if self.dpr > 1:
            label += f"@{self.dpr}x"
        return label

    @property
    def negotiable(self) -> bool:
        """Whether ``--auto-format`` may answer this key in another format."""
        return self.ext.lower() in NEGOTIABLE_EXTENSIONS

    def variant(self, fmt: str) -> ThumbnailSpec:
        """The same thumbnail encoded as ``fmt`` (an AUTO_FORMATS entry), stored under ``variant_key``.

        Its ``source_keys`` are not the thumbnail's: look originals up with the thumbnail's own spec.
        """
        return ThumbnailSpec(
            variant_key(self.key, fmt), self.stem, self.width, self.height, self.mode, self.dpr, fmt, self.format
        )

    def source_keys(self, source_extensions: tuple[str, ...]) -> list[str]:
        """Candidate originals, in lookup order: ``<stem>.<ext>`` as written, then the configured extensions."""
        keys = [f"{self.stem}.{self.ext}"]
        for ext in source_extensions:
            candidate = f"{self.stem}.{ext}"
            if candidate not in keys:
                keys.append(candidate)
        return keys


def variant_key(key: str, fmt: str) -> str:
    """Where the ``fmt`` variant of the thumbnail ``key`` is stored."""
    return f"{key}.{fmt}"


def variant_of(key: str) -> tuple[ThumbnailSpec, str] | None:
    """The negotiable thumbnail a variant key answers for, and the variant's format; None for other keys."""
    base, dot, fmt = key.rpartition(".")
    if not dot or fmt not in AUTO_FORMATS:
        return None
    try:
        spec = parse_thumbnail(base)
    except BadRequest:
        return None
    return (spec, fmt) if spec is not None and spec.negotiable else None


def answered_thumbnail(key: str) -> ThumbnailSpec | None:
    """The thumbnail a key answers for: its own, or a variant key's; None for originals and invalid keys."""
    try:
        spec = parse_thumbnail(key)
    except BadRequest:
        return None
    if spec is not None:
        return spec
    variant = variant_of(key)
    return variant[0] if variant is not None else None


def check_key(key: str) -> str:
    """Reject keys that are unsafe or not canonical (BadRequest); return the key unchanged otherwise."""
    if not key:
        raise BadRequest("empty key")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates: not valid UTF-8
        raise BadRequest("key is not valid UTF-8") from None
    if size > MAX_KEY_BYTES:
        raise BadRequest(f"key longer than {MAX_KEY_BYTES} bytes")
    if _CONTROL_RE.search(key):
        raise BadRequest("control character in key")
    if "//" in key or key.startswith("/"):
        raise BadRequest("empty path segment in key")
    if any(segment in (".", "..") for segment in key.split("/")):
        raise BadRequest("'.' or '..' segment in key")
    return key


def parse_thumbnail(key: str) -> ThumbnailSpec | None:
    """Parse a thumbnail key; None when the key is not shaped like one, BadRequest when it is but is invalid."""
    match = _THUMB_RE.match(key)
    if match is None:
        return None
    w, h, mode, dpr, ext = match["w"], match["h"], match["mode"], match["dpr"], match["ext"]
    if ext.lower() not in OUTPUT_FORMATS:
        raise BadRequest(f"unsupported output format '.{ext}'")
    if not can_encode(OUTPUT_FORMATS[ext.lower()]):
        raise BadRequest(f"output format '.{ext}' is not available on this server")
    if _non_canonical(w) or _non_canonical(h):
        raise BadRequest("size with leading zeros")
    width, height = int(w), int(h)
    if width == 0 and height == 0:
        raise BadRequest("width and height cannot both be 0")
    if mode is not None and mode not in MODES:
        raise BadRequest(f"unknown mode '{mode}' (one of {', '.join(MODES)})")
    ratio = 1
    if dpr is not None:
        ratio = int(dpr)
        if not 2 <= ratio <= MAX_DPR or _non_canonical(dpr):
            raise BadRequest(f"device pixel ratio must be @2x to @{MAX_DPR}x")
    return ThumbnailSpec(
        key=key,
        stem=match["stem"],
        width=width,
        height=height,
        mode=mode,
        dpr=ratio,
        ext=ext,  # type: ignore[arg-type]
    )


def split_thumbnail(key: str) -> tuple[str, str] | None:
    """``(stem, rest)`` of a key shaped like a thumbnail, ``rest`` being ``_<W>x<H>...<ext>``; not validated.

    Whether such a key is valid depends on ``rest`` alone, so a reader of many keys can validate each
    distinct ``rest`` once (``parse_thumbnail("x" + rest)``).
    """
    match = _THUMB_RE.match(key)
    if match is None:
        return None
    end = match.end("stem")
    return key[:end], key[end:]


@cache
def can_encode(fmt: str) -> bool:
    """Whether the installed Pillow can write ``fmt``: AVIF needs a build with libavif, the rest are built in."""
    if fmt != "AVIF":
        return True
    from PIL import features

    return bool(features.check("avif"))


def _non_canonical(digits: str) -> bool:
    return len(digits) > 1 and digits.startswith("0")
