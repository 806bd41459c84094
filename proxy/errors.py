"""Errors a request can end in, each carrying its HTTP status: the one place status codes are decided.

Handlers catch ``ProxyError`` and answer ``status`` with ``reason`` as a short text body; anything else that
escapes is a bug and answers 500 (and is logged with a traceback).
"""

from __future__ import annotations


class ProxyError(Exception):
    """Base class: a failure with a status code and a short, client-safe reason."""

    status: int = 500
    retry_after: int | None = None

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def headers(self) -> dict[str, str]:
        """Extra response headers this error needs (beyond Retry-After)."""
        return {}


class BadRequest(ProxyError):
    """The key or query is malformed (bad characters, bad thumbnail grammar, size over the maximum)."""

    status = 400


class Forbidden(ProxyError):
    """The request is well-formed but not allowed (size not in the presets, missing or bad signature)."""

    status = 403


class NotFound(ProxyError):
    """Neither the object nor (for a thumbnail) its original exists."""

    status = 404


class RangeNotSatisfiable(ProxyError):
    """The Range starts past the end of the object; the answer names the object's size."""

    status = 416

    def __init__(self, reason: str, size: int | None) -> None:
        super().__init__(reason)
        self.size = size

    def headers(self) -> dict[str, str]:
        return {"Content-Range": f"bytes */{self.size}"} if self.size is not None else {}


class Unprocessable(ProxyError):
    """The original exists but is not an image we can safely decode (corrupt, truncated, too large, bomb)."""

    status = 422


class Overloaded(ProxyError):
    """The render queue is full; the client should retry shortly."""

    status = 503
    retry_after = 1


class UpstreamError(ProxyError):
    """S3 is unreachable, refused us, or answered 5xx."""

    status = 502


class UpstreamUnavailable(ProxyError):
    """S3 asked us to slow down (503 SlowDown)."""

    status = 503
    retry_after = 1


class UpstreamTimeout(ProxyError):
    """S3 did not answer within the connect/read timeouts."""

    status = 504


class RenderTimeout(ProxyError):
    """Fetching and rendering a thumbnail took longer than the render deadline."""

    status = 504
