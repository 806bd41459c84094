"""Configuration: precedence flag > env > file > default, errors that name the option, the documented file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, get_args, get_origin, get_type_hints

import pytest

from proxy.cli import build_parser
from proxy.config import (
    OPTIONS,
    OPTIONS_BY_NAME,
    SECTIONS,
    Config,
    ConfigError,
    Group,
    Scope,
    example_file,
    format_default,
    load,
    read_config_file,
)
from proxy.config import from_args as config_from_args
from proxy.tools import bucket, warm, watch

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "conf" / "s3-resize-proxy.conf"


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "proxy.conf"
    path.write_text(text)
    return str(path)


def test_precedence_flag_over_env_over_file_over_default(tmp_path):
    path = write(tmp_path, "bucket = from-file\nport = 1111\ncache-mb = 10\nregion = eu-west-1\n")
    env = {"S3RP_PORT": "2222", "S3RP_CACHE_MB": "20"}
    config = load({"cache-mb": "30"}, environ=env, config_path=path)
    assert config.cache_mb == 30  # flag
    assert config.port == 2222  # env over file
    assert config.region == "eu-west-1"  # file over default
    assert config.bucket == "from-file"
    assert config.jpeg_quality == 85  # default


def test_cli_flags_both_spellings_and_config_env(tmp_path, monkeypatch):
    path = write(tmp_path, "bucket = b\nwrite-back = false\n")
    monkeypatch.setenv("S3RP_CONFIG", path)
    args = build_parser().parse_args(["serve", "--port", "9", "--jpeg-quality=70"])
    config = config_from_args(args)
    assert (config.bucket, config.port, config.jpeg_quality, config.write_back) == ("b", 9, 70, False)
    args = build_parser().parse_args(["serve", "--write-back"])
    assert config_from_args(args).write_back is True  # the flag beats the file


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("YES", True), ("on", True), ("1", True), ("false", False), ("no", False), ("0", False)],
)
def test_booleans(text, expected):
    assert load({}, environ={"S3RP_BUCKET": "b", "S3RP_WRITE_BACK": text}).write_back is expected


def test_lists():
    config = load(
        {"allowed-sizes": "200x200, 400X300", "source-extensions": ".PNG,jpg,,"},
        environ={"S3RP_BUCKET": "b", "S3RP_SIGNING_KEY": "k1-0123456789abcdef,k2-0123456789abcdef"},
    )
    assert config.allowed_sizes == ((200, 200), (400, 300))
    assert config.source_extensions == ("png", "jpg")
    assert config.signing_key == ("k1-0123456789abcdef", "k2-0123456789abcdef")


@pytest.mark.parametrize(
    ("flags", "env", "message"),
    [
        ({"port": "http"}, {}, "invalid value 'http' for --port: must be a whole number"),
        ({"port": "70000"}, {}, "--port: must be <= 65535"),
        ({}, {"S3RP_CACHE_MB": "-1"}, "S3RP_CACHE_MB: must be >= 0"),
        ({}, {"S3RP_DRAIN_SECONDS": "soon"}, "S3RP_DRAIN_SECONDS: must be a number"),
        ({}, {"S3RP_S3_READ_TIMEOUT": "nan"}, "S3RP_S3_READ_TIMEOUT: must be a finite number"),
        ({}, {"S3RP_WRITE_BACK": "maybe"}, "S3RP_WRITE_BACK: must be true or false"),
        ({"default-mode": "squash"}, {}, "--default-mode: must be one of"),
        ({"allowed-sizes": "200"}, {}, "--allowed-sizes: '200' is not a WxH size"),
        ({"allowed-sizes": "2²00x100"}, {}, "--allowed-sizes: '2²00x100' is not a WxH size"),  # '²'.isdigit()
        ({"source-extensions": "jpg,exe"}, {}, "--source-extensions: 'exe' is not an image extension"),
        ({"thumbnail-storage-class": "GLACIER"}, {}, "--thumbnail-storage-class: must be one of"),
        ({"access-log-format": "xml"}, {}, "--access-log-format: must be one of text, json"),
        ({"admin-address": "127.0.0.1"}, {}, "--admin-address needs --admin-port"),
        ({"admin-port": "8080"}, {}, "--admin-port must differ from --port"),
        ({}, {"S3RP_CACHEMB": "10"}, "unknown environment variable(s): S3RP_CACHEMB"),
    ],
)
def test_invalid_values_name_the_option(flags, env, message):
    with pytest.raises(ConfigError) as caught:
        load(flags, environ={"S3RP_BUCKET": "b", **env})
    assert message in str(caught.value)


def test_bucket_is_required():
    with pytest.raises(ConfigError, match="--bucket is required"):
        load({}, environ={})


def test_file_errors_name_file_line_and_option(tmp_path):
    cases = {
        "bucket = b\ncache-mb: 3\n": ":2: expected 'name = value'",
        "bucket = b\n\ncach-mb = 3\n": ":3: unknown option 'cach-mb'",
        "bucket = b\nport = 1\nport = 2\n": ":3: 'port' is set twice",
        "bucket = b\nport = eighty\n": "invalid value 'eighty' for 'port' in",
    }
    for text, message in cases.items():
        with pytest.raises(ConfigError) as caught:
            load({}, environ={}, config_path=write(tmp_path, text))
        assert message in str(caught.value), text
    with pytest.raises(ConfigError, match="cannot read config file"):
        read_config_file(tmp_path / "absent.conf")


def test_file_comments_sections_and_quotes(tmp_path):
    path = write(tmp_path, '# comment\n; also\n[serve]\n\nbucket = b\nthumbnail-cache-control = " public "\n')
    config = load({}, environ={}, config_path=path)
    assert config.thumbnail_cache_control == "public"  # quotes are optional and dropped


def test_invalid_value_stops_serve_with_a_clear_message():
    result = subprocess.run(
        [sys.executable, "-m", "proxy", "serve", "--bucket", "b", "--port", "eighty"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert "invalid value 'eighty' for --port" in result.stderr
    assert "Traceback" not in result.stderr


def test_conf_file_documents_every_option_and_matches_options(tmp_path):
    assert CONF.read_text() == example_file(), "regenerate: python -m proxy.config > conf/s3-resize-proxy.conf"
    text = CONF.read_text()
    for option in OPTIONS:
        assert f"# {option.name} =" in text and option.env in text, option.name
    # Uncommented, every shown default parses back to the default itself.
    settings = "\n".join(m.group(1) for m in re.finditer(r"^# ([a-z0-9-]+ =.*)$", text, re.M))
    raw = read_config_file(write(tmp_path, settings))
    assert set(raw) == {option.name for option in OPTIONS}
    for option in OPTIONS:
        if option.name != "bucket":
            assert option.parse(raw[option.name]) == option.default or raw[option.name] == "", option.name


def test_serve_help_lists_every_option_with_its_default():
    result = subprocess.run(
        [sys.executable, "-m", "proxy", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "400"},
    )
    assert result.returncode == 0
    help_text = " ".join(result.stdout.split())
    for option in OPTIONS:
        assert f"--{option.name}" in help_text, option.name
        shown = format_default(option) or "(none)"
        assert f"Default: {shown}. Env: {option.env}." in help_text, option.name
        if option.choices:
            assert f"One of: {', '.join(option.choices)}. Default: {shown}." in help_text, option.name
    assert "Resize mode when the key names none. One of: fill, fit, pad, stretch, smart. Default: fill." in help_text
    for group in SECTIONS:
        assert f"{group.heading}:" in help_text  # argparse's group title


# ---- the declaration: each option once, on Config; everything else derived from it


def conforms(value: Any, hint: Any) -> bool:
    """Whether ``value`` is of the annotated type (the few shapes Config uses)."""
    if isinstance(hint, UnionType):
        return any(conforms(value, arg) for arg in get_args(hint))
    if get_origin(hint) is tuple:
        args = get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return isinstance(value, tuple) and all(conforms(v, args[0]) for v in value)
        return isinstance(value, tuple) and len(value) == len(args) and all(map(conforms, value, args))
    if hint is NoneType:
        return value is None
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, hint)


def test_every_option_is_one_config_field_with_group_help_and_scope():
    assert [f.name for f in fields(Config)] == [option.attr for option in OPTIONS]
    assert len(OPTIONS_BY_NAME) == len(OPTIONS)  # no name twice
    hints = get_type_hints(Config)
    for option in OPTIONS:
        assert isinstance(option.group, Group) and option.group.heading, option.name
        assert isinstance(option.scope, Scope), option.name
        assert option.help.endswith(".") and len(option.help) > 10, option.name
        assert option.env == "S3RP_" + option.name.replace("-", "_").upper()
        hint = hints[option.attr]
        assert conforms(option.default, hint), option.name
        assert conforms(option.parse(format_default(option)), hint), option.name  # the parser gives that type
        assert option.flag == (hint is bool), option.name
    with pytest.raises(TypeError):
        Config()  # every field is required: a Config comes from load() or Config.defaults()


def test_fixed_sets_of_values_come_from_the_parser():
    with_choices = {option.name: option.choices for option in OPTIONS if option.choices}
    assert set(with_choices) == {
        "default-mode",
        "animation",
        "conditional-write",
        "access-log-format",
        "log-level",
        "thumbnail-storage-class",
    }
    assert with_choices["default-mode"] == ("fill", "fit", "pad", "stretch", "smart")
    for name, choices in with_choices.items():
        option = OPTIONS_BY_NAME[name]
        assert option.default in choices, name
        for choice in choices:
            assert option.parse(f" {choice.swapcase()} ") == choice, name  # case-insensitive
        with pytest.raises(ValueError, match=f"must be one of {', '.join(choices)}"):
            option.parse("neither")


def test_sections_are_the_groups_in_declaration_order():
    assert [o for options in SECTIONS.values() for o in options] == list(OPTIONS)  # each group contiguous
    assert all(option.group is group for group, options in SECTIONS.items() for option in options)
    headings = re.findall(r"^# ---- (.*)$", example_file(), re.M)
    assert headings == [group.heading for group in SECTIONS]
    assert headings[0] == "The bucket and how S3 is reached"


def test_warm_and_the_s3_tools_take_exactly_their_options():
    # Today's lists, written out, so that a change to them is a visible change here.
    s3 = ("bucket", "s3-endpoint", "region", "s3-connect-timeout", "s3-read-timeout", "s3-max-attempts")
    render = (
        "default-mode",
        "source-extensions",
        "thumbnail-storage-class",
        "thumbnail-cache-control",
        "auto-format",  # warm makes the negotiated variants too
        "conditional-write",
        "jpeg-quality",
        "webp-quality",
        "avif-quality",
        "avif-speed",
        "jpeg-progressive",
        "png-compress-level",
        "animation",
        "render-threads",
        "max-dimension",
        "allowed-sizes",
        "max-source-megapixels",
        "max-source-mb",
        "max-animation-megapixels",
    )
    queue = ("sqs-endpoint",)  # warm --queue-url, setup-bucket --events-queue, watch
    service = ("drain-seconds", "admin-address", "admin-port", "log-level")  # watch, as serve has them
    assert s3 == bucket.S3_OPTIONS
    assert render == warm.RENDER_OPTIONS
    assert queue == warm.QUEUE_OPTIONS
    assert (*service, *queue, "queue-url", "warm-sizes") == watch.WATCH_OPTIONS
    attrs = {option.attr: option.name for option in OPTIONS}

    def taken(argv: list[str]) -> set[str]:
        return {attrs[dest] for dest in vars(build_parser().parse_args(argv)) if dest in attrs}

    assert taken(["warm", "--sizes=1x1"]) == {*s3, *render, *queue}
    assert taken(["watch"]) == {*s3, *render, *service, *queue, "queue-url", "warm-sizes"}
    assert taken(["setup-bucket", "--resizer-host=h"]) == {*s3, *queue}
    for command in (["purge", "a.jpg"], ["prune", "--unused-days=1", "--logs=x"]):
        assert taken(command) == set(s3), command
    assert taken(["serve"]) == set(OPTIONS_BY_NAME)


@pytest.mark.parametrize("command", ["serve", "warm", "purge", "prune", "setup-bucket", "watch"])
def test_bucket_help_reads_right_for_every_command(command, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--bucket BUCKET The S3 bucket of the originals and thumbnails (required). Default: (none)." in help_text
    assert "to serve" not in help_text


def test_admin_address_needs_admin_port_and_nothing_else():
    environ = {"S3RP_BUCKET": "b"}
    assert load({"admin-address": "127.0.0.1", "admin-port": "9000"}, environ=environ).admin_port == 9000
    assert load({"admin-port": "9000"}, environ=environ).admin_address == ""  # the port alone: main address
    with pytest.raises(ConfigError, match="--admin-address needs --admin-port"):
        load({"admin-address": "127.0.0.1", "admin-port": "0"}, environ=environ)


def test_thread_and_process_counts():
    assert Config.defaults(bucket="b", render_threads=3, processes=2).render_thread_count == 3
    assert Config.defaults(bucket="b", render_threads=3, processes=2).process_count == 2
    config = Config.defaults(bucket="b", render_threads=0, processes=0)
    assert config.render_thread_count == config.process_count == (os.cpu_count() or 1)


def test_secrets_are_not_in_repr():
    config = load({}, environ={"S3RP_BUCKET": "b", "S3RP_SIGNING_KEY": "k1-0123456789abcdef"})
    assert config.signing_key == ("k1-0123456789abcdef",)
    assert "k1-0123456789abcdef" not in repr(config)
