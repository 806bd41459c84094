"""The ``s3-resize-proxy`` command: one sub-command per job, each defined by a module with add_parser/run."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from proxy import __version__
from proxy.config import ConfigError, add_arguments, from_args
from proxy.tools import analyze_logs, prune, purge, setup_bucket, sign, warm, watch

# Modules that each add one sub-command: ``add_parser(commands)`` registers it and sets ``run=`` on it.
EXTRA_COMMANDS = (sign, setup_bucket, analyze_logs, prune, warm, purge, watch)


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s",  # pid: --processes
        stream=sys.stderr,
    )


def _serve(args: argparse.Namespace) -> int:
    from proxy.daemon.run import run

    try:
        config = from_args(args)
    except ConfigError as exc:
        print(f"s3-resize-proxy: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.log_level)
    return run(config)


def _demo(args: argparse.Namespace) -> int:
    from proxy.demo.app import run_demo

    return run_demo(port=args.port, address=args.address, verbose=args.verbose, access_log=args.access_log)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="s3-resize-proxy", description="Serve an S3 bucket and make thumbnails on demand."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="Run the proxy.", description="Run the proxy in front of one bucket.")
    add_arguments(serve)
    serve.set_defaults(run=_serve)

    demo = commands.add_parser(
        "demo",
        help="Run the proxy on a local S3 (moto) with sample images.",
        description="Start a local S3 "
        "endpoint on 127.0.0.1 with sample images and the proxy in front of it; print URLs to open.",
    )
    demo.add_argument("--port", type=int, default=8080, help="Proxy port. Default: 8080.")
    demo.add_argument("--address", default="127.0.0.1", help="Proxy address. Default: 127.0.0.1.")
    demo.add_argument(
        "--access-log",
        default="",
        metavar="PATH",
        help="Access log file. Default: s3-resize-proxy-demo-PORT.log in the temp dir.",
    )
    demo.add_argument("--verbose", action="store_true", help="Also show moto's and werkzeug's log lines.")
    demo.set_defaults(run=_demo)

    for module in EXTRA_COMMANDS:
        module.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result
