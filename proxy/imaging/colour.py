"""Colour: bring any decoded picture to 8-bit sRGB (or grey), honouring its ICC profile.

Two steps of the render pipeline live here: ``normalise`` (before resizing: modes the resampler cannot
handle well, such as palettes and 16-bit grey, become RGB(A)/L(A)) and ``to_srgb`` (after resizing, so the
colour transform runs on the few output pixels: ICC profile or CMYK to sRGB).
"""

from __future__ import annotations

import io
import logging

from PIL import Image, ImageChops, ImageCms

log = logging.getLogger(__name__)

# Modes the resampler works on directly; CMYK is resized as CMYK and converted afterwards.
WORKING_MODES = ("RGB", "RGBA", "L", "LA", "CMYK")


def has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def normalise(image: Image.Image, source_format: str | None) -> Image.Image:
    """A working mode (see WORKING_MODES) with the same look: palettes expanded, 16-bit scaled to 8-bit."""
    mode = image.mode
    if mode == "CMYK" and source_format in ("JPEG", "MPO") and "adobe" not in image.info:
        # Pillow decodes every CMYK JPEG with Adobe's inverted polarity; without an Adobe APP14 marker the
        # data is plain CMYK, so undo that inversion.
        return ImageChops.invert(image)
    if mode in WORKING_MODES:
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit grey: scale 0..65535 to 0..255 (a plain convert("L") would clip everything above 255).
        return image.point(lambda value: value * (1 / 257)).convert("L")
    if mode == "F":
        return image.convert("L")
    if mode in ("1",):
        return image.convert("L")
    if mode in ("La",):
        return image.convert("LA")
    if has_alpha(image):  # palette with transparency, PA, RGBa...
        return image.convert("RGBA")
    return image.convert("RGB")


def to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """sRGB (RGB/RGBA) or grey (L/LA): apply the embedded profile if there is one, else convert naively."""
    if icc:
        converted = _apply_profile(image, icc)
        if converted is not None:
            return converted
    if image.mode == "CMYK":
        return image.convert("RGB")
    return image


def _apply_profile(image: Image.Image, icc: bytes) -> Image.Image | None:
    """The picture converted from ``icc`` to sRGB; None when the profile is sRGB already or unusable."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        space = source.profile.xcolor_space.strip()
        if space == "RGB" and _is_srgb(source):
            return None
        alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
        base = image.convert(image.mode.removesuffix("A")) if alpha is not None else image
        if (space, base.mode) not in (("RGB", "RGB"), ("CMYK", "CMYK"), ("GRAY", "L")):
            log.info("ignoring a %s profile on a %s picture", space, base.mode)
            return None
        converted = ImageCms.profileToProfile(
            base,
            source,
            ImageCms.createProfile("sRGB"),
            renderingIntent=ImageCms.Intent.PERCEPTUAL,
            outputMode="RGB",
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as exc:
        # A broken profile should not cost the picture: fall back to the naive conversion.
        log.info("ignoring an unusable ICC profile: %s", exc)
        return None
    assert converted is not None  # profileToProfile returns a new image unless inPlace
    if alpha is not None:
        converted.putalpha(alpha)
    return converted


def _is_srgb(profile: ImageCms.ImageCmsProfile) -> bool:
    description = (profile.profile.profile_description or "").lower()
    return "srgb" in description
