from datetime import UTC, datetime

from proxy.observe.accesslog import FIELDS, AccessEntry, format_json, format_text, parse


def entry(**changes):
    values = dict(
        time=datetime(2026, 11, 27, 5, 1, 2, 123000, tzinfo=UTC),
        client="203.0.113.7",
        method="GET",
        key="photos/my photo_200x200.jpg",
        status=200,
        bytes=3811,
        cache="rendered",
        render_ms=84.2,
        total_ms=101.5,
        request_id="9f2c4e1a",
    )
    values.update(changes)
    return AccessEntry(**values)


def test_text_round_trip_and_shape():
    line = format_text(entry())
    assert line == (
        "2026-11-27T05:01:02.123Z 203.0.113.7 GET photos/my%20photo_200x200.jpg 200 3811 rendered 84.2 101.5 9f2c4e1a"
    )
    assert parse(line) == entry()


def test_json_round_trip_and_empty_fields():
    e = entry(render_ms=None, cache="memory", request_id="")
    assert parse(format_json(e)) == e
    assert parse(format_text(e)) == e


def test_foreign_lines_are_not_entries():
    assert parse("") is None
    assert parse("79a5 mybucket [06/Feb/2019:00:00:38 +0000] 192.0.2.3 ...") is None
    assert parse("{not json") is None


# ---- the server writes it ------------------------------------------------------------------------------


def lines_of(path) -> list:
    return [parse(line) for line in path.read_text().splitlines()]


def test_server_writes_one_parseable_line_per_request(start_proxy, s3, bucket, http, tmp_path):
    from tests.images import quadrants

    log_path = tmp_path / "access.log"
    proxy = start_proxy(access_log=str(log_path))
    s3.put_object(Bucket=bucket, Key="my photo.jpg", Body=quadrants(300, 200), ContentType="image/jpeg")
    rendered = http.get(f"{proxy.url}/my%20photo_80x80.jpg", headers={"X-Request-Id": "lb-1234"})
    assert rendered.headers["X-Request-Id"] == "lb-1234"
    memory = http.get(f"{proxy.url}/my%20photo_80x80.jpg")
    missing = http.get(f"{proxy.url}/resize.php", params={"src": "gone_10x10.jpg"}, headers={"X-Request-Id": "x y"})
    bad = http.get(f"{proxy.url}/a_0x0.jpg")
    http.get(f"{proxy.url}/healthz")  # admin endpoints are not logged
    proxy.stop()  # closes the log file

    first, second, third, fourth = lines_of(log_path)
    assert (first.method, first.key, first.status, first.cache) == ("GET", "my photo_80x80.jpg", 200, "rendered")
    assert first.bytes == len(rendered.content) and first.request_id == "lb-1234"
    assert first.render_ms is not None and first.total_ms >= first.render_ms > 0
    assert first.client == "127.0.0.1"
    assert (second.cache, second.render_ms, second.bytes) == ("memory", None, len(memory.content))
    assert second.request_id == memory.headers["X-Request-Id"] and len(second.request_id) == 16
    assert (third.key, third.status, third.cache) == ("gone_10x10.jpg", 404, "error")
    assert third.request_id == missing.headers["X-Request-Id"] != "x y"  # an unsafe id is replaced
    assert (fourth.status, fourth.cache, fourth.request_id) == (400, "error", bad.headers["X-Request-Id"])
    assert "my%20photo_80x80.jpg" in log_path.read_text()  # the text format never has a space in the key


def test_json_access_log(start_proxy, s3, bucket, http, tmp_path):
    import json

    log_path = tmp_path / "access.json"
    proxy = start_proxy(access_log=str(log_path), access_log_format="json")
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"hello", ContentType="text/plain")
    response = http.head(f"{proxy.url}/a.txt")
    proxy.stop()
    (line,) = log_path.read_text().splitlines()
    record = json.loads(line)
    assert set(record) == set(FIELDS)
    assert (record["method"], record["key"], record["status"], record["bytes"]) == ("HEAD", "a.txt", 200, 0)
    assert record["cache"] == "s3" and record["request_id"] == response.headers["X-Request-Id"]


def test_logged_key_is_the_key_answered(start_proxy, http, tmp_path):
    log_path = tmp_path / "access.log"
    proxy = start_proxy(access_log=str(log_path))
    assert http.get(f"{proxy.url}/caf%C3%A9_10x10.jpg").status_code == 404
    assert http.get(f"{proxy.url}/resize.php", params={"src": "na\u00efve.png"}).status_code == 404
    proxy.stop()
    assert [entry.key for entry in lines_of(log_path)] == ["caf\u00e9_10x10.jpg", "na\u00efve.png"]
