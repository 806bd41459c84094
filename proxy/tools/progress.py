"""A progress report on stderr: a redrawn bar on a terminal, a plain line every few seconds otherwise.

Thirty lines of our own rather than tqdm: the tools need one bar with a count, a rate and an ETA, and the
non-TTY behaviour (periodic lines that read well in a CI or cron log) is the part tqdm does not do well.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Counts ``done`` of ``total`` (None: unknown) items; ``advance`` is cheap, drawing is rate-limited."""

    def __init__(
        self, label: str, total: int | None = None, stream: TextIO | None = None, every: float | None = None
    ) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every = every if every is not None else (0.1 if self.tty else 10.0)
        self.started = time.monotonic()
        self._drawn = float("-inf")  # the first advance draws at once
        self._drawn_done: int | None = None  # the count last drawn: the same state is never drawn twice

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if now - self._drawn >= self.every and self.done != self._drawn_done:
            self._drawn = now
            self._draw(now)

    def close(self) -> None:
        """Draw the final state once (unless the last advance just did), so a log shows where the run ended."""
        if self.done != self._drawn_done:
            self._draw(time.monotonic())
        if self.tty:
            self.stream.write("\n")
        self.stream.flush()

    def _draw(self, now: float) -> None:
        self._drawn_done = self.done
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        if self.total is not None:
            share = min(self.done / self.total, 1.0) if self.total else 1.0
            eta = (self.total - self.done) / rate if rate else 0.0
            text = f"{self.label}: {self.done}/{self.total} {share:4.0%} {rate:.1f}/s eta {eta:.0f}s"
            if self.tty:
                filled = int(share * 30)
                text = f"{self.label}: [{'#' * filled}{'.' * (30 - filled)}] " + text.split(": ", 1)[1]
        else:
            text = f"{self.label}: {self.done} {rate:.1f}/s"
        if self.tty:
            self.stream.write("\r" + text + "\x1b[K")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
