"""Test pictures, made with Pillow on the fly."""

from __future__ import annotations

import io

from PIL import Image


def encode(image: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


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
