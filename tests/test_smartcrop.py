"""Smart crops and focus points: the window goes to the subject or the focus, with fill's geometry."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from proxy.imaging import smartcrop
from proxy.imaging.render import RenderOptions, geometry, render, target_box
from proxy.keys import parse_thumbnail
from tests import corpus

SKIN = (224, 172, 140)


def spec(key: str):
    parsed = parse_thumbnail(key)
    assert parsed is not None
    return parsed


def subject(size: tuple[int, int] = (400, 200), at: tuple[float, float] = (0.8, 0.5), radius: int = 30) -> Image.Image:
    """A flat grey picture with one skin-tone disc outlined in dark red at ``at`` (fractions)."""
    image = Image.new("RGB", size, (128, 128, 128))
    x, y = at[0] * size[0], at[1] * size[1]
    ImageDraw.Draw(image).ellipse(
        (x - radius, y - radius, x + radius, y + radius), fill=SKIN, outline=(120, 0, 0), width=3
    )
    return image


def contains(crop: tuple[float, float, float, float], x0: float, y0: float, x1: float, y1: float) -> bool:
    return crop[0] <= x0 and crop[1] <= y0 and x1 <= crop[2] and y1 <= crop[3]


def skin_pixels(body: bytes) -> int:
    data = Image.open(io.BytesIO(body)).convert("RGB").tobytes()
    pixels = zip(data[0::3], data[1::3], data[2::3], strict=True)
    return sum(1 for pixel in pixels if all(abs(a - b) <= 16 for a, b in zip(pixel, SKIN, strict=True)))


def png(image: Image.Image) -> bytes:
    return corpus.encode(image, "PNG")


def test_smart_window_holds_the_off_centre_subject_fill_cuts_it():
    image = subject()  # disc from x = 290 to 350 of 400
    fill = geometry(image.size, spec("s_200x200.png"), "fill").crop
    assert not contains(fill, 290 / 400, 0, 350 / 400, 1)
    window = smartcrop.window(image, fill)
    assert contains(window, 290 / 400, 0, 350 / 400, 1)
    assert window[2] - window[0] == pytest.approx(fill[2] - fill[0]) and (window[1], window[3]) == (0.0, 1.0)
    disc = skin_pixels(png(image))
    assert skin_pixels(render(png(image), spec("s_200x200_smart.png"), RenderOptions()).body) == disc  # all of it
    assert skin_pixels(render(png(image), spec("s_200x200_fill.png"), RenderOptions()).body) < disc / 8  # a sliver


def test_smart_moves_vertically_too():
    image = subject((200, 400), (0.5, 0.12))
    made = render(png(image), spec("s_200x200_smart.png"), RenderOptions())
    assert (made.width, made.height) == (200, 200) and skin_pixels(made.body) > 2000


def test_smart_is_deterministic_and_centred_without_a_subject():
    image = subject()
    body = png(image)
    first = render(body, spec("s_200x100_smart.webp"), RenderOptions()).body
    assert all(render(body, spec("s_200x100_smart.webp"), RenderOptions()).body == first for _ in range(3))
    fill = geometry((400, 200), spec("s_200x200.png"), "fill").crop
    assert smartcrop.window(image, fill) == smartcrop.window(image.copy(), fill)
    flat = Image.new("RGB", (400, 200), (90, 120, 60))
    assert smartcrop.window(flat, fill) == fill  # nothing to find: the centre crop, exactly
    checks = Image.new("RGB", (400, 200), (60, 60, 60))  # detail everywhere alike: still the centre
    for x in range(0, 400, 12):
        for y in range(0, 200, 12):
            checks.paste((200, 200, 200), (x, y, x + 6, y + 6))
    assert smartcrop.window(checks, fill) == fill


@pytest.mark.parametrize("key", ["a_200x200.jpg", "a_200x0.jpg", "a_500x500@2x.jpg", "a_300x100.jpg", "a_2000x10.jpg"])
def test_smart_has_the_geometry_of_fill(key):
    for source in ((800, 600), (600, 800), (1, 1)):
        assert target_box(source, spec(key), "smart") == target_box(source, spec(key), "fill")
        smart, fill = geometry(source, spec(key), "smart"), geometry(source, spec(key), "fill")
        assert (smart.size, smart.canvas, smart.crop) == (fill.size, fill.canvas, fill.crop)  # moved at render


def test_content_is_scored_on_a_small_copy():
    content = smartcrop.profiles(subject((2400, 1200), radius=180))
    assert max(len(content.columns), len(content.rows)) <= smartcrop.SALIENCY_SIDE


@pytest.mark.parametrize(
    ("focus", "expected"),
    [
        ((0.5, 0.5), (0.25, 0.0, 0.75, 1.0)),  # the centre: fill's own crop
        ((0.6, 0.1), (0.35, 0.0, 0.85, 1.0)),  # centred on x = 0.6; the crop spans the height anyway
        ((0.9, 0.5), (0.5, 0.0, 1.0, 1.0)),  # clamped at the right edge, the point still inside
        ((0.0, 1.0), (0.0, 0.0, 0.5, 1.0)),  # clamped at the left edge
    ],
)
def test_focus_is_held_as_centred_as_the_edges_allow(focus, expected):
    for mode in ("fill", "smart"):
        crop = geometry((400, 200), spec("f_200x200.png"), mode, focus).crop
        assert crop == pytest.approx(expected), mode
        assert crop[0] <= focus[0] <= crop[2] and crop[1] <= focus[1] <= crop[3]


def test_focus_moves_a_tall_crop_and_leaves_other_modes_alone():
    assert geometry((200, 400), spec("f_200x100.png"), "fill", (0.3, 0.2)).crop == pytest.approx((0, 0.075, 1, 0.325))
    for mode in ("fit", "pad", "stretch"):
        assert geometry((400, 200), spec("f_200x200.png"), mode, (0.9, 0.1)) == geometry(
            (400, 200), spec("f_200x200.png"), mode
        )


def test_focus_wins_over_the_content():
    body = png(subject())  # the subject on the right, the focus on the left
    focused = render(body, spec("s_200x200_smart.png"), RenderOptions(), focus=(0.1, 0.5))
    assert skin_pixels(focused.body) == 0
    fill = render(body, spec("s_200x200.png"), RenderOptions(), focus=(0.8, 0.5))
    assert skin_pixels(fill.body) > 2000  # fill follows the focus too


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.35,0.2", (0.35, 0.2)),
        (" 0.35 , 0.2 ", (0.35, 0.2)),
        ("0,1", (0.0, 1.0)),
        ("1,1.0", (1.0, 1.0)),
        (".5,0.", (0.5, 0.0)),
    ],
)
def test_parse_focus(text, expected):
    assert smartcrop.parse_focus(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "a,b",
        "1.5,0.2",
        "nan,0",
        "",
        "0.1",
        "0.1,0.2,0.3",
        "-0.1,0.2",
        "inf,0",
        "1e-1,0",
        "0_5,0",
        "²,0",
        "0.1;0.2",
        ",",
        " , ",
    ],
)
def test_parse_focus_rejects_invalid_values(text):
    assert smartcrop.parse_focus(text) is None


def test_smart_is_a_mode():
    assert spec("x_200x200_smart.jpg").mode == "smart"
    assert spec("x_200x200_smart@2x.webp").target_width == 400
