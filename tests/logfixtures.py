"""Realistic access-log lines: AWS S3 server access logs (documented field order) and the proxy's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from proxy.observe.accesslog import AccessEntry, format_json, format_text

OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
HOST_ID = "s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234="
T0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)


def s3_line(
    key: str,
    status: int = 200,
    at: datetime = T0,
    operation: str = "REST.GET.OBJECT",
    bucket: str = "images.example.com",
    size: int = 3811,
    full: bool = True,
) -> str:
    """One S3 server access log line; ``full=False`` ends after user-agent, like lines from before 2019."""
    error = "NoSuchKey" if status == 404 else "-"
    sent = "-" if status >= 300 else str(size)
    encoded = quote(key, safe="/")
    fields = [
        OWNER,
        bucket,
        at.strftime("[%d/%b/%Y:%H:%M:%S +0000]"),
        "192.0.2.3",
        "-",
        "3E57427F3EXAMPLE",
        operation,
        encoded,
        f'"GET /{encoded} HTTP/1.1"',
        str(status),
        error,
        sent,
        str(size),
        "12",
        "11",
        '"https://www.example.com/gallery.html"',
        '"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 \\"quoted\\" Chrome/120.0"',
    ]
    if full:
        fields += [
            "-",
            HOST_ID,
            "SigV4",
            "ECDHE-RSA-AES128-GCM-SHA256",
            "AuthHeader",
            f"{bucket}.s3.us-west-1.amazonaws.com",
            "TLSv1.2",
            "-",
            "Yes",
        ]
    return " ".join(fields)


def proxy_line(
    key: str, cache: str = "memory", status: int = 200, at: datetime = T0, json: bool = False, sent_format: str = ""
) -> str:
    entry = AccessEntry(
        time=at,
        client="203.0.113.7",
        method="GET",
        key=key,
        status=status,
        bytes=3811 if status == 200 else 10,
        cache=cache,
        render_ms=84.2 if cache == "rendered" else None,
        total_ms=101.5,
        request_id="9f2c4e1a",
        sent_format=sent_format,
    )
    return format_json(entry) if json else format_text(entry)


def days(n: float) -> timedelta:
    return timedelta(days=n)
