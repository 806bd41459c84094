"""Admin endpoints: ``/healthz`` (alive), ``/readyz`` (the bucket answers), ``/metrics`` (Prometheus)."""

from __future__ import annotations

import asyncio
from typing import Any

from proxy.errors import ProxyError
from proxy.http.handlers import BaseHandler, HealthHandler
from proxy.http.hooks import RequestHooks
from proxy.observe.metrics import CONTENT_TYPE, Metrics
from proxy.service.image_service import ImageService
from proxy.service.singleflight import SingleFlight

READY_TIMEOUT = 2.0  # a probe must answer well within a load balancer's health-check timeout
READY_TTL = 1.0  # probes within this long of a check share its answer: /readyz never floods S3


class Readiness:
    """Whether the bucket answers: one HEAD bucket at a time, its answer reused for ``READY_TTL`` seconds."""

    def __init__(self, service: ImageService) -> None:
        self.service = service
        self._flight: SingleFlight[str | None] = SingleFlight()
        self._answer: tuple[float, str | None] | None = None  # (when, reason it is not ready or None)

    async def problem(self) -> str | None:
        """None when ready, else a short reason."""
        now = self.service.clock()
        if self._answer is not None and now - self._answer[0] < READY_TTL:
            return self._answer[1]
        return await self._flight.run("bucket", self._check)

    async def _check(self) -> str | None:
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                await self.service.store.check_bucket()
            problem = None
        except ProxyError as exc:
            problem = exc.reason
        except TimeoutError:
            problem = "S3 did not answer in time"
        self._answer = (self.service.clock(), problem)
        return problem


class ReadyHandler(BaseHandler):
    """``GET /readyz``: 200 once S3 answers for the bucket; 503 while it does not, and while draining."""

    admin = True

    def initialize(self, readiness: Readiness, hooks: RequestHooks) -> None:
        self.readiness = readiness
        self.hooks = hooks

    async def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        problem = "shutting down" if self.hooks.draining else await self.readiness.problem()
        if problem is not None:
            self.set_status(503)
            self.finish(f"not ready: {problem}\n")
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
        (r"/readyz", ReadyHandler, {"readiness": Readiness(service), "hooks": hooks}),
        (r"/metrics", MetricsHandler, {"metrics": metrics, "hooks": hooks}),
    ]
