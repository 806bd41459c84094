"""``python -m proxy demo`` in a subprocess on a free port, its stdout and stderr read as they come."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent


def environment() -> dict[str, str]:
    """This environment without the proxy's settings or colour switches, importing this checkout's ``proxy``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3RP_", "PROMETHEUS_"))}
    for name in ("NO_COLOR", "FORCE_COLOR"):
        env.pop(name, None)
    env["PYTHONPATH"] = str(ROOT)
    return env


class Demo:
    """A running demo: ``url`` (the proxy), ``s3`` (moto), ``commands`` (the printed tool lines), its output."""

    def __init__(self, log_path: Path, *args: str) -> None:
        self.log_path = log_path
        self.process = subprocess.Popen(
            [sys.executable, "-m", "proxy", "demo", "--port=0", f"--access-log={log_path}", *args],
            cwd=ROOT,
            env=environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._changed = threading.Condition()
        self._closed = 0  # streams at their end
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.process.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        self.wait_out(r"^Ctrl-C to stop")
        self.url = self.match(r"^  Demo page +(http://\S+)/$").group(1)
        self.s3 = self.match(r"^  Local S3 +(http://\S+)").group(1)
        start = self.out.index(next(line for line in self.out if line.startswith("The tools against this demo")))
        self.commands = [line.strip() for line in self.out[start + 1 :] if line.startswith("  ")]

    def _read(self, stream: IO[str] | None, lines: list[str]) -> None:
        assert stream is not None
        for line in stream:
            with self._changed:
                lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._closed += 1
            self._changed.notify_all()

    def match(self, pattern: str) -> re.Match[str]:
        found = next((m for line in self.out if (m := re.search(pattern, line))), None)
        assert found is not None, f"no line matching {pattern!r} in:\n" + "\n".join(self.out + self.err)
        return found

    def wait_out(self, pattern: str, timeout: float = 60) -> None:
        """Wait until a stdout line matches (or the demo has closed its output: exited)."""

        def seen() -> bool:
            return any(re.search(pattern, line) for line in self.out) or self._closed == 2

        with self._changed:
            self._changed.wait_for(seen, timeout)
        self.match(pattern)

    def stop(self) -> int:
        """Ctrl-C, then wait for the exit and for the last of its output."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        status = self.process.wait(60)
        for reader in self._readers:
            reader.join(10)
        return status

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
