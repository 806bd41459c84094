"""Sample pictures for the demo, drawn with Pillow (no files shipped, no licence to state)."""

from __future__ import annotations

import io
import math

from PIL import Image, ImageDraw


def earth(size: int = 1200) -> bytes:
    """A blue planet with green continents on a starry sky: a JPEG, square."""
    image = Image.new("RGB", (size, size), (5, 8, 25))
    draw = ImageDraw.Draw(image)
    for i in range(300):  # deterministic stars
        x, y = (i * 7919) % size, (i * 104729) % size
        draw.point((x, y), fill=(230, 230, 255))
    r = size * 0.42
    c = size / 2
    draw.ellipse((c - r, c - r, c + r, c + r), fill=(30, 90, 200))
    for k in range(9):
        a = k * 2.4
        x, y = c + r * 0.55 * math.cos(a), c + r * 0.5 * math.sin(a * 1.3)
        s = r * (0.18 + 0.05 * (k % 3))
        draw.ellipse((x - s, y - s * 0.7, x + s, y + s * 0.7), fill=(40, 150, 70))
    return _encode(image, "JPEG")


def landscape(width: int = 1920, height: int = 1080) -> bytes:
    """A sunset over hills: a wide JPEG (crop and fit differ visibly)."""
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):
        t = y / height
        draw.line((0, y, width, y), fill=(int(250 - 120 * t), int(150 - 100 * t), int(60 + 120 * t)))
    draw.ellipse((width * 0.6, height * 0.35, width * 0.75, height * 0.35 + width * 0.15), fill=(255, 220, 120))
    for k, shade in enumerate((60, 40, 20)):
        points = [
            (x, height * (0.6 + 0.1 * k) + 60 * math.sin(x / (150 + 50 * k) + k)) for x in range(0, width + 40, 40)
        ]
        draw.polygon([(0, height), *points, (width, height)], fill=(shade, shade + 40, shade))
    return _encode(image, "JPEG")


def logo(size: int = 800) -> bytes:
    """A transparent PNG (alpha must survive PNG/WebP thumbnails and be flattened for JPEG)."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((size * 0.1, size * 0.1, size * 0.9, size * 0.9), radius=size // 8, fill=(230, 60, 90, 255))
    draw.ellipse((size * 0.3, size * 0.3, size * 0.7, size * 0.7), fill=(255, 255, 255, 180))
    return _encode(image, "PNG")


SAMPLES: dict[str, tuple[bytes, str]] = {}


def samples() -> dict[str, tuple[bytes, str]]:
    """Key -> (bytes, content type) of every sample object."""
    if not SAMPLES:
        SAMPLES.update(
            {
                "earth.jpg": (earth(), "image/jpeg"),
                "photos/sunset.jpg": (landscape(), "image/jpeg"),
                "logo.png": (logo(), "image/png"),
            }
        )
    return SAMPLES


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, quality=90) if fmt == "JPEG" else image.save(out, fmt)
    return out.getvalue()
