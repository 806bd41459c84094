"""render_many (one open, one draft for the largest size, one decode) against one render() per size.

    python bench/bench_render.py [--set=camera|wallpapers|all] [PHOTO.jpg ...]

Photos: the sets of bench/photos.py (fetched from Debian packages on first use), or the files given. Three
sizes of each photo, as JPEG; the medians of wall and CPU time per round and their ratio (target: >= 2x).
Also the CPU time of the largest size rendered alone, and the ceiling it sets: render_many makes that size
too, so it cannot beat three renders by more than (3 x render) / (largest alone). Figures go to
bench/RESULTS.md under "render_many".
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import photos
from proxy.imaging.render import RenderOptions, render, render_many
from proxy.keys import ThumbnailSpec, parse_thumbnail

SIZES = "200x200,400x0,800x600"  # the largest last: it is also timed alone


def generated_photo(width: int = 5120, height: int = 2880) -> bytes:
    """Without a real photo: gradients, blurred shapes and noise, as JPEG quality 90 (what cameras give)."""
    image = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").resize((width, height)),
            Image.radial_gradient("L").resize((width, height)),
            Image.linear_gradient("L").rotate(90).resize((width, height)),
        ),
    ).filter(ImageFilter.GaussianBlur(2))
    noise = Image.merge("RGB", [Image.effect_noise((width, height), 20) for _ in range(3)])
    out = io.BytesIO()
    Image.blend(image, noise, 0.2).save(out, "JPEG", quality=90)
    return out.getvalue()


def measure(data: bytes, specs: list[ThumbnailSpec], rounds: int) -> dict[str, float]:
    """Median wall and CPU seconds of render_many, of separate renders and of the largest size alone,
    interleaved so that all three see the same load."""
    options = RenderOptions()
    largest = specs[-1]
    runs = {
        "many": lambda: render_many(data, specs, options),
        "separate": lambda: [render(data, spec, options) for spec in specs],
        "largest": lambda: render(data, largest, options),
    }
    runs["many"]()  # warm-up: imports, allocator
    times: dict[str, list[float]] = {}
    for _ in range(rounds):
        for name, run in runs.items():
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            times.setdefault(f"{name}_wall", []).append(time.perf_counter() - wall)
            times.setdefault(f"{name}_cpu", []).append(time.process_time() - cpu)
    return {name: statistics.median(values) for name, values in times.items()}


def chosen(names: list[Path], which: str) -> list[Path]:
    if names:
        return names
    found: list[Path] = []
    if which in ("wallpapers", "all"):
        found += [path for paths in photos.wallpapers().values() for path in paths]
    if which in ("camera", "all"):
        found += photos.camera()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="*", type=Path, help="JPEG photos (default: the --set)")
    parser.add_argument("--set", choices=("camera", "wallpapers", "all", "generated"), default="all")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--sizes", default=SIZES, help=f"Comma-separated, the largest last. Default: {SIZES}.")
    args = parser.parse_args()
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    models = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    cpu = models[0] if models else platform.processor() or "unknown CPU"
    print(f"machine: {cpu}, nproc {os.cpu_count()}, Python {platform.python_version()}, Pillow {Image.__version__}")
    sizes = args.sizes.split(",")
    specs = [parse_thumbnail(f"photo_{size}.jpg") for size in sizes]
    assert all(specs)
    if args.set == "generated" and not args.photos:
        photos_data = [("generated 5120x2880", generated_photo())]
    else:
        photos_data = [(p.name, p.read_bytes()) for p in chosen(args.photos, args.set)]
    print(f"sizes {', '.join(sizes)} as JPEG; medians of {args.rounds} rounds; times in ms")
    print(
        "| photo | size | render_many wall / CPU | 3 x render wall / CPU | ratio wall / CPU "
        "| largest alone CPU | ceiling |"
    )
    print("|---|---|---|---|---|---|---|")
    ratios: list[float] = []
    for name, data in photos_data:
        with Image.open(io.BytesIO(data)) as image:
            size = f"{image.width}x{image.height}"
        t = measure(data, specs, args.rounds)  # type: ignore[arg-type]
        ratios.append(t["separate_cpu"] / t["many_cpu"])
        print(
            f"| {name} | {size}, {len(data) / 1e6:.1f} MB "
            f"| {t['many_wall'] * 1000:.0f} / {t['many_cpu'] * 1000:.0f} "
            f"| {t['separate_wall'] * 1000:.0f} / {t['separate_cpu'] * 1000:.0f} "
            f"| {t['separate_wall'] / t['many_wall']:.2f}x / {ratios[-1]:.2f}x "
            f"| {t['largest_cpu'] * 1000:.0f} | {t['separate_cpu'] / t['largest_cpu']:.2f}x |",
            flush=True,
        )
    print(f"CPU ratio: median {statistics.median(ratios):.2f}x, {sum(r >= 2 for r in ratios)}/{len(ratios)} at >= 2x")


if __name__ == "__main__":
    main()
