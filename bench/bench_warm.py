"""warm's render path (``render_many``: one decode, every size) against one ``render`` per size.

    python bench/bench_warm.py                 # the render comparison (target: >= 2x with three sizes)
    python bench/bench_warm.py --originals=1000  # also: the warm command over N tiny originals on local moto

Figures go to bench/RESULTS.md under "warm".
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

from proxy.keys import parse_thumbnail
from proxy.render import RenderOptions, render, render_many
from proxy.samples import landscape

SIZES = ("200x200", "400x0", "100x100")


def original(width: int, height: int) -> bytes:
    """A camera-like JPEG (quality 90): the demo's landscape plus sensor-like noise, so it weighs what photos do."""
    image = Image.open(io.BytesIO(landscape(width, height))).convert("RGB")
    noise = Image.merge("RGB", [Image.effect_noise((width, height), 24) for _ in range(3)])
    image = Image.blend(image, noise, 0.25)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def compare(width: int, height: int, rounds: int) -> float:
    data = original(width, height)
    specs = [parse_thumbnail(f"photo_{size}.jpg") for size in SIZES]
    assert all(specs)
    options = RenderOptions()
    render_many(data, specs, options)  # warm up imports and caches
    many, separate = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        render_many(data, specs, options)
        many.append(time.perf_counter() - started)
        started = time.perf_counter()
        for spec in specs:
            render(data, spec, options)
        separate.append(time.perf_counter() - started)
    m, s = statistics.median(many), statistics.median(separate)
    print(
        f"{width}x{height} JPEG ({len(data) / 1e6:.1f} MB), sizes {', '.join(SIZES)}, median of {rounds}: "
        f"render_many {m * 1000:.1f} ms, 3 x render {s * 1000:.1f} ms, ratio {s / m:.2f}x"
    )
    return s / m


def warm_run(originals: int) -> None:
    """The warm command over ``originals`` tiny JPEGs on a local moto server: its progress and summary."""
    import logging

    import botocore.session
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log would drown the progress

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3 = botocore.session.get_session().create_client("s3", region_name="us-east-1", endpoint_url=endpoint)
    s3.create_bucket(Bucket="bench-warm")
    tiny = io.BytesIO()
    Image.new("RGB", (64, 48), (40, 90, 200)).save(tiny, "JPEG")
    for i in range(originals):
        s3.put_object(Bucket="bench-warm", Key=f"photos/{i:05}.jpg", Body=tiny.getvalue(), ContentType="image/jpeg")
    command = [sys.executable, "-m", "proxy", "warm", f"--sizes={','.join(SIZES)}", "--bucket=bench-warm"]
    command += [f"--s3-endpoint={endpoint}", "--progress-every=2"]
    print("$", " ".join(command[1:]), flush=True)
    subprocess.run(command, check=True, cwd=Path(__file__).resolve().parent.parent)
    server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--originals", type=int, default=0, help="Also run warm over this many originals.")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"Pillow {Image.__version__}"
    )
    ratios = [compare(w, h, args.rounds) for w, h in ((4000, 3000), (1920, 1080))]
    print(f"target >= 2x: {'met' if min(ratios) >= 2 else 'NOT met'} (lowest {min(ratios):.2f}x)")
    if args.originals:
        warm_run(args.originals)


if __name__ == "__main__":
    main()
