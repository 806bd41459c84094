"""The Pillow pipeline: original bytes + ThumbnailSpecs -> encoded thumbnails.

Runs in a render thread (never on the event loop). The steps, in this order, and why:

1. open      -- only allow-listed decoders (HEIF through pillow-heif: imaging/heif.py), header only; reject by
                size (pixels, frames x pixels) before any pixel is decoded, so a bomb costs nothing.
2. geometry  -- for each spec, from the header size as people see it (after EXIF orientation): the crop of the
                source, the resized size and the canvas. Pure arithmetic, no pixels; a focus point moves the
                fill/smart crop to hold it.
3. draft     -- ask the JPEG decoder to scale by 1/2..1/8 while decoding (DCT scaling). It must come before
                anything loads pixels, and is computed for the largest plan so every output stays sharp.
4. load      -- decode: the first frame, or every frame when animation is kept. Truncated data is an error.
5. orient    -- apply the EXIF orientation (HEIF: libheif has applied its own); the tag goes with the rest of
                the metadata at encode.
6. normalise -- palettes, 1-bit and 16-bit become RGB(A)/L(A) so that resampling is correct (CMYK stays).
6a. place    -- ``smart`` crops without a focus point slide to where the content is (imaging/smartcrop.py),
                scored on a small copy of the first frame; every frame of an animation gets that window.
   then, per spec:
7. resize    -- crop + LANCZOS in one call, with a reducing gap (fast box reduce, then a careful filter);
                largest first, each from the smallest output already made that covers its crop sharply.
8. colour    -- ICC profile or CMYK to sRGB, on the few output pixels rather than on the original.
9. pad       -- for ``pad``: centre on a canvas, transparent where the format has alpha, else white.
10. encode   -- per-format settings, alpha flattened onto white for JPEG, no metadata at all.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import math
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image, ImageFile, features

from proxy.config import Config
from proxy.errors import Unprocessable
from proxy.imaging import colour, heif, smartcrop
from proxy.keys import ThumbnailSpec

log = logging.getLogger(__name__)

# Decoders Image.open may use; anything else (TIFF, PSD, EPS, ...) is refused before it is parsed.
DECODERS: tuple[str, ...] = (
    ("JPEG", "PNG", "WEBP", "GIF")
    + (("AVIF",) if features.check("avif") else ())
    + ((heif.FORMAT,) if heif.AVAILABLE else ())
)
_DECODER_NAMES = ", ".join(name.replace("WEBP", "WebP") for name in DECODERS)  # for the 422's reason
# Formats whose animation is kept with --animation=keep; other outputs get the first frame.
ANIMATED_OUTPUTS = ("GIF", "WEBP")
MAX_FRAMES = 1000  # with --animation=keep: beyond this many frames, 422 (whatever their size)

DRAFT_GAP = 2.0  # decode at >= 2x the output size, so DCT scaling never shows
REDUCING_GAP = 2.0  # box-reduce only down to 2x the output size, then LANCZOS (see Image.resize)

# EXIF orientation -> the transpose that shows the picture upright (2..8; 1 and anything else: none).
_ORIENTATIONS: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# What Pillow may raise on hostile or broken input (struct/zlib errors escape some plugins as they are).
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
    zlib.error,
    MemoryError,
    Image.DecompressionBombError,
    *heif.ERRORS,
)


@dataclass(frozen=True)
class RenderOptions:
    """The part of the configuration the pipeline needs."""

    default_mode: str = "fill"
    jpeg_quality: int = 85
    webp_quality: int = 90
    avif_quality: int = 75
    avif_speed: int = 6
    jpeg_progressive: bool = True
    png_compress_level: int = 6
    animation: str = "first"
    max_source_pixels: int = 50_000_000
    max_animation_pixels: int = 200_000_000

    @classmethod
    def from_config(cls, config: Config) -> RenderOptions:
        return cls(
            default_mode=config.default_mode,
            jpeg_quality=config.jpeg_quality,
            webp_quality=config.webp_quality,
            avif_quality=config.avif_quality,
            avif_speed=config.avif_speed,
            jpeg_progressive=config.jpeg_progressive,
            png_compress_level=config.png_compress_level,
            animation=config.animation,
            max_source_pixels=int(config.max_source_megapixels * 1_000_000),
            max_animation_pixels=int(config.max_animation_megapixels * 1_000_000),
        )


@dataclass(frozen=True)
class Rendered:
    """An encoded thumbnail."""

    body: bytes
    content_type: str
    width: int
    height: int


@dataclass(frozen=True)
class Geometry:
    """Where one output's pixels come from: ``crop`` (fractions of the upright source) scaled to ``size``,
    centred on a ``canvas`` (larger than ``size`` only in pad mode)."""

    crop: tuple[float, float, float, float]
    size: tuple[int, int]
    canvas: tuple[int, int]


@dataclass
class Decoded:
    """What every output needs to know of the original besides its pixels."""

    durations: list[int]  # per frame decoded, in ms
    loop: int
    format: str | None
    icc: bytes | None


# ---- entry points ---------------------------------------------------------------------------------------


def render(
    data: bytes, spec: ThumbnailSpec, options: RenderOptions, *, focus: tuple[float, float] | None = None
) -> Rendered:
    """Make the thumbnail ``spec`` names from the original's bytes; ``focus``: see render_many."""
    return render_many(data, [spec], options, focus=focus)[0]


