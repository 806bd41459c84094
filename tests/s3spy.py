"""A recording, fault-injecting HTTP forwarder put between the proxy and moto's S3 server.

It counts what the S3 endpoint really sees (GETs of an original, PUTs of a thumbnail) and can make S3 slow,
failing or unreachable, without patching any client: the proxy talks plain HTTP to it.
"""

from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Seen:
    method: str
    path: str  # /bucket/key, without the query
    query: str
    status: int
    headers: dict[str, str]


@dataclass
class Fault:
    """Answer ``status`` (or stall for ``stall`` seconds first) to matching requests, ``times`` times."""

    method: str | None
    path_suffix: str | None
    status: int | None = None
    stall: threading.Event | None = None  # wait on this event before forwarding (released by the test)
    chunked: bool = False  # forward S3's answer with Transfer-Encoding: chunked, i.e. no Content-Length
    times: int = 1_000_000


class S3Spy:
    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.seen: list[Seen] = []
        self.faults: list[Fault] = []
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        spy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                body = _read_body(self)
                path, _, query = self.path.partition("?")
                fault = spy._match(self.command, path)
                if fault is not None and fault.stall is not None:
                    fault.stall.wait(30)
                if fault is not None and fault.status is not None:
                    status, headers, payload = (
                        fault.status,
                        {"Content-Type": "application/xml"},
                        _error_xml(fault.status),
                    )
                else:
                    status, headers, payload = spy._upstream(self.command, self.path, dict(self.headers), body)
                spy._record(Seen(self.command, path, query, status, dict(self.headers)))
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                        self.send_header(name, value)
                if fault is not None and fault.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(
                            b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload) if payload else b"0\r\n\r\n"
                        )
                    return
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    # ---- what tests use --------------------------------------------------------------------------------

    def count(self, method: str, key_suffix: str, status: int | None = None) -> int:
        with self.lock:
            return sum(
                1
                for s in self.seen
                if s.method == method and s.path.endswith(key_suffix) and (status is None or s.status == status)
            )

    def fail(self, method: str | None, path_suffix: str | None, status: int, times: int = 1_000_000) -> Fault:
        fault = Fault(method, path_suffix, status=status, times=times)
        with self.lock:
            self.faults.append(fault)
        return fault

    def stall(self, method: str | None, path_suffix: str | None) -> threading.Event:
        """Hold matching requests until the returned event is set."""
        release = threading.Event()
        with self.lock:
            self.faults.append(Fault(method, path_suffix, stall=release))
        return release

    def chunked(self, method: str | None, path_suffix: str | None) -> None:
        """Answer matching requests without Content-Length (chunked), as a proxy or a lying store might."""
        with self.lock:
            self.faults.append(Fault(method, path_suffix, chunked=True))

    def clear_faults(self) -> None:
        with self.lock:
            for fault in self.faults:
                if fault.stall is not None:
                    fault.stall.set()
            self.faults.clear()

    def wait_for(self, predicate: object, timeout: float = 10.0) -> bool:
        """Block until ``predicate()`` holds (re-checked whenever a request is recorded)."""
        with self.changed:
            return self.changed.wait_for(predicate, timeout)  # type: ignore[arg-type]

    def close(self) -> None:
        self.clear_faults()
        self.server.shutdown()
        self.server.server_close()

    # ---- internals ---------------------------------------------------------------------------------------

    def _match(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if (
                    fault.times > 0
                    and (fault.method in (None, method))
                    and (fault.path_suffix is None or path.endswith(fault.path_suffix))
                ):
                    fault.times -= 1
                    return fault
        return None

    def _record(self, seen: Seen) -> None:
        with self.changed:
            self.seen.append(seen)
            self.changed.notify_all()

    def _upstream(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=30)
        try:
            headers.pop("Transfer-Encoding", None)
            headers["Content-Length"] = str(len(body))
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            return response.status, dict(response.getheaders()), payload
        finally:
            conn.close()


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(handler.rfile.readline().strip().split(b";")[0], 16)
            if size == 0:
                handler.rfile.readline()
                break
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
        return b"".join(chunks)
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def _error_xml(status: int) -> bytes:
    code = {500: "InternalError", 503: "SlowDown", 403: "AccessDenied", 405: "MethodNotAllowed"}.get(status, "Error")
    return f"<?xml version='1.0'?><Error><Code>{code}</Code><Message>injected</Message></Error>".encode()
