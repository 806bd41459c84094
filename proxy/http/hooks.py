"""What the server learns about each request, fed to the access log and the metrics.

``RequestHooks`` is called by the handlers (request id, in-flight count) and by Tornado once a response is
done (its ``log_function``); ``store_hooks`` gives the object store what it reports (S3 times, errors, writes).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import sys
import time
from datetime import UTC, datetime
from typing import IO, Any

from tornado.web import RequestHandler

from proxy.config import Config
from proxy.observe.accesslog import AccessEntry, format_json, format_text
from proxy.observe.metrics import Metrics
from proxy.service.image_service import ImageService
from proxy.service.reply import Reply
from proxy.storage.s3 import PutResult, StoreHooks

log = logging.getLogger(__name__)

# An incoming X-Request-Id is kept only if it is short and plain (it goes into log lines and headers).
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


def request_id(incoming: str | None) -> str:
    """The load balancer's id if it is sane (ALB's X-Amzn-Trace-Id goes elsewhere), else a new one."""
    if incoming and _SANE_REQUEST_ID.fullmatch(incoming):
        return incoming
    # 64 random bits: unique enough to find one request, not a secret (random reseeds itself in forked workers)
    return f"{random.getrandbits(64):016x}"


class AccessLog:
    """Writes one access-log line per object request, as text or JSON (proxy/accesslog.py)."""

    def __init__(self, path: str, fmt: str) -> None:
        self._format = format_json if fmt == "json" else format_text
        self._path = path
        self._own = path not in ("-", "")
        self._out: IO[str] | None = None
        if path == "-":
            self._out = sys.stdout
        elif path:
            self._out = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - lives as long as the server

    def reopen(self) -> None:
        """Start a new file at the same path (SIGHUP, after logrotate moved the old one away)."""
        if not self._own:
            return
        try:
            fresh = open(self._path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        except OSError as exc:
            log.warning("cannot reopen access log %s: %s", self._path, exc)
            return
        if self._out is not None:
            self._out.close()
        self._out = fresh
        log.info("access log %s reopened", self._path)

    @property
    def enabled(self) -> bool:
        return self._out is not None

    def write(self, entry: AccessEntry) -> None:
        if self._out is not None:
            try:
                self._out.write(self._format(entry) + "\n")
                if not self._own:
                    self._out.flush()
            except (OSError, ValueError) as exc:  # a full disk or closed stdout must not fail requests
                log.warning("access log write failed: %s", exc)

    def close(self) -> None:
        if self._own and self._out is not None:
            self._out.close()
        self._out = None


class RequestHooks:
    """Per-request bookkeeping shared by every handler of one server."""

    def __init__(self, config: Config, metrics: Metrics, service: ImageService) -> None:
        self.metrics = metrics
        self.service = service
        self.access_log = AccessLog(config.access_log, config.access_log_format)
        self.in_flight = 0
        self.draining = False
        self._counters: dict[tuple[int, str], Any] = {}  # (status, cache) -> counter child
        self._timers: dict[str, Any] = {}  # cache -> histogram child
        self._idle = asyncio.Event()
        self._idle.set()

    # ---- called by handlers.BaseHandler

    def default_headers(self, handler: RequestHandler) -> None:
        """Headers every response carries, errors included (``clear()`` re-applies them)."""
        if not hasattr(handler, "request_id"):
            handler.request_id = request_id(handler.request.headers.get("X-Request-Id"))  # type: ignore[attr-defined]
        handler.set_header("X-Request-Id", handler.request_id)  # type: ignore[attr-defined]
        if self.draining:  # tell keep-alive clients (and the load balancer) to reconnect elsewhere
            handler.set_header("Connection", "close")

    def started(self, handler: RequestHandler) -> None:
        self.in_flight += 1
        self._idle.clear()
        handler._s3rp_counted = True  # type: ignore[attr-defined]

    def finished(self, handler: RequestHandler) -> None:
        if getattr(handler, "_s3rp_counted", False):
            handler._s3rp_counted = False  # type: ignore[attr-defined]
            self.in_flight -= 1
            if not self.in_flight:
                self._idle.set()

    async def wait_idle(self) -> None:
        """Until no request is being answered."""
        await self._idle.wait()

    # ---- Tornado's log_function

    def log(self, handler: RequestHandler) -> None:
        """Access log and metrics for a finished request (admin endpoints are neither)."""
        if getattr(handler, "admin", False):
            return
        reply = getattr(handler, "reply", None)
        request = handler.request
        render = reply.timings.get("render") if reply is not None else None
        seconds = request.request_time()
        self.record(
            started=time.time() - seconds,
            seconds=seconds,
            client=request.remote_ip or "",
            method=request.method or "",
            key=_key(handler),
            status=handler.get_status(),
            sent=0 if request.method == "HEAD" else _sent_bytes(handler),
            cache=reply.origin.value if reply is not None else "error",
            render=render,
            request_id=getattr(handler, "request_id", ""),
            sent_format=_sent_format(reply),
        )

    def record(
        self,
        *,
        started: float,
        seconds: float,
        client: str,
        method: str,
        key: str,
        status: int,
        sent: int,
        cache: str,
        render: float | None,
        request_id: str,
        sent_format: str = "",
    ) -> None:
        """One answered object request into the metrics and the access log (handlers and the hit path alike)."""
        self._counted(status, cache).inc()
        timer = self._timers.get(cache)
        if timer is None:
            timer = self._timers[cache] = self.metrics.request_seconds.labels(cache)
        timer.observe(seconds)
        if self.access_log.enabled:
            self.access_log.write(
                AccessEntry(
                    time=datetime.fromtimestamp(started, UTC),
                    client=client,
                    method=method,
                    key=key,
                    status=status,
                    bytes=sent,
                    cache=cache,
                    render_ms=None if render is None else render * 1000,
                    total_ms=seconds * 1000,
                    request_id=request_id,
                    sent_format=sent_format,
                )
            )

    def _counted(self, status: int, cache: str) -> Any:
        """The requests counter's child for (status, cache), looked up once (labels() costs microseconds)."""
        child = self._counters.get((status, cache))
        if child is None:
            child = self._counters[(status, cache)] = self.metrics.requests.labels(str(status), cache)
        return child

    def refresh_gauges(self) -> None:
        renders = self.service.renders
        self.metrics.renders_in_progress.set(renders.in_progress)
        self.metrics.renders_queued.set(renders.queued)
        self.metrics.memory_bytes.set(self.service.memory.bytes_used)
        self.metrics.in_flight.set(self.in_flight)

    def observe_render(self, waited: float, ran: float) -> None:
        """RenderPool hook (called in a render thread; prometheus_client is thread-safe)."""
        self.metrics.phase_seconds.labels("queue_wait").observe(waited)
        self.metrics.phase_seconds.labels("render").observe(ran)

    def close(self) -> None:
        self.access_log.close()


def store_hooks(metrics: Metrics) -> StoreHooks:
    """The object store's hooks: S3 call times, S3 errors by kind and write-backs by result."""

    def written(result: PutResult, seconds: float) -> None:
        metrics.phase_seconds.labels("write_back").observe(seconds)
        metrics.write_backs.labels(result.value).inc()

    return StoreHooks(
        error=lambda kind: metrics.s3_errors.labels(kind).inc(),
        fetched=metrics.phase_seconds.labels("s3_fetch").observe,
        written=written,
    )


def _sent_format(reply: Reply | None) -> str:
    """The negotiated format sent instead of the one the key names (``avif``), else ''."""
    if reply is None or not reply.variant:
        return ""
    return reply.content_type.partition("/")[2]


def _key(handler: RequestHandler) -> str:
    """The key the handler answered for; the raw path when it never got that far (a malformed request)."""
    key = getattr(handler, "key", None)
    return key if key is not None else handler.request.path.lstrip("/")


def _sent_bytes(handler: RequestHandler) -> int:
    # Tornado keeps no public count; every answer of ours carries Content-Length (set or computed by finish()).
    length = handler._headers.get("Content-Length")
    return int(length) if length and length.isdecimal() else 0