def render_many(
    data: bytes, specs: list[ThumbnailSpec], options: RenderOptions, *, focus: tuple[float, float] | None = None
) -> list[Rendered]:
    """Several thumbnails of one original: it is opened, drafted for the largest, decoded and oriented once.

    Frames are decoded one at a time and resized at once, so an animation never sits in memory at full size.
    ``focus`` is a point to keep in fill and smart crops, ``(x, y)`` fractions of the upright picture.
    """
    with _as_unprocessable("cannot decode original"):
        image = open_checked(data, options)  # 1
        orientation = _orientation(image) if heif.exif_orientation_applies(image) else 1
        upright = _upright_size(image.size, orientation)
        modes = [spec.mode or options.default_mode for spec in specs]
        plans = [geometry(upright, spec, mode, focus) for spec, mode in zip(specs, modes, strict=True)]  # 2
        smart = [i for i, mode in enumerate(modes) if mode == "smart" and focus is None]
        _draft(image, plans, upright, orientation)  # 3
        # A negotiated variant looks like the format its key names: a JPEG's or PNG's is never animated.
        animate = [
            options.animation == "keep" and spec.format in ANIMATED_OUTPUTS and spec.looks_like is None
            for spec in specs
        ]
        source = Decoded([], 0, image.format, image.info.get("icc_profile") or None)
        outputs: list[list[Image.Image]] = [[] for _ in specs]
        for index in range(heif.frames(image) if any(animate) else 1):
            frame = colour.normalise(_orient(_load(image, index, source), orientation), source.format)  # 4-6
            frame = _shared_reduce(frame, plans)  # 7, the part every output shares
            if index == 0:
                plans = _place(frame, plans, smart)  # 6a
            wanted = [i for i, keep in enumerate(animate) if index == 0 or keep]
            for i, resized in _derive(frame, plans, wanted).items():  # 7, each from the smallest good source
                thumbnail = _pad(colour.to_srgb(resized, source.icc), plans[i].canvas)  # 8-9
                outputs[i].append(thumbnail.copy() if thumbnail is image else thumbnail)  # the file object is reused
    with _as_unprocessable("cannot encode thumbnail"):
        return [_encode(made, source, spec, options) for made, spec in zip(outputs, specs, strict=True)]  # 10


