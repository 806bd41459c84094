"""SQS queues on moto's server (the same endpoint as its S3) for the watch tests, and bounded waits on them."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import botocore.session


@dataclass(frozen=True)
class TestQueue:
    __test__ = False  # not a test class

    client: Any
    url: str
    arn: str

    def counts(self) -> tuple[int, int]:
        """(visible, in flight) messages, as SQS approximates them (exact on moto)."""
        attributes = self.client.get_queue_attributes(
            QueueUrl=self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def send(self, body: str | dict[str, Any]) -> None:
        self.client.send_message(QueueUrl=self.url, MessageBody=body if isinstance(body, str) else json.dumps(body))

    def drain(self) -> list[str]:
        """Receive and delete every visible message; their bodies."""
        bodies = []
        while messages := self.client.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages"):
            for message in messages:
                bodies.append(message["Body"])
                self.client.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return bodies


def sqs_client(endpoint: str) -> Any:
    return botocore.session.get_session().create_client("sqs", region_name="us-east-1", endpoint_url=endpoint)


def make_queue(endpoint: str, **attributes: str) -> TestQueue:
    client = sqs_client(endpoint)
    url = client.create_queue(QueueName=f"events-{uuid.uuid4().hex[:12]}", Attributes=attributes)["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return TestQueue(client, url, arn)


def wait_until(predicate: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> None:
    """Poll ``predicate`` until it holds; fail after ``timeout`` seconds (a bound, not a synchronisation)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
