"""``s3-resize-proxy demo``: moto's S3 server on 127.0.0.1, a bucket of sample pictures, the proxy in front.

The console carries the demo's own lines and the proxy's access log (also written to a file, for
``analyze-logs``); moto's and werkzeug's chatter only with ``--verbose``. The port is bound before
anything starts, so a busy one costs a single line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shlex
import signal
import sys
import tempfile
import time
from typing import Any, TextIO

from proxy.config import Config
from proxy.demo.page import document, page_routes
from proxy.demo.samples import Sample, samples
from proxy.http.hooks import AccessLog
from proxy.http.server import CannotListen, Listeners, ProxyServer, bind
from proxy.observe.accesslog import AccessEntry, format_text

BUCKET = "demo-images"
# moto accepts any credentials; these go in the environment and in the printed commands.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo"}
EXAMPLES = (
    "earth_200x200.jpg",
    "photos/sunset_400x300_fit.webp",
    "camera_300x0.jpg",
    "resize.php?src=logo_120x80_pad.png",
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class Console:
    """The demo's own lines, on stdout; bold and colour only on a terminal (and not with NO_COLOR set)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.colour = stream.isatty() and "NO_COLOR" not in os.environ

    def style(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.colour else text

    def line(self, text: str = "") -> None:
        with contextlib.suppress(OSError, ValueError):  # a closed pipe must not stop the demo
            print(text, file=self.stream, flush=True)


class ConsoleAccessLog(AccessLog):
    """The proxy's access log in a file (for ``analyze-logs``) and, line for line, on the console."""

    def __init__(self, path: str, console: Console) -> None:
        super().__init__(path, "text")
        self.console = console

    def write(self, entry: AccessEntry) -> None:
        super().write(entry)
        self.console.line(format_text(entry))


class PlainFormatter(logging.Formatter):
    """Log lines without ANSI colour codes (werkzeug colours its request lines even into a pipe)."""

    def format(self, record: logging.LogRecord) -> str:
        return _ANSI.sub("", super().format(record))


def setup_logging(verbose: bool) -> None:
    """The proxy's own log lines (warnings, start and stop); moto, werkzeug and botocore only with --verbose."""
    handler = logging.StreamHandler(sys.stderr)
    fmt = "%(levelname)s %(name)s: %(message)s"
    handler.setFormatter(logging.Formatter(fmt) if sys.stderr.isatty() else PlainFormatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("proxy").setLevel(logging.INFO)
    # werkzeug sets its own logger to INFO unless a level is set: set one either way.
    for name in ("werkzeug", "moto"):
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.CRITICAL)


def start_local_s3() -> tuple[Any, str]:
    """Start moto's S3 server on a free loopback port; returns (server, endpoint URL)."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:  # pragma: no cover - depends on the install
        raise SystemExit("the demo needs moto's server: pip install -e '.[demo]'") from None
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def upload_samples(endpoint: str, bucket: str, pictures: tuple[Sample, ...]) -> None:
    import botocore.session

    client = botocore.session.get_session().create_client("s3", region_name="us-east-1", endpoint_url=endpoint)
    client.create_bucket(Bucket=bucket)
    for sample in pictures:
        client.put_object(
            Bucket=bucket,
            Key=sample.key,
            Body=sample.body,
            ContentType=sample.content_type,
            Metadata=dict(sample.metadata),
        )


def tool_commands(endpoint: str, access_log: str) -> list[str]:
    """Ready-to-paste commands for the bucket tools against this demo, environment included."""
    env = " ".join(f"{name}={value}" for name, value in CREDENTIALS.items())
    s3 = f"--bucket={BUCKET} --s3-endpoint={endpoint}"
    return [
        f"{env} s3-resize-proxy warm {s3} --sizes=200x200 --animation=keep --auto-format=avif,webp",
        f"{env} s3-resize-proxy purge earth.jpg {s3} --dry-run",
        f"s3-resize-proxy analyze-logs {shlex.quote(access_log)}",
    ]


def run_demo(port: int = 8080, address: str = "127.0.0.1", verbose: bool = False, access_log: str = "") -> int:
    """Bind the port (one line and exit 1 if taken), start moto with the samples, serve until Ctrl-C."""
    setup_logging(verbose)
    console = Console(sys.stdout)
    try:
        listeners = bind(Config.defaults(bucket=BUCKET, address=address, port=port))
    except CannotListen as exc:
        print(f"s3-resize-proxy demo: {exc}", file=sys.stderr)
        return 1
    for name, value in CREDENTIALS.items():  # so that botocore's chain never looks further (no IMDS calls)
        os.environ.setdefault(name, value)
    started = time.monotonic()
    try:
        pictures = samples()
        s3, endpoint = start_local_s3()
    except KeyboardInterrupt:
        return 130
    try:
        upload_samples(endpoint, BUCKET, pictures)
        log_path = access_log or os.path.join(tempfile.gettempdir(), f"s3-resize-proxy-demo-{listeners.port}.log")
        with open(log_path, "w", encoding="utf-8"):  # a fresh log for each run
            pass
        config = Config.defaults(
            bucket=BUCKET,
            s3_endpoint=endpoint,
            address=address,
            port=listeners.port,
            access_log="",
            animation="keep",
            auto_format=("avif", "webp"),  # a browser gets AVIF for .jpg keys: the page shows what was sent
        )
        commands = tool_commands(endpoint, log_path)
        server = ProxyServer(config, extra_routes=page_routes(document(pictures, config, commands)))
        server.hooks.access_log = ConsoleAccessLog(log_path, console)
        ready = time.monotonic() - started
        asyncio.run(_serve(server, listeners, console, endpoint, log_path, commands, len(pictures), ready))
    except KeyboardInterrupt:  # before the event loop took over Ctrl-C
        return 130
    finally:
        s3.stop()
    console.line(f"Stopped. The access log stays in {log_path}.")
    return 0


async def _serve(
    server: ProxyServer,
    listeners: Listeners,
    console: Console,
    endpoint: str,
    log_path: str,
    commands: list[str],
    count: int,
    ready: float,
) -> None:
    server.start(listeners)
    address = server.config.address
    base = f"http://{'127.0.0.1' if address in ('0.0.0.0', '') else address}:{server.port}"
    bold, url = "1", "36"
    console.line(
        console.style("s3-resize-proxy demo", bold)
        + f": {count} sample pictures in bucket '{BUCKET}' on a local S3 (moto), ready in {ready:.1f}s"
    )
    console.line()
    console.line(f"  Demo page   {console.style(base + '/', url)}")
    for i, path in enumerate(EXAMPLES):
        console.line(f"  {'Thumbnails' if i == 0 else '':<10}  {console.style(f'{base}/{path}', url)}")
    console.line(f"  Local S3    {endpoint}  (bucket {BUCKET}; any credentials)")
    console.line(f"  Access log  {log_path}  (and below)")
    console.line()
    console.line(console.style("The tools against this demo", bold) + " (paste into another terminal):")
    for command in commands:
        console.line(f"  {command}")
    console.line()
    console.line("Ctrl-C to stop. Access log: time client method key status bytes cache render-ms total-ms id")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(server.config.drain_seconds)
