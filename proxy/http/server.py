"""The HTTP server: routes, listening sockets, readiness, and an orderly stop."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import tornado.web
from tornado.httpserver import HTTPServer
from tornado.ioloop import PeriodicCallback
from tornado.netutil import bind_sockets

from proxy.config import Config
from proxy.errors import ProxyError
from proxy.http.admin import READY_TIMEOUT, admin_routes
from proxy.http.handlers import HealthHandler, ObjectHandler, ResizePhpHandler
from proxy.http.hitpath import HitPath
from proxy.http.hooks import RequestHooks, store_hooks
from proxy.observe.metrics import Metrics
from proxy.service.image_service import ImageService
from proxy.storage.s3 import ObjectStore

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
LISTEN_BACKLOG = 128  # tornado.netutil's default


def routes(
    service: ImageService,
    admin: list[tuple[str, Any, Any]] | None = None,
    extra_routes: list[tuple[str, Any, Any]] | None = None,
) -> list[tuple[str, Any, Any]]:
    """The proxy's routes; ``admin`` (healthz, readyz, metrics) first unless they have their own listener, then
    ``extra_routes`` (the demo's page), before the catch-all object route (always the last)."""
    return [
        *(admin or [(r"/healthz", HealthHandler, {})]),
        *(extra_routes or []),
        (r"/resize\.php", ResizePhpHandler, {"service": service}),
        (r"/(.*)", ObjectHandler, {"service": service}),
    ]


def make_app(
    service: ImageService,
    hooks: RequestHooks | None = None,
    admin: list[tuple[str, Any, Any]] | None = None,
    extra_routes: list[tuple[str, Any, Any]] | None = None,
) -> tornado.web.Application:
    return tornado.web.Application(
        routes(service, admin, extra_routes),
        compress_response=False,
        hooks=hooks,
        log_function=hooks.log if hooks else None,
    )


@dataclass
class Listeners:
    """Bound sockets: the proxy's, and the admin endpoints' when they have their own port.

    ``per_worker``: ``main`` holds reservations (bound with SO_REUSEPORT, not listening) and each worker
    process listens on a socket of its own at the same address (``for_worker``), so that the kernel spreads
    connections over the workers; one shared listening socket lets whichever worker wakes first take them
    all. The admin sockets are always shared (little traffic)."""

    main: list[socket.socket]
    admin: list[socket.socket] = field(default_factory=list)
    per_worker: bool = False

    def for_worker(self) -> Listeners:
        """The sockets a worker accepts on: its own listening ones when ``per_worker``, else these."""
        if not self.per_worker:
            return self
        return Listeners([_listen_beside(reserved) for reserved in self.main], self.admin)

    @property
    def port(self) -> int:
        return int(self.main[0].getsockname()[1])

    @property
    def admin_port(self) -> int:
        return int(self.admin[0].getsockname()[1]) if self.admin else 0


class CannotListen(OSError):
    """A listener could not be bound; its text is one line: the address, why, and the flag that changes it."""


def bind(config: Config, per_worker: bool = False) -> Listeners:
    """Bind the listeners (before forking workers); CannotListen if one is taken. ``per_worker``: reserve the
    proxy's address for workers that listen on their own sockets (``Listeners``)."""
    main = _bind(config.address, config.port, "--port", reserve=per_worker)
    admin: list[socket.socket] = []
    if config.admin_port:
        try:
            admin = _bind(config.admin_address or config.address, config.admin_port, "--admin-port")
        except CannotListen:
            for sock in main:
                sock.close()
            raise
    return Listeners(main, admin, per_worker)


def _bind(address: str, port: int, port_flag: str, reserve: bool = False) -> list[socket.socket]:
    try:
        if not reserve:
            return bind_sockets(port, address or None)
        if port:  # taken by anyone, SO_REUSEPORT users included: a plain bind says so (then let go at once)
            for sock in bind_sockets(port, address or None):
                sock.close()
        return _reserve(address or None, port)
    except OSError as exc:
        where = f"{address or '*'}:{port}"
        if exc.errno == errno.EADDRINUSE:
            error = CannotListen(f"cannot listen on {where}: already in use; choose another port with {port_flag}=N")
        else:
            error = CannotListen(f"cannot listen on {where}: {exc.strerror or exc}")
        error.errno = exc.errno
        raise error from exc


def _reserve(address: str | None, port: int) -> list[socket.socket]:
    """Sockets bound to ``address:port`` with SO_REUSEPORT but not listening: they hold the port (and pick it,
    for port 0) without taking connections; workers listen beside them (``_listen_beside``)."""
    reserved: list[socket.socket] = []
    bound_port = port
    try:
        infos = socket.getaddrinfo(address, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
        for family, kind, proto, _, sockaddr in sorted(set(infos), key=lambda info: info[0]):
            sock = socket.socket(family, kind, proto)
            reserved.append(sock)
            _reuse(sock)
            sock.bind((sockaddr[0], bound_port, *sockaddr[2:]))
            bound_port = sock.getsockname()[1]
    except OSError:
        for sock in reserved:
            sock.close()
        raise
    return reserved


def _listen_beside(reserved: socket.socket) -> socket.socket:
    """A listening socket of this process's own at the address ``reserved`` holds (SO_REUSEPORT)."""
    sock = socket.socket(reserved.family, reserved.type, reserved.proto)
    _reuse(sock)
    sock.setblocking(False)
    sock.bind(reserved.getsockname())
    sock.listen(LISTEN_BACKLOG)
    return sock


def _reuse(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if sock.family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)


class ProxyServer:
    """One listening proxy in the current event loop."""

    def __init__(
        self,
        config: Config,
        service: ImageService | None = None,
        extra_routes: list[tuple[str, Any, Any]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.metrics = Metrics()
        self.service = service or ImageService(
            config, store=ObjectStore(config, hooks=store_hooks(self.metrics)), clock=clock
        )
        self.hooks = RequestHooks(config, self.metrics, self.service)
        self.service.renders.observe = self.hooks.observe_render
        admin = admin_routes(self.service, self.metrics, self.hooks)
        main_admin = None if config.admin_port else admin
        app = make_app(self.service, self.hooks, main_admin, extra_routes)
        # Memory hits are answered below tornado.web (http/hitpath.py); every other path is the app's.
        routed = [pattern for pattern, *_ in routes(self.service, main_admin, extra_routes)[:-1]]
        self.hit_path = HitPath(app, self.service, self.hooks, routed)
        self._http = HTTPServer(self.hit_path, xheaders=True, max_body_size=MAX_BODY)
        self._admin_http: HTTPServer | None = None
        if config.admin_port:
            app = tornado.web.Application(admin, hooks=self.hooks, log_function=self.hooks.log)
            self._admin_http = HTTPServer(app, max_body_size=MAX_BODY)
        self._gauges = PeriodicCallback(self._publish_metrics, 1000)
        self.port = 0
        self.admin_port = 0

    def _publish_metrics(self) -> None:
        """Gauges read now, and this process's values written for the other workers (``--processes``)."""
        self.hooks.refresh_gauges()
        self.metrics.publish()

    def start(self, listeners: Listeners | None = None) -> int:
        """Start accepting on ``listeners`` (bound now if not given); returns the port (useful with port 0)."""
        listeners = listeners or bind(self.config)
        self._http.add_sockets(listeners.main)
        if self._admin_http is not None:
            self._admin_http.add_sockets(listeners.admin)
        self.port, self.admin_port = listeners.port, listeners.admin_port
        self._gauges.start()
        return self.port

    async def wait_for_bucket(self) -> None:
        """Return once the bucket answers, retrying with backoff (start-up readiness)."""
        delay = 0.5
        while True:
            try:
                async with asyncio.timeout(READY_TIMEOUT * 2):
                    await self.service.store.check_bucket()
                return
            except (ProxyError, TimeoutError) as exc:
                reason = exc.reason if isinstance(exc, ProxyError) else "no answer in time"
                log.warning("bucket %s does not answer yet (%s); retrying in %.1fs", self.config.bucket, reason, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def stop(self, drain_seconds: float) -> None:
        """Stop accepting, let in-flight requests and write-backs finish (within ``drain_seconds``), close."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_seconds
        self.hooks.draining = True
        self._http.stop()
        log.info("stopping: no new connections; draining for up to %.0fs", drain_seconds)
        try:
            await asyncio.wait_for(self.hooks.wait_idle(), timeout=drain_seconds)
        except TimeoutError:
            log.warning("drain time over with %d requests unfinished", self.hooks.in_flight)
        if not await self.service.drain_writes(max(0.0, deadline - loop.time())):
            log.warning("stopped with %d write-backs unfinished", self.service.pending_writes)
        self._gauges.stop()
        self._publish_metrics()  # the last requests and write-backs, before the files are left
        for server in (self._http, self._admin_http):
            if server is None:
                continue
            server.stop()
            with contextlib.suppress(TimeoutError):  # idle keep-alives; a wedged one must not hold the exit
                await asyncio.wait_for(server.close_all_connections(), timeout=1.0)
        self.hooks.close()
        self.service.close()


async def serve(
    config: Config,
    listeners: Listeners,
    on_ready: Callable[[], None] = lambda: None,
    on_stopping: Callable[[], None] = lambda: None,
    parent: int | None = None,
    trim: Callable[[], object] | None = None,
) -> None:
    """Run until SIGTERM or SIGINT (or, for a worker, until its ``parent`` is gone), then stop gracefully.
    ``trim`` (the allocator's) runs every ``--malloc-trim-seconds``."""
    server = ProxyServer(config)
    server.start(listeners)
    trimming = None
    if trim is not None and config.malloc_trim_seconds > 0:
        trimming = PeriodicCallback(trim, config.malloc_trim_seconds * 1000)
        trimming.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, server.hooks.access_log.reopen)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})  # held in workers
    orphan_check = None
    if parent is not None:
        orphan_check = PeriodicCallback(lambda: os.getppid() != parent and stop.set(), 1000)
        orphan_check.start()
    ready = asyncio.ensure_future(server.wait_for_bucket())
    ready.add_done_callback(lambda task: None if task.cancelled() else on_ready())
    await stop.wait()
    ready.cancel()
    if orphan_check is not None:
        orphan_check.stop()
    if trimming is not None:
        trimming.stop()
    on_stopping()
    await server.stop(config.drain_seconds)
    log.info("stopped")
