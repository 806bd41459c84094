"""render_many (one open, one draft for the largest size, one decode) against one render() per size.

    apt-get download plasma-workspace-wallpapers && dpkg-deb -x plasma-workspace-wallpapers_*.deb /tmp/wp
    cp /tmp/wp/usr/share/wallpapers/Path/contents/images/2560x1600.jpg bench/corpus/Path_2560x1600.jpg
    python bench/bench_render.py [PHOTO.jpg ...]     # default: every bench/corpus/*.jpg, else a generated photo

Three sizes of each photo, as JPEG; the medians of wall and CPU time per round and their ratio (target: >= 2x).
Figures go to bench/RESULTS.md under "render_many".
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import time
from pathlib import Path

from PIL import Image, ImageFilter

from proxy.keys import ThumbnailSpec, parse_thumbnail
from proxy.render import RenderOptions, render, render_many

SIZES = ("200x200", "400x0", "800x600")
CORPUS = Path(__file__).resolve().parent / "corpus"


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
    """Median wall and CPU seconds of render_many vs separate renders, alternating so both see the same load."""
    options = RenderOptions()
    render_many(data, specs, options)  # warm-up: imports, allocator
    times: dict[str, list[float]] = {"many_wall": [], "many_cpu": [], "separate_wall": [], "separate_cpu": []}
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        render_many(data, specs, options)
        times["many_wall"].append(time.perf_counter() - wall)
        times["many_cpu"].append(time.process_time() - cpu)
        wall, cpu = time.perf_counter(), time.process_time()
        for spec in specs:
            render(data, spec, options)
        times["separate_wall"].append(time.perf_counter() - wall)
        times["separate_cpu"].append(time.process_time() - cpu)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="*", type=Path, help="JPEG photos (default: bench/corpus/*.jpg)")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    models = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    cpu = models[0] if models else platform.processor() or "unknown CPU"
    print(f"machine: {cpu}, nproc {os.cpu_count()}, Python {platform.python_version()}, Pillow {Image.__version__}")
    specs = [parse_thumbnail(f"photo_{size}.jpg") for size in SIZES]
    assert all(specs)
    photos: list[tuple[str, bytes]] = [(p.name, p.read_bytes()) for p in args.photos or sorted(CORPUS.glob("*.jpg"))]
    if not photos:
        photos = [("generated 5120x2880", generated_photo())]
    print(f"sizes {', '.join(SIZES)} as JPEG; medians of {args.rounds} rounds")
    print("| photo | size | render_many wall / CPU | 3 x render wall / CPU | ratio wall / CPU |")
    print("|---|---|---|---|---|")
    for name, data in photos:
        with Image.open(io.BytesIO(data)) as image:
            size = f"{image.width}x{image.height}"
        t = measure(data, specs, args.rounds)  # type: ignore[arg-type]
        print(
            f"| {name} | {size}, {len(data) / 1e6:.1f} MB "
            f"| {t['many_wall'] * 1000:.0f} / {t['many_cpu'] * 1000:.0f} ms "
            f"| {t['separate_wall'] * 1000:.0f} / {t['separate_cpu'] * 1000:.0f} ms "
            f"| {t['separate_wall'] / t['many_wall']:.2f}x / {t['separate_cpu'] / t['many_cpu']:.2f}x |",
            flush=True,
        )


if __name__ == "__main__":
    main()
