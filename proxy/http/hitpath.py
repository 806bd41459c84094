"""The hit path: a plain GET or HEAD of an object fresh in memory, answered below ``tornado.web``.

Most requests of an images domain are such hits. ``tornado.web`` spends more on routing, a ``RequestHandler``
and its header bookkeeping than the answer itself costs, so ``HitPath`` sits between the HTTP server and the
application: for each request it asks the service for the memory entry that ``ImageService.get`` would answer
unchanged (``memory_hit``) and, if there is one, writes the same response that ``ObjectHandler`` would (the
same headers, 304s included, the same access-log line and metrics) from headers built once per entry. Anything
else — a query string (``?sig=``), a range, a body, another route, a negotiated key, a stale entry, draining —
goes to the application untouched. ``tests/test_hitpath.py`` holds the two paths to the same bytes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable
from datetime import datetime

from tornado import httputil
from tornado.web import Application

from proxy.errors import BadRequest
from proxy.http.activecontent import ACTIVE_CONTENT_CSP, is_active
from proxy.http.conditional import not_modified
from proxy.http.hooks import RequestHooks, request_id
from proxy.http.paths import path_key
from proxy.service.cache import CachedObject
from proxy.service.image_service import ImageService
from proxy.service.reply import Origin

_PREPARED = "http.hit"  # CachedObject.prepared key: the entry's response headers
_ANSWERED = Origin.MEMORY.value


class HitPath(httputil.HTTPServerConnectionDelegate):
    """The HTTP server's delegate: memory hits answered here, every other request passed to ``app``."""

    def __init__(self, app: Application, service: ImageService, hooks: RequestHooks, routes: list[str]) -> None:
        self.app = app
        self.service = service
        self.hooks = hooks
        # Paths another route answers (/healthz, /resize.php, the demo page) are never objects here.
        self._routed = re.compile("|".join(f"(?:{route})" for route in routes)) if routes else None
        self._date = (0, "")
        self.answered = 0  # requests answered here (the tests check which path answered)

    def start_request(self, server_conn: object, request_conn: httputil.HTTPConnection) -> httputil.HTTPMessageDelegate:
        return _Request(self, server_conn, request_conn)

    def on_close(self, server_conn: object) -> None:
        self.app.on_close(server_conn)

    def entry_for(
        self, start_line: httputil.RequestStartLine, headers: httputil.HTTPHeaders
    ) -> tuple[str, CachedObject] | None:
        """The key and the memory entry that answers this request as it is, or None when the application must."""
        if start_line.method not in ("GET", "HEAD") or self.hooks.draining:
            return None
        path = start_line.path
        if "?" in path or not path.startswith("/") or (self._routed is not None and self._routed.fullmatch(path)):
            return None
        if "Range" in headers or "Content-Length" in headers or "Transfer-Encoding" in headers:
            return None
        try:
            key = path_key(path)
        except BadRequest:
            return None
        entry = self.service.memory_hit(key)
        return None if entry is None else (key, entry)

    def date(self) -> str:
        """The Date header, formatted once a second."""
        now = int(time.time())
        if self._date[0] != now:
            self._date = (now, httputil.format_timestamp(now))
        return self._date[1]


class _Request(httputil.HTTPMessageDelegate):
    """One request: answered from ``entry`` once read, or handed to the application's own delegate."""

    def __init__(self, path: HitPath, server_conn: object, request_conn: httputil.HTTPConnection) -> None:
        self.path = path
        self.server_conn = server_conn
        self.request_conn = request_conn
        self.inner: httputil.HTTPMessageDelegate | None = None
        self.hit: tuple[str, CachedObject] | None = None

    def headers_received(
        self, start_line: httputil.RequestStartLine | httputil.ResponseStartLine, headers: httputil.HTTPHeaders
    ) -> Awaitable[None] | None:
        assert isinstance(start_line, httputil.RequestStartLine)
        self.started = time.time()
        self.hit = self.path.entry_for(start_line, headers)
        if self.hit is None:
            self.inner = self.path.app.start_request(self.server_conn, self.request_conn)
            return self.inner.headers_received(start_line, headers)
        self.start_line = start_line
        self.headers = headers
        return None

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        return self.inner.data_received(chunk) if self.inner is not None else None

    def finish(self) -> None:
        if self.inner is not None:
            self.inner.finish()
            return
        assert self.hit is not None
        self._answer(*self.hit)

    def on_connection_close(self) -> None:
        if self.inner is not None:
            self.inner.on_connection_close()

    def _answer(self, key: str, entry: CachedObject) -> None:
        """What ``ObjectHandler.send`` writes for a whole in-memory reply, from the entry's prepared headers, in
        the same order (Content-Type comes first because ``RequestHandler.clear()`` sets a default first)."""
        validators, content_type, content_length = _prepared(entry)
        identity = request_id(self.headers.get("X-Request-Id"))
        head = self.start_line.method == "HEAD"
        whole = not not_modified(self.headers, entry.etag, entry.last_modified)
        headers = httputil.HTTPHeaders()
        if whole:
            headers["Content-Type"] = content_type
        headers["Date"] = self.path.date()
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Request-Id"] = identity
        for name, value in validators:
            headers[name] = value
        if whole:
            headers["Content-Length"] = content_length
            status, reason, body = 200, "OK", (b"" if head else entry.body)
        else:
            status, reason, body = 304, "Not Modified", b""
        context = getattr(self.request_conn, "context", None)
        self.path.hooks.record(
            started=self.started,
            seconds=time.time() - self.started,
            client=getattr(context, "remote_ip", "") or "",
            method=self.start_line.method,
            key=key,
            status=status,
            sent=len(body),
            cache=_ANSWERED,
            render=None,
            request_id=identity,
            sent_format=entry.content_type.partition("/")[2] if entry.variant else "",
        )
        # Logged and counted first: by the time the client has the answer, its log line is written.
        self.path.answered += 1
        self.request_conn.write_headers(httputil.ResponseStartLine("", status, reason), headers, body or None)
        self.request_conn.finish()


def _prepared(entry: CachedObject) -> tuple[list[tuple[str, str]], str, str]:
    """The entry's validator and caching headers, Content-Type and Content-Length, built on its first hit."""
    found = entry.prepared.get(_PREPARED)
    if found is not None:
        return found  # type: ignore[return-value]
    validators: list[tuple[str, str]] = []
    if is_active(entry.content_type):
        validators.append(("Content-Security-Policy", ACTIVE_CONTENT_CSP))
    if entry.etag:
        validators.append(("Etag", entry.etag))
    validators.append(("Last-Modified", _http_date(entry.last_modified)))
    if entry.cache_control:
        validators.append(("Cache-Control", entry.cache_control))
    validators.append(("Accept-Ranges", "bytes"))
    validators.append(("X-Cache", _ANSWERED))
    prepared = (validators, entry.content_type, str(len(entry.body)))
    entry.prepared[_PREPARED] = prepared
    return prepared


def _http_date(moment: datetime) -> str:
    return httputil.format_timestamp(moment)
