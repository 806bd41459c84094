"""The object store: botocore's S3 client, run in a bounded thread pool so it never blocks the event loop.

botocore is synchronous. Its calls (signing, credential refresh from the instance role, socket I/O) run in
``io-threads`` threads sharing a keep-alive pool of as many connections. Errors are translated here into
the proxy's own exceptions: callers never see botocore types.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

import botocore.session
from botocore.config import Config as BotoConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    ReadTimeoutError,
    SSLError,
)

from proxy.config import Config
from proxy.errors import (
    ProxyError,
    RangeNotSatisfiable,
    Unprocessable,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from proxy.stored import WriteParams

log = logging.getLogger(__name__)
T = TypeVar("T")

CHUNK = 256 * 1024


@dataclass(frozen=True)
class ObjectInfo:
    """What S3 says about an object, without its body."""

    key: str
    size: int
    content_type: str
    etag: str  # with its quotes, as S3 sends it
    last_modified: datetime
    cache_control: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    content_range: str | None = None  # on a ranged GET: ``bytes a-b/total``; ``size`` is then the part's


@dataclass(frozen=True)
class S3Object:
    """An object read whole into memory."""

    info: ObjectInfo
    body: bytes


class Stream:
    """An object too large to hold: read it chunk by chunk (each read in the I/O pool), then close it."""

    def __init__(self, store: ObjectStore, info: ObjectInfo, body: Any) -> None:
        self.info = info
        self._store = store
        self._body = body

    async def read(self) -> bytes:
        """The next chunk; b'' at the end."""
        return await self._store.call(self._body.read, CHUNK)

    def close(self) -> None:
        self._body.close()


class NotModified(Enum):
    """A conditional GET found the object unchanged (S3 answered 304)."""

    NOT_MODIFIED = "not-modified"


NOT_MODIFIED = NotModified.NOT_MODIFIED


class PutResult(Enum):
    STORED = "stored"
    EXISTS = "exists"  # another writer (or an original) holds the key: If-None-Match said 412
    FAILED = "failed"


class Lookup(Enum):
    """How to read a 403/405 on a GET: for the requested key they mean 'not there' (see ObjectStore.fetch)."""

    REQUESTED = "requested"
    ORIGINAL = "original"


def _ignore(*_: object) -> None:
    return None


@dataclass(frozen=True)
class StoreHooks:
    """What the store reports as it works, for the metrics; called on the event loop. Defaults do nothing."""

    error: Callable[[str], None] = _ignore  # an S3 call failed: "timeout", "throttled" or "error"
    fetched: Callable[[float], None] = _ignore  # one GET done (body read included), in seconds
    written: Callable[[PutResult, float], None] = _ignore  # one thumbnail write, fallback included


def make_client(config: Config) -> Any:
    """A botocore S3 client with the proxy's timeouts, retries and path-style addressing (also for the tools)."""
    return botocore.session.get_session().create_client(
        "s3",
        region_name=config.region,
        endpoint_url=config.s3_endpoint,
        config=BotoConfig(
            connect_timeout=config.s3_connect_timeout,
            read_timeout=config.s3_read_timeout,
            retries={"total_max_attempts": config.s3_max_attempts, "mode": "standard"},  # max_attempts: retries
            max_pool_connections=config.io_threads,
            # Path-style works for every endpoint and for bucket names with dots (images.example.com).
            s3={"addressing_style": "path"},
            tcp_keepalive=True,
        ),
    )


