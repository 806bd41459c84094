"""Configuration: every option of ``serve`` declared once, read once into a frozen ``Config``.

Precedence: command-line flag > environment variable ``S3RP_<OPTION>`` > config file > default. Every value
is parsed and validated here, so an invalid one stops start-up with a message naming the option; the rest of
the program only ever sees typed values.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proxy.keys import MODES, OUTPUT_FORMATS
from proxy.signing import MIN_KEY_LENGTH


class ConfigError(ValueError):
    """An option has an invalid value; the message names the option."""


# ---- value parsers: str -> typed value, raising ValueError with a short reason -------------------------


def _int(lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise ValueError("must be a whole number") from None
        if lo is not None and value < lo:
            raise ValueError(f"must be >= {lo}")
        if hi is not None and value > hi:
            raise ValueError(f"must be <= {hi}")
        return value

    return parse


def _float(lo: float = 0.0) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise ValueError("must be a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("must be a finite number")
        if value < lo:
            raise ValueError(f"must be >= {lo}")
        return value

    return parse


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def _str(text: str) -> str:
    return text.strip()


def _optional_str(text: str) -> str | None:
    return text.strip() or None


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value

    return parse


def _list(item: Callable[[str], Any] = _str) -> Callable[[str], tuple[Any, ...]]:
    def parse(text: str) -> tuple[Any, ...]:
        return tuple(item(part) for part in text.split(",") if part.strip())

    return parse


def _ext(text: str) -> str:
    value = text.strip().lower().lstrip(".")
    if not value.isalnum():
        raise ValueError(f"'{text}' is not an extension")
    return value


def _size(text: str) -> tuple[int, int]:
    w, sep, h = text.strip().lower().partition("x")
    if not sep or not w.isdecimal() or not h.isdecimal():
        raise ValueError(f"'{text}' is not a WxH size")
    return (int(w), int(h))


def _signing_key(text: str) -> str:
    value = text.strip()
    if len(value) < MIN_KEY_LENGTH:
        raise ValueError(f"each key needs at least {MIN_KEY_LENGTH} characters")
    return value


def _storage_class(text: str) -> str:
    value = text.strip().upper()
    allowed = ("STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING")
    if value not in allowed:
        raise ValueError(f"must be one of {', '.join(allowed)}")
    return value


@dataclass(frozen=True)
class Option:
    """One option: its flag name, parser, default and the help text shown by ``--help`` and the conf file."""

    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str
    flag: bool = False  # a boolean: ``--name`` / ``--no-name`` on the command line
    secret: bool = False  # never echoed in error messages

    @property
    def attr(self) -> str:
        return self.name.replace("-", "_")

    @property
    def env(self) -> str:
        return "S3RP_" + self.name.replace("-", "_").upper()


OPTIONS: tuple[Option, ...] = (
    # -- where: the bucket and the listener
    Option("bucket", _str, "", "S3 bucket to serve (required)."),
    Option("address", _str, "0.0.0.0", "Address to listen on."),
    Option("port", _int(0, 65535), 8080, "Port to listen on."),
    Option("s3-endpoint", _optional_str, None, "S3 endpoint URL (S3-compatible stores, moto); empty: AWS."),
    Option("region", _str, "us-east-1", "AWS region of the bucket."),
    Option("s3-connect-timeout", _float(0.1), 3.0, "Seconds to wait for a connection to S3."),
    Option("s3-read-timeout", _float(0.1), 10.0, "Seconds to wait for S3 to send data."),
    Option("s3-max-attempts", _int(1, 10), 2, "Attempts per S3 call (botocore standard retry mode)."),
    Option("io-threads", _int(1, 512), 32, "Threads (and pooled S3 connections) for S3 calls."),
    # -- the memory cache
    Option("cache-mb", _int(0), 256, "Size of the in-memory LRU of hot objects, in MB (0 disables it)."),
    Option("stream-threshold-mb", _float(0.001), 8.0, "Objects larger than this are streamed, not cached."),
    Option("memory-ttl", _float(0), 60.0, "Seconds before a memory-cached object is revalidated with S3."),
    Option("negative-ttl", _float(0), 5.0, "Seconds a 404 is remembered in memory (never stored in S3)."),
    Option("originals-cache-mb", _int(0), 64, "Byte-bounded LRU of recently fetched originals, in MB."),
    Option("originals-ttl", _float(0), 30.0, "Seconds a fetched original is kept for further sizes."),
    # -- thumbnails: what is made and how it is stored
    Option("default-mode", _choice(*MODES), "fill", "Resize mode when the key names none."),
    Option(
        "source-extensions",
        _list(_ext),
        ("jpg", "jpeg", "png", "webp", "gif"),
        "Extensions tried, in order, for the original when <stem>.<ext> does not exist.",
    ),
    Option("thumbnail-storage-class", _storage_class, "REDUCED_REDUNDANCY", "Storage class of stored thumbnails."),
    Option(
        "thumbnail-cache-control",
        _str,
        "public, max-age=31536000, immutable",
        "Cache-Control of thumbnails (in responses and on the stored object).",
    ),
    Option("write-back", _bool, True, "Store rendered thumbnails in S3.", flag=True),
    Option(
        "conditional-write",
        _choice("auto", "on", "off"),
        "auto",
        "Use If-None-Match: * on write-back (auto: fall back when the endpoint lacks it).",
    ),
    # -- the image pipeline
    Option("jpeg-quality", _int(1, 100), 85, "JPEG quality."),
    Option("webp-quality", _int(1, 100), 80, "WebP quality."),
    Option("avif-quality", _int(1, 100), 60, "AVIF quality."),
    Option("jpeg-progressive", _bool, True, "Encode progressive JPEGs.", flag=True),
    Option("png-compress-level", _int(0, 9), 6, "PNG zlib compression level."),
    Option("animation", _choice("first", "keep"), "first", "Animated sources: first frame only, or keep all."),
    Option("render-threads", _int(0, 256), 0, "Render threads (0: one per core)."),
    Option("render-queue", _int(0), 64, "Renders that may wait for a thread; beyond that: 503."),
    Option("render-timeout", _float(0.1), 20.0, "Deadline for fetching and rendering one thumbnail (504)."),
    # -- limits and policy
    Option("max-dimension", _int(1), 4096, "Largest width or height of a thumbnail, after @Nx (400 beyond)."),
    Option("allowed-sizes", _list(_size), (), "Only these WxH sizes are made (403 otherwise). Empty: any."),
    Option("max-source-megapixels", _float(0.01), 50.0, "Largest original, in megapixels, read from its header."),
    Option("max-source-mb", _float(0.001), 50.0, "Largest original, in MB, enforced while reading."),
    Option("max-animation-megapixels", _float(0.01), 200.0, "Budget of frames x pixels for animated originals."),
    Option(
        "signing-key",
        _list(_signing_key),
        (),
        "HMAC keys (comma-separated, >= 16 characters each) for signed thumbnail URLs: the first signs, all verify.",
        secret=True,
    ),
    Option("sign-originals", _bool, False, "Require signatures on originals too.", flag=True),
    # -- process and operations
    Option("processes", _int(0, 256), 1, "Worker processes sharing the port (0: one per core)."),
    Option("drain-seconds", _float(0), 20.0, "On SIGTERM: seconds to finish requests and write-backs."),
    Option("admin-address", _str, "", "Address for /healthz, /readyz, /metrics (empty: the main listener)."),
    Option("admin-port", _int(0, 65535), 0, "Port for the admin endpoints (0: the main listener)."),
    Option("access-log", _str, "-", "Access log path ('-': stdout, empty: off)."),
    Option("access-log-format", _choice("text", "json"), "text", "Access log format."),
    Option("log-level", _choice("debug", "info", "warning", "error"), "info", "Level of the application log."),
    # -- watch: the bucket's event queue
    Option("queue-url", _str, "", "SQS queue of the bucket's event notifications that watch reads (required there)."),
    Option("sqs-endpoint", _optional_str, None, "SQS endpoint URL (local or compatible queues); empty: AWS."),
    Option("warm-sizes", _str, "", "Sizes watch makes of a new or replaced original (as warm --sizes). Empty: none."),
)

OPTIONS_BY_NAME: dict[str, Option] = {option.name: option for option in OPTIONS}
ENV_PREFIX = "S3RP_"
CONFIG_ENV = "S3RP_CONFIG"  # the config file's path, when --config is not given


@dataclass(frozen=True)
class Config:
    """The typed settings of one ``serve`` run (see OPTIONS for meaning and defaults)."""

    bucket: str
    address: str
    port: int
    s3_endpoint: str | None
    region: str
    s3_connect_timeout: float
    s3_read_timeout: float
    s3_max_attempts: int
    io_threads: int
    cache_mb: int
    stream_threshold_mb: float
    memory_ttl: float
    negative_ttl: float
    originals_cache_mb: int
    originals_ttl: float
    default_mode: str
    source_extensions: tuple[str, ...]
    thumbnail_storage_class: str
    thumbnail_cache_control: str
    write_back: bool
    conditional_write: str
    jpeg_quality: int
    webp_quality: int
    avif_quality: int
    jpeg_progressive: bool
    png_compress_level: int
    animation: str
    render_threads: int
    render_queue: int
    render_timeout: float
    max_dimension: int
    allowed_sizes: tuple[tuple[int, int], ...]
    max_source_megapixels: float
    max_source_mb: float
    max_animation_megapixels: float
    signing_key: tuple[str, ...] = field(repr=False)
    sign_originals: bool
    processes: int
    drain_seconds: float
    admin_address: str
    admin_port: int
    access_log: str
    access_log_format: str
    log_level: str
    queue_url: str
    sqs_endpoint: str | None
    warm_sizes: str

    @property
    def stream_threshold_bytes(self) -> int:
        return int(self.stream_threshold_mb * 1024 * 1024)

    @property
    def max_source_bytes(self) -> int:
        return int(self.max_source_mb * 1024 * 1024)

    @property
    def render_workers(self) -> int:
        return self.render_threads or (os.cpu_count() or 1)

    @property
    def worker_processes(self) -> int:
        return self.processes or (os.cpu_count() or 1)

    @classmethod
    def defaults(cls, **overrides: Any) -> Config:
        """Defaults with typed overrides (tests, the demo)."""
        values = {option.attr: option.default for option in OPTIONS}
        unknown = set(overrides) - set(values)
        if unknown:
            raise ConfigError(f"unknown option(s): {', '.join(sorted(unknown))}")
        values.update(overrides)
        return _validated(cls(**values))


def add_arguments(parser: argparse.ArgumentParser, names: Collection[str] | None = None) -> None:
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


def from_args(args: argparse.Namespace) -> Config:
    flags = {option.name: getattr(args, option.attr, None) for option in OPTIONS}
    path = args.config or os.environ.get(CONFIG_ENV)
    return load(flags, config_path=path)


def read_config_file(path: str | Path) -> dict[str, str]:
    """Read ``name = value`` lines (``#`` comments, blank lines ignored) into raw strings."""
    raw: dict[str, str] = {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";", "[")):
            continue
        name, sep, value = stripped.partition("=")
        name = name.strip()
        if not sep:
            raise ConfigError(f"{path}:{number}: expected 'name = value'")
        if name not in OPTIONS_BY_NAME:
            raise ConfigError(f"{path}:{number}: unknown option '{name}'")
        if name in raw:
            raise ConfigError(f"{path}:{number}: '{name}' is set twice")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]  # optional quotes, as people write them out of habit
        raw[name] = value
    return raw


