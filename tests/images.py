"""Test pictures, made with Pillow on the fly, and ways to look at thumbnails (decoded, PSNR)."""

from __future__ import annotations

import io
import math
import struct

from PIL import Image, ImageChops, ImageStat

from proxy.imaging import heif
from tests import corpus
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


# ---- HEIF, made with pillow-heif's encoder (proxy.imaging.heif registers it with Pillow) -------------------


def heic(image: Image.Image, **params: object) -> bytes:
    """``image`` as HEIC (HEVC in a HEIF container)."""
    assert heif.AVAILABLE, "pillow-heif is not installed"
    return encode(image, "HEIF", **params)


def oriented_heic(orientation: int) -> bytes:
    """The upright marker stored as a camera would for ``orientation``, with that EXIF tag. pillow-heif's
    encoder turns the tag into the container's irot/imir boxes and keeps the tag as well, as iPhones do."""
    transpose = corpus.STORED_AS[orientation]
    stored = corpus.upright_marker() if transpose is None else corpus.upright_marker().transpose(transpose)
    exif = Image.Exif()
    exif[0x0112] = orientation
    return heic(stored, exif=exif.tobytes(), quality=90)


def heic_with_exif_orientation_only(image: Image.Image, orientation: int) -> bytes:
    """``image`` as HEIC with no irot/imir boxes but an EXIF orientation tag of ``orientation``, which HEIF
    readers are to ignore (MIAF 7.3.10.1)."""
    exif = Image.Exif()
    exif[0x0112] = 1
    return _patch_exif_orientation(heic(image, exif=exif.tobytes(), quality=90), orientation)


def _patch_exif_orientation(data: bytes, orientation: int) -> bytes:
    """Rewrite the value of the first IFD's orientation entry in place (same length, so no offset moves)."""
    tiff = data.find(b"MM\0*")
    assert tiff >= 0, "no big-endian TIFF header in the file"
    ifd = tiff + struct.unpack(">I", data[tiff + 4 : tiff + 8])[0]
    for entry in range(ifd + 2, ifd + 2 + 12 * struct.unpack(">H", data[ifd : ifd + 2])[0], 12):
        if struct.unpack(">H", data[entry : entry + 2])[0] == 0x0112:
            return data[: entry + 8] + struct.pack(">H", orientation) + data[entry + 10 :]
    raise AssertionError("no orientation entry")


def heic_deep(rgb16: tuple[int, ...], bits: int = 10, size: tuple[int, int] = (64, 48)) -> bytes:
    """A 10- or 12-bit HEIC of one colour given in 16-bit values (three of them: RGB, one: grey)."""
    import pillow_heif
    from pillow_heif import options

    mode = "RGB;16" if len(rgb16) == 3 else "L;16"
    pixels = struct.pack(f"<{len(rgb16)}H", *rgb16) * (size[0] * size[1])
    twelve, options.SAVE_HDR_TO_12_BIT = options.SAVE_HDR_TO_12_BIT, bits == 12
    try:
        out = io.BytesIO()
        pillow_heif.from_bytes(mode, size, pixels).save(out, quality=95)
    finally:
        options.SAVE_HDR_TO_12_BIT = twelve
    return out.getvalue()


def heic_claiming(width: int, height: int) -> bytes:
    """A tiny HEIC whose header (the ispe box) claims ``width`` x ``height`` pixels."""
    data = heic(Image.new("RGB", (64, 64), (90, 90, 90)), quality=50)  # 64x64: no clean-aperture crop box
    at = data.find(b"ispe")
    return data[: at + 8] + struct.pack(">II", width, height) + data[at + 16 :]
