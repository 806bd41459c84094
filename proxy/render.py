"""The Pillow pipeline: original bytes + a ThumbnailSpec -> encoded thumbnail bytes.

Runs in a render thread (never on the event loop). Steps, in this order:
1. open    -- only allow-listed decoders; read the header only, and check pixel limits before any decode.
2. draft   -- let the JPEG decoder scale by 1/2..1/8 (DCT scaling) before pixels are loaded.
3. orient  -- apply the EXIF orientation so width/height are the ones people see.
4. resize  -- compute the box for the mode (never upscaling), then resample.
5. encode  -- to the key's format, without metadata.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps

from .config import Config
from .errors import Unprocessable
from .keys import ThumbnailSpec

DECODERS = ["JPEG", "PNG", "WEBP", "GIF", "AVIF"]


@dataclass(frozen=True)
class RenderOptions:
    """The part of the configuration the pipeline needs."""

    default_mode: str = "fill"
    jpeg_quality: int = 85
    webp_quality: int = 80
    avif_quality: int = 60
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


def render(data: bytes, spec: ThumbnailSpec, options: RenderOptions) -> Rendered:
    """Make the thumbnail ``spec`` names from the original's bytes."""
    image = _open(data, options)
    try:
        mode = spec.mode or options.default_mode
        box = target_box(image.size, spec, mode)
        image.draft("RGB" if image.mode == "RGB" else None, box[0:2])  # type: ignore[arg-type]
        image = ImageOps.exif_transpose(image) or image
        box = target_box(image.size, spec, mode)
        image = _resize(image, box, mode)
        return _encode(image, spec, options)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise Unprocessable(f"cannot decode original: {exc}") from None


def _open(data: bytes, options: RenderOptions) -> Image.Image:
    if not data:
        raise Unprocessable("original is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=DECODERS)
    except Image.UnidentifiedImageError:
        raise Unprocessable("original is not a supported image") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Unprocessable(f"cannot read original: {exc}") from None
    width, height = image.size
    if width * height > options.max_source_pixels:
        raise Unprocessable(f"original is {width}x{height}, over the pixel limit")
    return image


def target_box(source: tuple[int, int], spec: ThumbnailSpec, mode: str) -> tuple[int, int]:
    """The output size for ``mode``: W or H of 0 follows the aspect; never larger than the source allows."""
    sw, sh = source
    tw, th = spec.target_width, spec.target_height
    if tw == 0:
        tw = max(1, round(sw * th / sh))
    if th == 0:
        th = max(1, round(sh * tw / sw))
    if mode == "fit":
        scale = min(tw / sw, th / sh, 1.0)
        return (max(1, round(sw * scale)), max(1, round(sh * scale)))
    # fill / pad / stretch keep the requested aspect; shrink the box (not the aspect) to avoid upscaling.
    shrink = min(1.0, sw / tw, sh / th) if mode == "fill" else min(1.0, max(sw / tw, sh / th))
    return (max(1, round(tw * shrink)), max(1, round(th * shrink)))


def _resize(image: Image.Image, box: tuple[int, int], mode: str) -> Image.Image:
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA" if "transparency" in image.info or image.mode.endswith("A") else "RGB")
    if mode == "fit" or mode == "stretch":
        return image.resize(box, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if mode == "pad":
        fitted = ImageOps.contain(image, box, Image.Resampling.LANCZOS)
        canvas = Image.new(fitted.mode, box, (255, 255, 255, 0) if "A" in fitted.mode else "white")
        canvas.paste(fitted, ((box[0] - fitted.width) // 2, (box[1] - fitted.height) // 2))
        return canvas
    return ImageOps.fit(image, box, Image.Resampling.LANCZOS)


def _encode(image: Image.Image, spec: ThumbnailSpec, options: RenderOptions) -> Rendered:
    fmt = spec.format
    params: dict[str, object] = {}
    if fmt == "JPEG":
        if image.mode != "RGB":
            image = _flatten(image)
        params = {"quality": options.jpeg_quality, "progressive": options.jpeg_progressive, "optimize": True}
    elif fmt == "WEBP":
        params = {"quality": options.webp_quality}
    elif fmt == "AVIF":
        params = {"quality": options.avif_quality}
    elif fmt == "PNG":
        params = {"compress_level": options.png_compress_level}
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return Rendered(out.getvalue(), spec.content_type, image.width, image.height)


def _flatten(image: Image.Image) -> Image.Image:
    """Composite onto white: JPEG has no alpha."""
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, "white")
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def render_many(data: bytes, specs: list[ThumbnailSpec], options: RenderOptions) -> list[Rendered]:
    """Several thumbnails of one original (the ``warm`` command). For now: one full render per spec."""
    return [render(data, spec, options) for spec in specs]
