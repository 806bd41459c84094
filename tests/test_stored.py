"""The stored-thumbnail contract (proxy/stored.py): what a write carries and how an object is recognised."""

from __future__ import annotations

from proxy import stored
from proxy.tools import bucketconf


def test_a_thumbnail_write_carries_tag_metadata_class_and_cache_control():
    params = stored.thumbnail_write(
        content_type="image/webp",
        source_key="photos/été 1.jpg",
        source_etag='"abc"',
        cache_control="public, max-age=60",
        storage_class="STANDARD",
    )
    assert (params.content_type, params.cache_control, params.storage_class) == (
        "image/webp",
        "public, max-age=60",
        "STANDARD",
    )
    assert params.tagging == "thumbnail=true"
    assert dict(params.metadata) == {
        "generator": "s3-resize-proxy",
        "source-key": "photos/%C3%A9t%C3%A9%201.jpg",
        "source-etag": "abc",
    }
    assert all(value.isascii() for value in params.metadata.values())  # S3 metadata travels as headers


def test_what_is_written_is_what_is_recognised():
    params = stored.thumbnail_write(
        content_type="image/jpeg", source_key="a/ü.jpg", source_etag='"e1"', cache_control="x", storage_class="y"
    )
    made = stored.source_of(dict(params.metadata))
    assert made == stored.Generated("a/ü.jpg", "e1")
    key, _, value = params.tagging.partition("=")
    assert stored.is_tagged([{"Key": "other", "Value": "1"}, {"Key": key, "Value": value}])


def test_objects_not_ours_are_not_recognised():
    assert stored.source_of({}) is None
    assert stored.source_of({"generator": "someone-else", "source-key": "a.jpg"}) is None
    assert stored.source_of({"generator": stored.GENERATOR}) is None
    assert not stored.is_tagged([])
    assert not stored.is_tagged([{"Key": "thumbnail", "Value": "false"}])


def test_the_lifecycle_rule_expires_exactly_what_the_write_tags():
    rule = bucketconf.expire_rule(30)
    tag = rule["Filter"]["Tag"]
    assert f"{tag['Key']}={tag['Value']}" == stored.TAGGING
    assert stored.is_tagged([tag])


def test_metadata_keys_are_ascii_percent_encoded_only_where_needed_and_decode_back():
    for key, encoded in (
        ("photos/été 100%/a.jpg", "photos/%C3%A9t%C3%A9%20100%25/a.jpg"),
        ("plain/key_(1)@2x.jpg", "plain/key_(1)@2x.jpg"),
        ("tab\there", "tab%09here"),
    ):
        assert stored.metadata_key(key) == encoded and encoded.isascii()
        assert stored.key_from_metadata(encoded) == key
