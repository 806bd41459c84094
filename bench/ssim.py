"""SSIM on luma with Pillow alone (numpy is not a dependency): 8x8 windows at a stride of 4.

Wang et al.'s index with its usual constants, on 8x8 windows (the paper's first form, before the 11x11
Gaussian) every 4 pixels: each window's means, variances and covariance come from ``Image.reduce`` over one of
the four grids of offset (0 or 4, 0 or 4). 1.0 for identical pictures, lower as they differ.
"""

from __future__ import annotations

from PIL import Image, ImageMath

C1 = (0.01 * 255) ** 2
C2 = (0.03 * 255) ** 2
WINDOW = 8
STRIDE = 4


def ssim(a: Image.Image, b: Image.Image) -> float:
    """The mean SSIM of the luma of ``a`` and ``b`` (same size, at least WINDOW pixels a side)."""
    if a.size != b.size:
        raise ValueError(f"sizes differ: {a.size} and {b.size}")
    x, y = _luma(a), _luma(b)
    total = windows = 0.0
    for dx in range(0, WINDOW, STRIDE):
        for dy in range(0, WINDOW, STRIDE):
            columns, rows = (x.width - dx) // WINDOW, (x.height - dy) // WINDOW
            if columns < 1 or rows < 1:
                continue
            box = (dx, dy, dx + columns * WINDOW, dy + rows * WINDOW)
            total += _mean(_ssim_map(x.crop(box), y.crop(box))) * columns * rows
            windows += columns * rows
    if not windows:
        raise ValueError(f"{a.size} is smaller than one {WINDOW}x{WINDOW} window")
    return total / windows


def _luma(image: Image.Image) -> Image.Image:
    return image.convert("RGB").convert("L").convert("F")


def _ssim_map(x: Image.Image, y: Image.Image) -> Image.Image:
    """One SSIM value per WINDOW x WINDOW block of ``x`` and ``y``."""

    def means(expression: Image.Image) -> Image.Image:
        return expression.reduce(WINDOW)

    products = {
        name: means(ImageMath.lambda_eval(lambda v, f=f: f(v["x"], v["y"]), x=x, y=y))
        for name, f in (("xx", lambda p, q: p * p), ("yy", lambda p, q: q * q), ("xy", lambda p, q: p * q))
    }
    return ImageMath.lambda_eval(
        lambda v: (
            (2 * v["mx"] * v["my"] + C1)
            * (2 * (v["xy"] - v["mx"] * v["my"]) + C2)
            / (
                (v["mx"] * v["mx"] + v["my"] * v["my"] + C1)
                * (v["xx"] - v["mx"] * v["mx"] + v["yy"] - v["my"] * v["my"] + C2)
            )
        ),
        mx=means(x),
        my=means(y),
        **products,
    )


def _mean(image: Image.Image) -> float:
    value = image.reduce(image.size).getpixel((0, 0))
    assert isinstance(value, float)
    return value
