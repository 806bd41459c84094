"""The bucket documents setup-bucket applies and conf/*.json shows: generated here, from one place.

``conf/*.json`` are these documents for the example bucket ``images.example.com``, resizer
``resizer.example.com`` and 30 days (tests/test_tools_setup_bucket.py keeps them equal).
"""

from __future__ import annotations

from typing import Any

from proxy import stored

RESIZER_PATH = "resize.php?src="
LIFECYCLE_RULE_ID = "expire-thumbnails"
PUBLIC_READ_SID = "PublicReadForWebsiteTopology"


def partition(region: str) -> str:
    """The ARN partition of a region: ``aws-cn`` for China, ``aws-us-gov`` for GovCloud, else ``aws``."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def redirect_rule(resizer_host: str, protocol: str = "http") -> dict[str, Any]:
    """On S3's 404, 302 to ``<protocol>://<host[:port]>/resize.php?src=<key>``."""
    return {
        "Condition": {"HttpErrorCodeReturnedEquals": "404"},
        "Redirect": {
            "Protocol": protocol,
            "HostName": resizer_host,
            "ReplaceKeyPrefixWith": RESIZER_PATH,
            "HttpRedirectCode": "302",
        },
    }


def is_redirect_rule(rule: dict[str, Any]) -> bool:
    return bool(rule.get("Redirect", {}).get("ReplaceKeyPrefixWith") == RESIZER_PATH)


def website(resizer_host: str, protocol: str = "http", current: dict[str, Any] | None = None) -> dict[str, Any]:
    """The website configuration: ``current``'s documents and other rules kept, our rule replaced or added."""
    current = current or {}
    config: dict[str, Any] = {"IndexDocument": current.get("IndexDocument") or {"Suffix": "index.html"}}
    if current.get("ErrorDocument"):
        config["ErrorDocument"] = current["ErrorDocument"]
    rules = [rule for rule in current.get("RoutingRules") or [] if not is_redirect_rule(rule)]
    config["RoutingRules"] = [*rules, redirect_rule(resizer_host, protocol)]
    return config


def public_read_statement(bucket: str, part: str) -> dict[str, Any]:
    return {
        "Sid": PUBLIC_READ_SID,
        "Effect": "Allow",
        "Principal": "*",
        "Action": ["s3:GetObject"],
        "Resource": f"arn:{part}:s3:::{bucket}/*",
    }


def bucket_policy(bucket: str, part: str, current: dict[str, Any] | None = None) -> dict[str, Any]:
    """The bucket policy with our public-read statement replaced or added; other statements kept."""
    statements = [s for s in (current or {}).get("Statement", []) if s.get("Sid") != PUBLIC_READ_SID]
    return {"Version": "2012-10-17", "Statement": [*statements, public_read_statement(bucket, part)]}


def public_access_block(current: dict[str, Any] | None = None) -> dict[str, Any]:
    """Allow a public bucket policy (needed for public read); ACL blocking stays as it was (on by default)."""
    current = current or {}
    return {
        "BlockPublicAcls": current.get("BlockPublicAcls", True),
        "IgnorePublicAcls": current.get("IgnorePublicAcls", True),
        "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False,
    }


def expire_rule(days: int) -> dict[str, Any]:
    return {
        "ID": LIFECYCLE_RULE_ID,
        "Status": "Enabled",
        "Filter": stored.lifecycle_filter(),
        "Expiration": {"Days": days},
    }


def lifecycle(days: int, current: dict[str, Any] | None = None) -> dict[str, Any]:
    """The lifecycle configuration with our thumbnail rule replaced or added; other rules kept."""
    rules = [rule for rule in (current or {}).get("Rules", []) if rule.get("ID") != LIFECYCLE_RULE_ID]
    return {"Rules": [*rules, expire_rule(days)]}


def iam_policy(bucket: str, part: str) -> dict[str, Any]:
    """What the proxy (and warm) needs; ListBucket makes a missing key a 404 rather than a 403."""
    objects, whole = f"arn:{part}:s3:::{bucket}/*", f"arn:{part}:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ReadOriginalsAndThumbnails", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": objects},
            {
                "Sid": "StoreThumbnails",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:PutObjectTagging"],
                "Resource": objects,
            },
            {
                "Sid": "ListSoMissingKeysAre404Not403",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": whole,
            },
        ],
    }


EVENTS_ID = "s3-resize-proxy-watch"  # the Id of our queue configuration in the bucket's notification configuration
EVENTS = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
EXAMPLE_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:images-example-com-events"  # conf/*.json's queue


def notifications(queue_arn: str, current: dict[str, Any] | None = None) -> dict[str, Any]:
    """The notification configuration sending created and removed events to ``queue_arn`` (for watch):
    ``current``'s other queue, topic, Lambda and EventBridge configurations kept, ours replaced or added."""
    config = dict(current or {})
    queues = [q for q in config.get("QueueConfigurations") or [] if q.get("Id") != EVENTS_ID]
    config["QueueConfigurations"] = [*queues, {"Id": EVENTS_ID, "QueueArn": queue_arn, "Events": EVENTS}]
    return config


QUEUE_SID = "BucketEventsFromS3"


def queue_policy(queue_arn: str, bucket: str, part: str, current: dict[str, Any] | None = None) -> dict[str, Any]:
    """The queue policy with our statement replaced or added (other statements kept): S3 may send this bucket's
    events, and no other bucket's, to the queue. The account is the queue's (the bucket's owner: S3 sends
    events only to a queue of the bucket's region, usually of its account)."""
    statements = [s for s in (current or {}).get("Statement", []) if s.get("Sid") != QUEUE_SID]
    return {
        "Version": "2012-10-17",
        "Statement": [
            *statements,
            {
                "Sid": QUEUE_SID,
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": ["sqs:SendMessage"],
                "Resource": queue_arn,
                "Condition": {
                    "ArnLike": {"aws:SourceArn": f"arn:{part}:s3:::{bucket}"},
                    "StringEquals": {"aws:SourceAccount": queue_arn.split(":")[4]},
                },
            },
        ],
    }


def watch_iam_policy(bucket: str, queue_arn: str, part: str) -> dict[str, Any]:
    """What ``watch`` needs: read the queue, and read, list, write and delete thumbnails in the bucket."""
    objects, whole = f"arn:{part}:s3:::{bucket}/*", f"arn:{part}:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadTheEventQueue",
                "Effect": "Allow",
                "Action": [
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes",
                ],
                "Resource": queue_arn,
            },
            {
                "Sid": "ReadOriginalsAndThumbnails",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:GetObjectTagging"],
                "Resource": objects,
            },
            {
                "Sid": "StoreAndDeleteThumbnails",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:PutObjectTagging", "s3:DeleteObject"],
                "Resource": objects,
            },
            {"Sid": "ListThumbnailsOfAnOriginal", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": whole},
        ],
    }
