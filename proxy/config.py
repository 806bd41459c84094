"""Configuration: every option declared once, as a field of the frozen ``Config`` it is read into.

Precedence: command-line flag > environment variable ``S3RP_<OPTION>`` > config file > default. Every value
is parsed and validated here, so an invalid one stops start-up with a message naming the option; the rest of
the program only ever sees typed values.
"""

from __future__ import annotations

import argparse
import enum
import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar

from proxy.keys import AUTO_FORMATS, MODES, SOURCE_EXTENSIONS
from proxy.signing import MIN_KEY_LENGTH

T = TypeVar("T")
ENV_PREFIX = "S3RP_"
CONFIG_ENV = "S3RP_CONFIG"  # the config file's path, when --config is not given


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


def _formats(text: str) -> tuple[str, ...]:
    """``--auto-format``: ``off`` (or empty), else a list of AUTO_FORMATS in the order to prefer them."""
    if text.strip().lower() in ("", "off"):
        return ()
    formats = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    for fmt in formats:
        if fmt not in AUTO_FORMATS:
            raise ValueError(f"'{fmt}' is not one of {', '.join(AUTO_FORMATS)} (or off)")
    if len(set(formats)) != len(formats):
        raise ValueError("a format is listed twice")
    return formats


def _signing_key(text: str) -> str:
    value = text.strip()
    if len(value) < MIN_KEY_LENGTH:
        raise ValueError(f"each key needs at least {MIN_KEY_LENGTH} characters")
    return value


@dataclass(frozen=True)
class _Choice:
    """A parser for one word of a fixed set; ``--help`` and the conf file list ``choices``."""

    choices: tuple[str, ...]
    upper: bool = False  # storage classes are written in capitals, everything else in lower case

    def __call__(self, text: str) -> str:
        value = text.strip().upper() if self.upper else text.strip().lower()
        if value not in self.choices:
            raise ValueError(f"must be one of {', '.join(self.choices)}")
        return value


@dataclass(frozen=True)
class Group:
    """A section of the config file and of ``--help``; sections come in the order of their first option."""

    heading: str


class Scope(enum.Enum):
    """Which commands take an option besides ``serve``, which takes them all."""

    SERVE = "serve only"
    S3 = "every command that talks to the bucket: the S3 tools"
    RENDER = "every command that makes thumbnails exactly as serve does: warm and watch"
    SERVICE = "watch, the other long-running service: its admin listener, drain and log"
    QUEUE = "every command that talks to the event queue: watch, warm --queue-url, setup-bucket --events-queue"
    WATCH = "watch only"


@dataclass(frozen=True)
class Option:
    """One option as ``Config`` declares it, with its flag name (``s3-endpoint`` for ``Config.s3_endpoint``)."""

    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str
    group: Group
    scope: Scope
    secret: bool = False  # never echoed in error messages nor in repr()

    @property
    def attr(self) -> str:
        return self.name.replace("-", "_")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.attr.upper()

    @property
    def flag(self) -> bool:
        """A boolean: ``--name`` / ``--no-name`` on the command line."""
        return self.parse is _bool

    @property
    def choices(self) -> tuple[str, ...]:
        """The values it takes, when they are a fixed set (else empty)."""
        return self.parse.choices if isinstance(self.parse, _Choice) else ()


_OPTION = "option"  # the key of an Option in a Config field's metadata


def option(
    parse: Callable[[str], T],
    default: T,
    help: str,
    group: Group,
    scope: Scope = Scope.SERVE,
    secret: bool = False,
) -> T:
    """Declare a ``Config`` field as an option: how it is parsed, its default, help, group and scope.

    Typed as returning the default so that mypy checks parser, default and annotation against one another.
    mypy therefore believes the field has a default; at run time it has none (a Config comes from ``load``
    or ``Config.defaults``, never from a partial call)."""
    declared = Option("", parse, default, help, group, scope, secret)  # named after its field below
    result: T = field(repr=not secret, metadata={_OPTION: declared})
    return result