@contextmanager
def _as_unprocessable(what: str) -> Iterator[None]:
    """Pillow's exceptions on bad input become a 422 with a short reason (never a 500)."""
    try:
        yield
    except Unprocessable:
        raise
    except Image.UnidentifiedImageError:
        raise Unprocessable(f"original is not a supported image ({_DECODER_NAMES})") from None
    except _DECODE_ERRORS as exc:
        reason = str(exc).split("\n")[0][:160] or type(exc).__name__
        log.info("%s: %s: %s", what, type(exc).__name__, reason)
        raise Unprocessable(f"{what}: {reason}") from None


# ---- 1. open ----------------------------------------------------------------------------------------------


def open_checked(data: bytes, options: RenderOptions) -> Image.Image:
    """Open with an allow-listed decoder (header only) and enforce the pixel limits before any decoding."""
    if not data:
        raise Unprocessable("original is empty")
    # Pillow raises DecompressionBombError itself beyond twice MAX_IMAGE_PIXELS; below that it only warns,
    # so its warning threshold is enforced here as an error, without touching global warning filters.
    try:
        image = Image.open(io.BytesIO(data), formats=list(DECODERS))
    except Image.DecompressionBombError:
        raise Unprocessable("original is over the pixel limit (its header claims too many pixels)") from None
    width, height = image.size
    limit = options.max_source_pixels
    if Image.MAX_IMAGE_PIXELS is not None:
        limit = min(limit, Image.MAX_IMAGE_PIXELS)
    if width * height > limit:
        raise Unprocessable(f"original is {width}x{height}, over the limit of {limit / 1e6:g} megapixels")
    if options.animation == "keep":
        frames = _gif_frames(data, MAX_FRAMES) if image.format == "GIF" else heif.frames(image)
        if frames > MAX_FRAMES:
            raise Unprocessable(f"animation of more than {MAX_FRAMES} frames")
        if frames * width * height > options.max_animation_pixels:
            raise Unprocessable(
                f"animation of {frames} frames of {width}x{height} is over the limit of "
                f"{options.max_animation_pixels / 1e6:g} megapixels"
            )
    return image


def _gif_frames(data: bytes, stop: int) -> int:
    """Count a GIF's frames by walking its blocks (no decoding), giving up once past ``stop``: Pillow's own
    count walks the whole file, which for millions of 1-pixel frames takes seconds."""
    pos = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)  # header, screen, global palette
    frames = 0
    while pos < len(data) and frames <= stop:
        if data[pos] == 0x2C:  # image: descriptor, local palette, LZW code size, then data sub-blocks
            flags = data[pos + 9] if pos + 9 < len(data) else 0
            pos += 11 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
            frames += 1
        elif data[pos] == 0x21:  # extension: label, then sub-blocks
            pos += 2
        else:
            break
        while pos < len(data) and data[pos]:
            pos += data[pos] + 1
        pos += 1
    return frames


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(0x0112, 1)
    except _DECODE_ERRORS:  # a broken EXIF block must not cost the picture
        return 1
    return value if isinstance(value, int) and value in _ORIENTATIONS else 1


def _upright_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


# ---- 2. geometry -------------------------------------------------------------------------------------------


def target_box(source: tuple[int, int], spec: ThumbnailSpec, mode: str) -> tuple[int, int]:
    """The output size for ``mode``: W or H of 0 follows the aspect; no side larger than the source allows."""
    sw, sh = source
    tw, th = spec.target_width, spec.target_height
    if tw == 0:
        tw = max(1, round(sw * th / sh))
    if th == 0:
        th = max(1, round(sh * tw / sw))
    if mode == "fit":
        scale = min(tw / sw, th / sh, 1.0)
        return (max(1, round(sw * scale)), max(1, round(sh * scale)))
    # fill, stretch: shrink the box (keeping the requested aspect) until neither side upscales. pad: the
    # canvas may exceed one source side, the picture inside it is never upscaled.
    shrink = min(1.0, max(sw / tw, sh / th)) if mode == "pad" else min(1.0, sw / tw, sh / th)
    return (max(1, round(tw * shrink)), max(1, round(th * shrink)))


