"""The key grammar (proxy/keys.py): which keys are safe, which name a thumbnail, and what that thumbnail is."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PIL import features

from proxy.errors import BadRequest
from proxy.keys import MAX_KEY_BYTES, ThumbnailSpec, check_key, parse_thumbnail, split_thumbnail
from tests.harness import spec

SOURCE_EXTENSIONS = ("jpg", "jpeg", "png", "webp", "gif")


def refusal(check: Callable[[str], object], key: str) -> str:
    """The reason ``check(key)`` gives for its 400."""
    with pytest.raises(BadRequest) as refused:
        check(key)
    assert refused.value.status == 400
    return refused.value.reason


# ---- check_key --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "earth.jpg",
        "photos/2024/été 100%.jpg",
        "a..b/c...d",  # dots inside a segment are fine
        "...",
        "a/.hidden",
        "a" * (MAX_KEY_BYTES - 4) + ".jpg",
        "é" * (MAX_KEY_BYTES // 2),  # 1024 bytes in two-byte characters
    ],
)
def test_check_key_returns_a_safe_key_unchanged(key):
    assert check_key(key) is key


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "empty key"),
        ("a\udc80.jpg", "not valid UTF-8"),  # a lone surrogate: what an undecodable byte becomes
        ("a" * (MAX_KEY_BYTES - 3) + ".jpg", f"longer than {MAX_KEY_BYTES} bytes"),
        ("é" * (MAX_KEY_BYTES // 2) + "a", f"longer than {MAX_KEY_BYTES} bytes"),
        ("a\x00b.jpg", "control character"),
        ("a\tb.jpg", "control character"),
        ("a\r\nSet-Cookie: x.jpg", "control character"),
        ("a\x1fb.jpg", "control character"),
        ("a\x7fb.jpg", "control character"),
        ("a//b.jpg", "empty path segment"),
        ("/a.jpg", "empty path segment"),
        ("a/../b.jpg", "'.' or '..' segment"),
        ("..", "'.' or '..' segment"),
        ("a/..", "'.' or '..' segment"),
        ("./a.jpg", "'.' or '..' segment"),
        ("a/./b.jpg", "'.' or '..' segment"),
    ],
)
def test_check_key_refuses_unsafe_keys_with_a_reason(key, reason):
    assert reason in refusal(check_key, key)


# ---- parse_thumbnail ------------------------------------------------------------------------------------


def test_a_thumbnail_key_parses_into_its_parts():
    assert spec("photos/earth_200x150.jpg") == ThumbnailSpec(
        key="photos/earth_200x150.jpg", stem="photos/earth", width=200, height=150, mode=None, dpr=1, ext="jpg"
    )
    thumb = spec("a.b/my photo_300x200_fit@2x.WebP")
    assert (thumb.stem, thumb.width, thumb.height, thumb.mode, thumb.dpr, thumb.ext) == (
        "a.b/my photo",
        300,
        200,
        "fit",
        2,
        "WebP",
    )
    assert (thumb.format, thumb.content_type) == ("WEBP", "image/webp")


@pytest.mark.parametrize(
    ("key", "size", "target"),
    [
        ("a_200x200.jpg", (200, 200), (200, 200)),
        ("a_200x0.jpg", (200, 0), (200, 0)),  # 0: that side follows the aspect ratio
        ("a_0x150.jpg", (0, 150), (0, 150)),
        ("a_200x100@2x.jpg", (200, 100), (400, 200)),
        ("a_100x0@3x.png", (100, 0), (300, 0)),
        ("a_10x20_pad@4x.gif", (10, 20), (40, 80)),
    ],
)
def test_size_is_as_written_and_the_target_multiplied_by_the_density(key, size, target):
    thumb = spec(key)
    assert thumb.size == size
    assert (thumb.target_width, thumb.target_height) == target


@pytest.mark.parametrize("mode", ["fill", "fit", "pad", "stretch", "smart"])
def test_every_mode_parses(mode):
    assert spec(f"a_10x10_{mode}.png").mode == mode


@pytest.mark.parametrize(
    ("ext", "fmt", "content_type"),
    [
        ("jpg", "JPEG", "image/jpeg"),
        ("jpeg", "JPEG", "image/jpeg"),
        ("JPG", "JPEG", "image/jpeg"),
        ("png", "PNG", "image/png"),
        ("webp", "WEBP", "image/webp"),
        ("GIF", "GIF", "image/gif"),
    ],
)
def test_the_extension_picks_the_output_format(ext, fmt, content_type):
    thumb = spec(f"a_10x10.{ext}")
    assert (thumb.format, thumb.content_type, thumb.ext) == (fmt, content_type, ext)


def test_the_stem_is_the_longest_possible():
    assert spec("a_1x2_3x4.jpg").stem == "a_1x2"
    assert spec("IMG_1024x768_200x200.jpg").stem == "IMG_1024x768"


@pytest.mark.parametrize(
    "key",
    [
        "earth.jpg",
        "earth_200x200",  # no extension
        "earth_200x200.",
        "_200x200.jpg",  # no stem
        "a/_200x200.jpg",  # a stem ending in a folder
        "earth_200.jpg",
        "earth_200x200.jpg/x",
        "earth_-1x200.jpg",
        "earth_200x200.tar.gz",
    ],
)
def test_keys_not_shaped_like_a_thumbnail_are_none(key):
    assert parse_thumbnail(key) is None


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("a_0x0.jpg", "cannot both be 0"),
        ("a_0x0@2x.jpg", "cannot both be 0"),
        ("a_0200x200.jpg", "leading zeros"),
        ("a_200x00.jpg", "leading zeros"),
        ("a_200x200.exe", "unsupported output format '.exe'"),
        ("a_200x200.bmp", "unsupported output format '.bmp'"),
        ("a_200x200.svg", "unsupported output format '.svg'"),
        ("a_200x200_blur.jpg", "unknown mode 'blur'"),
        ("a_200x200_Fit.jpg", "unknown mode 'Fit'"),
        ("a_20x20@1x.jpg", "@2x to @4x"),
        ("a_20x20@5x.jpg", "@2x to @4x"),
        ("a_20x20@02x.jpg", "@2x to @4x"),
        ("a_20x20@0x.jpg", "@2x to @4x"),
    ],
)
def test_keys_shaped_like_a_thumbnail_but_invalid_are_400_with_a_reason(key, reason):
    assert reason in refusal(parse_thumbnail, key)


def test_avif_is_a_400_only_when_pillow_cannot_encode_it():
    if features.check("avif"):
        assert spec("p_10x10.avif").format == "AVIF"
    else:
        with pytest.raises(BadRequest):
            parse_thumbnail("p_10x10.avif")


# ---- source_keys ----------------------------------------------------------------------------------------


def test_source_keys_try_the_extension_as_written_then_the_configured_ones_once_each():
    assert spec("photos/a_10x10.webp").source_keys(SOURCE_EXTENSIONS) == [
        "photos/a.webp",
        "photos/a.jpg",
        "photos/a.jpeg",
        "photos/a.png",
        "photos/a.gif",
    ]
    assert spec("a_10x10.JPG").source_keys(("jpg", "png")) == ["a.JPG", "a.jpg", "a.png"]  # case kept
    assert spec("a_10x10.png").source_keys(()) == ["a.png"]


# ---- split_thumbnail ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "split"),
    [
        ("photos/earth_200x200.jpg", ("photos/earth", "_200x200.jpg")),
        ("a_1x2_3x4.jpg", ("a_1x2", "_3x4.jpg")),
        ("a_10x10_fit@2x.PNG", ("a", "_10x10_fit@2x.PNG")),
        ("a_0x0.exe", ("a", "_0x0.exe")),  # shaped like a thumbnail: split, not validated
        ("earth.jpg", None),
        ("_200x200.jpg", None),
    ],
)
def test_split_thumbnail_cuts_at_the_stem_without_validating(key, split):
    assert split_thumbnail(key) == split


@pytest.mark.parametrize("key", ["a_10x10.jpg", "b/c_0x0.jpg", "d_10x10_blur.png", "e_5x5@9x.gif", "f_1x1.tiff"])
def test_the_rest_alone_decides_validity(key):
    """What split_thumbnail promises: ``"x" + rest`` is valid exactly when the whole key is."""

    def outcome(k: str) -> object:
        try:
            thumb = parse_thumbnail(k)
        except BadRequest as exc:
            return exc.reason
        assert thumb is not None
        return (thumb.width, thumb.height, thumb.mode, thumb.dpr, thumb.ext)

    split = split_thumbnail(key)
    assert split is not None
    assert outcome("x" + split[1]) == outcome(key)
