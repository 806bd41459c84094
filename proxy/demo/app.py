"""``s3-resize-proxy demo``: moto's S3 server on 127.0.0.1, a bucket of sample pictures, the proxy in front."""

from __future__ import annotations

import asyncio
import os
import signal

from proxy.config import Config
from proxy.demo.samples import samples
from proxy.http.server import ProxyServer

BUCKET = "demo-images"


def start_local_s3() -> tuple[object, str]:
    """Start moto's S3 server on a free loopback port; returns (server, endpoint URL)."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:  # pragma: no cover - depends on the install
        raise SystemExit("the demo needs moto's server: pip install -e '.[dev]'") from None
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def upload_samples(endpoint: str, bucket: str) -> list[str]:
    import botocore.session

    client = botocore.session.get_session().create_client("s3", region_name="us-east-1", endpoint_url=endpoint)
    client.create_bucket(Bucket=bucket)
    for key, (body, content_type) in samples().items():
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
    return list(samples())


def run_demo(port: int = 8080, address: str = "127.0.0.1") -> int:
    # moto accepts any credentials; set dummy ones so botocore's chain never looks further (no IMDS calls).
    for name, value in (("AWS_ACCESS_KEY_ID", "demo"), ("AWS_SECRET_ACCESS_KEY", "demo")):
        os.environ.setdefault(name, value)
    s3, endpoint = start_local_s3()
    keys = upload_samples(endpoint, BUCKET)
    config = Config.defaults(bucket=BUCKET, s3_endpoint=endpoint, address=address, port=port, access_log="-")

    async def main() -> None:
        server = ProxyServer(config)
        bound = server.start()
        base = f"http://{'127.0.0.1' if address in ('0.0.0.0', '') else address}:{bound}"
        print(f"\nLocal S3 (moto) at {endpoint}, bucket '{BUCKET}' with: {', '.join(keys)}")
        print(f"Proxy at {base} — open these:\n")
        for path in (
            "earth.jpg",
            "earth_200x200.jpg",
            "earth_400x0.webp",
            "photos/sunset_300x300.jpg",
            "photos/sunset_400x300_fit.jpg",
            "photos/sunset_200x200@2x.png",
            "logo_128x128.png",
            "resize.php?src=earth_150x150.jpg",
        ):
            print(f"  {base}/{path}")
        print("\nCtrl-C to stop.", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await server.stop(config.drain_seconds)

    asyncio.run(main())
    s3.stop()  # type: ignore[attr-defined]
    return 0
