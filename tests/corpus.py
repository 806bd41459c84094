"""The test corpus, generated with Pillow (and a few hand-built files Pillow will not write): no binaries in git.

Pictures carry things the pipeline must get right (an orientation marker, a colour that only comes out right
if an ICC profile is applied, alpha); the crafted files are hostile or broken originals.
"""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import Image, ImageChops, ImageDraw, ImageFilter

RED, GREEN, BLUE, WHITE, GREY = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (128, 128, 128)


def encode(image: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


# ---- orientation ------------------------------------------------------------------------------------------

# How a camera stores an upright picture for each EXIF orientation: the inverse of what a viewer applies.
# (Pillow's ROTATE_90 turns counter-clockwise; orientation 6 means "turn 90 degrees clockwise to view".)
STORED_AS: dict[int, Image.Transpose | None] = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def upright_marker(width: int = 240, height: int = 160) -> Image.Image:
    """Grey picture, landscape, with a red block top-left and a green block top-right: no symmetry maps it
    onto itself, so any wrong rotation or flip moves a block or changes the aspect."""
    image = Image.new("RGB", (width, height), GREY)
    image.paste(RED, (0, 0, width // 4, height // 4))
    image.paste(GREEN, (width - width // 4, 0, width, height // 4))
    return image


def oriented_jpeg(orientation: int, fmt: str = "JPEG") -> bytes:
    """The upright marker picture stored the way a camera would for ``orientation``, with that EXIF tag."""
    image = upright_marker()
    transpose = STORED_AS[orientation]
    stored = image if transpose is None else image.transpose(transpose)
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(stored, fmt, exif=exif.tobytes(), **({"quality": 95} if fmt == "JPEG" else {}))


# ---- colour -----------------------------------------------------------------------------------------------

# sRGB primaries and white as PCS (D50-adapted) XYZ, from the sRGB profile.
_SRGB_XYZ = {"r": (0.4361, 0.2225, 0.0139), "g": (0.3851, 0.7169, 0.0971), "b": (0.1431, 0.0606, 0.7141)}
_D50 = (0.9642, 1.0, 0.8249)


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz_tag(xyz: tuple[float, float, float]) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(_s15(v) for v in xyz)


def _desc_tag(text: str) -> bytes:
    ascii_text = text.encode("ascii") + b"\0"
    return b"desc\0\0\0\0" + struct.pack(">I", len(ascii_text)) + ascii_text + b"\0" * 8 + b"\0\0\0" + b"\0" * 67


def _icc(device_class: bytes, space: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    """A version 2 ICC profile with XYZ as connection space, from (signature, data) tags."""
    table, data = b"", b""
    offset = 128 + 4 + 12 * len(tags)
    for signature, body in tags:
        body += b"\0" * (-len(body) % 4)
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (
        struct.pack(">I", size)
        + b"\0\0\0\0"
        + bytes([2, 0x10, 0, 0])
        + device_class
        + space
        + b"XYZ "
        + b"\0" * 12
        + b"acsp"
        + b"\0" * 24
        + struct.pack(">I", 0)
        + b"".join(_s15(v) for v in _D50)
        + b"\0" * 48
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data


def swapped_rgb_profile() -> bytes:
    """An RGB profile whose red primary is sRGB's green and green primary is sRGB's red: pure red stored
    under it is green on screen. No real profile does this; it makes 'was the profile applied?' unambiguous."""
    gamma = b"curv\0\0\0\0" + struct.pack(">IH", 1, int(2.2 * 256)) + b"\0\0"
    return _icc(
        b"mntr",
        b"RGB ",
        [
            (b"desc", _desc_tag("Channel swap test")),
            (b"wtpt", _xyz_tag(_D50)),
            (b"rXYZ", _xyz_tag(_SRGB_XYZ["g"])),
            (b"gXYZ", _xyz_tag(_SRGB_XYZ["r"])),
            (b"bXYZ", _xyz_tag(_SRGB_XYZ["b"])),
            (b"rTRC", gamma),
            (b"gTRC", gamma),
            (b"bTRC", gamma),
        ],
    )


def linear_grey_profile() -> bytes:
    """A grey profile with gamma 1.0: grey 128 under it is sRGB 188, not 128."""
    linear = b"curv\0\0\0\0" + struct.pack(">IH", 1, 256) + b"\0\0"
    return _icc(
        b"mntr",
        b"GRAY",
        [(b"desc", _desc_tag("Linear grey test")), (b"wtpt", _xyz_tag(_D50)), (b"kTRC", linear)],
    )


def rotated_cmyk_profile() -> bytes:
    """A CMYK profile (one 2x2x2x2 lookup table) that shows each ink as the next primary: cyan ink is yellow
    on screen, magenta is cyan. The naive conversion gives cyan and magenta: the two cannot be confused."""
    clut = b""
    for c in (0, 1):
        for m in (0, 1):
            for y in (0, 1):
                for k in (0, 1):
                    naive = ((1 - c) * (1 - k), (1 - m) * (1 - k), (1 - y) * (1 - k))
                    rgb = (naive[1], naive[2], naive[0])
                    xyz = [sum(rgb[i] * _SRGB_XYZ["rgb"[i]][axis] for i in range(3)) for axis in range(3)]
                    clut += b"".join(struct.pack(">H", min(65535, round(v * 32768))) for v in xyz)
    identity = struct.pack(">HH", 0, 65535)
    lut = (
        b"mft2\0\0\0\0"
        + bytes([4, 3, 2, 0])
        + b"".join(_s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
        + struct.pack(">HH", 2, 2)
        + identity * 4
        + clut
        + identity * 3
    )
    return _icc(
        b"prtr",
        b"CMYK",
        [(b"desc", _desc_tag("Rotated inks test")), (b"wtpt", _xyz_tag(_D50)), (b"A2B0", lut)],
    )


def cmyk_jpeg(cmyk: tuple[int, int, int, int], icc: bytes | None = None, adobe: bool = True) -> bytes:
    """A flat CMYK JPEG. Pillow (like Photoshop) writes Adobe-inverted data with an APP14 'Adobe' marker;
    ``adobe=False`` stores plain (non-inverted) CMYK without that marker, as some other tools do."""
    image = Image.new("CMYK", (64, 48), cmyk)
    if not adobe:
        image = ImageChops.invert(image)  # the writer inverts again, so the stored values are the plain ones
    params: dict[str, object] = {"quality": 95}
    if icc:
        params["icc_profile"] = icc
    data = encode(image, "JPEG", **params)
    return data if adobe else strip_jpeg_segment(data, 0xEE)


def strip_jpeg_segment(data: bytes, marker: int) -> bytes:
    """Remove every APPn/other segment with ``marker`` (e.g. 0xEE: Adobe APP14) from a JPEG's header."""
    out, pos = bytearray(data[:2]), 2
    while pos < len(data) and data[pos] == 0xFF and data[pos + 1] not in (0xDA,):
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if data[pos + 1] != marker:
            out += data[pos : pos + 2 + length]
        pos += 2 + length
    return bytes(out + data[pos:])


def with_profile(color: tuple[int, int, int], icc: bytes, fmt: str = "JPEG") -> bytes:
    return encode(Image.new("RGB", (64, 48), color), fmt, icc_profile=icc)


def png16_grey(value: int, size: tuple[int, int] = (40, 30)) -> bytes:
    return encode(Image.new("I;16", size, value), "PNG")


def png16_rgb(rgb16: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> bytes:
    """A 16-bit-per-channel RGB PNG (Pillow reads these but will not write them)."""
    width, height = size
    row = b"\0" + struct.pack(">HHH", *rgb16) * width
    return png_file(width, height, bit_depth=16, color_type=2, idat=zlib.compress(row * height))


def palette_with_transparency() -> bytes:
    """A palette PNG: left half transparent (index 0), right half opaque blue (index 1)."""
    image = Image.new("P", (80, 40), 0)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * (254 * 3))
    image.paste(1, (40, 0, 80, 40))
    return encode(image, "PNG", transparency=0)


def grey_alpha() -> bytes:
    """LA: grey 100, left half opaque, right half fully transparent."""
    image = Image.new("LA", (80, 40), (100, 255))
    image.paste((100, 0), (40, 0, 80, 40))
    return encode(image, "PNG")


def animated_gif(frames: int = 3, size: tuple[int, int] = (120, 80)) -> bytes:
    colours = [RED, GREEN, BLUE, WHITE]
    images = [Image.new("RGB", size, colours[i % len(colours)]) for i in range(frames)]
    return encode(images[0], "GIF", save_all=True, append_images=images[1:], duration=[100, 200, 300], loop=0)


def photo(width: int, height: int, seed: int = 1) -> Image.Image:
    """Photo-like content: smooth gradients, soft-edged shapes, thin lines and sensor-like noise."""
    rnd = random.Random(seed)
    r = Image.linear_gradient("L").resize((width, height))
    g = Image.linear_gradient("L").rotate(90).resize((width, height))
    b = Image.radial_gradient("L").resize((width, height))
    image = Image.merge("RGB", (r, g, b))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y, s = rnd.randrange(width), rnd.randrange(height), rnd.randrange(width // 20, width // 4)
        draw.ellipse((x, y, x + s, y + s * 0.7), fill=(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    for _ in range(30):
        line = (rnd.randrange(width), rnd.randrange(height), rnd.randrange(width), rnd.randrange(height))
        draw.line(line, fill=(rnd.randrange(256),) * 3, width=rnd.randrange(1, 6))
    image = image.filter(ImageFilter.GaussianBlur(1.2))
    noise = Image.effect_noise((width, height), 18).convert("RGB")
    return Image.blend(image, ImageChops.add(image, noise, 2, -64), 0.35)


def with_metadata(image: Image.Image, fmt: str = "JPEG") -> bytes:
    """An original carrying EXIF (with GPS), XMP, a comment and an ICC profile: outputs must carry none."""
    exif = Image.Exif()
    exif[0x010F] = "SecretCamera"  # Make
    exif[0x8825] = {1: "N", 2: (52.0, 22.0, 1.0)}  # GPS IFD
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>SecretXMP</rdf:RDF></x:xmpmeta>'
    params: dict[str, object] = {"exif": exif.tobytes(), "xmp": xmp, "icc_profile": swapped_rgb_profile()}
    if fmt == "JPEG":
        params["comment"] = b"SecretComment"
    return encode(image, fmt, **params)


# ---- hostile and broken originals -------------------------------------------------------------------------


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_file(
    width: int, height: int, bit_depth: int = 8, color_type: int = 0, idat: bytes = b"", extra: bytes = b""
) -> bytes:
    """A PNG built chunk by chunk: the header may claim anything."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + extra + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def giant_png_header() -> bytes:
    """IHDR claims 100000 x 100000 (10 gigapixels); the data is a few bytes."""
    return png_file(100_000, 100_000, idat=zlib.compress(b"\0" * 100))


def zlib_bomb_png(side: int = 9_000) -> bytes:
    """81 MB of zeros in a small IDAT, behind a header that says side x side (81 MP by default)."""
    packer = zlib.compressobj(1)
    rows = b"\0" * ((side + 1) * 100)
    idat = b"".join(packer.compress(rows) for _ in range(side // 100)) + packer.flush()
    return png_file(side, side, idat=idat)


def ztxt_bomb_png() -> bytes:
    """A small valid PNG with a compressed text chunk that inflates to 16 MB (Pillow allows 1 MB)."""
    text = b"Comment\0\0" + zlib.compress(b"\0" * (16 * 1024 * 1024), 9)
    return png_file(8, 8, idat=zlib.compress(b"\0" * (9 * 8)), extra=_chunk(b"zTXt", text))


def jpeg_with_size(width: int, height: int) -> bytes:
    """A tiny real JPEG whose SOF header is rewritten to claim ``width`` x ``height``."""
    data = bytearray(encode(Image.new("RGB", (16, 16), RED), "JPEG", progressive=False))
    pos = 2
    while data[pos + 1] != 0xC0:  # walk the segments to the baseline SOF0
        pos += 2 + struct.unpack(">H", data[pos + 2 : pos + 4])[0]
    data[pos + 5 : pos + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def truncated_jpeg() -> bytes:
    data = encode(photo(400, 300), "JPEG", quality=90)
    return data[: len(data) // 2]


def gif_with_frames(frames: int, screen: tuple[int, int] = (1000, 1000)) -> bytes:
    """A GIF of ``frames`` 1x1-pixel frames on a large logical screen: tiny file, huge frames x pixels."""
    header = b"GIF89a" + struct.pack("<HHBBB", *screen, 0x80, 0, 0) + bytes([255, 0, 0, 0, 0, 255])
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\0\0\0"
    frame = (
        b"\x21\xf9\x04\x00\x0a\x00\x00\x00"  # graphic control: 100 ms
        + b"\x2c"
        + struct.pack("<HHHHB", 0, 0, 1, 1, 0)
        + b"\x02\x02\x4c\x01\x00"  # LZW min code size 2, one data block: clear, index 1, end
    )
    return header + loop + frame * frames + b"\x3b"
