"""Admin endpoints: ``/healthz`` (alive), ``/readyz`` (the bucket answers), ``/metrics`` (Prometheus)."""

from __future__ import annotations

import asyncio
from typing import Any

from .errors import ProxyError
from .handlers import BaseHandler, HealthHandler
from .metrics import CONTENT_TYPE, Metrics
from .observe import RequestHooks
from .service import ImageService

READY_TIMEOUT = 2.0  # a probe must answer well within a load balancer's health-check timeout


class ReadyHandler(BaseHandler):
    """``GET /readyz``: 200 once S3 answers for the bucket; 503 while it does not, and while draining."""

    admin = True

    def initialize(self, service: ImageService, hooks: RequestHooks) -> None:
        self.service = service
        self.hooks = hooks

    async def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        if self.hooks.draining:
            self.set_status(503)
            self.finish("not ready: shutting down\n")
            return
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                await self.service.store.check_bucket()
        except ProxyError as exc:
            self.set_status(503)
            self.finish(f"not ready: {exc.reason}\n")
            return
        except TimeoutError:
            self.set_status(503)
            self.finish("not ready: S3 did not answer in time\n")
            return
        self.finish("ready\n")

    head = get


class MetricsHandler(BaseHandler):
    """``GET /metrics``: the Prometheus text format."""

    admin = True

    def initialize(self, metrics: Metrics, hooks: RequestHooks) -> None:
        self.metrics = metrics
        self.hooks = hooks

    def get(self) -> None:
        self.hooks.refresh_gauges()
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Type", CONTENT_TYPE)
        self.finish(self.metrics.render())


def admin_routes(service: ImageService, metrics: Metrics, hooks: RequestHooks) -> list[tuple[str, Any, Any]]:
    return [
        (r"/healthz", HealthHandler, {}),
        (r"/readyz", ReadyHandler, {"service": service, "hooks": hooks}),
        (r"/metrics", MetricsHandler, {"metrics": metrics, "hooks": hooks}),
    ]
