"""AWS S3 server access log lines, in AWS's documented field order; fields after ``user-agent`` are optional.

79a5... images.example.com [06/Feb/2026:00:00:38 +0000] 192.0.2.3 - 3E57427F3EXAMPLE REST.GET.OBJECT
earth_200x200.jpg "GET /earth_200x200.jpg HTTP/1.1" 200 - 3811 3811 12 11 "-" "curl/8.0" - <host id> ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from urllib.parse import unquote

FIELDS = (
    "bucket_owner",
    "bucket",
    "time",
    "remote_ip",
    "requester",
    "request_id",
    "operation",
    "key",
    "request_uri",
    "status",
    "error_code",
    "bytes_sent",
    "object_size",
    "total_time",
    "turn_around_time",
    "referer",
    "user_agent",
    "version_id",
    "host_id",
    "signature_version",
    "cipher_suite",
    "authentication_type",
    "host_header",
    "tls_version",
    "access_point_arn",
    "acl_required",
)
_REQUIRED = FIELDS.index("status") + 1  # older lines end early; anything shorter is not an access-log line
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\[[^\]]*\]|\S+')
_OPERATION = re.compile(r"^[A-Z]+\.[A-Z_]+\.[A-Z_]+$")


@dataclass(frozen=True)
class S3LogEntry:
    """The fields the tools use; ``fields`` holds every field present, by name ('-' kept as '')."""

    time: datetime
    operation: str  # e.g. REST.GET.OBJECT, WEBSITE.GET.OBJECT
    key: str
    status: int | None
    bytes_sent: int
    fields: dict[str, str]


def parse(line: str) -> S3LogEntry | None:
    """Parse one line; None if it is not an S3 server access log line."""
    tokens = _TOKEN.findall(line)
    if len(tokens) < _REQUIRED or not tokens[2].startswith("["):
        return None
    if not _OPERATION.match(tokens[6]):
        return None
    values = [_clean(token) for token in tokens[: len(FIELDS)]]
    fields = dict(zip(FIELDS, values, strict=False))
    try:
        moment = _time(tokens[2][1:-1])
    except ValueError:
        return None
    status, sent = fields["status"], fields.get("bytes_sent", "")
    return S3LogEntry(
        time=moment,
        operation=fields["operation"],
        key=unquote(fields["key"]),
        status=int(status) if status.isdigit() else None,
        bytes_sent=int(sent) if sent.isdigit() else 0,
        fields=fields,
    )


def _clean(token: str) -> str:
    if token.startswith('"') and token.endswith('"') and len(token) >= 2:
        token = token[1:-1].replace('\\"', '"')
    return "" if token == "-" else token


@lru_cache(maxsize=4096)  # lines come in time order: the same second repeats many times
def _time(text: str) -> datetime:
    return datetime.strptime(text, "%d/%b/%Y:%H:%M:%S %z")
