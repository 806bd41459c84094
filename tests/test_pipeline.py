"""The image pipeline end to end: originals from tests/corpus.py in moto's S3, thumbnails over HTTP."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image, ImageOps, ImageStat, features

from proxy.imaging import heif
from tests import corpus, images
from tests.harness import put, stored_keys
from tests.images import psnr

CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
if features.check("avif"):
    CONTENT_TYPES["AVIF"] = "image/avif"
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "AVIF": "avif"}


def fetch(http: Any, proxy: Any, key: str) -> Image.Image:
    """GET a thumbnail, check it is a 200 whose Content-Type matches its bytes, and decode it fully."""
    response = http.get(f"{proxy.url}/{key}")
    assert response.status_code == 200, (key, response.status_code, response.text[:200])
    image = Image.open(io.BytesIO(response.content))
    image.load()
    assert response.headers["Content-Type"] == CONTENT_TYPES[image.format], key
    return image


def close(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def test_dimensions_for_every_mode_and_dpr(proxy, s3, bucket, http):
    put(s3, bucket, "q.jpg", corpus.encode(corpus.upright_marker(800, 600)))
    put(s3, bucket, "dot.png", corpus.encode(Image.new("RGB", (1, 1), corpus.RED), "PNG"), "image/png")
    put(s3, bucket, "strip.png", corpus.encode(corpus.upright_marker(4000, 10), "PNG"), "image/png")
    expected = {
        "q_200x200.jpg": (200, 200),  # fill is the default
        "q_200x200_fill.jpg": (200, 200),
        "q_200x0.jpg": (200, 150),
        "q_0x150.jpg": (200, 150),
        "q_200x200_fit.jpg": (200, 150),
        "q_200x200_pad.jpg": (200, 200),
        "q_200x100_stretch.jpg": (200, 100),
        "q_200x200@2x.jpg": (400, 400),
        "q_100x0@3x.jpg": (300, 225),
        "q_100x100_fit@2x.jpg": (200, 150),
        "q_400x400@4x.jpg": (600, 600),  # 1600x1600 asked: the largest square the original has
        "q_400x400_fit@4x.jpg": (800, 600),  # never upscaled, even with @4x
        "q_2000x1000_stretch.jpg": (800, 400),
        "q_200x100_smart.jpg": (200, 100),  # fill's geometry, the crop placed by content
        "q_400x400_smart@4x.jpg": (600, 600),
        "q_2000x2000_pad.jpg": (800, 800),
        "q_1000x0.jpg": (800, 600),
        "dot_200x200.jpg": (1, 1),
        "dot_200x100_fit.png": (1, 1),
        "dot_0x50@2x.png": (1, 1),
        "strip_200x200.jpg": (10, 10),
        "strip_200x0.png": (200, 1),
        "strip_400x400_fit.png": (400, 1),
        "strip_0x5.png": (2000, 5),
        "strip_100x100_pad.png": (100, 100),
    }
    for key, size in expected.items():
        assert fetch(http, proxy, key).size == size, key


def test_fill_crops_the_centre_and_pad_keeps_everything(proxy, s3, bucket, http):
    put(s3, bucket, "m.png", corpus.encode(corpus.upright_marker(400, 200), "PNG"), "image/png")
    # The marker's blocks sit in the outer quarters: a centred square crop of a 2:1 picture cuts them off.
    fill = fetch(http, proxy, "m_100x100.png").convert("RGB")
    assert close(fill.getpixel((2, 2)), corpus.GREY) and close(fill.getpixel((97, 2)), corpus.GREY)
    fit = fetch(http, proxy, "m_100x100_fit.png").convert("RGB")
    assert fit.size == (100, 50) and close(fit.getpixel((2, 2)), corpus.RED)
    pad = fetch(http, proxy, "m_100x100_pad.png")
    assert pad.size == (100, 100) and pad.mode == "RGBA"
    assert pad.getpixel((50, 2))[3] == 0  # transparent band above the picture
    assert close(pad.getpixel((2, 27))[:3], corpus.RED) and pad.getpixel((2, 27))[3] == 255
    pad_jpeg = fetch(http, proxy, "m_100x100_pad.jpg")
    assert close(pad_jpeg.getpixel((50, 2)), corpus.WHITE, 3)  # no alpha in JPEG: white
    stretch = fetch(http, proxy, "m_100x100_stretch.png").convert("RGB")
    assert close(stretch.getpixel((2, 2)), corpus.RED) and close(stretch.getpixel((97, 2)), corpus.GREEN)


def test_default_mode_is_configurable(start_proxy, s3, bucket, http):
    proxy = start_proxy(default_mode="fit")
    put(s3, bucket, "q.jpg", corpus.encode(corpus.upright_marker(800, 600)))
    assert fetch(http, proxy, "q_200x200.jpg").size == (200, 150)
    assert fetch(http, proxy, "q_200x200_fill.jpg").size == (200, 200)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_all_eight_exif_orientations(proxy, s3, bucket, http, fmt):
    ext = EXTENSIONS[fmt]
    for orientation in range(1, 9):
        put(s3, bucket, f"o{orientation}.{ext}", corpus.oriented_jpeg(orientation, fmt))
        image = fetch(http, proxy, f"o{orientation}_120x0.{ext}")
        assert image.size == (120, 80), orientation  # landscape, as seen
        rgb = image.convert("RGB")
        assert close(rgb.getpixel((6, 6)), corpus.RED), orientation  # red block top-left
        assert close(rgb.getpixel((113, 6)), corpus.GREEN), orientation  # green block top-right
        assert close(rgb.getpixel((6, 73)), corpus.GREY), orientation
        assert close(rgb.getpixel((113, 73)), corpus.GREY), orientation
        assert 0x0112 not in image.getexif(), orientation  # the tag is gone (with all other metadata)


def test_colour_ends_in_srgb(proxy, s3, bucket, http):
    cmyk_profile = corpus.rotated_cmyk_profile()
    originals = {
        # CMYK without a profile: the naive conversion (cyan ink is cyan), Adobe-inverted or plain.
        "cmyk-adobe.jpg": (corpus.cmyk_jpeg((255, 0, 0, 0)), (0, 255, 255)),
        "cmyk-plain.jpg": (corpus.cmyk_jpeg((255, 0, 0, 0), adobe=False), (0, 255, 255)),
        "magenta-plain.jpg": (corpus.cmyk_jpeg((0, 255, 0, 0), adobe=False), (255, 0, 255)),
        # CMYK with a profile that says cyan ink shows as yellow: only applying it gives yellow.
        "cmyk-icc.jpg": (corpus.cmyk_jpeg((255, 0, 0, 0), cmyk_profile), (255, 255, 0)),
        "magenta-icc.jpg": (corpus.cmyk_jpeg((0, 255, 0, 0), cmyk_profile), (0, 255, 255)),
        # RGB under a non-sRGB profile whose red is sRGB's green.
        "swapped.jpg": (corpus.with_profile(corpus.RED, corpus.swapped_rgb_profile()), (0, 255, 0)),
        "swapped.png": (corpus.with_profile(corpus.RED, corpus.swapped_rgb_profile(), "PNG"), (0, 255, 0)),
        "grey16.png": (corpus.png16_grey(0xC000), (192, 192, 192)),
        "rgb16.png": (corpus.png16_rgb((0xC000, 0x4000, 0xFFFF)), (192, 64, 255)),
    }
    for name, (body, _) in originals.items():
        put(s3, bucket, name, body)
    for name, (_, expected) in originals.items():
        stem = name.rsplit(".", 1)[0]
        for out in ("png", "jpg"):
            image = fetch(http, proxy, f"{stem}_32x24.{out}")
            assert image.mode in ("RGB", "L"), (name, out, image.mode)
            assert "icc_profile" not in image.info, (name, out)
            tolerance = 3 if out == "png" else 10
            assert close(image.convert("RGB").getpixel((16, 12)), expected, tolerance), (name, out)


def test_alpha_kept_where_the_format_has_it_and_flattened_on_white_for_jpeg(proxy, s3, bucket, http):
    put(s3, bucket, "pal.png", corpus.palette_with_transparency(), "image/png")
    put(s3, bucket, "la.png", corpus.grey_alpha(), "image/png")
    for ext in ("png", "webp", "gif", *(["avif"] if features.check("avif") else [])):
        image = fetch(http, proxy, f"pal_40x20.{ext}").convert("RGBA")
        assert image.getpixel((5, 10))[3] == 0, ext  # the transparent half
        assert close(image.getpixel((35, 10)), (0, 0, 255, 255), 8), ext
        grey = fetch(http, proxy, f"la_40x20.{ext}").convert("RGBA")
        assert close(grey.getpixel((5, 10)), (100, 100, 100, 255), 8) and grey.getpixel((35, 10))[3] == 0, ext
    flat = fetch(http, proxy, "pal_40x20.jpg").convert("RGB")
    assert close(flat.getpixel((5, 10)), corpus.WHITE, 3) and close(flat.getpixel((35, 10)), corpus.BLUE)
    grey = fetch(http, proxy, "la_40x20.jpg")
    assert grey.mode == "L" and close((grey.getpixel((5, 10)),), (100,), 3) and grey.getpixel((35, 10)) >= 252


def test_outputs_carry_no_metadata(proxy, s3, bucket, http):
    put(s3, bucket, "meta.jpg", corpus.with_metadata(corpus.photo(300, 200)))
    put(s3, bucket, "metapng.png", corpus.with_metadata(corpus.photo(300, 200), "PNG"), "image/png")
    for stem in ("meta", "metapng"):
        for fmt, ext in EXTENSIONS.items():
            if fmt not in CONTENT_TYPES:
                continue
            response = http.get(f"{proxy.url}/{stem}_60x40.{ext}")
            assert response.status_code == 200, (stem, ext)
            for secret in (b"Secret", b"Exif\0\0", b"http://ns.adobe.com/xap", b"Channel swap test"):
                assert secret not in response.content, (stem, ext, secret)
            image = Image.open(io.BytesIO(response.content))
            for name in ("exif", "xmp", "XML:com.adobe.xmp", "comment", "icc_profile"):
                assert name not in image.info, (stem, ext, name)
            assert not image.getexif(), (stem, ext)


def test_format_from_extension_and_conversion_from_another_source(proxy, s3, bucket, spy, http):
    put(s3, bucket, "photo.jpg", corpus.encode(corpus.photo(300, 200)))
    put(s3, bucket, "logo.png", corpus.palette_with_transparency(), "image/png")
    for fmt, ext in EXTENSIONS.items():
        if fmt not in CONTENT_TYPES:
            continue
        for written in (ext, ext.upper()):
            image = fetch(http, proxy, f"photo_60x40.{written}")
            assert image.format == fmt and image.size == (60, 40), written
    assert fetch(http, proxy, "photo_60x40.jpeg").format == "JPEG"
    assert spy.count("GET", "/photo.webp") == 1 and spy.count("GET", "/photo.png") == 1  # tried, missing
    assert spy.count("GET", "/photo.jpg") >= 1
    logo = fetch(http, proxy, "logo_40x20.webp")  # from logo.png, after .webp, .jpg and .jpeg were not found
    assert logo.format == "WEBP" and logo.convert("RGBA").getpixel((5, 10))[3] == 0


def test_animation_first_frame_by_default_all_frames_when_kept(start_proxy, s3, bucket, http):
    put(s3, bucket, "anim.gif", corpus.animated_gif(3), "image/gif")
    first = start_proxy(write_back=False)  # two proxies on one bucket: neither may serve the other's output
    for ext in ("gif", "webp", "png"):
        image = fetch(http, first, f"anim_60x40.{ext}")
        assert getattr(image, "n_frames", 1) == 1 and close(image.convert("RGB").getpixel((5, 5)), corpus.RED)
    keep = start_proxy(animation="keep", write_back=False)
    for ext in ("gif", "webp"):
        image = fetch(http, keep, f"anim_60x40.{ext}")
        assert image.n_frames == 3 and image.size == (60, 40), ext
        image.seek(2)
        assert close(image.convert("RGB").getpixel((5, 5)), corpus.BLUE), ext
        assert image.info["duration"] == 300, ext
    still = fetch(http, keep, "anim_60x40.jpg")  # JPEG cannot animate: the first frame
    assert close(still.getpixel((5, 5)), corpus.RED)


def test_encoder_settings(start_proxy, s3, bucket, http):
    put(s3, bucket, "photo.jpg", corpus.encode(corpus.photo(400, 300), progressive=True, quality=95))
    default = start_proxy(write_back=False)  # two proxies on one bucket: neither may serve the other's output
    image = fetch(http, default, "photo_200x150.jpg")
    assert image.info.get("progressive") == 1  # progressive in, progressive out (the default)
    low = start_proxy(jpeg_quality=30, webp_quality=30, jpeg_progressive=False, png_compress_level=0, write_back=False)
    baseline = fetch(http, low, "photo_200x150.jpg")
    assert "progressive" not in baseline.info
    for ext in ("jpg", "webp"):
        good = http.get(f"{default.url}/photo_200x150.{ext}").content
        poor = http.get(f"{low.url}/photo_200x150.{ext}").content
        assert len(poor) < len(good) * 0.8, ext
    assert len(http.get(f"{low.url}/photo_200x150.png").content) > 200 * 150 * 3  # level 0: stored


def test_fast_path_matches_a_careful_full_decode(proxy, s3, bucket, http):
    """Draft + reducing gap against a full decode resized with LANCZOS: PSNR >= 35 dB on a photo."""
    body = corpus.encode(corpus.photo(1600, 1200), quality=92)
    put(s3, bucket, "big.jpg", body)
    full = Image.open(io.BytesIO(body))
    full.load()
    for key in ("big_200x200.png", "big_150x0.png", "big_320x240_fit.png", "big_100x300.png"):
        image = fetch(http, proxy, key)
        reference = ImageOps.fit(full, image.size, Image.Resampling.LANCZOS)
        assert psnr(image, reference) >= 35, key


def test_hostile_or_broken_originals_are_422_and_never_stored(start_proxy, s3, bucket, spy, http):
    proxy = start_proxy(animation="keep")
    originals = {
        "giant.png": corpus.giant_png_header(),  # header: 100000 x 100000
        "bomb.png": corpus.zlib_bomb_png(),  # 81 MP of zeros in a small IDAT
        "ztxt.png": corpus.ztxt_bomb_png(),  # a text chunk that inflates to 16 MB
        "huge.jpg": corpus.jpeg_with_size(60_000, 60_000),  # SOF claims 3.6 gigapixels
        "big.jpg": corpus.jpeg_with_size(8_000, 8_000),  # 64 MP: over --max-source-megapixels only
        "cut.jpg": corpus.truncated_jpeg(),
        "empty.jpg": b"",
        "text.jpg": b"this is not a picture\n",
        "tiff.jpg": corpus.encode(Image.new("RGB", (8, 8)), "TIFF"),  # a real image, not an allowed decoder
        "frames.gif": corpus.gif_with_frames(5000),  # 5000 frames of 1000x1000 > 200 MP budget
    }
    for name, body in originals.items():
        put(s3, bucket, name, body)
    for name in originals:
        stem, ext = name.rsplit(".", 1)
        response = http.get(f"{proxy.url}/{stem}_100x100.{ext}")
        assert response.status_code == 422, (name, response.status_code)
        assert response.headers["Cache-Control"] == "no-store"
        assert 0 < len(response.text) < 200 and "Traceback" not in response.text, name
    proxy.flush()
    assert spy.count("PUT", "") == 0
    assert stored_keys(s3, bucket) == set(originals)
    assert http.get(f"{proxy.url}/healthz").status_code == 200


def test_pixel_limits_are_configurable(start_proxy, s3, bucket, http):
    put(s3, bucket, "q.jpg", corpus.encode(corpus.upright_marker(400, 300)))  # 0.12 MP
    put(s3, bucket, "anim.gif", corpus.gif_with_frames(50, (100, 100)), "image/gif")  # 50 x 0.01 MP
    strict = start_proxy(max_source_megapixels=0.1, max_animation_megapixels=0.4, animation="keep")
    assert http.get(f"{strict.url}/q_100x100.jpg").status_code == 422
    assert http.get(f"{strict.url}/anim_10x10.gif").status_code == 422
    first = start_proxy(max_animation_megapixels=0.4)  # the first frame only: no frame budget to spend
    assert http.get(f"{first.url}/anim_10x10.gif").status_code == 200
    assert http.get(f"{first.url}/q_100x100.jpg").status_code == 200


@pytest.mark.skipif(not heif.AVAILABLE, reason="pillow-heif is not installed")
def test_heic_originals_make_thumbnails_and_are_served_as_stored(proxy, s3, bucket, spy, http):
    phone = images.oriented_heic(6)  # rotated 90 by irot, EXIF tag 6 as well
    put(s3, bucket, "phone.heic", phone, "image/heic")
    put(s3, bucket, "cut.heic", images.heic(corpus.photo(400, 300))[:2000], "image/heic")
    image = fetch(http, proxy, "phone_120x0.jpg").convert("RGB")  # phone.jpg ... phone.gif missing, then .heic
    assert image.size == (120, 80) and close(image.getpixel((6, 6)), corpus.RED)
    assert close(image.getpixel((113, 6)), corpus.GREEN)
    assert spy.count("GET", "/phone.jpg") == 1 and spy.count("GET", "/phone.gif") == 1
    assert fetch(http, proxy, "phone_60x40_fit.webp").size == (60, 40)
    original = http.get(f"{proxy.url}/phone.heic")
    assert original.status_code == 200 and original.content == phone
    assert original.headers["Content-Type"] == "image/heic"  # as S3 has it
    assert http.get(f"{proxy.url}/phone_120x0.heic").status_code == 400  # never an output format
    assert http.get(f"{proxy.url}/cut_100x100.jpg").status_code == 422
    proxy.flush()
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert keys == {"phone.heic", "cut.heic", "phone_120x0.jpg", "phone_60x40_fit.webp"}


def _subject_scene() -> bytes:
    """Flat grey 800x400 with a red, textured subject at the right edge: a centre crop misses it."""
    image = Image.new("RGB", (800, 400), (128, 128, 128))
    for x in range(640, 780, 10):
        image.paste((220, 40, 40) if x % 20 else (250, 220, 60), (x, 120, x + 10, 280))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


def _redness(image: Image.Image) -> float:
    r, g, b = ImageStat.Stat(image.convert("RGB")).mean
    return r - (g + b) / 2


def test_smart_finds_the_subject_and_focus_metadata_is_honoured(proxy, s3, bucket, http, caplog):
    put(s3, bucket, "scene.jpg", _subject_scene())
    fill, smart = fetch(http, proxy, "scene_200x200.jpg"), fetch(http, proxy, "scene_200x200_smart.jpg")
    assert fill.size == smart.size == (200, 200)
    assert _redness(fill) < 1 and _redness(smart) > 15  # the window moved onto the whole subject (14% of it)
    s3.put_object(
        Bucket=bucket, Key="left.jpg", Body=_subject_scene(), ContentType="image/jpeg", Metadata={"focus": "0.05,0.5"}
    )
    held = fetch(http, proxy, "left_200x200_smart.jpg")  # the focus point wins over the content
    assert _redness(held) < 5
    s3.put_object(
        Bucket=bucket, Key="bad.jpg", Body=_subject_scene(), ContentType="image/jpeg", Metadata={"focus": "left,top"}
    )
    with caplog.at_level("WARNING"):
        ignored = fetch(http, proxy, "bad_200x200.jpg")
    assert ignored.size == (200, 200) and _redness(ignored) < 5  # the centre crop, as without focus
    assert sum("invalid focus" in record.getMessage() for record in caplog.records) == 1