def geometry(
    source: tuple[int, int], spec: ThumbnailSpec, mode: str, focus: tuple[float, float] | None = None
) -> Geometry:
    """The crop, resized size and canvas of one output, from the upright source size. Fill and smart crop to
    the box's aspect ratio, centred, or around ``focus`` (fractions of the source) when one is given."""
    sw, sh = source
    box = target_box(source, spec, mode)
    full = (0.0, 0.0, 1.0, 1.0)
    if mode in ("fill", "smart"):
        if box[0] * sh > box[1] * sw:  # box is wider than the source: cut top and bottom
            keep = (sw * box[1] / box[0]) / sh
            crop = (0.0, (1 - keep) / 2, 1.0, (1 + keep) / 2)
        else:
            keep = (sh * box[0] / box[1]) / sw
            crop = ((1 - keep) / 2, 0.0, (1 + keep) / 2, 1.0)
        return Geometry(crop if focus is None else smartcrop.around(crop, focus), box, box)
    if mode == "pad":
        scale = min(box[0] / sw, box[1] / sh, 1.0)
        inner = (min(box[0], max(1, round(sw * scale))), min(box[1], max(1, round(sh * scale))))
        return Geometry(full, inner, box)
    return Geometry(full, box, box)  # fit, stretch


# ---- 3. draft ---------------------------------------------------------------------------------------------


def _draft(image: Image.Image, plans: list[Geometry], upright: tuple[int, int], orientation: int) -> None:
    """Let the JPEG decoder downscale (1/2..1/8) as far as the most demanding plan allows."""
    need_w = need_h = 1
    for each in plans:
        crop_w = (each.crop[2] - each.crop[0]) * upright[0]
        crop_h = (each.crop[3] - each.crop[1]) * upright[1]
        scale = min(1.0, DRAFT_GAP * max(each.size[0] / crop_w, each.size[1] / crop_h))
        need_w = max(need_w, math.ceil(upright[0] * scale))
        need_h = max(need_h, math.ceil(upright[1] * scale))
    if orientation in (5, 6, 7, 8):
        need_w, need_h = need_h, need_w
    image.draft(None, (need_w, need_h))  # a no-op for formats other than JPEG


# ---- 4. load ----------------------------------------------------------------------------------------------


