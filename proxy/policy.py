"""The size policy, the same for ``serve`` and ``warm``: which thumbnail sizes may be made at all."""

from __future__ import annotations

from proxy.errors import BadRequest, Forbidden
from proxy.keys import ThumbnailSpec


def check_size(spec: ThumbnailSpec, max_dimension: int, allowed_sizes: tuple[tuple[int, int], ...]) -> None:
    """A size over the maximum (after ``@Nx``) is malformed (400); one outside the presets is refused (403)."""
    if spec.target_width > max_dimension or spec.target_height > max_dimension:
        raise BadRequest(f"size over the maximum of {max_dimension} pixels")
    if allowed_sizes and spec.size not in allowed_sizes:
        raise Forbidden("size not allowed")
