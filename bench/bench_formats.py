"""Formats for --auto-format: bytes, SSIM and encode time of WebP and AVIF against the JPEG the proxy makes.

    python bench/bench_formats.py [--set=camera|wallpapers|all] [--repeat=3] [PHOTO.jpg ...]

For each photo (the sets of bench/photos.py, fetched from Debian packages on first use) and thumbnail size
(200x200, 400x0, 800x0): the proxy's own resized pixels (render() to PNG: draft, reduce, LANCZOS, sRGB) are
encoded as JPEG with the proxy's default settings (quality 85, progressive, optimised), as WebP and as AVIF at
several qualities, AVIF at encoder speeds 4..10. Each is decoded and compared with a reference of the same size
made with LANCZOS from the full-resolution decode (SSIM on luma, bench/ssim.py). A variant qualifies when its
SSIM is at least the JPEG's on every photo and size and its bytes are fewer in total; the default picked per
format (and AVIF speed) is the qualifying quality with the fewest bytes.

Bytes and SSIM are deterministic; encode times (median of --repeat runs, wall and CPU) are not, on a shared
machine: /proc/loadavg is printed before and after. Figures go to bench/RESULTS.md, "Formats for --auto-format".
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import photos
from bench.ssim import ssim
from proxy.imaging import colour
from proxy.imaging.render import RenderOptions, render_many
from proxy.keys import parse_thumbnail

SIZES = ("200x200", "400x0", "800x0")
WEBP_QUALITIES = (70, 75, 80, 85, 90, 95)
AVIF_QUALITIES = (50, 55, 60, 65, 70, 75, 80, 85)
AVIF_SPEEDS = (4, 5, 6, 7, 8, 9, 10)
PILLOW_AVIF_SPEED = 6  # what the proxy encodes with today (Pillow's default; the proxy passes no speed)


@dataclass(frozen=True)
class Variant:
    """One encoder setting: format, quality and (AVIF) speed."""

    fmt: str
    quality: int
    speed: int | None = None

    @property
    def label(self) -> str:
        return f"{self.fmt} q{self.quality}" + ("" if self.speed is None else f" s{self.speed}")

    def params(self) -> dict[str, object]:
        if self.fmt == "JPEG":
            options = RenderOptions()
            return {"quality": self.quality, "progressive": options.jpeg_progressive, "optimize": True}
        return {"quality": self.quality} | ({} if self.speed is None else {"speed": self.speed})


@dataclass
class Result:
    """One variant over every case (photo x size), in case order."""

    size: list[int] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


JPEG = Variant("JPEG", RenderOptions().jpeg_quality)


def variants() -> list[Variant]:
    return (
        [JPEG]
        + [Variant("WEBP", q) for q in WEBP_QUALITIES]
        + [Variant("AVIF", q, s) for s in AVIF_SPEEDS for q in AVIF_QUALITIES]
    )


def cases(data: bytes) -> list[tuple[str, Image.Image, Image.Image]]:
    """(size, the proxy's resized pixels, the full-resolution LANCZOS reference) for each size."""
    specs = [parse_thumbnail(f"photo_{size}.png") for size in SIZES]
    made = render_many(data, [spec for spec in specs if spec is not None], RenderOptions())
    full = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    icc = full.info.get("icc_profile")
    full = full.convert("RGB")
    out = []
    for size, thumb in zip(SIZES, made, strict=True):
        pixels = Image.open(io.BytesIO(thumb.body)).convert("RGB")
        reference = colour.to_srgb(ImageOps.fit(full, pixels.size, Image.Resampling.LANCZOS), icc)
        out.append((size, pixels, reference))
    return out


def measure(pixels: Image.Image, reference: Image.Image, variant: Variant, repeat: int, result: Result) -> None:
    """Encode ``repeat`` times (median times), decode once, compare with the reference."""
    walls, cpus, body = [], [], b""
    for _ in range(repeat):
        out = io.BytesIO()
        wall, cpu = time.perf_counter(), time.process_time()
        pixels.save(out, variant.fmt, **variant.params())
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        body = out.getvalue()
    result.size.append(len(body))
    result.ssim.append(ssim(Image.open(io.BytesIO(body)), reference))
    result.wall.append(statistics.median(walls))
    result.cpu.append(statistics.median(cpus))


def qualifies(result: Result, jpeg: Result) -> bool:
    """SSIM >= the JPEG's in every case, and fewer bytes in total."""
    return all(s >= j for s, j in zip(result.ssim, jpeg.ssim, strict=True)) and sum(result.size) < sum(jpeg.size)


def row(variant: Variant, result: Result, jpeg: Result, mark: str = "") -> str:
    ratios = [s / j for s, j in zip(result.size, jpeg.size, strict=True)]
    deltas = [s - j for s, j in zip(result.ssim, jpeg.ssim, strict=True)]
    wins = sum(d >= 0 for d in deltas)
    return (
        f"| {variant.label}{mark} | {sum(result.size) / 1024:.0f} | {sum(result.size) / sum(jpeg.size):.2f} "
        f"| {statistics.median(ratios):.2f} | {statistics.median(result.ssim):.4f} | {min(deltas):+.4f} "
        f"| {statistics.median(deltas):+.4f} | {wins}/{len(deltas)} "
        f"| {statistics.median(result.wall) * 1000:.1f} / {statistics.median(result.cpu) * 1000:.1f} |"
    )


HEADER = (
    "| variant | KiB, all | bytes / JPEG's, all | median | SSIM median | ΔSSIM vs JPEG, worst | median "
    "| SSIM >= JPEG's | encode ms wall / CPU (median) |\n|---|---|---|---|---|---|---|---|---|"
)


def best(results: dict[Variant, Result], keep: Callable[[Variant], bool]) -> Variant | None:
    """The qualifying variant with the fewest bytes among those ``keep`` selects."""
    jpeg = results[JPEG]
    good = [v for v, r in results.items() if keep(v) and v != JPEG and qualifies(r, jpeg)]
    return min(good, key=lambda v: sum(results[v].size), default=None)


def report(results: dict[Variant, Result], names: list[str]) -> None:
    jpeg = results[JPEG]
    print(f"\n{len(names)} photos x {len(SIZES)} sizes ({', '.join(SIZES)}) = {len(jpeg.size)} cases\n")
    print(f"Quality sweep (AVIF at speed {PILLOW_AVIF_SPEED}, the proxy's today); * = qualifies\n")
    print(HEADER)
    for variant, result in results.items():
        if variant.speed in (None, PILLOW_AVIF_SPEED):
            print(row(variant, result, jpeg, " *" if variant != JPEG and qualifies(result, jpeg) else ""))
    print("\nAVIF speeds: per speed, the qualifying quality with the fewest bytes\n")
    print(HEADER)
    print(row(JPEG, jpeg, jpeg))
    for speed in AVIF_SPEEDS:
        chosen = best(results, lambda v, speed=speed: v.fmt == "AVIF" and v.speed == speed)
        if chosen is None:
            print(f"| AVIF s{speed}: none qualifies | | | | | | | | |")
        else:
            print(row(chosen, results[chosen], jpeg))
    webp = best(results, lambda v: v.fmt == "WEBP")
    avif = best(results, lambda v: v.fmt == "AVIF" and v.speed == PILLOW_AVIF_SPEED)
    picked = ", ".join(v.label if v else "none" for v in (webp, avif))
    print(f"\npicked (AVIF at speed {PILLOW_AVIF_SPEED}): {picked}")
    print("\nPer size, JPEG and the picks\n")
    print("| size | variant | KiB, all | bytes / JPEG's | SSIM median | ΔSSIM worst | SSIM >= JPEG's |")
    print("|---|---|---|---|---|---|---|")
    for index, size in enumerate(SIZES):
        at = slice(index, None, len(SIZES))  # cases go photo by photo, the sizes in order within each
        for variant in (JPEG, webp, avif):
            if variant is None:
                continue
            r = results[variant]
            sizes, ssims, jpeg_sizes, jpeg_ssims = r.size[at], r.ssim[at], jpeg.size[at], jpeg.ssim[at]
            deltas = [s - j for s, j in zip(ssims, jpeg_ssims, strict=True)]
            print(
                f"| {size} | {variant.label} | {sum(sizes) / 1024:.0f} | {sum(sizes) / sum(jpeg_sizes):.2f} "
                f"| {statistics.median(ssims):.4f} | {min(deltas):+.4f} | {sum(d >= 0 for d in deltas)}/{len(deltas)} |"
            )


def loadavg() -> str:
    path = Path("/proc/loadavg")
    return path.read_text().strip() if path.exists() else "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="*", type=Path, help="JPEG photos (default: the --set)")
    parser.add_argument("--set", choices=("camera", "wallpapers", "all"), default="camera")
    parser.add_argument("--repeat", type=int, default=3, help="Encodes per variant and case, for the median time.")
    args = parser.parse_args()
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    models = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    print(f"machine: {models[0] if models else platform.processor()}, nproc {os.cpu_count()}, ", end="")
    print(f"Python {platform.python_version()}, Pillow {Image.__version__}")
    print(f"loadavg before: {loadavg()}  (a shared machine: times are indicative, bytes and SSIM are exact)")
    started = time.perf_counter()
    paths = photos.chosen(args.photos, args.set)
    results = {variant: Result() for variant in variants()}
    for path in paths:
        for _size, pixels, reference in cases(path.read_bytes()):
            for variant, result in results.items():
                measure(pixels, reference, variant, args.repeat, result)
        print(f"  {path.name}: done ({time.perf_counter() - started:.0f}s)", file=sys.stderr, flush=True)
    print(f"loadavg after: {loadavg()}; {time.perf_counter() - started:.0f}s in all")
    report(results, [path.name for path in paths])


if __name__ == "__main__":
    main()
