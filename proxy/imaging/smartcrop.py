"""Where a ``fill``-shaped crop window goes: around a focus point, or where the picture's content is (``smart``).

A fill crop spans the whole picture along one axis and slides along the other, so placing it is a 1-D search.
The content score follows libvips' ``attention`` (edges + skin tones + saturated colour, added), computed on a
copy of at most SALIENCY_SIDE pixels a side, never on the full frame. The centred window is kept unless another
holds TIE more of the score; then the window goes to the best, in the middle of the run of windows as good as
it (so a subject narrower than the window sits in its middle). A picture without a clear subject keeps the
centre crop, and the same picture always gives the same window.

Crops are ``(x0, y0, x1, y1)`` fractions of the upright picture, as in render.Geometry.
"""

from __future__ import annotations

import logging
import math
import re
from array import array
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageFilter

Box = tuple[float, float, float, float]

SALIENCY_SIDE = 128  # the saliency copy's longest side, at most
TIE = 0.05  # the centred window is kept unless another holds over 5% more
PLATEAU = 0.01  # windows within 1% of the best are as good as the best
SATURATED = 64  # max - min of R, G, B at or above this is saturated colour
# Skin tones in YCbCr (the Chai-Ngan ranges), not too dark.
SKIN_CB, SKIN_CR, SKIN_MIN_Y = (77, 127), (133, 173), 40

log = logging.getLogger(__name__)
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")  # ASCII digits only: no '1e-1', 'nan', '0_5', '²'


def parse_focus(text: str) -> tuple[float, float] | None:
    """``'x,y'`` fractions of the width and height (``'0.35,0.2'``) -> ``(0.35, 0.2)``; None if invalid."""
    parts = text.split(",")
    if len(parts) != 2:
        return None
    values = [part.strip() for part in parts]
    if not all(_NUMBER.fullmatch(value) for value in values):
        return None
    x, y = (float(value) for value in values)
    return (x, y) if 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0 else None


def focus_or_warn(text: str | None, key: str) -> tuple[float, float] | None:
    """``parse_focus`` of an original's ``focus`` metadata; an invalid one is ignored with a warning."""
    if text is None:
        return None
    focus = parse_focus(text)
    if focus is None:
        log.warning("ignoring invalid focus metadata %r of %s: want 'x,y' fractions from 0 to 1", text[:40], key)
    return focus


def around(crop: Box, focus: tuple[float, float]) -> Box:
    """``crop`` moved (same size) to hold ``focus`` as near its centre as the picture's edges allow."""
    x0, y0, x1, y1 = crop
    left = _clamp(focus[0] - (x1 - x0) / 2, x1 - x0)
    top = _clamp(focus[1] - (y1 - y0) / 2, y1 - y0)
    return (left, top, left + x1 - x0, top + y1 - y0)


@dataclass(frozen=True)
class Profiles:
    """The content score of a picture summed per column and per row (of its small copy)."""

    columns: tuple[float, ...]
    rows: tuple[float, ...]


def profiles(image: Image.Image) -> Profiles:
    """Score the content of ``image`` (any working mode) on a copy of at most SALIENCY_SIDE a side."""
    factor = math.ceil(max(image.size) / SALIENCY_SIDE)
    small = image.reduce(factor) if factor > 1 else image
    small = small if small.mode == "RGB" else small.convert("RGB")
    luma, cb, cr = small.convert("YCbCr").split()
    # (edges + skin) / 3 + saturated / 3: each term is at most 85, so the sum never clips at 255.
    two = ImageChops.add(_edges(luma), _skin(luma, cb, cr), scale=3.0)
    score = ImageChops.add(two, _saturated(small)).convert("F")
    columns = _values(score.resize((small.width, 1), Image.Resampling.BOX))
    rows = _values(score.resize((1, small.height), Image.Resampling.BOX))
    return Profiles(tuple(columns), tuple(rows))


def place(content: Profiles, crop: Box) -> Box:
    """``crop`` moved (same size) along the axis it does not span to where the content scores most."""
    x0, y0, x1, y1 = crop
    if x1 - x0 < 1.0:
        left = _best_start(content.columns, x1 - x0, x0)
        return (left, y0, left + x1 - x0, y1)
    if y1 - y0 < 1.0:
        top = _best_start(content.rows, y1 - y0, y0)
        return (x0, top, x1, top + y1 - y0)
    return crop


def window(image: Image.Image, crop: Box) -> Box:
    """``place`` on the profiles of ``image``: the smart window of one crop size."""
    return place(profiles(image), crop)


def _best_start(profile: tuple[float, ...], extent: float, start: float) -> float:
    """Where a window of ``extent`` (a fraction) over ``profile`` holds the most, as a fraction: ``start`` (the
    centred window's) when that holds within TIE of the best, else the middle of the run of windows around the
    best that hold within PLATEAU of it (a subject narrower than the window ends up in its middle)."""
    n = len(profile)
    length = max(1, min(n, round(extent * n)))
    sums = [0.0]
    for value in profile:
        sums.append(sums[-1] + value)
    scores = [sums[s + length] - sums[s] for s in range(n - length + 1)]
    best = max(scores)
    centre = (1 - extent) * n / 2  # the centred window's start, in profile cells
    if scores[min(len(scores) - 1, round(centre))] >= best - TIE * best:
        return start
    first = last = scores.index(best)
    while first > 0 and scores[first - 1] >= best - PLATEAU * best:
        first -= 1
    while last < len(scores) - 1 and scores[last + 1] >= best - PLATEAU * best:
        last += 1
    return _clamp((first + last) / 2 / n, extent)


def _clamp(start: float, extent: float) -> float:
    return min(max(0.0, start), 1.0 - extent)


def _values(strip: Image.Image) -> list[float]:
    """The pixels of a mode F image (native 32-bit floats)."""
    return array("f", strip.tobytes()).tolist()


def _edges(luma: Image.Image) -> Image.Image:
    """Edge strength, 0..255: eight times how far each pixel is from the mean of its 3x3 neighbourhood (about a
    Laplacian's magnitude, at half the cost of the 3x3 convolution)."""
    return ImageChops.difference(luma, luma.filter(ImageFilter.BoxBlur(1))).point(_EDGE_LUT)


def _skin(luma: Image.Image, cb: Image.Image, cr: Image.Image) -> Image.Image:
    """255 where the colour is a skin tone, else 0."""
    both = ImageChops.multiply(cb.point(_SKIN_CB_LUT), cr.point(_SKIN_CR_LUT))
    return ImageChops.multiply(both, luma.point(_SKIN_Y_LUT))


def _saturated(image: Image.Image) -> Image.Image:
    """85 (a third, see profiles) where the colour is saturated (max - min of R, G, B at least SATURATED)."""
    r, g, b = image.split()
    high = ImageChops.lighter(ImageChops.lighter(r, g), b)
    chroma = ImageChops.subtract(high, ImageChops.darker(ImageChops.darker(r, g), b))
    return chroma.point(_SATURATED_LUT)


def _lut(keep: Callable[[int], bool], value: int = 255) -> list[int]:
    return [value if keep(v) else 0 for v in range(256)]


_SKIN_CB_LUT = _lut(lambda v: SKIN_CB[0] <= v <= SKIN_CB[1])
_SKIN_CR_LUT = _lut(lambda v: SKIN_CR[0] <= v <= SKIN_CR[1])
_SKIN_Y_LUT = _lut(lambda v: v >= SKIN_MIN_Y)
_SATURATED_LUT = _lut(lambda v: v >= SATURATED, 85)
_EDGE_LUT = [min(255, 8 * v) for v in range(256)]
