"""The hit-throughput yardstick: a bare Tornado handler returning fixed bytes (one process, no logging).

Run by bench/run.py as ``python bench/bare.py PORT FILE``; answers ``GET /<anything>`` with FILE's bytes.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import tornado.web


class BareHandler(tornado.web.RequestHandler):
    def initialize(self, body: bytes) -> None:
        self.body = body

    def compute_etag(self) -> None:
        return None  # no per-response hashing: the fastest Tornado can answer with these bytes

    def get(self, _: str) -> None:
        self.set_header("Content-Type", "image/jpeg")
        self.finish(self.body)


async def main(port: int, path: str) -> None:
    app = tornado.web.Application([(r"/(.*)", BareHandler, {"body": Path(path).read_bytes()})])
    app.listen(port, "127.0.0.1", xheaders=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
