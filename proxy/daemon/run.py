"""``serve``: bind the listeners, then run one event loop here or ``--processes`` workers (daemon/processes.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator

from proxy.config import Config
from proxy.daemon import allocator
from proxy.daemon.budget import budget
from proxy.daemon.processes import supervise
from proxy.daemon.sdnotify import notify
from proxy.http.server import CannotListen, bind, serve
from proxy.observe import metrics as metrics_module

log = logging.getLogger(__name__)


def run(config: Config) -> int:
    """``serve``: bind, then run one event loop here or ``--processes`` workers; the exit status."""
    # Before any thread starts (workers inherit both).
    if allocator.limit_arenas(config.malloc_arenas):
        log.debug("malloc arenas capped at %d", config.malloc_arenas)
    if allocator.fix_mmap_threshold(config.malloc_mmap_threshold_kb):
        log.debug("malloc mmap threshold fixed at %d KiB", config.malloc_mmap_threshold_kb)
    try:
        listeners = bind(config, per_worker=config.process_count > 1)
    except CannotListen as exc:
        log.error("%s", exc)  # one line: the address, why, and the flag to change
        return 1
    admin = f", admin on {config.admin_address or config.address}:{listeners.admin_port}" if listeners.admin else ""
    log.info("listening on %s:%d%s, bucket %s", config.address, listeners.port, admin, config.bucket)
    log.info("%s", budget(config).describe(config.process_count))
    with _metrics_dir(config.process_count):
        if config.process_count > 1:
            return supervise(config, listeners)

        def ready() -> None:
            notify("READY=1", f"STATUS=serving bucket {config.bucket} on port {listeners.port}")

        def stopping() -> None:
            notify("STOPPING=1", "STATUS=draining")

        asyncio.run(serve(config, listeners, on_ready=ready, on_stopping=stopping, trim=allocator.trim))
        _exit_now_if_threads_are_stuck()
        return 0


def _exit_now_if_threads_are_stuck() -> None:
    """Exit at once if S3 or render threads are still blocked after the drain (e.g. a stalled GET).

    The interpreter would otherwise join them at exit, up to --s3-read-timeout beyond --drain-seconds.
    """
    stuck = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    for thread in stuck:
        thread.join(0.1)  # idle pool threads leave at once
    stuck = [thread for thread in stuck if thread.is_alive()]
    if stuck:
        log.warning("exiting with %d threads still blocked (S3 calls or renders abandoned)", len(stuck))
        logging.shutdown()
        sys.stdout.flush()
        os._exit(0)


@contextlib.contextmanager
def _metrics_dir(processes: int) -> Iterator[None]:
    """A clean PROMETHEUS_MULTIPROC_DIR for this run: emptied if given, a temporary one for several workers."""
    path = metrics_module.multiprocess_dir()
    if path:
        metrics_module.clear_multiprocess_dir(path)
    if path or processes <= 1:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="s3-resize-proxy-metrics-") as temporary:
        os.environ[metrics_module.MULTIPROC_ENV] = temporary
        try:
            yield
        finally:
            os.environ.pop(metrics_module.MULTIPROC_ENV, None)
