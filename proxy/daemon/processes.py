"""``--processes=N``: a parent that forks N workers on one address and stops them together.

The parent reserves the address (each worker listens on a socket of its own beside the reservation, with
SO_REUSEPORT, so that the kernel spreads connections over the workers), forks, then only watches: it tells
systemd READY=1 once every worker's bucket check passed, forwards SIGTERM/SIGINT to the workers and waits
for them to drain. A worker that dies on its own is replaced (at most MAX_RESPAWNS a minute, beyond that the
group stops with status 1 for systemd to restart); once stopping, nothing is respawned.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import select
import signal
import time
from collections.abc import Callable
from functools import partial
from typing import NoReturn

from proxy.config import Config
from proxy.daemon import allocator
from proxy.daemon.sdnotify import notify
from proxy.http.server import Listeners, serve
from proxy.observe.metrics import process_exited

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGHUP)
STOP_GRACE = 5.0  # beyond --drain-seconds, before workers that still run are killed
MAX_RESPAWNS = 5


def supervise(config: Config, listeners: Listeners) -> int:
    """Run ``config.process_count`` workers until SIGTERM/SIGINT; the group's exit status."""
    count = config.process_count
    ready_r, ready_w = os.pipe()
    wake_r, wake_w = os.pipe()
    for fd in (ready_r, wake_r, wake_w):
        os.set_blocking(fd, False)
    received: collections.deque[int] = collections.deque()
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    previous_handlers = {sig: signal.signal(sig, lambda number, _: received.append(number)) for sig in SIGNALS}
    signal.set_wakeup_fd(wake_w)
    workers: dict[int, int] = {}  # pid -> slot

    def spawn(slot: int) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)  # a signal between fork and reset stays pending
        pid = os.fork()
        if pid == 0:
            _worker(config, listeners, slot, ready_w, (ready_r, wake_r, wake_w))
        workers[pid] = slot
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)

    try:
        for slot in range(count):
            spawn(slot)
        log.info("started %d worker processes", count)
        return _watch(config, workers, spawn, received, ready_r, wake_r)
    finally:
        signal.set_wakeup_fd(-1)
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
        for fd in (ready_r, ready_w, wake_r, wake_w):
            os.close(fd)
        for sock in listeners.main + listeners.admin:
            sock.close()


def _watch(
    config: Config,
    workers: dict[int, int],
    spawn: Callable[[int], None],
    received: collections.deque[int],
    ready_r: int,
    wake_r: int,
) -> int:
    """The parent's loop: readiness, signals, exits; returns when every worker is gone."""
    count = len(workers)
    ready = 0
    announced = False
    stopping = False
    deadline: float | None = None
    status = 0
    respawns: collections.deque[float] = collections.deque()

    def stop_all(reason: str) -> None:
        nonlocal stopping, deadline
        stopping = True
        deadline = time.monotonic() + config.drain_seconds + STOP_GRACE
        notify("STOPPING=1", f"STATUS={reason}")
        for pid in workers:
            _kill(pid, signal.SIGTERM)

    while workers:
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        select.select([wake_r, ready_r], [], [], timeout)
        _read_all(wake_r)
        ready += len(_read_all(ready_r))
        if ready >= count and not announced and not stopping:
            announced = True
            notify("READY=1", f"STATUS=serving bucket {config.bucket} with {count} processes", f"MAINPID={os.getpid()}")
        while received:
            sig = received.popleft()
            if sig == signal.SIGHUP:  # reopen the access log: every worker has its own file handle
                for pid in workers:
                    _kill(pid, signal.SIGHUP)
            elif sig in (signal.SIGTERM, signal.SIGINT) and not stopping:
                log.info("stopping %d workers: draining for up to %.0fs", len(workers), config.drain_seconds)
                stop_all("draining")
        for pid, code in _reaped():
            slot = workers.pop(pid)
            process_exited(pid)
            if stopping:
                if code != 0:
                    log.warning("worker %d (pid %d) exited with status %d", slot, pid, code)
                    status = 1
                continue
            now = time.monotonic()
            while respawns and now - respawns[0] > 60:
                respawns.popleft()
            if len(respawns) >= MAX_RESPAWNS:
                log.error("worker %d (pid %d) exited with status %d; too many restarts, stopping", slot, pid, code)
                status = 1
                stop_all("workers keep failing")
                continue
            log.error("worker %d (pid %d) exited with status %d; starting a new one", slot, pid, code)
            respawns.append(now)
            spawn(slot)
        if deadline is not None and time.monotonic() >= deadline and workers:
            log.error("%d workers still running after the drain time: killing them", len(workers))
            for pid in workers:
                _kill(pid, signal.SIGKILL)
            status = 1
            deadline = None
    return status


def _worker(config: Config, listeners: Listeners, slot: int, ready_w: int, inherited: tuple[int, ...]) -> NoReturn:
    """A forked worker: its own event loop on the shared sockets; never returns."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        # SIGTERM/SIGINT/SIGHUP stay blocked (pending, not lost) until serve() has its handlers in place.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        for fd in inherited:
            os.close(fd)
        os.environ.pop("NOTIFY_SOCKET", None)  # only the parent speaks to systemd
        parent = os.getppid()
        log.info("worker %d (pid %d) started", slot, os.getpid())
        own = listeners.for_worker()
        ready = partial(_signal_ready, ready_w)
        asyncio.run(serve(config, own, on_ready=ready, parent=parent, trim=allocator.trim))
        code = 0
    except BaseException:
        log.exception("worker %d failed", slot)
    finally:
        logging.shutdown()
        os._exit(code)


def _signal_ready(ready_w: int) -> None:
    with contextlib.suppress(OSError):  # the parent is gone; the orphan check stops this worker
        os.write(ready_w, b".")


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _reaped() -> list[tuple[int, int]]:
    """(pid, exit status) of every child that has exited, without blocking."""
    done = []
    while True:
        try:
            pid, wait_status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        done.append((pid, os.waitstatus_to_exitcode(wait_status)))
    return done


def _kill(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
