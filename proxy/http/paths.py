"""Request paths to keys: the one decoding of ``/<key>`` that every handler uses."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from proxy.errors import BadRequest


def path_key(path: str) -> str:
    """The key of ``/<key>``, decoded from the raw path: Tornado reads the request line as latin-1, so a raw
    (not %-encoded) UTF-8 byte would otherwise become one character each ('é' -> 'Ã©', 0xff a valid 'ÿ')."""
    try:
        return unquote_to_bytes(path.encode("latin-1")[1:]).decode("utf-8")
    except UnicodeError:
        raise BadRequest("key is not valid UTF-8") from None
