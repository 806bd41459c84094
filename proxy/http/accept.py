"""``Accept`` negotiation for ``--auto-format``: the first preferred format a client names explicitly.

Only an explicit media type counts: ``*/*`` and ``image/*`` are what every browser sends, including those that
cannot decode AVIF or WebP. The header is parsed as RFC 9110 (section 12.5.1) writes it; an element that does
not follow that grammar (a bad token, a q-value such as ``1.5`` or ``0.0001``, an unclosed quote) is ignored,
never an error. Browsers send a handful of distinct headers, so the parse of each is cached.
"""

from __future__ import annotations

import re
from functools import lru_cache

from proxy.keys import CONTENT_TYPES, OUTPUT_FORMATS

MAX_HEADER = 4096  # longer ones are not negotiated (nor cached): no browser sends more than a few hundred bytes
CACHED_HEADERS = 256

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")


def negotiate(accept: str | None, preferred: tuple[str, ...]) -> str | None:
    """The first extension of ``preferred`` (``avif``, ``webp``) whose media type ``accept`` lists explicitly with
    q > 0; None when there is none (the caller then keeps the format the key names)."""
    if not accept or len(accept) > MAX_HEADER:
        return None
    types = accepted_types(accept)
    for ext in preferred:
        fmt = OUTPUT_FORMATS.get(ext.lower())
        if fmt is not None and CONTENT_TYPES[fmt] in types:
            return ext
    return None


@lru_cache(maxsize=CACHED_HEADERS)
def accepted_types(accept: str) -> frozenset[str]:
    """The media types (lower case, no wildcards) that ``accept`` names with q > 0. A type also named with
    q = 0 is refused: an explicit "not this" wins over any other element naming it."""
    accepted: set[str] = set()
    refused: set[str] = set()
    for element in _split(accept, ","):
        parsed = _media_range(element)
        if parsed is None:
            continue
        media, quality = parsed
        if "*" not in media:
            (accepted if quality > 0 else refused).add(media)
    return frozenset(accepted - refused)


def _media_range(element: str) -> tuple[str, float] | None:
    """``(type/subtype, q)`` of one element, None when it is empty or malformed."""
    media, *params = _split(element, ";")
    kind, slash, subtype = media.strip().partition("/")
    if not slash or not _TOKEN.fullmatch(kind) or not _TOKEN.fullmatch(subtype):
        return None
    quality = 1.0
    for param in params:
        name, equals, value = (part.strip() for part in param.partition("="))
        if not equals or not _TOKEN.fullmatch(name):
            return None
        if name.lower() == "q":
            if not _QVALUE.fullmatch(value):
                return None
            quality = float(value)
        elif not (_TOKEN.fullmatch(value) or _QUOTED.fullmatch(value)):
            return None
    return f"{kind}/{subtype}".lower(), quality


def _split(text: str, separator: str) -> list[str]:
    """``text`` split at ``separator`` outside quoted strings (where a backslash escapes the next character); a
    quote never closed is no quote, so that it spoils its own element only, not the rest of the header."""
    parts: list[str] = []
    start, quoted, escaped = 0, False, False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append(text[start:index])
            start = index + 1
    if quoted:
        return text.split(separator)
    parts.append(text[start:])
    return parts
