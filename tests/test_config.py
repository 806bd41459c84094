"""Configuration: precedence flag > env > file > default, errors that name the option, the documented file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from proxy.cli import build_parser
from proxy.config import OPTIONS, Config, ConfigError, example_file, format_default, load, read_config_file
from proxy.config import from_args as config_from_args

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
