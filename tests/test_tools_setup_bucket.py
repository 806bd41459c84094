"""setup-bucket against moto's server, and conf/*.json kept equal to what it applies."""

from __future__ import annotations

import json

from proxy.cli import main
from proxy.tools import bucketconf
from tests.harness import ROOT

CONF = ROOT / "conf"


def setup(capsys, moto_url, bucket, *extra):
    code = main(["setup-bucket", f"--bucket={bucket}", f"--s3-endpoint={moto_url}", *extra])
    return code, capsys.readouterr().out


def test_conf_examples_are_the_generated_documents():
    example, resizer = "images.example.com", "resizer.example.com"
    assert json.loads((CONF / "website.json").read_text()) == bucketconf.website(resizer)
    assert json.loads((CONF / "bucket-policy.json").read_text()) == bucketconf.bucket_policy(example, "aws")
    assert json.loads((CONF / "lifecycle.json").read_text()) == bucketconf.lifecycle(30)
    assert json.loads((CONF / "iam-policy.json").read_text()) == bucketconf.iam_policy(example, "aws")


def test_partitions():
    assert bucketconf.partition("us-east-1") == "aws"
    assert bucketconf.partition("eu-west-3") == "aws"
    assert bucketconf.partition("cn-north-1") == "aws-cn"
    assert bucketconf.partition("cn-northwest-1") == "aws-cn"
    assert bucketconf.partition("us-gov-west-1") == "aws-us-gov"


