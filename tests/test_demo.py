"""``s3-resize-proxy demo``: its samples, its page data, a quiet console, ready-to-paste tools, a busy port."""

from __future__ import annotations

import io
import re
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests
from PIL import Image, ImageOps

from proxy.config import Config
from proxy.demo.page import document, output_extensions
from proxy.demo.samples import samples
from proxy.keys import MODES, parse_thumbnail
from tests.demo_process import ROOT, Demo, environment

ANSI = re.compile(r"\x1b\[")
# What moto, werkzeug and botocore would print: their logger names, werkzeug's request lines.
NOISE = re.compile(r"werkzeug|botocore|moto\.|\"(GET|PUT|HEAD|POST) /demo-images")


@pytest.fixture
def demo(tmp_path) -> Iterator[Demo]:
    running = Demo(tmp_path / "access.log")
    yield running
    running.close()


def opened(key: str) -> Image.Image:
    return Image.open(io.BytesIO(next(s.body for s in samples() if s.key == key)))


# ---- the samples ----------------------------------------------------------------------------------------


def test_samples_show_the_features():
    by_key = {s.key: s for s in samples()}
    assert {"earth.jpg", "photos/sunset.jpg", "logo.png"} <= set(by_key)  # the keys the README names
    wide, tall = by_key["photos/sunset.jpg"].size, by_key["portrait.jpg"].size
    assert wide[0] > wide[1] * 1.5 and tall[1] > tall[0] * 1.5
    camera = opened("camera.jpg")
    assert camera.getexif()[0x0112] == 6 and camera.size == (800, 1200)
    assert ImageOps.exif_transpose(camera).size == by_key["camera.jpg"].size == (1200, 800)
    assert opened("print.jpg").mode == "CMYK"
    spinner = opened("spinner.gif")
    assert spinner.n_frames > 1 and spinner.info["loop"] == 0
    logo = opened("logo.png")
    assert logo.mode == "RGBA" and logo.getchannel("A").getextrema() == (0, 255)
    assert opened("deep.png").mode == "I;16"
    assert len({s.key for s in samples()}) == len(samples())


def test_the_page_data_follows_the_grammar():
    config = Config.defaults(bucket="demo-images")
    doc = document(samples(), config, ["a command"])
    assert [m["name"] for m in doc["modes"]] == list(MODES)
    assert [f["ext"] for f in doc["formats"]] == output_extensions()
    assert {"jpg", "png", "webp", "gif"} <= set(output_extensions()) and "jpeg" not in output_extensions()
    assert doc["commands"] == ["a command"]
    for sample in doc["samples"]:
        modes, formats, densities = (group["tiles"] for group in sample["groups"])
        assert [parse_thumbnail(t["key"]).mode for t in modes] == list(MODES)  # type: ignore[union-attr]
        assert [t["key"].rsplit(".", 1)[1] for t in formats] == output_extensions()
        assert [t["dpr"] for t in densities] == [1, 2]
        for tile in modes + formats + densities:
            spec = parse_thumbnail(tile["key"])
            assert spec is not None and spec.stem == sample["key"].rsplit(".", 1)[0]
            assert tile["width"] <= sample["width"] and tile["height"] <= sample["height"]  # never upscaled
    sunset = next(s for s in doc["samples"] if s["key"] == "photos/sunset.jpg")
    sizes = {t["key"]: (t["width"], t["height"]) for group in sunset["groups"] for t in group["tiles"]}
    assert sizes["photos/sunset_160x160_fill.jpg"] == (160, 160)
    assert sizes["photos/sunset_160x160_fit.jpg"] == (160, 90)  # 1600x900 inside 160x160
    assert sizes["photos/sunset_160x160_pad.jpg"] == (160, 160)
    assert sizes["photos/sunset_160x160@2x.jpg"] == (320, 320)


# ---- the running demo -----------------------------------------------------------------------------------