class ObjectStore:
    """One bucket, reached through botocore (``client``, if given, is shared with a caller that lists)."""

    def __init__(self, config: Config, hooks: StoreHooks | None = None, client: Any = None) -> None:
        self.bucket = config.bucket
        self.hooks = hooks or StoreHooks()
        self._conditional = config.conditional_write
        self._pool = ThreadPoolExecutor(max_workers=config.io_threads, thread_name_prefix="s3")
        self._client = client if client is not None else make_client(config)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking botocore call in the I/O pool, translating its errors."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, lambda: _translated(fn, *args, **kwargs))
        except UpstreamTimeout:
            self.hooks.error("timeout")
            raise
        except UpstreamUnavailable:
            self.hooks.error("throttled")
            raise
        except UpstreamError:
            self.hooks.error("error")
            raise

    async def fetch(
        self,
        key: str,
        *,
        lookup: Lookup,
        stream_over: int | None = None,
        max_bytes: int | None = None,
        if_none_match: str | None = None,
        byte_range: str | None = None,
    ) -> S3Object | Stream | NotModified | None:
        """GET a key: None if it is not there; a Stream if larger than ``stream_over``; else the whole object.

        ``max_bytes`` caps what is read (Unprocessable beyond it), checked while reading, not only from
        Content-Length. ``if_none_match`` makes it a revalidation (NOT_MODIFIED when the ETag still matches);
        ``byte_range`` (one ``bytes=`` range) is passed to S3 as is.
        """
        started = time.monotonic()
        try:
            return await self._fetch(key, lookup, stream_over, max_bytes, if_none_match, byte_range)
        finally:
            self.hooks.fetched(time.monotonic() - started)

    async def _fetch(
        self,
        key: str,
        lookup: Lookup,
        stream_over: int | None,
        max_bytes: int | None,
        if_none_match: str | None,
        byte_range: str | None,
    ) -> S3Object | Stream | NotModified | None:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if if_none_match:
            params["IfNoneMatch"] = if_none_match
        if byte_range:
            params["Range"] = byte_range
        try:
            info, body = await self.call(self._get, params, stream_over, max_bytes)
        except _NotModified:
            return NOT_MODIFIED
        except _BadRange as bad:
            raise RangeNotSatisfiable("range not satisfiable", bad.size) from None
        except _Missing as missing:
            if lookup is Lookup.ORIGINAL and missing.status == 403:
                # With the documented policy (ListBucket granted) a missing key is a 404; a 403 is a real denial.
                log.warning("S3 denied GET of original %s: check the IAM policy", key)
                raise UpstreamError("S3 denied access to the original") from None
            return None
        return S3Object(info, body) if isinstance(body, bytes) else Stream(self, info, body)

    def _get(self, params: dict[str, Any], stream_over: int | None, max_bytes: int | None) -> tuple[ObjectInfo, Any]:
        """GET and, in the same I/O thread, read the body unless it is to be streamed.

        A body left unread holds its pooled connection; if it then waited for a free thread, more bodies than
        threads would be open at once and botocore would open (and TLS-handshake) connections past the pool.
        """
        response = self._client.get_object(**params)
        info = _info(params["Key"], response)
        body = response["Body"]
        if max_bytes is not None and info.size > max_bytes:
            body.close()
            raise Unprocessable(f"original larger than {max_bytes // (1024 * 1024)} MB")
        if stream_over is not None and info.size > stream_over:
            return info, body
        return info, _read_capped(body, max_bytes)

    async def put(self, key: str, body: bytes, params: WriteParams) -> PutResult:
        """PUT a new object; never overwrites one that exists where the endpoint supports If-None-Match."""
        started = time.monotonic()
        result = await self._put(key, body, params)
        self.hooks.written(result, time.monotonic() - started)
        return result

    async def _put(self, key: str, body: bytes, params: WriteParams) -> PutResult:
        request: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "Body": body,
            "ContentType": params.content_type,
            "CacheControl": params.cache_control,
            "StorageClass": params.storage_class,
            "Metadata": dict(params.metadata),
            "Tagging": params.tagging,
        }
        while True:  # at most twice: once more without If-None-Match when "auto" learns it is unsupported
            if self._conditional != "off":
                request["IfNoneMatch"] = "*"
            else:
                request.pop("IfNoneMatch", None)
            try:
                await self.call(self._client.put_object, **request)
                return PutResult.STORED
            except _Missing as missing:
                if missing.status == 412:
                    return PutResult.EXISTS
                log.warning("write-back of %s refused by S3 (%s)", key, missing.status)
                return PutResult.FAILED
            except _Unsupported:
                if self._conditional != "auto":
                    log.warning("write-back of %s failed: conditional write unsupported", key)
                    return PutResult.FAILED
                log.warning("S3 endpoint does not support conditional writes; writing without If-None-Match")
                self._conditional = "off"
            except ProxyError as exc:
                log.warning("write-back of %s failed: %s", key, exc.reason)
                return PutResult.FAILED

    async def check_bucket(self) -> None:
        """Raise an upstream error unless the bucket answers (readiness)."""
        try:
            await self.call(self._client.head_bucket, Bucket=self.bucket)
        except _Missing as missing:
            raise UpstreamError(f"bucket answered {missing.status}") from None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()