def test_applies_everything_then_is_idempotent(capsys, moto_url, s3, bucket):
    s3.put_bucket_lifecycle_configuration(  # someone else's rule: must survive
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [{"ID": "old-logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 7}}]
        },
    )
    code, out = setup(
        capsys, moto_url, bucket, "--resizer-host=resizer.example.com:8080", "--public-read", "--expire-days=14"
    )
    assert code == 0
    rule = s3.get_bucket_website(Bucket=bucket)["RoutingRules"][0]
    assert rule["Condition"] == {"HttpErrorCodeReturnedEquals": "404"}
    assert rule["Redirect"]["HostName"] == "resizer.example.com:8080"
    assert rule["Redirect"]["ReplaceKeyPrefixWith"] == "resize.php?src="
    assert rule["Redirect"]["HttpRedirectCode"] == "302"
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert policy["Statement"][0]["Resource"] == f"arn:aws:s3:::{bucket}/*"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block["BlockPublicPolicy"] is False and block["RestrictPublicBuckets"] is False
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert set(rules) == {"old-logs", "expire-thumbnails"}
    assert rules["expire-thumbnails"]["Expiration"] == {"Days": 14}
    assert rules["expire-thumbnails"]["Filter"]["Tag"] == {"Key": "thumbnail", "Value": "true"}
    iam = json.loads(out[out.index("IAM policy") :].split(":\n", 1)[1].rsplit("\nsetup-bucket", 1)[0])
    assert iam == bucketconf.iam_policy(bucket, "aws")
    assert "changed 4 setting(s)" in out

    code, again = setup(
        capsys, moto_url, bucket, "--resizer-host=resizer.example.com:8080", "--public-read", "--expire-days=14"
    )
    assert code == 0
    assert "website: unchanged" in again and "bucket policy: unchanged" in again and "lifecycle: unchanged" in again
    assert "public access block: unchanged" in again and "up to date" in again

    code, changed = setup(capsys, moto_url, bucket, "--resizer-host=resizer2.example.com", "--expire-days=30")
    assert "website: applying" in changed and "lifecycle: applying" in changed
    rules = s3.get_bucket_website(Bucket=bucket)["RoutingRules"]
    assert [r["Redirect"]["HostName"] for r in rules] == ["resizer2.example.com"]


def test_dry_run_changes_nothing_and_prints_documents(capsys, moto_url, s3, bucket):
    code, out = setup(
        capsys, moto_url, bucket, "--resizer-host=resizer.example.com", "--public-read", "--expire-days=30", "--dry-run"
    )
    assert code == 0
    assert "website: would apply" in out and '"ReplaceKeyPrefixWith": "resize.php?src="' in out
    assert f'"Resource": "arn:aws:s3:::{bucket}/*"' in out and '"Days": 30' in out
    assert "would change 4 setting(s)" in out
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    for read in (s3.get_bucket_website, s3.get_bucket_policy, s3.get_bucket_lifecycle_configuration):
        try:
            read(Bucket=bucket)
        except s3.exceptions.ClientError:
            continue
        raise AssertionError(f"{read.__name__} found a configuration after a dry run")


def test_china_region_uses_aws_cn_partition(capsys, moto_url):
    code, out = setup(
        capsys,
        moto_url,
        "images-cn-test",
        "--region=cn-north-1",
        "--resizer-host=resizer.example.cn",
        "--public-read",
        "--dry-run",
    )
    assert code == 0
    assert "would create in cn-north-1" in out
    assert "arn:aws-cn:s3:::images-cn-test/*" in out and "arn:aws:" not in out


def test_bad_host_is_refused(capsys, moto_url, bucket):
    code = main(["setup-bucket", f"--bucket={bucket}", f"--s3-endpoint={moto_url}", "--resizer-host=http://x/y"])
    assert code == 2
    assert "not HOST or HOST:PORT" in capsys.readouterr().err


def document_after(out: str, heading: str) -> dict:
    """The JSON document printed right after the line that starts with ``heading``."""
    start = out.index("\n", out.index(heading)) + 1
    return json.JSONDecoder().raw_decode(out, start)[0]


def test_events_conf_examples_are_the_generated_documents():
    example, arn = "images.example.com", bucketconf.EXAMPLE_QUEUE_ARN
    assert json.loads((CONF / "notification.json").read_text()) == bucketconf.notifications(arn)
    assert json.loads((CONF / "queue-policy.json").read_text()) == bucketconf.queue_policy(arn, example, "aws")
    assert json.loads((CONF / "iam-policy-watch.json").read_text()) == bucketconf.watch_iam_policy(example, arn, "aws")


def test_events_queue_is_merged_idempotent_and_honours_dry_run(capsys, moto_url, s3, bucket):
    from tests.queues import make_queue

    queue, other = make_queue(moto_url), make_queue(moto_url)
    theirs = {"Id": "restores", "QueueArn": other.arn, "Events": ["s3:ObjectRestore:Completed"]}
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [theirs]})
    other.drain()
    admins = {"Sid": "Admins", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}
    admins |= {"Action": ["sqs:*"], "Resource": queue.arn}
    queue.client.set_queue_attributes(
        QueueUrl=queue.url, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [admins]})}
    )
    args = ["--resizer-host=resizer.example.com", f"--events-queue={queue.arn}", f"--sqs-endpoint={moto_url}"]

    def queue_policy():
        return json.loads(
            queue.client.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["Policy"])["Attributes"]["Policy"]
        )

    code, out = setup(capsys, moto_url, bucket, *args, "--dry-run")
    assert code == 0 and "queue policy: would apply" in out and "notifications: would apply" in out
    events = bucketconf.notifications(queue.arn, {"QueueConfigurations": [theirs]})
    assert document_after(out, "notifications: would apply") == events
    assert s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"] == [theirs]
    assert queue_policy()["Statement"] == [admins]
    assert queue.counts() == (0, 0)

    code, out = setup(capsys, moto_url, bucket, *args)
    assert code == 0 and "queue policy: applying" in out and "notifications: applying" in out
    allowed = bucketconf.queue_policy(queue.arn, bucket, "aws", {"Statement": [admins]})
    assert queue_policy() == allowed == document_after(out, "queue policy: applying")
    assert allowed["Statement"][0] == admins and allowed["Statement"][1]["Principal"] == {"Service": "s3.amazonaws.com"}
    assert document_after(out, "IAM policy for watch") == bucketconf.watch_iam_policy(bucket, queue.arn, "aws")
    configured = {q["Id"]: q for q in s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]}
    assert configured["restores"] == theirs
    assert configured["s3-resize-proxy-watch"]["QueueArn"] == queue.arn
    assert configured["s3-resize-proxy-watch"]["Events"] == ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
    assert [json.loads(body)["Event"] for body in queue.drain()] == ["s3:TestEvent"]  # S3 can send to it

    code, again = setup(capsys, moto_url, bucket, *args)
    assert code == 0 and "queue policy: unchanged" in again and "notifications: unchanged" in again
    assert "up to date" in again
    s3.put_object(Bucket=bucket, Key="earth.jpg", Body=b"x")
    assert [json.loads(body)["Records"][0]["eventName"] for body in queue.drain()] == ["ObjectCreated:Put"]


def test_events_queue_arn_is_checked(capsys, moto_url, bucket):
    base = ["setup-bucket", f"--bucket={bucket}", f"--s3-endpoint={moto_url}", "--resizer-host=r.example.com"]
    assert main([*base, "--events-queue=arn:aws:sns:us-east-1:123456789012:x"]) == 2
    assert "not an SQS queue ARN" in capsys.readouterr().err
    assert main([*base, "--events-queue=arn:aws:sqs:eu-west-1:123456789012:events"]) == 2
    assert "the queue is in eu-west-1, the bucket in us-east-1" in capsys.readouterr().err
    assert (
        main([*base, "--events-queue=arn:aws:sqs:us-east-1:123456789012:no-such-queue", f"--sqs-endpoint={moto_url}"])
        == 2
    )
    assert "--events-queue: the queue does not exist" in capsys.readouterr().err
