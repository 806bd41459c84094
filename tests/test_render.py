"""The Pillow pipeline on its own: geometry, render_many, and the decode-level checks, without HTTP."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from PIL import Image, ImageFile, features

from proxy.errors import Unprocessable
from proxy.imaging.render import RenderOptions, geometry, render, render_many, target_box
from tests import corpus
from tests.harness import spec
from tests.images import opened, psnr


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts, from now on, the pictures Pillow opens and those it decodes (a load() with pixels still to read;
    a load() of decoded pixels does nothing and is not counted)."""
    counts: Counter[str] = Counter()
    real_open, real_load = Image.open, ImageFile.ImageFile.load

    def counted_open(*args: Any, **kwargs: Any) -> Image.Image:
        counts["open"] += 1
        return real_open(*args, **kwargs)

    def counted_load(self: ImageFile.ImageFile) -> Any:
        if self.tile:
            counts["decode"] += 1
        return real_load(self)

    monkeypatch.setattr(Image, "open", counted_open)
    monkeypatch.setattr(ImageFile.ImageFile, "load", counted_load)
    return counts


@pytest.mark.parametrize(
    ("source", "key", "mode", "box"),
    [
        ((800, 600), "a_200x200.jpg", "fill", (200, 200)),
        ((800, 600), "a_200x0.jpg", "fill", (200, 150)),
        ((800, 600), "a_0x300.jpg", "fit", (400, 300)),
        ((800, 600), "a_300x300.jpg", "fit", (300, 225)),
        ((800, 600), "a_300x300.jpg", "pad", (300, 300)),
        ((800, 600), "a_300x100.jpg", "stretch", (300, 100)),
        ((800, 600), "a_500x500@2x.jpg", "fill", (600, 600)),  # never upscaled: the largest 1:1 it has
        ((800, 600), "a_500x500@2x.jpg", "fit", (800, 600)),
        ((800, 600), "a_1000x1000.jpg", "pad", (800, 800)),  # the picture touches two sides of the canvas
        ((800, 600), "a_2000x1000.jpg", "stretch", (800, 400)),
        ((4000, 10), "a_200x0.jpg", "fit", (200, 1)),  # never 0 pixels
        ((1, 1), "a_300x200.jpg", "fill", (1, 1)),
    ],
)
def test_target_box(source, key, mode, box):
    assert target_box(source, spec(key), mode) == box


def test_fill_plan_is_a_centred_crop_of_the_requested_aspect():
    crop = geometry((800, 600), spec("a_200x200.jpg"), "fill").crop
    assert crop == pytest.approx((0.125, 0.0, 0.875, 1.0))
    crop = geometry((600, 800), spec("a_300x100.jpg"), "fill").crop
    assert crop == pytest.approx((0.0, 0.375, 1.0, 0.625))  # 600 wide at 3:1 keeps 200 of 800 rows
    pad = geometry((800, 600), spec("a_300x300.jpg"), "pad")
    assert pad.size == (300, 225) and pad.canvas == (300, 300)


def test_render_many_matches_separate_renders():
    """Smaller sizes come from larger outputs where those cover their crop sharply enough (the 150x150 and
    the 100x100 pad from the 800x600, the 60x0 from the 400x0): as close to a render of their own as a
    re-encode allows."""
    # Blocks of 48 px on the photo: a crop off by one output pixel shows (PNG falls from 50 dB to 40).
    blocks = Image.effect_noise((50, 34), 90).resize((2400, 1632), Image.Resampling.NEAREST).convert("RGB")
    body = corpus.encode(Image.blend(corpus.photo(2400, 1600), blocks.crop((0, 0, 2400, 1600)), 0.5), quality=92)
    specs = [
        spec("p_200x200.png"),
        spec("p_400x0.webp"),
        spec("p_300x300_pad.png"),
        spec("p_100x100@2x.jpg"),
        spec("p_800x600.png"),
        spec("p_150x150.png"),
        spec("p_60x0_fit.png"),
        spec("p_90x30_stretch.png"),
    ]
    many = render_many(body, specs, RenderOptions())
    for one_spec, made in zip(specs, many, strict=True):
        single = render(body, one_spec, RenderOptions())
        assert (made.width, made.height, made.content_type) == (single.width, single.height, single.content_type)
        a, b = opened(made.body), opened(single.body)
        assert a.size == (made.width, made.height) and a.format == one_spec.format
        # Drafted for the largest output or derived from a larger one: close, not identical. Lossy formats
        # add their own differences on top.
        assert psnr(a, b) >= (45 if one_spec.format == "PNG" else 35), one_spec.key


def test_render_many_decodes_once_for_all_sizes(decodes):
    """The whole point: one open and one decode of the original, however many sizes are made of it."""
    body = corpus.encode(corpus.photo(1200, 900))
    specs = [spec("p_100x100.jpg"), spec("p_300x0.png"), spec("p_200x150_fit.webp"), spec("p_64x64_pad@2x.gif")]
    decodes.clear()
    made = render_many(body, specs, RenderOptions())
    assert [(m.width, m.height) for m in made] == [(100, 100), (300, 225), (200, 150), (128, 128)]
    assert decodes == {"open": 1, "decode": 1}
    # The count tells the two apart: the same sizes made one by one cost one open and one decode each.
    decodes.clear()
    for one in specs:
        render(body, one, RenderOptions())
    assert decodes == {"open": len(specs), "decode": len(specs)}


