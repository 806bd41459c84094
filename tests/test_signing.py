"""Signed URLs: the HMAC, key rotation, where the check sits in the request path, and the ``sign`` command."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from proxy import signing
from proxy.cli import main
from proxy.config import Config, ConfigError, load
from tests.harness import put
from tests.images import opened, quadrants

KEY = "0123456789abcdef-current"
OLD = "0123456789abcdef-previous"
RETIRED = "0123456789abcdef-retired"


def test_signature_is_unpadded_urlsafe_hmac_sha256_of_the_key():
    # Computed independently: printf %s earth_200x200.jpg | openssl dgst -sha256 -hmac 0123456789abcdef -binary
    #   | base64 | tr '+/' '-_' | tr -d '='
    assert signing.sign("earth_200x200.jpg", "0123456789abcdef") == "65OzM5TO-1_8qN56NUqx0UmDPKz4_Ffzspauz-xmfGE"


def test_every_configured_key_verifies():
    sig = signing.sign("a_1x1.jpg", OLD)
    assert signing.is_valid("a_1x1.jpg", sig, (KEY, OLD))
    assert signing.is_valid("a_1x1.jpg", sig + "=", (KEY, OLD))  # padding is tolerated
    assert not signing.is_valid("a_1x1.jpg", sig, (KEY,))
    assert not signing.is_valid("b_1x1.jpg", sig, (KEY, OLD))
    assert not signing.is_valid("a_1x1.jpg", sig[:-1], (KEY, OLD))
    assert not signing.is_valid("a_1x1.jpg", "é" * 43, (KEY, OLD))  # not ASCII: refused, not an exception


def test_signing_options_are_validated():
    assert load({"bucket": "b", "signing-key": f"{KEY},{OLD}"}, environ={}).signing_key == (KEY, OLD)
    with pytest.raises(ConfigError, match="16 characters") as short:
        load({"bucket": "b", "signing-key": f"{KEY},secret"}, environ={})
    assert "secret" not in str(short.value)  # a key is never echoed, even a bad one
    assert KEY not in repr(Config.defaults(bucket="b", signing_key=(KEY,)))
    with pytest.raises(ConfigError, match="needs --signing-key"):
        Config.defaults(bucket="b", sign_originals=True)


@pytest.fixture
def signed_proxy(start_proxy, s3, bucket):
    put(s3, bucket, "earth.jpg", quadrants(400, 400))
    return start_proxy(signing_key=(KEY, OLD))


def test_signed_thumbnail_is_made_and_stored(signed_proxy, s3, bucket, http):
    response = http.get(f"{signed_proxy.url}/earth_100x100.jpg", params={"sig": signing.sign("earth_100x100.jpg", KEY)})
    assert response.status_code == 200 and opened(response.content).size == (100, 100)
    signed_proxy.flush()
    assert s3.head_object(Bucket=bucket, Key="earth_100x100.jpg")["ContentLength"] == len(response.content)


def test_rotated_key_still_verifies_and_retired_key_does_not(signed_proxy, http):
    old = http.get(f"{signed_proxy.url}/earth_90x90.jpg", params={"sig": signing.sign("earth_90x90.jpg", OLD)})
    assert old.status_code == 200
    retired = http.get(f"{signed_proxy.url}/earth_80x80.jpg", params={"sig": signing.sign("earth_80x80.jpg", RETIRED)})
    assert retired.status_code == 403


def test_missing_signature_renders_nothing(signed_proxy, spy, http):
    for url in (f"{signed_proxy.url}/earth_100x100.jpg", f"{signed_proxy.url}/earth_100x100.jpg?sig="):
        response = http.get(url)
        assert response.status_code == 403, url
        assert response.headers["Cache-Control"] == "no-store"
    assert http.head(f"{signed_proxy.url}/earth_100x100.jpg").status_code == 403
    signed_proxy.flush()
    assert spy.count("GET", "/earth.jpg") == 0
    assert spy.count("PUT", "") == 0


def test_bad_signature_costs_no_s3_call(signed_proxy, s3, bucket, spy, http):
    put(s3, bucket, "banner_728x90.jpg", b"an original named like a thumbnail")
    for key, sig in (
        ("earth_100x100.jpg", signing.sign("earth_200x200.jpg", KEY)),  # another key's signature
        ("earth_100x100.jpg", "A" * 43),
        ("earth_100x100.jpg", "not base64 at all!"),
        ("banner_728x90.jpg", "A" * 43),  # exists, but a wrong signature is refused all the same
        ("earth.jpg", "A" * 43),
    ):
        response = http.get(f"{signed_proxy.url}/{key}", params={"sig": sig})
        assert response.status_code == 403, (key, sig)
        assert response.text == "invalid signature\n"
    assert spy.seen == []


def test_existing_objects_are_served_unsigned(signed_proxy, s3, bucket, spy, http):
    put(s3, bucket, "banner_728x90.jpg", b"an original named like a thumbnail")
    banner = http.get(f"{signed_proxy.url}/banner_728x90.jpg")
    assert banner.status_code == 200 and banner.content == b"an original named like a thumbnail"
    assert http.get(f"{signed_proxy.url}/earth.jpg").status_code == 200  # originals: unaffected
    # A thumbnail made once (signed) is an object like any other from then on.
    made = http.get(f"{signed_proxy.url}/earth_70x70.jpg", params={"sig": signing.sign("earth_70x70.jpg", KEY)})
    assert made.status_code == 200
    signed_proxy.flush()
    again = http.get(f"{signed_proxy.url}/earth_70x70.jpg")
    assert again.status_code == 200 and again.content == made.content
    assert spy.count("GET", "/banner.jpg") == 0


def test_signature_does_not_bypass_the_size_policy(start_proxy, s3, bucket, spy, http):
    put(s3, bucket, "earth.jpg", quadrants(400, 400))
    proxy = start_proxy(signing_key=(KEY,), allowed_sizes=((100, 100),), max_dimension=1000)
    for key, status in (("earth_150x150.jpg", 403), ("earth_1001x10.jpg", 400)):
        assert http.get(f"{proxy.url}/{key}", params={"sig": signing.sign(key, KEY)}).status_code == status
    assert spy.count("GET", "/earth.jpg") == 0


def test_resize_php_takes_the_same_signature(signed_proxy, http):
    key = "earth_60x40.jpg"
    assert http.get(f"{signed_proxy.url}/resize.php", params={"src": key}).status_code == 403
    bad = http.get(f"{signed_proxy.url}/resize.php", params={"src": key, "sig": signing.sign("x.jpg", KEY)})
    assert bad.status_code == 403
    good = http.get(f"{signed_proxy.url}/resize.php", params={"src": key, "sig": signing.sign(key, KEY)})
    assert good.status_code == 200 and opened(good.content).size == (60, 40)


def test_sign_originals_requires_a_signature_on_every_key(start_proxy, s3, bucket, spy, http):
    put(s3, bucket, "earth.jpg", quadrants(100, 100))
    proxy = start_proxy(signing_key=(KEY,), sign_originals=True)
    assert http.get(f"{proxy.url}/earth.jpg").status_code == 403
    assert http.get(f"{proxy.url}/missing.jpg").status_code == 403
    assert spy.seen == []
    assert http.get(f"{proxy.url}/earth.jpg", params={"sig": signing.sign("earth.jpg", KEY)}).status_code == 200
    # Once in memory, an object is still not served without a signature.
    assert http.get(f"{proxy.url}/earth.jpg").status_code == 403


def test_unsigned_when_signing_is_off(proxy, s3, bucket, http):
    put(s3, bucket, "earth.jpg", quadrants(100, 100))
    assert http.get(f"{proxy.url}/earth_10x10.jpg", params={"sig": "ignored"}).status_code == 200


def test_sign_command_prints_a_url_the_proxy_accepts(signed_proxy, capsys, http):
    assert main(["sign", "earth_50x50.jpg", "--signing-key", KEY, "--base-url", signed_proxy.url + "/"]) == 0
    url = capsys.readouterr().out.strip()
    assert url == f"{signed_proxy.url}/earth_50x50.jpg?sig={signing.sign('earth_50x50.jpg', KEY)}"
    assert http.get(url).status_code == 200


def test_sign_command_encodes_the_key_for_a_url(start_proxy, s3, bucket, capsys, http):
    key = "photos/été 2024/earth_40x40@2x.jpg"
    put(s3, bucket, "photos/été 2024/earth.jpg", quadrants(200, 200))
    proxy = start_proxy(signing_key=(KEY,))
    assert main(["sign", key, "--signing-key", KEY, "--base-url", proxy.url]) == 0
    url = capsys.readouterr().out.strip()
    assert url.startswith(f"{proxy.url}/{quote(key, safe='/@')}?sig=")
    response = http.get(url)
    assert response.status_code == 200 and opened(response.content).size == (80, 80)


def test_sign_command_reads_the_key_like_serve(tmp_path, monkeypatch, capsys):
    expected = f"/a_1x1.jpg?sig={signing.sign('a_1x1.jpg', KEY)}"
    conf = tmp_path / "proxy.conf"
    conf.write_text(f"bucket = b\nsigning-key = {KEY},{OLD}\n")
    assert main(["sign", "a_1x1.jpg", "--config", str(conf)]) == 0
    assert capsys.readouterr().out.strip() == expected
    monkeypatch.setenv("S3RP_CONFIG", str(conf))
    assert main(["sign", "a_1x1.jpg"]) == 0
    assert capsys.readouterr().out.strip() == expected
    monkeypatch.setenv("S3RP_SIGNING_KEY", OLD)  # the environment beats the file, like for serve
    assert main(["sign", "a_1x1.jpg"]) == 0
    assert capsys.readouterr().out.strip() == f"/a_1x1.jpg?sig={signing.sign('a_1x1.jpg', OLD)}"


def test_sign_command_errors(monkeypatch, capsys):
    assert main(["sign", "a_1x1.jpg"]) == 2
    assert "no signing key" in capsys.readouterr().err
    assert main(["sign", "a_1x1.jpg", "--signing-key", "short"]) == 2
    assert "16 characters" in capsys.readouterr().err
    assert main(["sign", "a/../b_1x1.jpg", "--signing-key", KEY]) == 2
    assert "invalid key" in capsys.readouterr().err
