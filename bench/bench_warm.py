"""The warm command over N originals on a local moto server: its progress bar and its summary.

    python bench/bench_warm.py [--originals=1000]

warm's render path (``render_many``: one decode, every size) against one ``render`` per size is measured by
bench/bench_render.py. Figures go to bench/RESULTS.md under "warm".
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import subprocess
import sys
from pathlib import Path

from PIL import Image

SIZES = ("200x200", "400x0", "100x100")


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
    parser.add_argument("--originals", type=int, default=1000, help="Originals to warm. Default: 1000.")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"Pillow {Image.__version__}"
    )
    warm_run(args.originals)


if __name__ == "__main__":
    main()
