"""Where the microseconds of a memory hit go: ``python bench/profile_hit.py [--seconds=5] [--top=25]``.

Starts moto and one proxy (the default configuration: metrics, request ids, the access log written to a file)
under cProfile, makes one thumbnail, then sends memory hits with wrk (``-t1 -c16``) for ``--seconds``, stops the
proxy and prints the profile divided by the number of hits: microseconds per hit by module group and by
function (``tottime``, the time spent in the function itself). ``--if-none-match`` profiles 304s instead.
The proxy runs in this process and only the wrk window is profiled. cProfile adds its own cost per call, so
absolute figures are inflated (about 2x); the shares are what it is for. ``--root`` profiles another checkout
(an older commit) with the same script.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _import_proxy_from(argv: list[str]) -> None:
    """``--root``: import the ``proxy`` package from that checkout before anything here imports ours (the bench
    helpers import it; once imported, its submodules come from the same checkout)."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--root")
    root = early.parse_known_args(argv)[0].root
    if root:
        sys.path.insert(0, str(Path(root).resolve()))
        import proxy

        sys.path.pop(0)
        assert Path(proxy.__file__).resolve().parent.parent == Path(root).resolve(), proxy.__file__


_import_proxy_from(sys.argv[1:])

from tornado.httpclient import AsyncHTTPClient  # noqa: E402
from tornado.httpserver import HTTPServer  # noqa: E402
from tornado.netutil import bind_sockets  # noqa: E402

from bench.bare import bare_app  # noqa: E402
from bench.photos import wallpapers  # noqa: E402
from bench.procs import AWS_ENV, machine_busy, moto, s3_client  # noqa: E402

BUCKET = "bench-profile"
GROUPS = (  # first match wins: a path fragment -> the group it is counted in
    ("/proxy/http/", "proxy.http (handlers, hooks)"),
    ("/proxy/observe/", "proxy.observe (access log line, metrics)"),
    ("/proxy/service/", "proxy.service (cache lookup, reply)"),
    ("/proxy/", "proxy (other)"),
    ("prometheus_client", "prometheus_client"),
    ("tornado/web.py", "tornado.web (RequestHandler)"),
    ("tornado/http1connection.py", "tornado HTTP/1 connection"),
    ("tornado/httputil.py", "tornado.httputil (headers, dates)"),
    ("tornado/iostream.py", "tornado.iostream"),
    ("tornado/", "tornado (other)"),
    ("asyncio/", "asyncio event loop"),
    ("selectors.py", "asyncio event loop"),
    ("uvloop", "asyncio event loop"),
)


def group(filename: str, function: str) -> str:
    for fragment, name in GROUPS:
        if fragment in filename:
            return name
    if filename == "~":
        return f"builtins ({_builtin_kind(function)})"
    return "stdlib (other)"


def _builtin_kind(function: str) -> str:
    if any(word in function for word in ("send", "recv", "socket", "poll", "epoll", "select")):
        return "socket I/O, epoll"
    return "C functions"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--root", default=str(Path(__file__).resolve().parent.parent), help="checkout to profile")
    parser.add_argument("--if-none-match", action="store_true", help="profile 304 answers")
    parser.add_argument("--bare", action="store_true", help="profile the bare handler (bench/bare.py) instead")
    args = parser.parse_args()
    photo = wallpapers()[(2560, 1600)][0]
    with moto() as (endpoint, _), tempfile.TemporaryDirectory() as tmp:
        s3 = s3_client(endpoint)
        s3.create_bucket(Bucket=BUCKET)  # type: ignore[attr-defined]
        s3.put_object(Bucket=BUCKET, Key="photo.jpg", Body=photo.read_bytes(), ContentType="image/jpeg")  # type: ignore[attr-defined]
        os.environ.update(AWS_ENV)
        hits, seconds, load, stats = asyncio.run(profile(endpoint, f"{tmp}/access.log", args))
    by_group: dict[str, float] = defaultdict(float)
    rows = []
    for (filename, line, function), (_, calls, tottime, _cum, _) in stats.stats.items():  # type: ignore[attr-defined]
        by_group[group(filename, function)] += tottime
        rows.append((tottime, calls, f"{_short(filename)}:{line}({function})"))
    total = sum(by_group.values())
    kind = "304 (If-None-Match)" if args.if_none_match else "200 memory hit"
    kind += ", bare handler" if args.bare else ""
    print(f"{hits} hits ({kind}) in {seconds:.1f} s under cProfile, proxy from {args.root}")
    print(f"machine busy {load:.2f} cores during the window (this process and wrk included)")
    print("\n| group | µs per hit | share |\n|---|---|---|")
    for name, spent in sorted(by_group.items(), key=lambda item: -item[1]):
        print(f"| {name} | {spent / hits * 1e6:.1f} | {spent / total:.0%} |")
    print(f"| **total** | **{total / hits * 1e6:.1f}** | |")
    print("\n| function (tottime) | calls per hit | µs per hit |\n|---|---|---|")
    for tottime, calls, name in sorted(rows, reverse=True)[: args.top]:
        print(f"| `{name}` | {calls / hits:.1f} | {tottime / hits * 1e6:.1f} |")
    return 0


async def profile(endpoint: str, access_log: str, args: argparse.Namespace) -> tuple[int, float, float, pstats.Stats]:
    """Serve in this process; profile exactly the wrk window (start-up and the first render stay out)."""
    from proxy.config import Config
    from proxy.http.server import ProxyServer

    config = Config.defaults(bucket=BUCKET, s3_endpoint=endpoint, address="127.0.0.1", port=0, access_log=access_log)
    server = ProxyServer(config)
    port = server.start()
    url = f"http://127.0.0.1:{port}/photo_320x200.jpg"
    client = AsyncHTTPClient(force_instance=True)
    reply = await client.fetch(url)  # the miss: rendered and kept in memory
    etag = reply.headers["ETag"]
    if args.bare:  # the same bytes from bench/bare.py's handler, on its own port
        bare = HTTPServer(bare_app(reply.body, etag), xheaders=True)
        [sock] = bind_sockets(0, "127.0.0.1")
        bare.add_sockets([sock])
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/x.jpg"
    for _ in range(200):  # warm the hit path (first calls build caches of Tornado's and ours)
        await client.fetch(url)
    client.close()
    command = ["wrk", "-t1", "-c16", f"-d{args.seconds}s"]
    if args.if_none_match:
        command += ["-H", f"If-None-Match: {etag}"]
    profiler = cProfile.Profile()
    busy = machine_busy()
    started = time.perf_counter()
    profiler.enable()
    wrk = await asyncio.create_subprocess_exec(*command, url, stdout=asyncio.subprocess.PIPE)
    out = (await wrk.communicate())[0].decode()
    profiler.disable()
    seconds = time.perf_counter() - started
    load = (machine_busy() - busy) / seconds
    await server.stop(1.0)
    match = re.search(r"(\d+) requests in", out)
    if match is None or "Non-2xx" in out:
        raise SystemExit(f"wrk failed:\n{out}")
    return int(match.group(1)), seconds, load, pstats.Stats(profiler)


def _short(filename: str) -> str:
    for marker in ("site-packages/", "lib/python3.11/", "/proxy/"):
        if marker in filename:
            rest = filename.partition(marker)[2]
            return ("proxy/" + rest) if marker == "/proxy/" else rest
    return filename


if __name__ == "__main__":
    sys.exit(main())
