"""The event queue: botocore's SQS client, its errors translated into the proxy's own (as storage/s3.py does).

Synchronous, like botocore: ``watch`` runs these calls in threads of its own, ``warm --queue-url`` in line.
Callers never see botocore types.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import botocore.session
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

from proxy.config import Config
from proxy.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable

T = TypeVar("T")

BATCH = 10  # the most messages ReceiveMessage returns, and entries a batch call takes
MAX_WAIT_SECONDS = 20  # the longest long poll SQS allows

_REGION = re.compile(r"[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d")
_THROTTLED = ("ThrottlingException", "RequestThrottled", "Throttling", "OverLimit")
_MISSING = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


@dataclass(frozen=True)
class Message:
    """One received message: its body and the receipt that deletes it or changes its visibility."""

    id: str
    receipt: str
    body: str
    receive_count: int  # 1 the first time; more after a failure, a crash or an expired visibility timeout


def queue_region(url: str) -> str | None:
    """The region an AWS queue URL names (``https://sqs.eu-west-1.amazonaws.com/1234/q`` -> ``eu-west-1``)."""
    host = urlsplit(url).hostname or ""
    if not host.endswith((".amazonaws.com", ".amazonaws.com.cn")):
        return None
    if host == "queue.amazonaws.com":  # the oldest form, us-east-1's
        return "us-east-1"
    return next((label for label in host.split(".") if _REGION.fullmatch(label)), None)


def make_client(config: Config, region: str | None = None, wait_seconds: float = 0) -> Any:
    """A botocore SQS client for ``region`` (default ``--region``), with the S3 timeouts and retries; a read may
    last ``wait_seconds`` (a long poll) more."""
    return botocore.session.get_session().create_client(
        "sqs",
        region_name=region or config.region,
        endpoint_url=config.sqs_endpoint,
        config=BotoConfig(
            connect_timeout=config.s3_connect_timeout,
            read_timeout=config.s3_read_timeout + wait_seconds,
            retries={"total_max_attempts": config.s3_max_attempts, "mode": "standard"},
            tcp_keepalive=True,
        ),
    )


def open_queue(config: Config, url: str, wait_seconds: float = 0) -> Queue:
    """The queue at ``url``, through a client of the region the URL names (else ``--region``)."""
    return Queue(make_client(config, queue_region(url), wait_seconds), url)


def open_queue_arn(config: Config, arn: str) -> Queue:
    """The queue named by ``arn`` (``arn:aws:sqs:REGION:ACCOUNT:NAME``), its URL asked of SQS."""
    _, _, _, region, account, name = arn.split(":", 5)
    client = make_client(config, region)
    response = _translated(client.get_queue_url, QueueName=name, QueueOwnerAWSAccountId=account)
    return Queue(client, response["QueueUrl"])


class Queue:
    """One SQS queue, by URL."""

    def __init__(self, client: Any, url: str) -> None:
        self.client = client
        self.url = url

    def attributes(self, *names: str) -> dict[str, str]:
        """The queue's attributes (``VisibilityTimeout``, ``QueueArn``, ``RedrivePolicy``...) that are set."""
        response = _translated(self.client.get_queue_attributes, QueueUrl=self.url, AttributeNames=list(names))
        return dict(response.get("Attributes") or {})

    def set_attributes(self, attributes: dict[str, str]) -> None:
        _translated(self.client.set_queue_attributes, QueueUrl=self.url, Attributes=attributes)

    def receive(self, wait_seconds: int, count: int = BATCH) -> list[Message]:
        """Up to ``count`` messages, waiting up to ``wait_seconds`` for the first (long polling)."""
        response = _translated(
            self.client.receive_message,
            QueueUrl=self.url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        return [
            Message(
                id=m["MessageId"],
                receipt=m["ReceiptHandle"],
                body=m.get("Body", ""),
                receive_count=int(m.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
            )
            for m in response.get("Messages", [])
        ]

    def delete(self, message: Message) -> None:
        _translated(self.client.delete_message, QueueUrl=self.url, ReceiptHandle=message.receipt)

    def change_visibility(self, messages: list[Message], seconds: int) -> list[str]:
        """Make ``messages`` invisible for ``seconds`` from now (0: visible again at once); the ids refused."""
        failed: list[str] = []
        for start in range(0, len(messages), BATCH):
            entries = [
                {"Id": str(i), "ReceiptHandle": m.receipt, "VisibilityTimeout": seconds}
                for i, m in enumerate(messages[start : start + BATCH])
            ]
            response = _translated(self.client.change_message_visibility_batch, QueueUrl=self.url, Entries=entries)
            failed += [messages[start + int(f["Id"])].id for f in response.get("Failed", [])]
        return failed

    def send_batch(self, bodies: list[str]) -> dict[int, str]:
        """Send up to 10 messages in one call; the reason for each one refused, by its index in ``bodies``."""
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)]
        response = _translated(self.client.send_message_batch, QueueUrl=self.url, Entries=entries)
        return {int(f["Id"]): f"{f.get('Code', '')} {f.get('Message', '')}".strip() for f in response.get("Failed", [])}

    def close(self) -> None:
        self.client.close()


def _translated(fn: Callable[..., T], **kwargs: Any) -> T:
    try:
        return fn(**kwargs)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _THROTTLED:
            raise UpstreamUnavailable("SQS is throttling requests") from None
        if code in _MISSING:
            raise UpstreamError("the queue does not exist") from None
        raise UpstreamError(f"SQS refused the request ({code or status})") from None
    except (ConnectTimeoutError, ReadTimeoutError):
        raise UpstreamTimeout("SQS timed out") from None
    except BotoCoreError as exc:
        raise UpstreamError(f"SQS unreachable: {type(exc).__name__}") from None
