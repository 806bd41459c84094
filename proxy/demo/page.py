"""The demo's page at ``/``: static files from ``page/`` and ``/demo.json``, which drives them.

The JSON is built from the key grammar (``proxy.keys``: modes, output formats, densities), so a mode or
format added there shows up on the page by itself; each thumbnail's expected size comes from the renderer's
own size rule (``target_box``), for the page to show and the browser test to check.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from proxy.config import Config
from proxy.demo.samples import Sample
from proxy.http.handlers import BaseHandler
from proxy.imaging.render import target_box
from proxy.keys import CONTENT_TYPES, MAX_DPR, MODES, OUTPUT_FORMATS, can_encode, parse_thumbnail

GRAMMAR = "<stem>_<W>x<H>[_<mode>][@<d>x].<ext>"

# One line per mode for the grammar summary (a mode without one is listed by name only).
MODE_NOTES = {
    "fill": "exactly W×H: covers the box, the overflow cut equally on both sides",
    "fit": "inside W×H, aspect kept: one side may be shorter",
    "pad": "exactly W×H: fitted and centred on transparency (white for JPEG)",
    "stretch": "exactly W×H, aspect ratio ignored",
    "smart": "exactly W×H like fill, the cut placed where the content is (or at the focus metadata)",
}

FILES = {"/": "index.html", "/demo.css": "demo.css", "/demo.js": "demo.js"}
TYPES = {"html": "text/html; charset=utf-8", "css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8"}


class PageHandler(BaseHandler):
    """One file of the page, from memory."""

    admin = True  # the page is not an object of the bucket: no access-log line, no request metrics

    def initialize(self, body: bytes, content_type: str) -> None:
        self.body = body
        self.content_type = content_type

    def get(self) -> None:
        self.set_header("Content-Type", self.content_type)
        self.set_header("Cache-Control", "no-cache")
        self.finish(self.body)

    def head(self) -> None:
        self.set_header("Content-Type", self.content_type)
        self.set_header("Content-Length", str(len(self.body)))
        self.finish()


def page_routes(document: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """The routes of the page, to put before the proxy's catch-all object route."""
    folder = resources.files("proxy.demo") / "page"
    routes: list[tuple[str, Any, Any]] = []
    for path, name in FILES.items():
        body = (folder / name).read_bytes()
        routes.append(
            (path.replace(".", r"\."), PageHandler, {"body": body, "content_type": TYPES[name.split(".")[-1]]})
        )
    data = json.dumps(document, indent=1).encode()
    routes.append((r"/demo\.json", PageHandler, {"body": data, "content_type": "application/json"}))
    return routes


def output_extensions() -> list[str]:
    """One extension per output format this Pillow can write (``jpg`` for JPEG, not also ``jpeg``)."""
    seen: dict[str, str] = {}
    for ext, fmt in OUTPUT_FORMATS.items():
        if fmt not in seen and can_encode(fmt):
            seen[fmt] = ext
    return list(seen.values())


def thumbnail_key(stem: str, box: tuple[int, int], ext: str, mode: str | None = None, dpr: int = 1) -> str:
    """The key of a thumbnail, in the grammar's order."""
    return f"{stem}_{box[0]}x{box[1]}{f'_{mode}' if mode else ''}{f'@{dpr}x' if dpr > 1 else ''}.{ext}"


def tile(sample: Sample, key: str, label: str, default_mode: str) -> dict[str, Any]:
    """One thumbnail of the page: its key, what it shows, its box in CSS pixels and its expected pixel size."""
    spec = parse_thumbnail(key)
    assert spec is not None, key
    width, height = target_box(sample.size, spec, spec.mode or default_mode)
    return {
        "key": key,
        "label": label,
        "box": [spec.width, spec.height],
        "dpr": spec.dpr,
        "width": width,
        "height": height,
        "content_type": spec.content_type,
    }


def sample_entry(sample: Sample, default_mode: str, formats: list[str]) -> dict[str, Any]:
    stem, ext = sample.key.rsplit(".", 1)
    if ext not in OUTPUT_FORMATS:  # a HEIC original: its thumbnails are JPEGs, and so is its preview
        ext = "jpg"
    box = sample.box
    modes = [
        tile(
            sample,
            thumbnail_key(stem, box, ext, mode),
            mode + (" (default)" if mode == default_mode else ""),
            default_mode,
        )
        for mode in MODES
    ]
    by_format = [tile(sample, thumbnail_key(stem, box, fmt), f".{fmt}", default_mode) for fmt in formats]
    densities = [tile(sample, thumbnail_key(stem, box, ext, dpr=d), f"@{d}x", default_mode) for d in (1, 2)]
    width, height = sample.size
    return {
        "key": sample.key,
        "content_type": sample.content_type,
        "bytes": len(sample.body),
        "width": width,
        "height": height,
        "stored": list(sample.stored_size),
        "orientation": sample.orientation,
        "about": sample.about,
        "preview": None if sample.key.endswith(f".{ext}") else thumbnail_key(stem, (width, 0), ext),
        "groups": [
            {"name": "Modes", "note": f"{box[0]}x{box[1]}, each mode", "tiles": modes},
            {"name": "Formats", "note": f"{box[0]}x{box[1]} ({default_mode}), each output format", "tiles": by_format},
            {
                "name": "Density",
                "note": f"{box[0]}x{box[1]} and {box[0]}x{box[1]}@2x: twice the pixels, shown at the same size",
                "tiles": densities,
            },
        ],
    }


def document(pictures: tuple[Sample, ...], config: Config, commands: list[str]) -> dict[str, Any]:
    """What ``/demo.json`` says: the grammar's parts, every sample with the thumbnails to show, the tools."""
    formats = output_extensions()
    return {
        "grammar": GRAMMAR,
        "modes": [{"name": m, "default": m == config.default_mode, "about": MODE_NOTES.get(m, "")} for m in MODES],
        "formats": [{"ext": ext, "content_type": CONTENT_TYPES[OUTPUT_FORMATS[ext]]} for ext in formats],
        "densities": list(range(2, MAX_DPR + 1)),
        "max_dimension": config.max_dimension,
        "source_extensions": list(config.source_extensions),
        "examples": [
            "photos/sunset_320x180_fit.webp",
            "portrait_0x300.jpg",
            "logo_300x100_pad.png",
            "camera_150x150@3x.avif" if "avif" in formats else "camera_150x150@3x.jpg",
            "earth_200x200_blur.jpg",
        ],
        "commands": commands,
        "samples": [sample_entry(sample, config.default_mode, formats) for sample in pictures],
    }
