"""Tornado handlers: HTTP in, HTTP out. They call the service and map its errors to statuses, here only."""

from __future__ import annotations

import logging
from typing import Any

from tornado import httputil
from tornado.iostream import StreamClosedError
from tornado.web import RequestHandler

from proxy.errors import BadRequest, ProxyError
from proxy.http.accept import negotiate
from proxy.http.activecontent import ACTIVE_CONTENT_CSP, is_active
from proxy.http.conditional import not_modified
from proxy.http.paths import path_key
from proxy.service.image_service import ImageService, Reply
from proxy.service.ranges import parse_range

log = logging.getLogger(__name__)


class BaseHandler(RequestHandler):
    """Common headers and the single error-to-HTTP mapping."""

    admin = False  # admin endpoints stay out of the access log and request metrics
    vary_accept = False  # the answer depends on Accept (--auto-format)

    def set_default_headers(self) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")
        self.clear_header("Server")
        if self.vary_accept:
            self.set_header("Vary", "Accept")
        if hooks := self.settings.get("hooks"):  # request id, draining (proxy/observe.py)
            hooks.default_headers(self)

    def prepare(self) -> None:
        if hooks := self.settings.get("hooks"):
            hooks.started(self)

    def on_finish(self) -> None:
        if hooks := self.settings.get("hooks"):
            hooks.finished(self)

    def compute_etag(self) -> str | None:
        return None  # ETags are S3's (or the MD5 S3 will compute), set explicitly

    def fail(self, exc: ProxyError) -> None:
        """Answer a ProxyError: its status, its short reason as text, never cacheable."""
        self.clear()
        self.set_status(exc.status)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        if exc.retry_after is not None:
            self.set_header("Retry-After", str(exc.retry_after))
        for name, value in exc.headers().items():
            self.set_header(name, value)
        self.finish("" if self.request.method == "HEAD" else exc.reason + "\n")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Tornado's own errors (bad request line, unexpected exception): a short text, never a traceback."""
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(f"{status_code} {self._reason}\n")


class ObjectHandler(BaseHandler):
    """``GET|HEAD /<key>``: the object, or the thumbnail the key names."""

    reply: Reply | None = None  # what was answered, for the access log and metrics
    key: str | None = None
    negotiate = True  # --auto-format applies (not behind the S3 website's redirect: S3 answers by key alone)

    def initialize(self, service: ImageService) -> None:
        self.service = service

    async def get(self, _: str) -> None:
        await self.answer_path()

    async def head(self, _: str) -> None:
        await self.answer_path()

    async def answer_path(self) -> None:
        try:
            key = path_key(self.request.path)
        except BadRequest as exc:
            self.fail(exc)
            return
        await self.answer(key)

    async def answer(self, key: str) -> None:
        self.key = key  # for the access log
        # Raw, like src: the signature is compared byte for byte, never after Tornado's clean-up.
        sig = self.request.query_arguments.get("sig")
        # Range applies to GET only (RFC 9110 14.2); one we do not serve is ignored: the whole object is sent.
        byte_range = parse_range(self.request.headers.get("Range")) if self.request.method == "GET" else None
        prefer = None
        if self.negotiate and self.service.negotiates(key):
            self.vary_accept = True  # on every answer for the key, errors too: caches must keep variants apart
            self.set_header("Vary", "Accept")
            prefer = negotiate(self.request.headers.get("Accept"), self.service.config.auto_format)
        try:
            reply = await self.service.get(
                key,
                sig[0].decode("ascii", "replace") if sig else None,
                byte_range=byte_range,
                if_range=self.request.headers.get("If-Range"),
                prefer=prefer,
            )
        except ProxyError as exc:
            self.fail(exc)
            return
        await self.send(reply)

    async def send(self, reply: Reply) -> None:
        self.reply = reply
        if is_active(reply.content_type):
            self.set_header("Content-Security-Policy", ACTIVE_CONTENT_CSP)
        # Validators and caching headers go on 200, 206 and 304 alike; Tornado's own ETag logic stays off.
        if reply.etag:
            self.set_header("ETag", reply.etag)
        self.set_header("Last-Modified", httputil.format_timestamp(reply.last_modified))
        if reply.cache_control:
            self.set_header("Cache-Control", reply.cache_control)
        self.set_header("Accept-Ranges", "bytes")
        self.set_header("X-Cache", reply.origin.value)
        if reply.timings:
            timings = {**reply.timings, "total": self.request.request_time()}
            self.set_header("Server-Timing", ", ".join(f"{k};dur={v * 1000:.1f}" for k, v in timings.items()))
        if not_modified(self.request.headers, reply.etag, reply.last_modified):
            if reply.stream is not None:
                reply.stream.close()
            self.set_status(304)
            self.finish()
            return
        self.set_header("Content-Type", reply.content_type)
        self.set_header("Content-Length", str(reply.size))
        if reply.content_range is not None:
            self.set_status(206)
            self.set_header("Content-Range", reply.content_range)
        if reply.stream is None:
            self.finish(None if self.request.method == "HEAD" else reply.body)
            return
        try:
            if self.request.method != "HEAD":
                while chunk := await reply.stream.read():
                    self.write(chunk)
                    await self.flush()
            self.finish()
        except StreamClosedError:
            pass  # the client went away
        except ProxyError as exc:  # S3 failed mid-body: headers are gone, so cut the connection
            log.warning("stream of %s failed: %s", reply.stream.info.key, exc.reason)
            if self.request.connection is not None:
                self.request.connection.close()
        finally:
            reply.stream.close()


class ResizePhpHandler(ObjectHandler):
    """``GET|HEAD /resize.php?src=<key>``: the old 302 contract, the same as ``GET /<key>``.

    Never negotiated: S3 serves later requests for the key from what is stored there, by key alone, so the
    format the key names is the one answered and stored."""

    negotiate = False

    async def get(self) -> None:  # type: ignore[override]
        await self.answer_src()

    async def head(self) -> None:  # type: ignore[override]
        await self.answer_src()

    async def answer_src(self) -> None:
        # Read the raw value: Tornado's get_argument strips spaces and drops control characters, which
        # would turn a bad key into a different, valid-looking one.
        values = self.request.query_arguments.get("src")
        if not values:
            self.fail(BadRequest("missing src parameter"))
            return
        try:
            key = values[0].decode("utf-8")
        except UnicodeDecodeError:
            self.fail(BadRequest("key is not valid UTF-8"))
            return
        await self.answer(key)


class HealthHandler(BaseHandler):
    """``GET /healthz``: 200 while the process serves."""

    admin = True

    def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("ok\n")

    head = get
