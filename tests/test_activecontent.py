"""Which content types may run script in the images domain (proxy/http/activecontent.py): deny by default."""

from __future__ import annotations

from proxy.http.activecontent import is_active


def test_active_content_types():
    for active in (
        "image/svg+xml",
        "text/html",
        "TEXT/HTML; charset=utf-8",
        "application/xhtml+xml",
        "text/xml",
        "application/xml",
        "application/javascript",
        "application/x-shockwave-flash",
        "application/pdf",
        "text/xsl",
        "multipart/x-mixed-replace",
        "",
        "nonsense",
    ):
        assert is_active(active), active
    for passive in ("image/jpeg", "image/png", "image/webp", "image/avif", "video/mp4", "text/plain", "font/woff2"):
        assert not is_active(passive), passive