def test_render_many_refuses_a_truncated_original_once_for_every_size(decodes):
    with pytest.raises(Unprocessable, match="truncated"):
        render_many(corpus.truncated_jpeg(), [spec("t_10x10.jpg"), spec("t_20x20.png")], RenderOptions())
    assert decodes == {"open": 1, "decode": 1}


@pytest.mark.skipif(not features.check("avif"), reason="Pillow without AVIF")
def test_avif_output():
    made = render(corpus.encode(corpus.photo(300, 200)), spec("p_150x100.avif"), RenderOptions())
    image = opened(made.body)
    assert image.format == "AVIF" and image.size == (150, 100) and made.content_type == "image/avif"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (b"GIF89a but not really", "not a supported image"),
        (corpus.giant_png_header(), "pixel limit"),
        (corpus.jpeg_with_size(60_000, 60_000), "pixel limit"),
        (corpus.jpeg_with_size(8_000, 8_000), "over the limit of 50 megapixels"),
        (corpus.truncated_jpeg(), "truncated"),
        (corpus.ztxt_bomb_png(), "too large"),
    ],
)
def test_decode_limits(body, reason):
    with pytest.raises(Unprocessable) as caught:
        render(body, spec("x_10x10.jpg"), RenderOptions())
    assert reason in caught.value.reason
    assert len(caught.value.reason) < 200


def test_animation_budget_applies_only_when_frames_are_kept():
    body = corpus.gif_with_frames(300, (100, 100))  # 300 frames x 0.01 MP = 3 MP
    keep = RenderOptions(animation="keep", max_animation_pixels=2_000_000)
    with pytest.raises(Unprocessable, match="300 frames"):
        render(body, spec("g_10x10.gif"), keep)
    assert render(body, spec("g_10x10.gif"), RenderOptions(max_animation_pixels=2_000_000)).width == 10


def test_frame_cap_applies_only_when_frames_are_kept():
    body = corpus.gif_with_frames(1500, (10, 10))  # 1500 frames, but only 0.15 MP in all
    with pytest.raises(Unprocessable, match="more than 1000 frames"):
        render(body, spec("g_10x10.gif"), RenderOptions(animation="keep"))
    assert render(body, spec("g_10x10.gif"), RenderOptions()).width == 10


def test_kept_animation_frames_are_each_resized():
    made = render(corpus.animated_gif(3, (400, 300)), spec("a_40x30.webp"), RenderOptions(animation="keep"))
    image = opened(made.body)
    assert image.n_frames == 3 and image.size == (40, 30)
    colours = []
    for index in range(3):
        image.seek(index)
        colours.append(image.convert("RGB").getpixel((20, 15)))
    assert [max(range(3), key=lambda channel, c=c: c[channel]) for c in colours] == [0, 1, 2]  # red, green, blue


@pytest.mark.parametrize("ext", ["jpg", "png", "webp", "gif", *(["avif"] if features.check("avif") else [])])
def test_every_kind_of_original_in_every_mode_gives_a_valid_file(ext):
    originals = {
        "cmyk": corpus.cmyk_jpeg((10, 200, 30, 5)),
        "cmyk_icc": corpus.cmyk_jpeg((10, 200, 30, 5), corpus.rotated_cmyk_profile()),
        "profile": corpus.with_profile(corpus.RED, corpus.swapped_rgb_profile(), "PNG"),
        "grey16": corpus.png16_grey(30000),
        "rgb16": corpus.png16_rgb((1, 2, 3)),
        "palette": corpus.palette_with_transparency(),
        "la": corpus.grey_alpha(),
        "grey": corpus.encode(Image.new("L", (50, 30), 90)),
        "bilevel": corpus.encode(Image.new("1", (50, 30), 1), "PNG"),
        "gif": corpus.animated_gif(3),
        "webp": corpus.encode(Image.new("RGBA", (50, 30), (1, 2, 3, 100)), "WEBP"),
        "tiny": corpus.encode(Image.new("RGB", (1, 1)), "PNG"),
    }
    for name, body in originals.items():
        for mode in ("fill", "fit", "pad", "stretch"):
            for animation in ("first", "keep") if name == "gif" else ("first",):
                thumbnail = spec(f"{name}_30x20_{mode}.{ext}")
                made = render(body, thumbnail, RenderOptions(animation=animation))
                image = opened(made.body)
                assert image.format == thumbnail.format and made.content_type == thumbnail.content_type
                assert image.size == (made.width, made.height), (name, mode)
                assert image.mode in ("RGB", "RGBA", "L", "LA", "P", "PA"), (name, mode, image.mode)


def test_grey_profile_is_honoured():
    body = corpus.encode(Image.new("L", (40, 30), 128), "JPEG", icc_profile=corpus.linear_grey_profile())
    image = opened(render(body, spec("g_20x15.png"), RenderOptions()).body).convert("RGB")
    assert all(abs(channel - 188) <= 3 for channel in image.getpixel((10, 7)))
    plain = opened(render(corpus.encode(Image.new("L", (40, 30), 128)), spec("g_20x15.png"), RenderOptions()).body)
    assert abs(plain.getpixel((10, 7)) - 128) <= 2  # no profile: grey stays grey (L) and unchanged


def test_truncated_data_is_refused_even_if_someone_set_load_truncated_images(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # Pillow's global, set by other code
    with pytest.raises(Unprocessable, match="LOAD_TRUNCATED_IMAGES"):
        render(corpus.truncated_jpeg(), spec("t_10x10.jpg"), RenderOptions())
