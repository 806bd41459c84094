"""``s3-resize-proxy sign KEY``: print the signed URL of an object key, with the key ``serve`` would verify.

The signing key comes from the same sources as ``serve``: ``--signing-key``, ``S3RP_SIGNING_KEY``, or
``signing-key`` in the ``--config`` file (``S3RP_CONFIG``); the first configured key signs.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from proxy import signing
from proxy.config import CONFIG_ENV, ConfigError, load_option
from proxy.errors import BadRequest
from proxy.keys import check_key


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "sign",
        help="Print the signed URL of an object key.",
        description="Print <base-url>/<key>?sig=<signature> for a proxy run with --signing-key. "
        "The same signature works as /resize.php?src=<key>&sig=<signature>.",
    )
    parser.add_argument("key", metavar="KEY", help="Object key, without the leading slash (earth_200x200.jpg).")
    parser.add_argument("--base-url", default="", help="Prefix of the URL (https://images.example.com). Default: none.")
    parser.add_argument("--signing-key", help="Signing key. Env: S3RP_SIGNING_KEY. Default: from the config file.")
    parser.add_argument("--config", metavar="PATH", help="Config file of serve. Env: S3RP_CONFIG.")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        check_key(args.key)
        secrets = load_option("signing-key", args.signing_key, config_path=args.config or os.environ.get(CONFIG_ENV))
    except BadRequest as exc:
        return _error(f"invalid key: {exc.reason}")
    except (ConfigError, OSError) as exc:
        return _error(str(exc))
    if not secrets:
        return _error("no signing key: give --signing-key, S3RP_SIGNING_KEY or 'signing-key' in the config file")
    print(args.base_url.rstrip("/") + signing.signed_path(args.key, secrets[0]))
    return 0


def _error(message: str) -> int:
    print(f"s3-resize-proxy sign: {message}", file=sys.stderr)
    return 2
