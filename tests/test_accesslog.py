from datetime import UTC, datetime

from proxy.accesslog import AccessEntry, format_json, format_text, parse


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