def load(
    flags: Mapping[str, str | bool | None],
    environ: Mapping[str, str] | None = None,
    config_path: str | None = None,
) -> Config:
    """Merge flag > env > file > default. ``flags`` holds only what was given on the command line."""
    environ = os.environ if environ is None else environ
    known = {option.env for option in OPTIONS} | {CONFIG_ENV}
    unknown = sorted(name for name in environ if name.startswith(ENV_PREFIX) and name not in known)
    if unknown:  # most likely a typo, which would otherwise be silently ignored
        raise ConfigError(f"unknown environment variable(s): {', '.join(unknown)}")
    file_values = read_config_file(config_path) if config_path else {}
    values = {
        option.attr: _value(option, flags.get(option.name), environ, file_values, config_path) for option in OPTIONS
    }
    return _validated(Config(**values))


def format_default(option: Option) -> str:
    """An option's default as it would be written in the config file or on the command line."""
    default = option.default
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, tuple):
        return ",".join("x".join(map(str, v)) if isinstance(v, tuple) else str(v) for v in default)
    return "" if default is None else str(default)


# Headings of the example config file, keyed by the first option of each group.
SECTIONS: dict[str, str] = {
    "bucket": "Where: the bucket and the listener",
    "cache-mb": "The memory cache",
    "default-mode": "Thumbnails: what is made and how it is stored",
    "jpeg-quality": "The image pipeline",
    "max-dimension": "Limits and policy",
    "processes": "Process and operations",
    "queue-url": "watch: the bucket's event queue",
}


