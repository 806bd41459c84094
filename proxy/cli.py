"""The ``s3-resize-proxy`` command: one sub-command per job, each defined by a module with add_parser/run."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Collection, Sequence

from . import __version__
from . import config as config_module
from .config import CONFIG_ENV, OPTIONS, Config, ConfigError, format_default

# Modules that each add one sub-command: ``add_parser(commands)`` registers it and sets ``run=`` on it.
EXTRA_COMMANDS: tuple[str, ...] = (
    "proxy.sign_command",
    "proxy.tools.setup_bucket",
    "proxy.tools.analyze_logs",
    "proxy.tools.prune",
    "proxy.tools.warm",
    "proxy.tools.purge",
)


def add_serve_options(parser: argparse.ArgumentParser, names: Collection[str] | None = None) -> None:
    """One flag per option (or per option in ``names``, for the bucket tools); defaults stay None so that only
    what the user typed overrides env and file."""
    parser.add_argument("--config", metavar="PATH", help=f"Config file (name = value lines). Env: {CONFIG_ENV}.")
    for option in OPTIONS:
        if names is not None and option.name not in names:
            continue
        default = format_default(option) or "(none)"
        help_text = f"{option.help} Default: {default}. Env: {option.env}."
        if option.flag:
            parser.add_argument(f"--{option.name}", action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            parser.add_argument(f"--{option.name}", metavar=option.name.upper().replace("-", "_"), help=help_text)


def config_from_args(args: argparse.Namespace) -> Config:
    flags = {option.name: getattr(args, option.attr, None) for option in OPTIONS}
    path = args.config or os.environ.get(CONFIG_ENV)
    return config_module.load(flags, config_path=path)


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s",  # pid: --processes
        stream=sys.stderr,
    )


def _serve(args: argparse.Namespace) -> int:
    from .server import run

    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"s3-resize-proxy: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.log_level)
    return run(config)


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    setup_logging("info")
    return run_demo(port=args.port, address=args.address)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="s3-resize-proxy", description="Serve an S3 bucket and make thumbnails on demand."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="Run the proxy.", description="Run the proxy in front of one bucket.")
    add_serve_options(serve)
    serve.set_defaults(run=_serve)

    demo = commands.add_parser(
        "demo",
        help="Run the proxy on a local S3 (moto) with sample images.",
        description="Start a local S3 "
        "endpoint on 127.0.0.1 with sample images and the proxy in front of it; print URLs to open.",
    )
    demo.add_argument("--port", type=int, default=8080, help="Proxy port. Default: 8080.")
    demo.add_argument("--address", default="127.0.0.1", help="Proxy address. Default: 127.0.0.1.")
    demo.set_defaults(run=_demo)

    for name in EXTRA_COMMANDS:
        importlib.import_module(name).add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result
