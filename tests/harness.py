"""Run a real ProxyServer on 127.0.0.1 in a background thread with its own event loop."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from proxy.config import Config
from proxy.http.server import Listeners, ProxyServer

T = TypeVar("T")


class RunningProxy:
    def __init__(self, config: Config, listeners: Listeners | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

        async def start() -> ProxyServer:
            server = ProxyServer(config)
            server.start(listeners)
            return server

        self.server = self.run(start())
        self.config = config
        self.service = self.server.service
        self.url = f"http://127.0.0.1:{self.server.port}"

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run a coroutine on the proxy's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def flush(self) -> None:
        """Wait until every write-back started so far has finished."""
        assert self.run(self.service.drain_writes(20)), "write-backs did not finish"

    def stop(self) -> None:
        if self.loop.is_closed():  # already stopped by the test
            return
        try:
            self.run(self.server.stop(5))
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()


def free_port() -> int:
    """A loopback port nobody listens on (bound, read, released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
