"""HEIF/HEIC originals: pillow-heif (libheif) as one more decoder for render.py, never an encoder.

What the pipeline has to know about a decoded HEIF picture:

- orientation: libheif applies the container's own transforms (``irot``, ``imir``) while decoding, and
  pillow-heif sets the EXIF orientation tag to 1 (keeping the file's value in ``info["original_orientation"]``).
  HEIF readers follow the transform boxes, not the tag, so the picture is upright once decoded: the EXIF
  orientation must not be applied again, whatever it says.
- depth: 10- and 12-bit colour is decoded to 8 bits (pillow-heif's ``convert_hdr_to_8bit``); 10/12-bit grey
  comes as ``I;16``, which ``colour.normalise`` scales down like a 16-bit PNG.
- colour: an ICC profile is in ``info["icc_profile"]``, where the pipeline looks for every format's.
- frames: several images in one file are a collection (a burst, edits), not an animation: the primary only.
"""

from __future__ import annotations

from PIL import Image

FORMAT = "HEIF"  # Pillow's format name for HEIC and HEIF alike

# What pillow-heif raises besides Pillow's usual errors: RuntimeError is libheif's "other error", among them
# its own security limits.
ERRORS: tuple[type[Exception], ...] = (RuntimeError,)


def _register() -> bool:
    """Register pillow-heif's opener with Pillow; False when pillow-heif is not installed."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return False
    # No embedded thumbnails (draft() would decode one instead of the picture: a thumbnail's pixels would then
    # depend on what the phone embedded), no depth maps or auxiliary images (never shown, never decoded).
    register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
    return True


AVAILABLE: bool = _register()


def is_heif(image: Image.Image) -> bool:
    """Whether ``image`` was opened by pillow-heif."""
    return image.format == FORMAT


def frames(image: Image.Image) -> int:
    """Frames to decode when animation is kept: HEIF's primary image alone, any other format's every frame."""
    return 1 if is_heif(image) else getattr(image, "n_frames", 1)


def exif_orientation_applies(image: Image.Image) -> bool:
    """Whether the EXIF orientation tag says how to show the decoded pixels: not for HEIF (see above)."""
    return not is_heif(image)
