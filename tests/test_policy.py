"""The size policy (proxy/policy.py), shared by serve and warm."""

from __future__ import annotations

import pytest

from proxy.errors import BadRequest, Forbidden
from proxy.keys import parse_thumbnail
from proxy.policy import check_size


def spec(key: str):
    parsed = parse_thumbnail(key)
    assert parsed is not None
    return parsed


def test_the_maximum_applies_after_the_density():
    check_size(spec("a_200x100@2x.jpg"), 400, ())
    with pytest.raises(BadRequest) as over:
        check_size(spec("a_201x100@2x.jpg"), 400, ())
    assert over.value.status == 400 and "400" in over.value.reason


def test_presets_compare_the_size_as_written():
    presets = ((200, 200), (400, 0))
    check_size(spec("a_200x200@3x.webp"), 4096, presets)
    check_size(spec("a_400x0_fit.png"), 4096, presets)
    with pytest.raises(Forbidden) as refused:
        check_size(spec("a_300x300.jpg"), 4096, presets)
    assert refused.value.status == 403
