"""purge against moto's server: thumbnails the proxy made of an original go; anything else stays."""

from __future__ import annotations

from proxy.cli import main
from tests.harness import stored_keys
from tests.images import solid


def make_thumbnails(proxy, http, *paths):
    for path in paths:
        assert http.get(f"{proxy.url}/{path}").status_code == 200, path
    proxy.flush()


def test_purge_deletes_only_generated_thumbnails_of_the_original(proxy, s3, bucket, http, moto_url, capsys):
    s3.put_object(Bucket=bucket, Key="earth.jpg", Body=solid(120, 90), ContentType="image/jpeg")
    s3.put_object(Bucket=bucket, Key="earth.png", Body=solid(120, 90, fmt="PNG"), ContentType="image/png")
    s3.put_object(Bucket=bucket, Key="earth_80x80.jpg", Body=solid(80, 80), ContentType="image/jpeg")  # an original
    s3.put_object(Bucket=bucket, Key="earthling_50x50.jpg", Body=solid(50, 50), ContentType="image/jpeg")
    make_thumbnails(proxy, http, "earth_50x50.jpg", "earth_60x40_fit.jpg", "earth_30x30.webp", "earth_70x70.png")
    before = stored_keys(s3, bucket)
    args = ["purge", "earth.jpg", f"--bucket={bucket}", f"--s3-endpoint={moto_url}"]

    assert main([*args, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would delete earth_50x50.jpg" in out and "would delete earth_30x30.webp" in out
    assert stored_keys(s3, bucket) == before

    assert main(args) == 0
    out = capsys.readouterr().out
    assert "deleted 3 thumbnail(s)" in out
    # earth_70x70.png was made from earth.png; earth_80x80.jpg is an original; earthling_* another stem.
    assert stored_keys(s3, bucket) == {
        "earth.jpg",
        "earth.png",
        "earth_80x80.jpg",
        "earthling_50x50.jpg",
        "earth_70x70.png",
    }

    assert main(["purge", "earth.png", f"--bucket={bucket}", f"--s3-endpoint={moto_url}"]) == 0
    assert stored_keys(s3, bucket) == {"earth.jpg", "earth.png", "earth_80x80.jpg", "earthling_50x50.jpg"}


def test_purge_under_a_folder_and_a_missing_bucket(proxy, s3, bucket, http, moto_url, capsys):
    s3.put_object(Bucket=bucket, Key="a/b/photo.jpg", Body=solid(64, 64), ContentType="image/jpeg")
    make_thumbnails(proxy, http, "a/b/photo_32x32.jpg")
    assert main(["purge", "a/b/photo.jpg", f"--bucket={bucket}", f"--s3-endpoint={moto_url}"]) == 0
    assert stored_keys(s3, bucket) == {"a/b/photo.jpg"}
    capsys.readouterr()
    assert main(["purge", "x.jpg", "--bucket=no-such-bucket-here", f"--s3-endpoint={moto_url}"]) == 2
    assert "not reachable" in capsys.readouterr().err
