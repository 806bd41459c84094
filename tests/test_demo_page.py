"""The demo page in headless Chromium: every picture loads at its expected size; the key box shows headers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.demo_process import Demo

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # without these Chromium phones home, and this network refuses it
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,2000",
)


def require_browser() -> None:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip install -e '.[dev]')")
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"missing in CI (.ci/run installs them): {', '.join(missing)}")
        pytest.skip(f"not installed: {', '.join(missing)}")


@pytest.fixture
def browser(tmp_path) -> Iterator[Any]:
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def demo(tmp_path) -> Iterator[Demo]:
    running = Demo(tmp_path / "access.log")
    yield running
    running.close()


def wait_for(driver: Any, script: str, timeout: float = 150) -> Any:
    """Poll a JavaScript expression until it is truthy (the page's own state, not a sleep)."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: d.execute_script(f"return {script}"))


def test_every_picture_loads_at_its_expected_size(browser, demo):
    data = requests.get(f"{demo.url}/demo.json", timeout=30).json()
    browser.get(f"{demo.url}/")
    assert wait_for(browser, "document.body.dataset.state !== 'loading' && document.body.dataset.state") == "done"
    every = browser.execute_script("return [...document.images].map(i => [i.alt, i.complete, i.naturalWidth])")
    assert not [image for image in every if not image[1] or image[2] == 0], every
    images = browser.execute_script(
        "return [...document.querySelectorAll('img[data-key]')].map(i => ({key: i.dataset.key, "
        "natural: [i.naturalWidth, i.naturalHeight], expected: [+i.dataset.width, +i.dataset.height]}))"
    )
    tiles = [tile for sample in data["samples"] for group in sample["groups"] for tile in group["tiles"]]
    assert len(images) == len(tiles) + len(data["samples"])  # every thumbnail, every original
    assert not [image for image in images if image["natural"] != image["expected"]]
    sizes = {image["key"]: tuple(image["natural"]) for image in images}
    # The same rules, by hand: 1600x900 and 900x1600 in a 160x160 box; the upright camera.jpg is 1200x800.
    assert sizes["photos/sunset_160x160_fit.jpg"] == (160, 90)
    assert sizes["portrait_160x160_fit.jpg"] == (90, 160)
    assert sizes["photos/sunset_160x160@2x.jpg"] == (320, 320)
    assert sizes["camera_160x160_fit.jpg"] == (160, 107)
    assert browser.execute_script("return document.body.dataset.failed") == "0"
    assert browser.execute_script("return document.querySelectorAll('.tile').length") == len(tiles)
    # The console shows no error for the page itself: no request for an icon the bucket does not have.
    logged = demo.log_path.read_text()
    assert "photos/sunset_160x160_fit.jpg" in logged and "favicon.ico" not in logged


def test_a_key_typed_in_the_box_shows_the_result_and_its_headers(browser, demo):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(f"{demo.url}/")
    wait_for(browser, "document.getElementById('try-result').dataset.state === 'done'")  # the example shown first
    box = browser.find_element(By.ID, "try-key")
    box.clear()
    box.send_keys("portrait_120x0_fit.webp", Keys.ENTER)
    wait_for(browser, "document.getElementById('try-result').dataset.key === 'portrait_120x0_fit.webp'")

    def field(name: str) -> str:
        return browser.find_element(By.CSS_SELECTOR, f'#try-headers [data-field="{name}"]').text

    assert field("x-cache") in ("rendered", "memory", "s3")
    assert field("status") == "200 OK"
    assert field("content-type") == "image/webp"
    assert field("dimensions") == "120 × 213"  # 900x1600, 120 wide
    assert field("server-timing").startswith("s3;dur=")
    assert int(field("size").removesuffix(" B").replace(",", "")) > 0

    box.clear()
    box.send_keys("portrait_120x0_blur.webp", Keys.ENTER)
    wait_for(browser, "document.getElementById('try-result').dataset.key === 'portrait_120x0_blur.webp'")
    assert field("status").startswith("400")
    assert "unknown mode 'blur'" in browser.find_element(By.ID, "try-stage").text