def example_file() -> str:
    """The documented config file (conf/s3-resize-proxy.conf): every option, commented out at its default."""
    lines = [
        "# s3-resize-proxy configuration: `s3-resize-proxy serve --config PATH` (or S3RP_CONFIG=PATH).",
        "#",
        "# One `name = value` per line; `#` starts a comment. Every option below is shown at its default,",
        "# commented out: uncomment and change what you need. Each can also be set by an environment",
        "# variable (shown) or a command-line flag `--name=value`; precedence: flag > environment > file > default.",
        "# Booleans: true/false (also yes/no, on/off, 1/0). Lists: comma-separated.",
        "# Keep secrets (signing keys) out of this file: put them in the EnvironmentFile of the systemd unit.",
        "#",
        "# Generated from proxy/config.py: python -m proxy.config > conf/s3-resize-proxy.conf",
    ]
    for option in OPTIONS:
        if option.name in SECTIONS:
            lines += ["", "", f"# ---- {SECTIONS[option.name]}"]
        lines += ["", f"# {option.help} Env: {option.env}.", f"# {option.name} = {format_default(option)}".rstrip()]
    return "\n".join(lines) + "\n"


def load_option(
    name: str, flag: str | None, environ: Mapping[str, str] | None = None, config_path: str | None = None
) -> Any:
    """One option alone, with ``load``'s precedence and parsing: for commands that need no bucket (``sign``)."""
    environ = os.environ if environ is None else environ
    file_values = read_config_file(config_path) if config_path else {}
    return _value(OPTIONS_BY_NAME[name], flag, environ, file_values, config_path)


