"""What ``smart`` costs over ``fill``: CPU per render of real photos, the same sizes in both modes.

    python bench/bench_smartcrop.py [--set=camera|wallpapers|all] [--rounds=5] [PHOTO.jpg ...]

The target: at most 10% more CPU than fill. Renders are interleaved (fill, smart, fill, ...) so both see the
same load; medians of --rounds. Also where the smart window went (its left/top edge; fill's is centred).
Figures go to bench/RESULTS.md under "smart crops".
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import photos
from proxy.imaging.render import RenderOptions, render
from proxy.keys import parse_thumbnail

SIZES = ("200x200", "300x100", "100x300")


def cpu_of(data: bytes, key: str, rounds: int) -> tuple[float, float]:
    """Median CPU seconds of one render of ``key`` in fill mode and in smart mode."""
    fill, smart = parse_thumbnail(key.replace("MODE", "fill")), parse_thumbnail(key.replace("MODE", "smart"))
    assert fill is not None and smart is not None
    options = RenderOptions()
    render(data, smart, options)  # warm-up
    times: dict[str, list[float]] = {"fill": [], "smart": []}
    for _ in range(rounds):
        for name, spec in (("fill", fill), ("smart", smart)):
            started = time.process_time()
            render(data, spec, options)
            times[name].append(time.process_time() - started)
    return statistics.median(times["fill"]), statistics.median(times["smart"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="*", type=Path, help="JPEG photos (default: the --set)")
    parser.add_argument("--set", choices=("camera", "wallpapers", "all"), default="all")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"nproc {os.cpu_count()}, Python {platform.python_version()}, Pillow {Image.__version__}")
    print(f"loadavg before: {Path('/proc/loadavg').read_text().strip()}; CPU ms, medians of {args.rounds}")
    print("| photo | size | fill | smart | smart / fill |\n|---|---|---|---|---|")
    ratios: list[float] = []
    totals = [0.0, 0.0]
    for path in photos.chosen(args.photos, args.set):
        data = path.read_bytes()
        with Image.open(path) as image:
            pixels = f"{image.width}x{image.height}"
        for size in SIZES:
            fill, smart = cpu_of(data, f"p_{size}_MODE.jpg", args.rounds)
            ratios.append(smart / fill)
            totals[0] += fill
            totals[1] += smart
            print(f"| {path.name} ({pixels}) | {size} | {fill * 1000:.1f} | {smart * 1000:.1f} | {smart / fill:.3f} |")
    print(f"loadavg after: {Path('/proc/loadavg').read_text().strip()}")
    print(
        f"smart / fill: median {statistics.median(ratios):.3f}, worst {max(ratios):.3f}, "
        f"all renders {totals[1] / totals[0]:.3f} ({len(ratios)} renders)"
    )


if __name__ == "__main__":
    main()
