"""Sample pictures for the demo, drawn with Pillow at start-up (no files shipped, no licence to state).

Each one shows a feature: crops that differ by mode (wide, tall, square), EXIF orientation, CMYK, animation,
transparency, 16 bits per channel, a focal point in the metadata, a HEIC original. Labels such as "TOP" make
orientation and crops visible.
"""

from __future__ import annotations

import io
import math
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

from PIL import Image, ImageDraw, ImageFont, ImageOps

from proxy.imaging import heif  # noqa: F401  (registers the HEIF opener: stored_size reads HEIC)

Colour = tuple[int, int, int]


@dataclass(frozen=True)
class Sample:
    """One original in the demo bucket, and what the page says about it."""

    key: str
    body: bytes
    content_type: str
    about: str
    box: tuple[int, int] = (160, 160)  # the thumbnail box that shows this shape's modes best
    metadata: Mapping[str, str] = field(default_factory=dict)  # S3 user metadata (``focus``)

    @property
    def stored_size(self) -> tuple[int, int]:
        """Width and height as stored (before the EXIF orientation is applied)."""
        with Image.open(io.BytesIO(self.body)) as image:
            return image.size

    @property
    def orientation(self) -> int:
        with Image.open(io.BytesIO(self.body)) as image:
            value = image.getexif().get(0x0112, 1)
        return value if isinstance(value, int) else 1

    @property
    def size(self) -> tuple[int, int]:
        """Width and height as displayed: EXIF orientations 5 to 8 swap them."""
        width, height = self.stored_size
        return (height, width) if self.orientation in (5, 6, 7, 8) else (width, height)


@cache
def samples() -> tuple[Sample, ...]:
    """Every sample object, in the order the page shows them (drawn once per process, well under a second)."""
    return (
        Sample(
            "photos/sunset.jpg",
            sunset(),
            "image/jpeg",
            "A wide 16:9 landscape with its subject, the lighthouse, off-centre: fill's centre crop loses it, "
            "fit and pad keep the whole picture, stretch squeezes it.",
        ),
        Sample(
            "photos/sunset-focus.jpg",
            sunset(),
            "image/jpeg",
            "The same landscape uploaded with the S3 metadata focus=0.86,0.55 (the lighthouse): fill and smart "
            "crops keep that point, as centred as the picture allows.",
            metadata={"focus": "0.86,0.55"},
        ),
        Sample(
            "portrait.jpg",
            portrait(),
            "image/jpeg",
            "A tall 9:16 portrait, the balloon in its top third: a square fill keeps the middle only.",
        ),
        Sample(
            "earth.jpg",
            earth(),
            "image/jpeg",
            "A square original, in a 3:2 box: fill cuts top and bottom, pad adds bars at the sides.",
            box=(210, 140),
        ),
        Sample(
            "camera.jpg",
            camera(),
            "image/jpeg",
            "Stored sideways (800x1200) with EXIF Orientation 6, as a phone writes it: every thumbnail comes out "
            "upright, TOP at the top, and carries no EXIF.",
        ),
        Sample(
            "phone.heic",
            phone(),
            "image/heic",
            "An iPhone-style HEIC original: browsers cannot show it, so the page shows a JPEG of it; every "
            "thumbnail is made from it (phone_160x160.jpg finds phone.heic after the other extensions).",
        ),
        Sample(
            "print.jpg",
            cmyk(),
            "image/jpeg",
            "A CMYK JPEG (as print workflows make them), converted to sRGB for every output.",
        ),
        Sample(
            "spinner.gif",
            spinner(),
            "image/gif",
            "An animated GIF of 12 frames: GIF and WebP thumbnails keep every frame (the demo runs with "
            "--animation=keep), the other formats take the first.",
        ),
        Sample(
            "logo.png",
            logo(),
            "image/png",
            "A transparent PNG: PNG, WebP and AVIF keep the alpha, GIF keeps 1 bit of it, JPEG is flattened on white.",
            box=(210, 140),
        ),
        Sample(
            "deep.png",
            sixteen_bit(),
            "image/png",
            "A 16-bit greyscale PNG: a smooth ramp, reduced to 8 bits per channel for the web formats.",
        ),
    )


# ---- the pictures ----------------------------------------------------------------------------------------