BUCKET = Group("The bucket and how S3 is reached")
LISTENER = Group("The listener")
CACHE = Group("The memory cache")
THUMBNAILS = Group("Thumbnails: what is made and how it is stored")
PIPELINE = Group("The image pipeline")
LIMITS = Group("Limits and policy")
OPERATIONS = Group("Process and operations")
EVENTS = Group("watch: the bucket's event queue")
S3, RENDER, SERVICE, QUEUE, WATCH = Scope.S3, Scope.RENDER, Scope.SERVICE, Scope.QUEUE, Scope.WATCH  # shorter


@dataclass(frozen=True)
class Config:
    """The typed settings of one run: each field is one option, declared here once (``OPTIONS`` derives)."""

    bucket: str = option(_str, "", "The S3 bucket of the originals and thumbnails (required).", BUCKET, S3)
    s3_endpoint: str | None = option(
        _optional_str, None, "S3 endpoint URL (S3-compatible stores, moto); empty: AWS.", BUCKET, S3
    )
    region: str = option(_str, "us-east-1", "AWS region of the bucket.", BUCKET, S3)
    s3_connect_timeout: float = option(_float(0.1), 3.0, "Seconds to wait for a connection to S3.", BUCKET, S3)
    s3_read_timeout: float = option(_float(0.1), 10.0, "Seconds to wait for S3 to send data.", BUCKET, S3)
    s3_max_attempts: int = option(_int(1, 10), 2, "Attempts per S3 call (botocore standard retry mode).", BUCKET, S3)
    io_threads: int = option(_int(1, 512), 32, "Threads (and pooled S3 connections) for S3 calls.", BUCKET)

    address: str = option(_str, "0.0.0.0", "Address to listen on.", LISTENER)
    port: int = option(_int(0, 65535), 8080, "Port to listen on.", LISTENER)

    cache_mb: int = option(_int(0), 256, "Size of the in-memory LRU of hot objects, in MB (0 disables it).", CACHE)
    stream_threshold_mb: float = option(_float(0.001), 8.0, "Objects larger than this are streamed, not cached.", CACHE)
    memory_ttl: float = option(_float(0), 60.0, "Seconds before a memory-cached object is revalidated with S3.", CACHE)
    negative_ttl: float = option(_float(0), 5.0, "Seconds a 404 is remembered in memory (never stored in S3).", CACHE)
    originals_cache_mb: int = option(_int(0), 64, "Byte-bounded LRU of recently fetched originals, in MB.", CACHE)
    originals_ttl: float = option(_float(0), 30.0, "Seconds a fetched original is kept for further sizes.", CACHE)

    default_mode: str = option(_Choice(MODES), "fill", "Resize mode when the key names none.", THUMBNAILS, RENDER)
    source_extensions: tuple[str, ...] = option(
        _list(_ext),
        ("jpg", "jpeg", "png", "webp", "gif", "heic", "heif"),
        "Extensions tried, in order, for the original when <stem>.<ext> does not exist.",
        THUMBNAILS,
        RENDER,
    )
    thumbnail_storage_class: str = option(
        _Choice(("STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING"), upper=True),
        "REDUCED_REDUNDANCY",
        "Storage class of stored thumbnails.",
        THUMBNAILS,
        RENDER,
    )
    thumbnail_cache_control: str = option(
        _str,
        "public, max-age=31536000, immutable",
        "Cache-Control of thumbnails (in responses and on the stored object).",
        THUMBNAILS,
        RENDER,
    )
    write_back: bool = option(_bool, True, "Store rendered thumbnails in S3.", THUMBNAILS)
    auto_format: tuple[str, ...] = option(
        _formats,
        (),
        "Answer JPEG/PNG thumbnail keys in the first of these formats (avif, webp) that the request's Accept "
        "lists explicitly, stored under <key>.<format>; off: always the format the key names.",
        THUMBNAILS,
        RENDER,
    )
    conditional_write: str = option(
        _Choice(("auto", "on", "off")),
        "auto",
        "Use If-None-Match: * on write-back (auto: fall back when the endpoint lacks it).",
        THUMBNAILS,
        RENDER,
    )

    jpeg_quality: int = option(_int(1, 100), 85, "JPEG quality.", PIPELINE, RENDER)
    webp_quality: int = option(
        _int(1, 100), 90, "WebP quality (90: about the SSIM of JPEG 85, bench/RESULTS.md).", PIPELINE, RENDER
    )
    avif_quality: int = option(
        _int(1, 100), 75, "AVIF quality (75: at least the SSIM of JPEG 85 in every case measured).", PIPELINE, RENDER
    )
    avif_speed: int = option(
        _int(0, 10),
        6,
        "AVIF encoder speed, 0 (slowest, smallest) to 10; 7+ lose quality, 4-5 cost 4x.",
        PIPELINE,
        RENDER,
    )
    jpeg_progressive: bool = option(_bool, True, "Encode progressive JPEGs.", PIPELINE, RENDER)
    png_compress_level: int = option(_int(0, 9), 6, "PNG zlib compression level.", PIPELINE, RENDER)
    animation: str = option(
        _Choice(("first", "keep")), "first", "Animated sources: first frame only, or keep all.", PIPELINE, RENDER
    )
    render_threads: int = option(_int(0, 256), 0, "Render threads (0: one per core).", PIPELINE, RENDER)
    render_queue: int = option(_int(0), 64, "Renders that may wait for a thread; beyond that: 503.", PIPELINE)
    render_timeout: float = option(
        _float(0.1), 20.0, "Deadline for fetching and rendering one thumbnail (504).", PIPELINE
    )

    max_dimension: int = option(
        _int(1), 4096, "Largest width or height of a thumbnail, after @Nx (400 beyond).", LIMITS, RENDER
    )
    allowed_sizes: tuple[tuple[int, int], ...] = option(
        _list(_size), (), "Only these WxH sizes are made (403 otherwise). Empty: any.", LIMITS, RENDER
    )
    max_source_megapixels: float = option(
        _float(0.01), 50.0, "Largest original, in megapixels, read from its header.", LIMITS, RENDER
    )
    max_source_mb: float = option(
        _float(0.001), 50.0, "Largest original, in MB, enforced while reading.", LIMITS, RENDER
    )
    max_animation_megapixels: float = option(
        _float(0.01), 200.0, "Budget of frames x pixels for animated originals.", LIMITS, RENDER
    )
    signing_key: tuple[str, ...] = option(
        _list(_signing_key),
        (),
        "HMAC keys (comma-separated, >= 16 characters each) for signed thumbnail URLs: the first signs, all verify.",
        LIMITS,
        secret=True,
    )
    sign_originals: bool = option(_bool, False, "Require signatures on originals too.", LIMITS)

    processes: int = option(_int(0, 256), 1, "Worker processes sharing the port (0: one per core).", OPERATIONS)
    malloc_arenas: int = option(
        _int(0, 64),
        2,
        "glibc malloc arenas, set at start-up (0: leave glibc's default, 8 per core, or MALLOC_ARENA_MAX). Few "
        "arenas keep RSS near what is in use (see the README's memory budget).",
        OPERATIONS,
    )
    malloc_mmap_threshold_kb: int = option(
        _int(0, 32 * 1024),
        1024,
        "glibc: blocks of this many KiB and more are mapped on their own and given back when freed, set at "
        "start-up (0: glibc's default, a threshold that rises to 32 MB as blocks are freed, leaving large holes "
        "in the heap).",
        OPERATIONS,
    )
    malloc_trim_seconds: float = option(
        _float(0),
        0.0,
        "Return freed heap memory to the system this often, in seconds (malloc_trim; 0: never).",
        OPERATIONS,
    )
    drain_seconds: float = option(
        _float(0), 20.0, "On SIGTERM: seconds to finish requests and write-backs.", OPERATIONS, SERVICE
    )
    admin_address: str = option(
        _str, "", "Address for /healthz, /readyz, /metrics (empty: the main listener).", OPERATIONS, SERVICE
    )
    admin_port: int = option(
        _int(0, 65535), 0, "Port for the admin endpoints (0: the main listener; watch: none).", OPERATIONS, SERVICE
    )
    access_log: str = option(_str, "-", "Access log path ('-': stdout, empty: off).", OPERATIONS)
    access_log_format: str = option(_Choice(("text", "json")), "text", "Access log format.", OPERATIONS)
    log_level: str = option(
        _Choice(("debug", "info", "warning", "error")), "info", "Level of the application log.", OPERATIONS, SERVICE
    )

    queue_url: str = option(
        _str, "", "SQS queue of the bucket's event notifications that watch reads (required there).", EVENTS, WATCH
    )
    sqs_endpoint: str | None = option(
        _optional_str, None, "SQS endpoint URL (SQS-compatible or local queues); empty: AWS.", EVENTS, QUEUE
    )
    warm_sizes: str = option(
        _str,
        "",
        "Sizes watch makes of a new or replaced original, as warm --sizes takes them. Empty: none.",
        EVENTS,
        WATCH,
    )

    @property
    def stream_threshold_bytes(self) -> int:
        return int(self.stream_threshold_mb * 1024 * 1024)

    @property
    def max_source_bytes(self) -> int:
        return int(self.max_source_mb * 1024 * 1024)

    @property
    def render_thread_count(self) -> int:
        """Threads of the render pool: ``--render-threads``, or one per core."""
        return self.render_threads or (os.cpu_count() or 1)

    @property
    def process_count(self) -> int:
        """Processes of ``serve`` sharing the port: ``--processes``, or one per core."""
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


