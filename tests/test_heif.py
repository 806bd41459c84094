"""HEIC/HEIF originals through render(): a decoder like the others, with the same guarantees, never an output."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from proxy.config import Config
from proxy.errors import BadRequest, Unprocessable
from proxy.imaging import heif
from proxy.imaging.render import DECODERS, RenderOptions, render, render_many
from proxy.keys import SOURCE_EXTENSIONS, parse_thumbnail
from tests import corpus, images

pytestmark = pytest.mark.skipif(not heif.AVAILABLE, reason="pillow-heif is not installed")


def spec(key: str):
    parsed = parse_thumbnail(key)
    assert parsed is not None
    return parsed


def close(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def decoded(body: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(body))
    image.load()
    return image


def test_heif_is_a_source_never_an_output():
    assert "HEIF" in DECODERS
    assert {"heic", "heif"} <= SOURCE_EXTENSIONS
    defaults = Config.defaults(bucket="b").source_extensions
    assert defaults == ("jpg", "jpeg", "png", "webp", "gif", "heic", "heif")  # after today's, in that order
    assert Config.defaults(bucket="b", source_extensions=("heif", "jpg")).source_extensions == ("heif", "jpg")
    for key in ("x_200x200.heic", "x_200x200.HEIF", "x_200x200_fit.heic"):
        with pytest.raises(BadRequest, match="unsupported output format"):
            parse_thumbnail(key)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_comes_out_upright(orientation):
    """pillow-heif writes irot/imir and keeps the EXIF tag (as iPhones do): applied once, by libheif."""
    made = render(images.oriented_heic(orientation), spec("o_120x0.png"), RenderOptions())
    image = decoded(made.body).convert("RGB")
    assert image.size == (120, 80)  # landscape, as seen
    assert close(image.getpixel((6, 6)), corpus.RED)  # red block top-left
    assert close(image.getpixel((113, 6)), corpus.GREEN)  # green block top-right
    assert close(image.getpixel((6, 73)), corpus.GREY) and close(image.getpixel((113, 73)), corpus.GREY)


def test_exif_orientation_without_transform_boxes_is_ignored():
    """HEIF readers follow the container's transforms and ignore the EXIF tag (MIAF 7.3.10.1): a tag of 6
    (rotate 90) on pixels stored upright, with no irot box, shows them as stored."""
    body = images.heic_with_exif_orientation_only(corpus.upright_marker(), 6)
    image = decoded(render(body, spec("o_120x0.png"), RenderOptions()).body).convert("RGB")
    assert image.size == (120, 80)
    assert close(image.getpixel((6, 6)), corpus.RED) and close(image.getpixel((113, 6)), corpus.GREEN)


@pytest.mark.parametrize("bits", [10, 12])
def test_deep_colour_becomes_8_bit(bits):
    rgb = decoded(render(images.heic_deep((0xC000, 0x4000, 0xFFFF), bits), spec("d_32x24.png"), RenderOptions()).body)
    assert rgb.mode == "RGB" and close(rgb.getpixel((16, 12)), (192, 64, 255), 4)
    grey = decoded(render(images.heic_deep((0xC000,), bits), spec("d_32x24.png"), RenderOptions()).body)
    assert grey.mode == "L" and close((grey.getpixel((16, 12)),), (192,), 4)  # I;16 from pillow-heif, scaled


def test_icc_profile_is_converted_to_srgb():
    body = images.heic(Image.new("RGB", (64, 48), corpus.RED), icc_profile=corpus.swapped_rgb_profile(), quality=95)
    for ext in ("png", "jpg"):
        image = decoded(render(body, spec(f"c_32x24.{ext}"), RenderOptions()).body)
        assert close(image.convert("RGB").getpixel((16, 12)), (0, 255, 0), 14), ext  # the profile's red is green
        assert "icc_profile" not in image.info, ext


def test_outputs_carry_no_metadata():
    exif = Image.Exif()
    exif[0x010E] = "Secret description"  # ImageDescription
    exif[0x0112] = 6
    body = images.heic(corpus.photo(300, 200), exif=exif.tobytes(), icc_profile=corpus.swapped_rgb_profile())
    for ext in ("jpg", "png", "webp", "avif"):
        made = render(body, spec(f"m_60x40.{ext}"), RenderOptions())
        for secret in (b"Secret", b"Exif\0\0", b"Channel swap test"):
            assert secret not in made.body, (ext, secret)
        image = decoded(made.body)
        assert not image.getexif() and "icc_profile" not in image.info and "xmp" not in image.info, ext


@pytest.mark.parametrize("primary", [0, 1])
def test_several_images_are_a_collection_not_an_animation(primary):
    """Kept animation does not apply to HEIF: the primary image alone, whichever index it has."""
    out = io.BytesIO()
    red, blue = Image.new("RGB", (64, 48), corpus.RED), Image.new("RGB", (64, 48), corpus.BLUE)
    red.save(out, "HEIF", save_all=True, append_images=[blue], primary_index=primary, quality=95)
    specs = [spec("s_32x24.webp"), spec("s_32x24.gif")]
    for made in render_many(out.getvalue(), specs, RenderOptions(animation="keep")):
        image = decoded(made.body)
        assert getattr(image, "n_frames", 1) == 1
        assert close(image.convert("RGB").getpixel((16, 12)), (corpus.RED, corpus.BLUE)[primary], 16)


def _photo_heic() -> bytes:
    return images.heic(corpus.photo(400, 300), quality=80)


@pytest.mark.parametrize(
    ("body", "options", "reason"),
    [
        (_photo_heic()[: len(_photo_heic()) // 2], RenderOptions(), "cannot decode"),
        (_photo_heic()[:-10], RenderOptions(), "cannot decode"),
        (_photo_heic()[:200], RenderOptions(), "not a supported image"),  # boxes cut short: no picture at all
        (images.heic_claiming(60_000, 60_000), RenderOptions(), "pixel limit"),  # 3.6 GP claimed, never decoded
        (images.heic_claiming(9_000, 8_000), RenderOptions(), "over the limit of 50 megapixels"),
        (images.heic_claiming(900, 800), RenderOptions(), "cannot decode"),  # the data is not 900x800
        (_photo_heic(), RenderOptions(max_source_pixels=100_000), "over the limit of 0.1 megapixels"),
    ],
    ids=["half", "last-bytes", "boxes-only", "header-bomb", "header-over-limit", "size-mismatch", "over-limit"],
)
def test_broken_or_too_large_is_unprocessable(body, options, reason):
    with pytest.raises(Unprocessable, match=reason):
        render(body, spec("b_100x100.jpg"), options)


def test_a_photo_renders_in_every_mode_and_size():
    made = render_many(
        _photo_heic(),
        [spec("p_200x200.jpg"), spec("p_100x0.webp"), spec("p_150x150_fit.png"), spec("p_90x90_pad.png")],
        RenderOptions(),
    )
    assert [(m.width, m.height) for m in made] == [(200, 200), (100, 75), (150, 112), (90, 90)]
    assert [decoded(m.body).format for m in made] == ["JPEG", "WEBP", "PNG", "PNG"]
