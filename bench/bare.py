"""The hit-throughput yardstick: a bare Tornado handler returning fixed bytes (one process, no logging).

Run by bench/run.py as ``python bench/bare.py PORT FILE ETAG``; answers ``GET /<anything>`` with FILE's bytes
and that ETag, and ``If-None-Match: ETAG`` with Tornado's own 304.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import tornado.web


class BareHandler(tornado.web.RequestHandler):
    def initialize(self, body: bytes, etag: str) -> None:
        self.body = body
        self.etag = etag

    def compute_etag(self) -> None:
        return None  # no per-response hashing: the fastest Tornado can answer with these bytes

    def get(self, _: str) -> None:
        self.set_header("Content-Type", "image/jpeg")
        self.set_header("Etag", self.etag)  # finish() answers a matching If-None-Match with 304
        self.finish(self.body)


def bare_app(body: bytes, etag: str) -> tornado.web.Application:
    return tornado.web.Application([(r"/(.*)", BareHandler, {"body": body, "etag": etag})])


async def main(port: int, path: str, etag: str) -> None:
    bare_app(Path(path).read_bytes(), etag).listen(port, "127.0.0.1", xheaders=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else '"bare"'))