class _Missing(Exception):
    """A 4xx from S3 that means 'not there' or 'not allowed' for this key; its status says which."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _NotModified(Exception):
    """S3 answered 304 to a conditional GET."""


class _BadRange(Exception):
    """S3 answered 416; ``size`` is the object's size when S3 said it."""

    def __init__(self, size: int | None) -> None:
        super().__init__(size)
        self.size = size


class _Unsupported(Exception):
    """The endpoint rejected a header it does not implement (conditional writes on older stores)."""


def _translated(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return fn(*args, **kwargs)
    except ClientError as exc:
        raise _client_error(exc) from None
    except (ConnectTimeoutError, ReadTimeoutError):
        raise UpstreamTimeout("S3 timed out") from None
    except SSLError as exc:
        raise _tls_failure(exc) from None
    except BotoCoreError as exc:
        raise UpstreamError(f"S3 unreachable: {type(exc).__name__}") from None
    except OSError as exc:  # a socket error while streaming a body
        raise UpstreamError(f"S3 connection failed: {type(exc).__name__}") from None


def _tls_failure(exc: SSLError) -> UpstreamError:
    """A TLS failure: a 502 and a warning with its reason (nothing falls back to an unverified connection)."""
    error = exc.kwargs.get("error")  # urllib3's SSLError, wrapping what ssl or the hostname check raised
    cause = error.args[0] if error is not None and error.args and isinstance(error.args[0], Exception) else error
    # urllib3 checks the hostname itself and raises its CertificateError, a ValueError.
    if isinstance(cause, ssl.SSLCertVerificationError | ValueError):
        detail = getattr(cause, "verify_message", None) or str(cause)
        log.warning("S3 TLS certificate verify failed (%s): %s", detail, exc.kwargs.get("endpoint_url"))
        return UpstreamError("S3 TLS verification failed")
    log.warning("S3 TLS handshake failed (%s): %s", cause or exc, exc.kwargs.get("endpoint_url"))
    return UpstreamError("S3 TLS handshake failed")


def _client_error(exc: ClientError) -> Exception:
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    code = str(exc.response.get("Error", {}).get("Code", ""))
    if status == 304:
        return _NotModified()
    if status == 416 or code == "InvalidRange":
        size = str(exc.response.get("Error", {}).get("ActualObjectSize", ""))
        return _BadRange(int(size) if size.isdecimal() else None)
    if status in (404, 403, 405, 412) or code in ("NoSuchKey", "NotFound", "PreconditionFailed"):
        return _Missing(status or 404)
    if status == 501 or code in ("NotImplemented",):
        return _Unsupported(code)
    if status == 503 or code == "SlowDown":
        return UpstreamUnavailable("S3 is throttling requests")
    if status >= 500:
        return UpstreamError(f"S3 answered {status or code}")
    if code == "InvalidArgument" and "If-None-Match" in str(exc):
        return _Unsupported(code)
    return UpstreamError(f"S3 refused the request ({code or status})")


def _info(key: str, response: dict[str, Any]) -> ObjectInfo:
    return ObjectInfo(
        key=key,
        size=int(response.get("ContentLength", 0)),
        content_type=response.get("ContentType") or "application/octet-stream",
        etag=response.get("ETag", ""),
        last_modified=response["LastModified"],
        cache_control=response.get("CacheControl"),
        metadata=dict(response.get("Metadata") or {}),
        content_range=response.get("ContentRange"),
    )


def _read_capped(body: Any, max_bytes: int | None) -> bytes:
    """Read a body whole, stopping as soon as it passes ``max_bytes`` (Content-Length may lie)."""
    if max_bytes is None:
        data: bytes = body.read()
        return data
    chunks: list[bytes] = []
    total = 0
    try:
        while chunk := body.read(CHUNK):
            total += len(chunk)
            if total > max_bytes:
                raise Unprocessable(f"original larger than {max_bytes // (1024 * 1024)} MB")
            chunks.append(chunk)
    finally:
        body.close()
    return b"".join(chunks)
