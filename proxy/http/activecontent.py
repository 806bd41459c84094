"""Content types a browser would run (HTML, SVG, XML, scripts, PDF...) and the CSP that stops them running.

Deny by default: only types known to be passive (raster images, audio, video, fonts, plain text, JSON, octet
streams) are served without the policy, so an object stored with an unusual type is treated as active.
"""

from __future__ import annotations

ACTIVE_CONTENT_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"

_PASSIVE_MAJOR = ("image", "audio", "video", "font")
_PASSIVE_TYPES = frozenset(
    {
        "text/plain",
        "text/csv",
        "application/json",
        "application/octet-stream",
        "binary/octet-stream",  # S3's default when an object was stored without a type
        "application/zip",
        "application/gzip",
    }
)


def is_active(content_type: str) -> bool:
    """True unless ``content_type`` is known to be passive; ``image/svg+xml`` and any ``+xml`` are active."""
    media = content_type.split(";", 1)[0].strip().lower()
    major, _, minor = media.partition("/")
    if "xml" in minor or "script" in minor or "html" in minor:
        return True
    return media not in _PASSIVE_TYPES and major not in _PASSIVE_MAJOR
