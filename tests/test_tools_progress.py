"""The progress report: a redrawn bar on a terminal, plain lines otherwise, and always a final state."""

from __future__ import annotations

import io

from proxy.tools.progress import Progress


def test_plain_lines_when_not_a_terminal():
    out = io.StringIO()
    progress = Progress("warm", 4, stream=out, every=3600)
    for _ in range(4):
        progress.advance()
    progress.close()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("warm: 1/4  25%")  # the first advance draws; then the interval holds
    assert lines[-1].startswith("warm: 4/4 100%") and len(lines) == 2
    assert "\r" not in out.getvalue()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_redrawn_bar_on_a_terminal():
    tty = Terminal()
    progress = Progress("warm", 2, stream=tty, every=0)
    progress.advance()
    progress.advance()
    progress.close()
    drawn = tty.getvalue()
    assert drawn.startswith("\rwarm: [###############...............] 1/2  50%")
    assert "\rwarm: [##############################] 2/2 100%" in drawn
    assert drawn.endswith("\x1b[K\n") and drawn.count("\n") == 1  # one line, redrawn in place


def test_unknown_total_counts():
    out = io.StringIO()
    progress = Progress("lines read", stream=out, every=3600)
    progress.advance(10_000)
    progress.close()
    assert out.getvalue().splitlines()[-1].startswith("lines read: 10000 ")
