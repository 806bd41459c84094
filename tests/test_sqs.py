"""proxy/storage/sqs.py against moto's SQS: receive, delete, visibility, batches, and errors translated."""

from __future__ import annotations

import pytest

from proxy.config import Config
from proxy.errors import UpstreamError, UpstreamTimeout
from proxy.storage.sqs import Queue, make_client, open_queue, open_queue_arn, queue_region
from tests.harness import free_port
from tests.queues import make_queue
from tests.s3spy import S3Spy


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("https://sqs.eu-west-1.amazonaws.com/123456789012/images", "eu-west-1"),
        ("https://sqs.cn-north-1.amazonaws.com.cn/123456789012/images", "cn-north-1"),
        ("https://sqs.us-gov-west-1.amazonaws.com/123456789012/images", "us-gov-west-1"),
        ("https://sqs-fips.us-east-2.amazonaws.com/123456789012/images", "us-east-2"),
        ("https://ap-southeast-2.queue.amazonaws.com/123456789012/images", "ap-southeast-2"),
        ("https://queue.amazonaws.com/123456789012/images", "us-east-1"),
        ("http://127.0.0.1:4566/000000000000/images", None),
        ("https://sqs.eu-west-1.example.com/1/images", None),
    ],
)
def test_queue_region_from_its_url(url, region):
    assert queue_region(url) == region


def test_receive_delete_change_visibility_and_send(moto_url):
    queue = make_queue(moto_url, VisibilityTimeout="30")
    sqs = open_queue(Config.defaults(bucket="b", sqs_endpoint=moto_url), queue.url)
    assert sqs.attributes("VisibilityTimeout", "QueueArn") == {"VisibilityTimeout": "30", "QueueArn": queue.arn}
    by_arn = open_queue_arn(Config.defaults(bucket="b", sqs_endpoint=moto_url), queue.arn)
    by_arn.set_attributes({"VisibilityTimeout": "40"})
    assert by_arn.url == queue.url and sqs.attributes("VisibilityTimeout") == {"VisibilityTimeout": "40"}
    assert sqs.send_batch([f"body {i}" for i in range(10)]) == {}
    received = sqs.receive(wait_seconds=1) + sqs.receive(wait_seconds=1)
    assert sorted(m.body for m in received) == sorted(f"body {i}" for i in range(10))
    assert {m.receive_count for m in received} == {1}
    assert queue.counts() == (0, 10)

    assert sqs.change_visibility(received[:3], 0) == []  # visible again at once, received a second time
    again = sqs.receive(wait_seconds=1)
    assert sorted(m.body for m in again) == sorted(m.body for m in received[:3])
    assert {m.receive_count for m in again} == {2}
    for message in received[3:] + again:
        sqs.delete(message)
    assert queue.counts() == (0, 0)
    assert sqs.receive(wait_seconds=0) == []


def test_errors_are_translated(moto_url):
    config = Config.defaults(bucket="b", sqs_endpoint=moto_url, s3_max_attempts=1)
    missing = open_queue(config, f"{moto_url}/123456789012/no-such-queue")
    with pytest.raises(UpstreamError, match="does not exist"):
        missing.receive(wait_seconds=0)
    dead = f"http://127.0.0.1:{free_port()}"
    unreachable = open_queue(Config.defaults(bucket="b", sqs_endpoint=dead, s3_max_attempts=1), f"{dead}/1/q")
    with pytest.raises(UpstreamError, match="unreachable"):
        unreachable.attributes("QueueArn")


def test_a_stalled_queue_is_a_timeout(moto_url):
    queue = make_queue(moto_url)
    spy = S3Spy(moto_url)  # forwards SQS as well: its JSON requests are POSTs to /
    try:
        release = spy.stall("POST", "/")
        config = Config.defaults(bucket="b", sqs_endpoint=spy.url, s3_read_timeout=0.2, s3_max_attempts=1)
        sqs = Queue(make_client(config), queue.url)
        with pytest.raises(UpstreamTimeout):
            sqs.send_batch(["x"])
        release.set()
    finally:
        spy.close()
