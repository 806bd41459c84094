"""The HTTP server: routes, listening sockets, and an orderly stop."""

from __future__ import annotations

import asyncio
import logging

import tornado.web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from .config import Config
from .handlers import HealthHandler, ObjectHandler, ResizePhpHandler
from .service import ImageService

log = logging.getLogger(__name__)


def make_app(service: ImageService) -> tornado.web.Application:
    return tornado.web.Application(
        [
            (r"/healthz", HealthHandler),
            (r"/resize\.php", ResizePhpHandler, {"service": service}),
            (r"/(.*)", ObjectHandler, {"service": service}),
        ],
        compress_response=False,
    )


class ProxyServer:
    """One listening proxy in the current event loop."""

    def __init__(self, config: Config, service: ImageService | None = None) -> None:
        self.config = config
        self.service = service or ImageService(config)
        self._http = HTTPServer(make_app(self.service), xheaders=True, max_body_size=1024 * 1024)
        self.port = 0

    def start(self) -> int:
        """Bind and start accepting; returns the bound port (useful with port 0)."""
        sockets = bind_sockets(self.config.port, self.config.address)
        self.port = sockets[0].getsockname()[1]
        self._http.add_sockets(sockets)
        log.info("serving bucket %s on %s:%d", self.config.bucket, self.config.address, self.port)
        return self.port

    async def stop(self, drain_seconds: float) -> None:
        """Stop accepting, let in-flight requests and write-backs finish (within ``drain_seconds``)."""
        self._http.stop()
        if not await self.service.drain_writes(drain_seconds):
            log.warning("stopped with %d write-backs unfinished", self.service.pending_writes)
        await self._http.close_all_connections()
        self.service.close()


async def serve(config: Config) -> None:
    """Run until SIGTERM or SIGINT, then stop gracefully."""
    import signal

    server = ProxyServer(config)
    server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping: draining for up to %.0fs", config.drain_seconds)
    await server.stop(config.drain_seconds)