def sunset(width: int = 1600, height: int = 900) -> bytes:
    """A wide landscape: sky, sun and a lighthouse on the right third, hills."""
    image = _vertical_gradient((width, height), (255, 183, 94), (120, 60, 140))
    draw = ImageDraw.Draw(image)
    sun_x, sun_y, sun_r = width * 0.78, height * 0.42, height * 0.11
    draw.ellipse((sun_x - sun_r, sun_y - sun_r, sun_x + sun_r, sun_y + sun_r), fill=(255, 236, 160))
    for k, colour in enumerate(((92, 60, 110), (60, 44, 84), (34, 28, 56))):
        points = [
            (x, height * (0.62 + 0.11 * k) + height * 0.05 * math.sin(x / (170 + 60 * k) + 2 * k))
            for x in range(0, width + 40, 40)
        ]
        draw.polygon([(0, height), *points, (width, height)], fill=colour)
    _lighthouse(draw, width * 0.86, height * 0.78, height * 0.5)
    _label(draw, (width / 2, height * 0.08), "TOP", height // 12, (70, 40, 90))
    _label(draw, (width * 0.05, height / 2), "L", height // 12, (255, 255, 255))
    _label(draw, (width * 0.95, height / 2), "R", height // 12, (255, 255, 255))
    return _encode(image, "JPEG")


def portrait(width: int = 900, height: int = 1600) -> bytes:
    """A tall picture: a hot-air balloon in the upper third of a blue sky, a meadow at the bottom."""
    image = _vertical_gradient((width, height), (60, 130, 215), (190, 225, 250))
    draw = ImageDraw.Draw(image)
    for cx, cy, s in ((0.2, 0.55, 1.0), (0.75, 0.68, 0.8), (0.55, 0.45, 0.6)):
        x, y, r = width * cx, height * cy, width * 0.09 * s
        for dx in (-1.2, 0, 1.2):
            draw.ellipse((x + dx * r - r, y - r, x + dx * r + r, y + r * 0.9), fill=(250, 252, 255))
    draw.rectangle((0, height * 0.86, width, height), fill=(70, 150, 70))
    bx, by, bw, bh = width * 0.62, height * 0.22, width * 0.17, width * 0.21
    stripes = ((225, 60, 60), (250, 200, 60), (60, 160, 220), (250, 250, 250))
    for i, colour in enumerate(stripes):  # narrower and narrower ellipses: a striped envelope
        draw.ellipse((bx - bw * (1 - i / 4), by - bh, bx + bw * (1 - i / 4), by + bh), fill=colour)
    draw.polygon(
        [(bx - bw * 0.62, by + bh * 0.78), (bx + bw * 0.62, by + bh * 0.78), (bx, by + bh * 1.3)], fill=stripes[0]
    )
    for side in (-1, 1):
        draw.line(
            (bx + side * bw * 0.3, by + bh * 1.1, bx + side * bw * 0.18, by + bh * 1.5), fill=(60, 40, 30), width=4
        )
    draw.rectangle((bx - bw * 0.2, by + bh * 1.5, bx + bw * 0.2, by + bh * 1.75), fill=(130, 80, 40))
    _label(draw, (width / 2, height * 0.05), "TOP", width // 9, (255, 255, 255))
    _label(draw, (width / 2, height * 0.93), "BOTTOM", width // 11, (255, 255, 255))
    return _encode(image, "JPEG")


def earth(size: int = 1200) -> bytes:
    """A blue planet with green continents on a starry sky: a square JPEG."""
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
    _label(draw, (c, size * 0.04), "TOP", size // 16, (230, 230, 255))
    return _encode(image, "JPEG")


def camera(width: int = 1200, height: int = 800) -> bytes:
    """An upright scene, stored turned 90° anticlockwise with EXIF Orientation 6 ("rotate 90° clockwise")."""
    image = _vertical_gradient((width, height), (250, 240, 215), (235, 200, 160))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, height * 0.8, width, height), fill=(120, 90, 60))
    cx = width / 2
    draw.polygon(
        [(cx, height * 0.2), (cx + width * 0.09, height * 0.38), (cx - width * 0.09, height * 0.38)], fill=(200, 60, 50)
    )
    draw.rectangle((cx - width * 0.035, height * 0.38, cx + width * 0.035, height * 0.78), fill=(200, 60, 50))
    for i, colour in enumerate(((70, 130, 180), (90, 160, 90), (220, 170, 40))):
        x = width * (0.14 + 0.09 * i)
        draw.rectangle((x, height * (0.8 - 0.16 - 0.08 * i), x + width * 0.07, height * 0.8), fill=colour)
    _label(draw, (cx, height * 0.09), "TOP", height // 9, (60, 40, 30))
    _label(draw, (width * 0.78, height * 0.55), "EXIF 6", height // 12, (60, 40, 30))
    stored = image.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    stored.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def phone() -> bytes:
    """The camera picture, upright, as a HEIC file (pillow-heif's encoder)."""
    from pillow_heif import from_pillow

    with Image.open(io.BytesIO(camera())) as stored:
        upright = ImageOps.exif_transpose(stored)
    out = io.BytesIO()
    from_pillow(upright).save(out, quality=80)
    return out.getvalue()


def cmyk(width: int = 1000, height: int = 700) -> bytes:
    """Overlapping cyan, magenta and yellow discs and a black key plate: a CMYK JPEG without an ICC profile."""
    r = height * 0.25
    plates = []
    for fx, fy in ((0.4, 0.42), (0.6, 0.42), (0.5, 0.62)):  # one disc per ink
        plate = Image.new("L", (width, height), 0)
        ImageDraw.Draw(plate).ellipse((width * fx - r, height * fy - r, width * fx + r, height * fy + r), fill=230)
        plates.append(plate)
    key = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(key)
    for i in range(10):  # a grey ramp on the key plate alone
        x = width * 0.05 + i * width * 0.09
        draw.rectangle((x, height * 0.88, x + width * 0.085, height * 0.96), fill=25 * i + 20)
    _label(draw, (width / 2, height * 0.07), "TOP · CMYK", height // 12, 255)
    return _encode(Image.merge("CMYK", [*plates, key]), "JPEG")


def spinner(width: int = 480, height: int = 270, frames: int = 12) -> bytes:
    """An animated GIF: a dot going round a dial, the frame number in the middle (drawn in a 4-colour palette)."""
    palette = [24, 28, 48, 80, 90, 130, 255, 170, 60, 235, 235, 245]  # background, dial, dot, text
    pictures = []
    for n in range(frames):
        image = Image.new("P", (width, height), 0)
        image.putpalette(palette)
        draw = ImageDraw.Draw(image)
        cx, cy, r = width / 2, height / 2, height * 0.36
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=1, width=6)
        for k in range(frames):
            a = 2 * math.pi * k / frames - math.pi / 2
            x, y = cx + r * math.cos(a), cy + r * math.sin(a)
            draw.ellipse((x - 5, y - 5, x + 5, y + 5), fill=1)
        a = 2 * math.pi * n / frames - math.pi / 2
        x, y = cx + r * math.cos(a), cy + r * math.sin(a)
        draw.ellipse((x - 22, y - 22, x + 22, y + 22), fill=2)
        _label(draw, (cx, cy), f"{n + 1}/{frames}", height // 7, 3)
        _label(draw, (width * 0.12, height * 0.1), "TOP", height // 12, 1)
        pictures.append(image)
    out = io.BytesIO()
    pictures[0].save(out, "GIF", save_all=True, append_images=pictures[1:], duration=90, loop=0)
    return out.getvalue()


def logo(size: int = 800) -> bytes:
    """A transparent PNG (alpha must survive PNG/WebP thumbnails and be flattened for JPEG)."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((size * 0.1, size * 0.1, size * 0.9, size * 0.9), radius=size // 8, fill=(230, 60, 90, 255))
    draw.ellipse((size * 0.3, size * 0.3, size * 0.7, size * 0.7), fill=(255, 255, 255, 180))
    _label(draw, (size / 2, size * 0.2), "TOP", size // 12, (255, 255, 255, 255))
    return _encode(image, "PNG")


def sixteen_bit(width: int = 1200, height: int = 600) -> bytes:
    """A 16-bit greyscale PNG: a horizontal ramp over the full 0..65535 range, a darker disc, a label."""
    row = array("H", (round(65535 * x / (width - 1)) for x in range(width)))
    image = Image.frombytes("I;16", (width, height), row.tobytes() * height).convert("I")
    draw = ImageDraw.Draw(image)
    r = height * 0.3
    draw.ellipse((width * 0.7 - r, height / 2 - r, width * 0.7 + r, height / 2 + r), fill=9000)
    draw.rectangle((0, 0, width, height * 0.16), fill=52000)
    _label(draw, (width / 2, height * 0.08), "TOP · 16-bit", height // 11, 0)
    out = io.BytesIO()
    image.convert("I;16").save(out, "PNG")
    return out.getvalue()


# ---- helpers ---------------------------------------------------------------------------------------------


def _vertical_gradient(size: tuple[int, int], top: Colour, bottom: Colour) -> Image.Image:
    mask = Image.linear_gradient("L").resize(size)
    return Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), mask)


def _lighthouse(draw: ImageDraw.ImageDraw, x: float, base: float, tall: float) -> None:
    w = tall * 0.09
    draw.polygon(
        [(x - w, base), (x + w, base), (x + w * 0.6, base - tall), (x - w * 0.6, base - tall)], fill=(245, 245, 245)
    )
    for k in range(1, 4):
        y = base - tall * k / 4
        draw.rectangle((x - w * (1 - 0.1 * k), y, x + w * (1 - 0.1 * k), y + tall * 0.07), fill=(210, 50, 50))
    draw.rectangle((x - w * 0.8, base - tall - w, x + w * 0.8, base - tall), fill=(255, 230, 120))
    draw.polygon([(x - w, base - tall - w), (x + w, base - tall - w), (x, base - tall - 2.2 * w)], fill=(40, 40, 40))


def _label(draw: ImageDraw.ImageDraw, centre: tuple[float, float], text: str, size: int, fill: object) -> None:
    draw.text(centre, text, font=ImageFont.load_default(size=size), fill=fill, anchor="mm")  # type: ignore[arg-type]


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, quality=90) if fmt == "JPEG" else image.save(out, fmt)
    return out.getvalue()
