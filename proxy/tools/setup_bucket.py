"""``setup-bucket``: website 404 -> 302 rule, optional public read, thumbnail expiry and events for ``watch``;
prints the IAM policies.

Idempotent: each document is read first, merged (other rules and statements are kept) and written only when
it differs. ``--dry-run`` prints every document it would apply and changes nothing.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from proxy.config import Config, Scope, option_names
from proxy.errors import ProxyError
from proxy.storage import sqs
from proxy.tools import bucket as b
from proxy.tools import bucketconf as conf

_QUEUE_ARN = re.compile(r"arn:aws[a-z-]*:sqs:(?P<region>[a-z0-9-]+):\d{12}:[\w-]{1,80}")
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?$")
_ABSENT = (
    "NoSuchWebsiteConfiguration",
    "NoSuchBucketPolicy",
    "NoSuchLifecycleConfiguration",
    "NoSuchPublicAccessBlockConfiguration",
)


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "setup-bucket",
        help="Configure the bucket's website redirect, public read and thumbnail expiry.",
        description="Apply (or with --dry-run print) the S3 website configuration whose 404 -> 302 rule sends "
        "missing keys to resize.php?src= on the resizer, a public-read bucket policy (--public-read), and a "
        "lifecycle rule expiring objects tagged thumbnail=true (--expire-days). Prints the IAM policy the proxy "
        "needs. Safe to run again.",
    )
    parser.add_argument("--resizer-host", required=True, metavar="HOST[:PORT]", help="Where S3 redirects misses.")
    parser.add_argument(
        "--resizer-protocol", choices=("http", "https"), default="http", help="Redirect protocol. Default: http."
    )
    parser.add_argument("--public-read", action="store_true", help="Public GetObject policy (website topology).")
    parser.add_argument(
        "--expire-days", type=b.positive, metavar="N", help="Expire thumbnail=true objects after N days."
    )
    parser.add_argument(
        "--events-queue",
        metavar="ARN",
        help="Send the bucket's created and removed events to this SQS queue, for watch (and let S3 send to it).",
    )
    parser.add_argument("--dry-run", action="store_true", help="Print what would be applied; change nothing.")
    b.add_s3_options(parser, *option_names(Scope.QUEUE))  # for --events-queue
    parser.set_defaults(run=b.guarded(run))


def run(args: argparse.Namespace) -> int:
    if not _HOST.match(args.resizer_host):
        raise b.ToolError(f"--resizer-host: {args.resizer_host!r} is not HOST or HOST:PORT")
    config = b.load_config(args)
    part = conf.partition(config.region)
    if args.events_queue:
        _check_queue(args.events_queue, config.region)
    s3 = b.client(config)
    bucket = config.bucket
    changed = 0
    if not _bucket_exists(s3, bucket):
        print(f"bucket {bucket}: {'would create' if args.dry_run else 'creating'} in {config.region}")
        if not args.dry_run:
            params: dict[str, Any] = {"Bucket": bucket}
            if config.region != "us-east-1":
                params["CreateBucketConfiguration"] = {"LocationConstraint": config.region}
            s3.create_bucket(**params)
        changed += 1
        exists = False
    else:
        exists = True

    def step(name: str, current: dict[str, Any] | None, desired: dict[str, Any], apply: Callable[[], Any]) -> None:
        nonlocal changed
        if current is not None and _same(current, desired):
            print(f"{name}: unchanged")
            return
        changed += 1
        print(f"{name}: {'would apply' if args.dry_run else 'applying'}\n{_dump(desired)}")
        if not args.dry_run:
            apply()

    current_site = _get(exists, lambda: s3.get_bucket_website(Bucket=bucket))
    site = conf.website(args.resizer_host, args.resizer_protocol, current_site)
    step("website", current_site, site, lambda: s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=site))
    if args.public_read:
        current_block = _get(exists, lambda: s3.get_public_access_block(Bucket=bucket))
        block_now = (current_block or {}).get("PublicAccessBlockConfiguration")
        block = conf.public_access_block(block_now)
        step(
            "public access block",
            block_now,
            block,
            lambda: s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=block),
        )
        current_policy = _get(exists, lambda: s3.get_bucket_policy(Bucket=bucket))
        policy_now = json.loads(current_policy["Policy"]) if current_policy else None
        policy = conf.bucket_policy(bucket, part, policy_now)
        step(
            "bucket policy", policy_now, policy, lambda: s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
        )
    if args.expire_days is not None:
        current_rules = _get(exists, lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket))
        rules_now = {"Rules": current_rules["Rules"]} if current_rules else None
        rules = conf.lifecycle(args.expire_days, rules_now)
        step(
            "lifecycle",
            rules_now,
            rules,
            lambda: s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=rules),
        )
    if args.events_queue:  # the queue policy first: S3 checks that it may send when the events are set
        queue = _open_queue(config, args.events_queue)
        text = queue.attributes("Policy").get("Policy")
        allowed_now = json.loads(text) if text else None
        allowed = conf.queue_policy(args.events_queue, bucket, part, allowed_now)
        step("queue policy", allowed_now, allowed, lambda: queue.set_attributes({"Policy": json.dumps(allowed)}))
        current_events = _get(exists, lambda: s3.get_bucket_notification_configuration(Bucket=bucket))
        events = conf.notifications(args.events_queue, current_events)
        step("notifications", current_events, events, lambda: _put_notifications(s3, bucket, events))
    print(f"IAM policy for the proxy (partition {part}):\n{_dump(conf.iam_policy(bucket, part))}")
    if args.events_queue:
        print(f"IAM policy for watch:\n{_dump(conf.watch_iam_policy(bucket, args.events_queue, part))}")
    verb = "would change" if args.dry_run else "changed"
    print(f"setup-bucket: {bucket}: {verb} {changed} setting(s)" if changed else f"setup-bucket: {bucket}: up to date")
    return 0


def _check_queue(arn: str, region: str) -> None:
    match = _QUEUE_ARN.fullmatch(arn)
    if match is None:
        raise b.ToolError(f"--events-queue: {arn!r} is not an SQS queue ARN (arn:aws:sqs:REGION:ACCOUNT:NAME)")
    if match["region"] != region:
        raise b.ToolError(f"--events-queue: the queue is in {match['region']}, the bucket in {region} (--region)")


def _open_queue(config: Config, arn: str) -> sqs.Queue:
    try:
        return sqs.open_queue_arn(config, arn)
    except ProxyError as exc:
        raise b.ToolError(f"--events-queue: {exc.reason}") from None


def _put_notifications(s3: Any, bucket: str, events: dict[str, Any]) -> None:
    try:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=events)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "InvalidArgument":
            raise
        # S3 sends a test event first and refuses a queue it may not send to (or events that overlap another's).
        raise b.ToolError(f"S3 refused the events queue: {exc.response['Error'].get('Message', '')}") from None


def _bucket_exists(s3: Any, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
            return False
        raise


def _get(exists: bool, read: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
    """A bucket sub-resource, or None when it is not set (or the bucket does not exist yet)."""
    if not exists:
        return None
    try:
        response = read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _ABSENT:
            return None
        raise
    response.pop("ResponseMetadata", None)
    return response


def _same(current: Any, desired: Any) -> bool:
    """Equal as S3 documents: S3 may add empty fields and reorder nothing else we rely on."""
    return _normal(current) == _normal(desired)


def _normal(value: Any) -> Any:
    """What S3 and IAM treat as the same: ``["a"]`` and ``"a"``, ``{"AWS": "*"}`` and ``"*"``, empty fields."""
    if isinstance(value, dict):
        if value == {"AWS": "*"}:
            return "*"
        return {k: _normal(v) for k, v in value.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        return _normal(value[0]) if len(value) == 1 and not isinstance(value[0], dict) else [_normal(v) for v in value]
    return value


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2)