def _load(image: Image.Image, index: int, source: Decoded) -> Image.Image:
    """Decode frame ``index``; truncated data raises (LOAD_TRUNCATED_IMAGES is never set)."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:  # someone set Pillow's global: we would serve padded pictures
        raise Unprocessable("refusing to decode with ImageFile.LOAD_TRUNCATED_IMAGES set")
    if index:
        image.seek(index)
    image.load()
    source.durations.append(int(image.info.get("duration") or 100))
    source.loop = int(image.info.get("loop", 0) or 0)
    return image


# ---- 5. orient --------------------------------------------------------------------------------------------


def _orient(image: Image.Image, orientation: int) -> Image.Image:
    method = _ORIENTATIONS.get(orientation)
    return image if method is None else image.transpose(method)


# ---- 6a. place --------------------------------------------------------------------------------------------


def _place(frame: Image.Image, plans: list[Geometry], smart: list[int]) -> list[Geometry]:
    """The ``smart`` plans with their crop where the content is; the frame is scored once, only if a crop can
    move at all (not when the box has the picture's own aspect ratio)."""
    movable = [i for i in smart if plans[i].crop != (0.0, 0.0, 1.0, 1.0)]
    if not movable:
        return plans
    content = smartcrop.profiles(frame)
    placed = list(plans)
    for i in movable:
        placed[i] = dataclasses.replace(plans[i], crop=smartcrop.place(content, plans[i].crop))
    return placed


# ---- 7. resize, 9. pad ------------------------------------------------------------------------------------


def _resize(image: Image.Image, each: Geometry) -> Image.Image:
    """Crop and resample in one call; Pillow premultiplies alpha, so transparent edges do not darken."""
    w, h = image.size
    x0, y0, x1, y1 = each.crop
    box = (x0 * w, y0 * h, x1 * w, y1 * h)
    if each.size == image.size and box == (0.0, 0.0, float(w), float(h)):
        return image
    return image.resize(each.size, Image.Resampling.LANCZOS, box=box, reducing_gap=REDUCING_GAP)


def _derive(frame: Image.Image, plans: list[Geometry], wanted: list[int]) -> dict[int, Image.Image]:
    """Resize the ``wanted`` plans, the most demanding first, each from the cheapest source made so far: the
    frame, or an earlier output that covers its crop with at least DRAFT_GAP times its pixels (the rule the
    draft follows, so a derived size is as sharp as if it had been decoded for itself). A 200x200 may come
    from the 800x600 made just before instead of from a 20-megapixel frame."""
    made: list[tuple[Image.Image, tuple[float, float, float, float]]] = [(frame, (0.0, 0.0, 1.0, 1.0))]
    out: dict[int, Image.Image] = {}
    for i in sorted(wanted, key=lambda i: -_density(plans[i])):
        each = plans[i]
        candidates = [
            (image, sub)
            for image, covers in made
            if (sub := _within(each, covers)) is not None and (image is frame or _sharp_enough(image, sub, each.size))
        ]
        source, within = min(candidates, key=lambda candidate: _cost(*candidate, each.size))
        out[i] = _resize(source, dataclasses.replace(each, crop=within))
        made.append((out[i], each.crop))
    return out


def _cost(image: Image.Image, crop: tuple[float, float, float, float], size: tuple[int, int]) -> float:
    """Roughly what ``_resize`` costs, in source pixels: a box reduce touches each once (when the crop is at
    least twice REDUCING_GAP times the output), LANCZOS about ten times each pixel it is left with."""
    w, h = image.width * (crop[2] - crop[0]), image.height * (crop[3] - crop[1])
    factor = max(1, _reduce_factor(w, h, size))
    return (w * h if factor > 1 else 0.0) + 10 * w * h / factor**2


def _reduce_factor(width: float, height: float, size: tuple[int, int]) -> int:
    """How far a box reduce may go on ``width`` x ``height`` pixels that become ``size``: Image.resize's rule
    for REDUCING_GAP (at least that many times the output's pixels left for LANCZOS)."""
    return int(min(width / size[0], height / size[1]) / REDUCING_GAP)


def _density(each: Geometry) -> float:
    """Output pixels per unit of the source's width and height (the larger): what a plan asks of its source."""
    x0, y0, x1, y1 = each.crop
    return max(each.size[0] / (x1 - x0), each.size[1] / (y1 - y0))


def _within(each: Geometry, covers: tuple[float, float, float, float]) -> tuple[float, float, float, float] | None:
    """``each``'s crop as fractions of an image showing ``covers`` of the source; None if it reaches outside."""
    x0, y0, x1, y1 = covers
    cx0, cy0, cx1, cy1 = each.crop
    slack = 1e-9
    if cx0 < x0 - slack or cy0 < y0 - slack or cx1 > x1 + slack or cy1 > y1 + slack:
        return None
    w, h = x1 - x0, y1 - y0
    return (
        max(0.0, (cx0 - x0) / w),
        max(0.0, (cy0 - y0) / h),
        min(1.0, (cx1 - x0) / w),
        min(1.0, (cy1 - y0) / h),
    )


def _sharp_enough(image: Image.Image, crop: tuple[float, float, float, float], size: tuple[int, int]) -> bool:
    """Whether an earlier output has DRAFT_GAP times the pixels of ``size`` over ``crop``."""
    return image.width * (crop[2] - crop[0]) >= DRAFT_GAP * size[0] - 1e-6 and (
        image.height * (crop[3] - crop[1]) >= DRAFT_GAP * size[1] - 1e-6
    )


def _shared_reduce(image: Image.Image, plans: list[Geometry]) -> Image.Image:
    """With several outputs, box-reduce the frame once, as far as every output keeps REDUCING_GAP times its
    pixels; each resize then starts from that small image instead of repeating the reduce on the full frame."""
    # Alpha modes are left out: reduce() does not premultiply, resize() does (no dark fringes).
    if len(plans) < 2 or image.mode not in ("L", "RGB", "CMYK"):
        return image
    w, h = image.size
    factor = min(_reduce_factor((p.crop[2] - p.crop[0]) * w, (p.crop[3] - p.crop[1]) * h, p.size) for p in plans)
    return image.reduce(factor) if factor >= 2 else image


def _pad(image: Image.Image, canvas: tuple[int, int]) -> Image.Image:
    if image.size == canvas:
        return image
    # Transparent canvas; encode flattens it onto white for formats without alpha.
    mode = "LA" if image.mode in ("L", "LA") else "RGBA"
    background = Image.new(mode, canvas, (255, 0) if mode == "LA" else (255, 255, 255, 0))
    background.paste(image, ((canvas[0] - image.width) // 2, (canvas[1] - image.height) // 2))
    return background


# ---- 10. encode -------------------------------------------------------------------------------------------


def _encode(frames: list[Image.Image], source: Decoded, spec: ThumbnailSpec, options: RenderOptions) -> Rendered:
    """Encode with per-format settings and no metadata (EXIF, GPS, XMP, comments, ICC: none are passed on)."""
    fmt = spec.format
    params: dict[str, object] = {}
    if fmt == "JPEG":
        params = {"quality": options.jpeg_quality, "progressive": options.jpeg_progressive, "optimize": True}
    elif fmt == "WEBP":
        params = {"quality": options.webp_quality}
    elif fmt == "AVIF":
        params = {"quality": options.avif_quality, "speed": options.avif_speed}
    elif fmt == "PNG":
        params = {"compress_level": options.png_compress_level}
    elif fmt == "GIF" and any(colour.has_alpha(frame) for frame in frames):
        frames = [_gif_palette(frame) for frame in frames]
        params = {"transparency": _GIF_CLEAR}
    frames = [_for_format(frame, fmt, spec.looks_like) for frame in frames]
    if len(frames) > 1:
        params.update(save_all=True, append_images=frames[1:], duration=source.durations, loop=source.loop)
        if fmt == "GIF":
            params["disposal"] = 2  # each frame is complete: clear, do not draw over the previous one
    out = io.BytesIO()
    frames[0].save(out, fmt, **params)
    return Rendered(out.getvalue(), spec.content_type, frames[0].width, frames[0].height)


def _for_format(image: Image.Image, fmt: str, looks_like: str | None = None) -> Image.Image:
    """The mode the encoder takes, alpha flattened onto white where the format (or the one a variant must look
    like) has none; info emptied so encoders that copy metadata from ``image.info`` (ICC, EXIF, XMP, comments)
    find nothing."""
    if "JPEG" in (fmt, looks_like) and image.mode not in ("RGB", "L"):
        image = _flatten(image)
    elif fmt in ("WEBP", "AVIF") and image.mode in ("L", "LA"):
        image = image.convert("RGBA" if image.mode == "LA" else "RGB")
    else:
        image = image.copy() if image.info else image
    image.info = {}
    return image


def _flatten(image: Image.Image) -> Image.Image:
    """Composite onto white: JPEG has no alpha."""
    grey = image.mode in ("L", "LA")
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, "white")
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background.convert("L") if grey else background


_GIF_CLEAR = 255  # the palette index of transparent pixels in GIF output


def _gif_palette(image: Image.Image) -> Image.Image:
    """GIF has 1-bit transparency: up to 255 colours for opaque pixels, one index for the rest (alpha < 128)."""
    rgba = image.convert("RGBA")
    clear = rgba.getchannel("A").point(lambda a: 255 if a < 128 else 0)
    paletted = _flatten(rgba).convert("RGB").quantize(255)
    paletted.paste(_GIF_CLEAR, mask=clear)
    return paletted