def run_printed(command: str) -> subprocess.CompletedProcess[str]:
    """Run a command as the demo printed it: leading VAR=value words are its environment."""
    words = shlex.split(command)
    env = environment()
    while "=" in words[0]:
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    assert words[0] == "s3-resize-proxy", command
    return subprocess.run(
        [sys.executable, "-m", "proxy", *words[1:]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_quiet_console_page_and_ready_to_paste_tools(demo):
    with requests.Session() as http:
        page = http.get(f"{demo.url}/")
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        assert "/demo.js" in page.text and "/demo.css" in page.text
        assert http.get(f"{demo.url}/demo.js").headers["Content-Type"].startswith("text/javascript")
        data = http.get(f"{demo.url}/demo.json").json()
        assert {s["key"] for s in data["samples"]} == {s.key for s in samples()}
        thumbnail = http.get(f"{demo.url}/camera_120x120_fit.png")
        assert thumbnail.status_code == 200 and thumbnail.headers["X-Cache"] == "rendered"
        assert Image.open(io.BytesIO(thumbnail.content)).size == (120, 80)  # upright: EXIF orientation applied
        assert http.get(f"{demo.url}/nothing-here.jpg").status_code == 404  # werkzeug colours this one
    assert any("--animation=keep" in c and " warm " in c for c in demo.commands)
    for command in demo.commands:
        assert command.startswith("AWS_ACCESS_KEY_ID=") or "analyze-logs" in command, command
        result = run_printed(command)
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        if "analyze-logs" in command:
            assert "camera_120x120_fit.png" in result.stdout or "120x120_fit" in result.stdout
        if " warm " in command:
            # Every sample is an original (the HEIC one too, warmed as JPEG); with the demo's --auto-format the
            # JPEG and PNG ones get their AVIF and WebP variants as well.
            originals = len(samples())
            assert f"{originals} originals: {originals} warmed" in result.stdout, result.stdout
    assert demo.stop() == 0
    console = demo.out + demo.err
    assert not [line for line in console if ANSI.search(line)]
    assert not [line for line in console if NOISE.search(line)], "\n".join(console)
    logged = [line for line in demo.out if re.match(r"\d{4}-\d\d-\d\dT", line)]
    assert logged == demo.log_path.read_text().splitlines()  # the console shows the file's lines, and only them
    assert [line.split(" ")[3] for line in logged] == ["camera_120x120_fit.png", "nothing-here.jpg"]  # no page files


def test_verbose_shows_moto_and_werkzeug_without_colour_codes_in_a_pipe(tmp_path):
    demo = Demo(tmp_path / "access.log", "--verbose")
    try:
        assert requests.get(f"{demo.url}/nothing-here.jpg", timeout=30).status_code == 404
        assert demo.stop() == 0
    finally:
        demo.close()
    console = demo.out + demo.err
    assert [line for line in demo.err if "werkzeug" in line and "GET /demo-images/nothing-here.jpg" in line]
    assert not [line for line in console if ANSI.search(line)]


def test_serve_has_no_page(proxy, http):
    assert http.get(f"{proxy.url}/").status_code == 400  # an empty key, as before the demo had a page
    assert http.get(f"{proxy.url}/demo.json").status_code == 404  # a key like any other, not in the bucket


# ---- a busy port ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command, flag",
    [
        (["demo", "--address=127.0.0.1"], "--port"),
        (["serve", "--bucket=demo-images", "--address=127.0.0.1"], "--port"),
        (
            ["serve", "--bucket=demo-images", "--address=127.0.0.1", "--port=0", "--admin-address=127.0.0.1"],
            "--admin-port",
        ),
        (["serve", "--bucket=demo-images", "--address=127.0.0.1", "--processes=2"], "--port"),
        # Workers listen with SO_REUSEPORT: another such listener (a second proxy) must not be joined silently.
        (["serve", "--bucket=demo-images", "--address=127.0.0.1", "--processes=2"], "--port reuseport"),
    ],
)
def test_a_busy_port_is_one_line_and_starts_nothing(tmp_path, command, flag):
    log = tmp_path / "access.log"
    flag, _, holder_reuses = flag.partition(" ")
    with socket.socket() as holder:
        if holder_reuses:
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        args = [*command, f"{flag}={port}"]
        if command[0] == "demo":
            args.append(f"--access-log={log}")
        result = subprocess.run(
            [sys.executable, "-m", "proxy", *args],
            cwd=ROOT,
            env=environment(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    lines = (result.stdout + result.stderr).splitlines()
    assert len(lines) == 1, lines
    assert f"127.0.0.1:{port}" in lines[0] and "in use" in lines[0] and f"{flag}=" in lines[0]
    assert result.returncode == 1
    assert not log.exists()  # the demo stopped before moto, the samples and its log