OPTIONS: tuple[Option, ...] = tuple(replace(f.metadata[_OPTION], name=f.name.replace("_", "-")) for f in fields(Config))
OPTIONS_BY_NAME: dict[str, Option] = {option.name: option for option in OPTIONS}
# The config file's sections and --help's argument groups.
SECTIONS: dict[Group, tuple[Option, ...]] = {
    group: tuple(o for o in OPTIONS if o.group == group) for group in dict.fromkeys(o.group for o in OPTIONS)
}


def option_names(scope: Scope) -> tuple[str, ...]:
    """The options of one scope, in declaration order: what a command other than serve adds to its flags."""
    return tuple(option.name for option in OPTIONS if option.scope is scope)


def describe(option: Option) -> str:
    """An option's help, with the values it takes when they are a fixed set (``--help``, the conf file)."""
    if option.choices:
        return f"{option.help} One of: {', '.join(option.choices)}."
    return option.help


def add_arguments(parser: argparse.ArgumentParser, names: Collection[str] | None = None) -> None:
    """One flag per option (or per option in ``names``, for the bucket tools); defaults stay None so that only
    what the user typed overrides env and file."""
    parser.add_argument("--config", metavar="PATH", help=f"Config file (name = value lines). Env: {CONFIG_ENV}.")
    for group, options in SECTIONS.items():
        options = tuple(option for option in options if names is None or option.name in names)
        if not options:
            continue
        section = parser.add_argument_group(group.heading)
        for option in options:
            default = format_default(option) or "(none)"
            help_text = f"{describe(option)} Default: {default}. Env: {option.env}."
            if option.flag:
                section.add_argument(
                    f"--{option.name}", action=argparse.BooleanOptionalAction, default=None, help=help_text
                )
            else:
                section.add_argument(f"--{option.name}", metavar=option.attr.upper(), help=help_text)


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
    if option.parse is _formats and not default:
        return "off"
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, tuple):
        return ",".join("x".join(map(str, v)) if isinstance(v, tuple) else str(v) for v in default)
    return "" if default is None else str(default)


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
    for group, options in SECTIONS.items():
        lines += ["", "", f"# ---- {group.heading}"]
        for option in options:
            lines += [
                "",
                f"# {describe(option)} Env: {option.env}.",
                f"# {option.name} = {format_default(option)}".rstrip(),
            ]
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
        if ext not in SOURCE_EXTENSIONS:
            raise ConfigError(f"invalid value for --source-extensions: '{ext}' is not an image extension")
    if config.sign_originals and not config.signing_key:
        raise ConfigError("--sign-originals needs --signing-key")
    if config.admin_address and not config.admin_port:
        raise ConfigError("--admin-address needs --admin-port")
    if config.admin_port and config.admin_port == config.port:
        raise ConfigError("--admin-port must differ from --port (0 serves the admin endpoints on the main port)")
    return config


if __name__ == "__main__":
    print(example_file(), end="")
