"""Signed URLs: ``?sig=`` is the unpadded urlsafe-base64 HMAC-SHA256 of the object key, under a signing key.

The signed string is the object key exactly as the proxy sees it after URL decoding, UTF-8 encoded, without
the leading slash and without any query (``photos/earth_200x200.jpg``). Several keys may be configured: the
first one signs, every one verifies, so that a new key can be rolled out before the old one is retired.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote

from proxy.errors import Forbidden

MIN_KEY_LENGTH = 16


def sign(key: str, secret: str) -> str:
    """The ``sig`` value for ``key`` under ``secret``: urlsafe base64 without ``=`` padding (43 characters)."""
    digest = hmac.new(secret.encode("utf-8"), key.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def is_valid(key: str, signature: str, secrets: tuple[str, ...]) -> bool:
    """True if ``signature`` signs ``key`` under any of ``secrets``; every secret is tried (constant time)."""
    given = signature.rstrip("=").encode("ascii", "replace")
    matches = [hmac.compare_digest(given, sign(key, secret).encode("ascii")) for secret in secrets]
    return any(matches)


def check(key: str, signature: str | None, secrets: tuple[str, ...]) -> None:
    """Forbidden unless ``signature`` is present and valid for ``key``."""
    if signature is None or signature == "":
        raise Forbidden("missing signature")
    if not is_valid(key, signature, secrets):
        raise Forbidden("invalid signature")


def signed_path(key: str, secret: str) -> str:
    """``/<key>?sig=<sig>``, the key percent-encoded for a URL path."""
    return f"/{quote(key, safe='/@')}?sig={sign(key, secret)}"