def _value(
    option: Option,
    flag: str | bool | None,
    environ: Mapping[str, str],
    file_values: Mapping[str, str],
    config_path: str | None,
) -> Any:
    """The typed value of one option from the first source that sets it: flag, environment, file, default."""
    if flag is not None:
        source, text = f"--{option.name}", flag
    elif option.env in environ:
        source, text = option.env, environ[option.env]
    elif option.name in file_values:
        source, text = f"'{option.name}' in {config_path}", file_values[option.name]
    else:
        return option.default
    if isinstance(text, bool):
        return text
    try:
        return option.parse(text)
    except ValueError as exc:
        shown = "(hidden)" if option.secret else repr(text)
        raise ConfigError(f"invalid value {shown} for {source}: {exc}") from None


def _validated(config: Config) -> Config:
    """Checks that span options or need more than a parser."""
    if not config.bucket:
        raise ConfigError("--bucket is required (or S3RP_BUCKET, or 'bucket' in the config file)")
    for ext in config.source_extensions:
        if ext not in OUTPUT_FORMATS:
            raise ConfigError(f"invalid value for --source-extensions: '{ext}' is not an image extension")
    if config.sign_originals and not config.signing_key:
        raise ConfigError("--sign-originals needs --signing-key")
    if bool(config.admin_port) != bool(config.admin_address) and config.admin_address:
        raise ConfigError("--admin-address needs --admin-port")
    if config.admin_port and config.admin_port == config.port:
        raise ConfigError("--admin-port must differ from --port (0 serves the admin endpoints on the main port)")
    return config


if __name__ == "__main__":
    print(example_file(), end="")
