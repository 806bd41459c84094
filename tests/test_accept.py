"""Accept negotiation: real browsers' headers, q-values, wildcards that do not count, junk that never raises."""

from __future__ import annotations

import random

import pytest

from proxy.http.accept import CACHED_HEADERS, MAX_HEADER, accepted_types, negotiate

BOTH = ("avif", "webp")

# What browsers send for <img> (and Chrome for a navigation), as they send it.
CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
CHROME_PAGE = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,"
    "application/signed-exchange;v=b3;q=0.7"
)
FIREFOX = "image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5"
FIREFOX_OLD = "image/webp,*/*"  # 65..91: WebP, no AVIF
SAFARI = (
    "image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,"
    "image/*;q=0.8,*/*;q=0.5"
)
SAFARI_NO_AVIF = "image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5"  # 14, 15
OLD_BROWSER = "image/png, image/svg+xml, image/*;q=0.8, */*;q=0.5"  # IE 11, Safari 13


@pytest.mark.parametrize(
    ("accept", "preferred", "expected"),
    [
        (CHROME, BOTH, "avif"),
        (CHROME, ("webp", "avif"), "webp"),  # the order of preferred decides, not the header's
        (CHROME_PAGE, BOTH, "avif"),
        (FIREFOX, BOTH, "avif"),
        (FIREFOX_OLD, BOTH, "webp"),
        (SAFARI, BOTH, "avif"),
        (SAFARI_NO_AVIF, BOTH, "webp"),
        (SAFARI_NO_AVIF, ("avif",), None),
        (OLD_BROWSER, BOTH, None),
        ("*/*", BOTH, None),
        ("image/*", BOTH, None),
        ("image/*;q=1, */*", BOTH, None),
        (None, BOTH, None),
        ("", BOTH, None),
        (CHROME, (), None),
    ],
)
def test_browsers(accept, preferred, expected):
    assert negotiate(accept, preferred) == expected


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("image/avif;q=0, image/webp", "webp"),
        ("image/avif;q=0.0,image/webp;q=0.000", None),
        ("image/avif; q=0.001", "avif"),  # tiny, but above zero
        ("image/avif;q=1.000", "avif"),
        ("image/avif, image/avif;q=0", None),  # an explicit refusal wins
        ("IMAGE/AVIF", "avif"),  # types are case-insensitive
        ("Image/Avif ; Q=0.5", "avif"),
        ("  image/webp  ,\t image/avif ;q=0.9  ", "avif"),
        ("image/avif;level=1;q=0.9", "avif"),  # other parameters do not change the type
        ('image/avif;profile="a, b; c"', "avif"),  # commas and semicolons inside a quoted string
        ('image/avif;note="say \\"hi\\""', "avif"),
    ],
)
def test_q_values_spaces_case_and_parameters(accept, expected):
    assert negotiate(accept, BOTH) == expected


@pytest.mark.parametrize(
    "accept",
    [
        "image/avif;q=1.5",  # over 1
        "image/avif;q=0.0001",  # more than three decimals
        "image/avif;q=-1",
        "image/avif;q=",
        "image/avif;q",
        "image/avif;q=abc",
        "image/avif;q=1e0",
        "image/avif;q=nan",
        'image/avif;x="unclosed',
        "image/avif;=1",
        "image/avif;a b=1",
        "image/ avif",
        "image/avif/x",
        "avif",
        "image/",
        "/avif",
        "image/av\x00if",
        "image/avïf",
        ";;;,,,===",
        '"""',
        "\\",
    ],
)
def test_malformed_elements_are_ignored(accept):
    assert negotiate(accept, BOTH) is None
    assert negotiate(f"{accept}, image/webp", BOTH) == "webp"  # the rest of the header still counts


def test_junk_never_raises():
    rnd = random.Random(3)
    alphabet = 'image/avif,;q=0.1"\\ *\t\x00\xff'
    for _ in range(2000):
        junk = "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(40)))
        assert negotiate(junk, BOTH) in (None, "avif", "webp")


def test_huge_headers_are_not_negotiated_nor_cached():
    accepted_types.cache_clear()
    huge = "image/avif," + "x/y;q=0.5," * (MAX_HEADER // 10)
    assert len(huge) > MAX_HEADER
    assert negotiate(huge, BOTH) is None
    assert accepted_types.cache_info().currsize == 0
    long_but_fine = "image/webp," + "x/y," * 900  # 3.6 kB: parsed
    assert negotiate(long_but_fine, BOTH) == "webp"


def test_parses_are_cached_and_bounded():
    accepted_types.cache_clear()
    for _ in range(3):
        negotiate(CHROME, BOTH)
    assert accepted_types.cache_info().hits == 2
    for i in range(CACHED_HEADERS * 3):
        negotiate(f"image/webp, x/y{i}", BOTH)
    assert accepted_types.cache_info().currsize == CACHED_HEADERS
