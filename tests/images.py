"""Test pictures, made with Pillow on the fly, and ways to look at thumbnails (decoded, PSNR)."""

from __future__ import annotations

import io
import math

from PIL import Image, ImageChops, ImageStat

from tests.corpus import encode


def solid(
    width: int, height: int, color: tuple[int, ...] = (200, 40, 40), fmt: str = "JPEG", mode: str = "RGB"
) -> bytes:
    return encode(Image.new(mode, (width, height), color), fmt)


def quadrants(width: int, height: int, fmt: str = "JPEG") -> bytes:
    """Four coloured quadrants (red, green / blue, white): crops and orientation are visible in pixels."""
    image = Image.new("RGB", (width, height))
    w2, h2 = width // 2, height // 2
    image.paste((255, 0, 0), (0, 0, w2, h2))
    image.paste((0, 255, 0), (w2, 0, width, h2))
    image.paste((0, 0, 255), (0, h2, w2, height))
    image.paste((255, 255, 255), (w2, h2, width, height))
    return encode(image, fmt)


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def psnr(a: Image.Image, b: Image.Image) -> float:
    """Peak signal-to-noise ratio of two pictures of one size, in dB (inf when identical)."""
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    mse = sum(value**2 for value in ImageStat.Stat(diff).rms) / 3
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)
