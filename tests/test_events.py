"""proxy/tools/events.py: S3 event notifications and warm requests, parsed and classified without any call."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from proxy.tools import events
from proxy.tools.events import (
    KeyKind,
    Malformed,
    ObjectEvent,
    OtherEvent,
    WarmRequest,
    classify,
    parse,
    warm_message,
)

EXTENSIONS = ("jpg", "jpeg", "png", "webp", "gif")


def record(name: str, key: str, bucket: str = "images") -> dict:
    """A record as S3 writes it (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html)."""
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "eu-west-1",
        "eventTime": "2026-11-27T05:01:02.123Z",
        "eventName": name,
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "203.0.113.7"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "s3-resize-proxy-watch",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"}, "arn": "arn:aws:s3:::x"},
            "object": {
                "key": key,
                "size": 1024,
                "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                "sequencer": "0055AED6DCD9",
            },
        },
    }


def test_created_and_removed_records_with_keys_decoded_as_s3_encodes_them():
    body = json.dumps(
        {
            "Records": [
                record("ObjectCreated:Put", "photos/a+b%2Bc.jpg"),
                record("ObjectCreated:CompleteMultipartUpload", "%C3%A9t%C3%A9/100%25.png"),
                record("ObjectRemoved:DeleteMarkerCreated", "x%2Fy+.gif"),
            ]
        }
    )
    when = datetime(2026, 11, 27, 5, 1, 2, 123000, tzinfo=UTC)
    assert parse(body) == [
        ObjectEvent("images", "photos/a b+c.jpg", created=True, name="ObjectCreated:Put", time=when),
        ObjectEvent("images", "été/100%.png", created=True, name="ObjectCreated:CompleteMultipartUpload", time=when),
        ObjectEvent("images", "x/y .gif", created=False, name="ObjectRemoved:DeleteMarkerCreated", time=when),
    ]
    for unreadable in ("yesterday", "2026-11-27T05:01:02", 17):  # no zone, not a time: no time
        (event,) = parse(json.dumps({"Records": [{**record("ObjectCreated:Put", "a.jpg"), "eventTime": unreadable}]}))
        assert event.time is None


def test_test_event_other_event_types_and_warm_requests():
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-27T05:01:02Z", "Bucket": "images"}
    assert parse(json.dumps(test_event)) == [events.TestEvent("images")]  # not imported: pytest collects Test*
    assert parse(json.dumps({"Records": [record("ObjectTagging:Put", "a.jpg")]})) == [OtherEvent("ObjectTagging:Put")]
    body = warm_message("photos/été.jpg", ["200x200", "400x0_fit"])
    assert json.loads(body) == {"s3-resize-proxy": "warm", "key": "photos/été.jpg", "sizes": ["200x200", "400x0_fit"]}
    assert parse(body) == [WarmRequest("photos/été.jpg", ("200x200", "400x0_fit"))]


@pytest.mark.parametrize(
    "body",
    [
        "",
        "not json",
        "[1, 2]",
        "{}",
        '{"Records": []}',
        '{"Records": "no"}',
        '{"Records": [{"eventName": "ObjectCreated:Put"}]}',
        '{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": 7}}}]}',
        '{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": "%FF"}}}]}',
        '{"Records": [{"eventName": "ObjectRemoved:Delete", "s3": {"bucket": {"name": "b"}, "object": {"key": ""}}}]}',
        '{"s3-resize-proxy": "purge", "key": "a.jpg"}',
        '{"s3-resize-proxy": "warm", "sizes": ["1x1"]}',
        '{"s3-resize-proxy": "warm", "key": "a.jpg", "sizes": []}',
        '{"s3-resize-proxy": "warm", "key": "a.jpg", "sizes": [200]}',
    ],
)
def test_malformed_bodies(body):
    with pytest.raises(Malformed):
        parse(body)


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("earth.jpg", KeyKind.ORIGINAL),
        ("photos/Earth.JPG", KeyKind.ORIGINAL),
        ("a b+c.webp", KeyKind.ORIGINAL),
        ("earth_200x200_blur.jpg", KeyKind.ORIGINAL),  # shaped like a thumbnail, invalid: never one of ours
        ("photo.jpg.webp", KeyKind.ORIGINAL),  # a webp original whose stem ends in .jpg, not a variant
        ("earth_200x200.jpg", KeyKind.THUMBNAIL),
        ("photos/earth_400x0_fit@2x.png", KeyKind.THUMBNAIL),
        ("earth_200x200.jpg.avif", KeyKind.THUMBNAIL),  # a negotiated variant of earth_200x200.jpg
        ("earth_200x200.jpg.webp", KeyKind.THUMBNAIL),
        ("IMG_1024x768.jpg", KeyKind.THUMBNAIL),  # by name alone, a camera file is a thumbnail
        ("notes.txt", KeyKind.OTHER),
        ("logo.svg", KeyKind.OTHER),
        ("photo.avif", KeyKind.OTHER),  # not a --source-extensions extension
        ("folder.jpg/", KeyKind.OTHER),
        (".jpg", KeyKind.OTHER),
        ("README", KeyKind.OTHER),
    ],
)
def test_classify_by_name_alone(key, kind):
    assert classify(key, EXTENSIONS) is kind
