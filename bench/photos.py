"""The benchmark photos: real JPEGs from Debian packages, fetched once into the git-ignored bench/corpus/.

Two sets, chosen by a rule rather than by hand:

- ``wallpapers``: every distinct 2560x1600 and 5120x2880 JPEG of ``plasma-workspace-wallpapers``
  (bench/corpus/2560x1600/, bench/corpus/5120x2880/), the proxy benchmark's corpus;
- ``camera``: every distinct JPEG of at least 8 megapixels in ``lomiri-wallpapers-20.04`` and
  ``ukui-wallpapers`` (bench/corpus/camera/): 8.7 to 24 MP, the sizes cameras and phones upload.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from PIL import Image

CORPUS = Path(__file__).resolve().parent / "corpus"
WALLPAPER_SIZES = ((2560, 1600), (5120, 2880))
CAMERA_PACKAGES = ("lomiri-wallpapers-20.04", "ukui-wallpapers")
CAMERA_MIN_PIXELS = 8_000_000


def wallpapers() -> dict[tuple[int, int], list[Path]]:
    """The plasma wallpapers by size, fetched on first use."""
    found = {size: sorted(CORPUS.glob(f"{size[0]}x{size[1]}/*.jpg")) for size in WALLPAPER_SIZES}
    if not all(found.values()):
        fetch(("plasma-workspace-wallpapers",), lambda size: size in WALLPAPER_SIZES, _by_size)
        found = {size: sorted(CORPUS.glob(f"{size[0]}x{size[1]}/*.jpg")) for size in WALLPAPER_SIZES}
    if not all(found.values()):
        raise SystemExit(f"corpus in {CORPUS} is incomplete: remove it and run again")
    return found


def camera() -> list[Path]:
    """The camera-sized photos, fetched on first use."""
    if not any((CORPUS / "camera").glob("*.jpg")):
        fetch(CAMERA_PACKAGES, lambda size: size[0] * size[1] >= CAMERA_MIN_PIXELS, lambda size: "camera")
    return sorted((CORPUS / "camera").glob("*.jpg"))


def fetch(packages: tuple[str, ...], keep: Callable[[tuple[int, int]], bool], folder: Callable[..., str]) -> None:
    """``apt-get download`` the packages, unpack them and copy each distinct JPEG whose size ``keep``s."""
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise SystemExit(f"fetching the corpus needs {tool} (Debian/Ubuntu)")
    print(f"fetching the corpus: apt-get download {' '.join(packages)}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", *packages], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        unpacked = Path(tmp) / "x"
        for deb in Path(tmp).glob("*.deb"):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
        seen: set[str] = set()
        for path in sorted(unpacked.rglob("*")):  # packages link one file under many names
            if path.suffix.lower() not in (".jpg", ".jpeg") or not path.resolve().is_file():
                continue
            data = path.resolve().read_bytes()
            digest = hashlib.sha1(data).hexdigest()
            with Image.open(io.BytesIO(data)) as image:
                size, fmt = image.size, image.format
            if digest in seen or fmt != "JPEG" or not keep(size):
                continue
            seen.add(digest)
            target = CORPUS / folder(size) / f"{_name(path, unpacked)}-{digest[:8]}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)


def _by_size(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def _name(path: Path, unpacked: Path) -> str:
    """plasma: usr/share/wallpapers/<Name>/contents/images/WxH.jpg -> name; others: the file's stem."""
    parts = path.relative_to(unpacked).parts
    if parts[:3] == ("usr", "share", "wallpapers"):
        return parts[3].lower()
    return path.stem.lower().replace(" ", "_")


def chosen(names: list[Path], which: str) -> list[Path]:
    """The photos named on the command line, else the set ``which`` (camera, wallpapers or all)."""
    if names:
        return names
    found: list[Path] = []
    if which in ("camera", "all"):
        found += camera()
    if which in ("wallpapers", "all"):
        found += [path for paths in wallpapers().values() for path in paths]
    return found
