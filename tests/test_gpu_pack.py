"""trainers/recipes/gpu_pack.py: the sample of the mix that travels to a GPU is deterministic, and --shake-from
swaps in the camera-shake sources from another folder (the smooth-path set) and nothing else."""

import sys

import cv2
import numpy as np

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "trainers" / "recipes"))
import gpu_pack  # noqa: E402

sys.path.remove(str(ROOT / "trainers" / "recipes"))


def fake_tree(root, value, sources):
    """Two 40x48 pairs per source, every pixel of a source's blurry images equal to ``value``."""
    for source in sources:
        for i in range(2):
            for side, v in (("blur", value), ("sharp", 255 - value)):
                d = root / source / "clip" / side
                d.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(d / f"{i}.png"), np.full((40, 48, 3), v, np.uint8))


def test_the_pack_is_deterministic_and_shake_from_swaps_only_the_shake_sources(tmp_path):
    sources = {"bsds500": (2, 1, 32), "photos": (1, 2, 32), "gopro240": (2, 1, 0)}
    fake_tree(tmp_path / "mix", 40, sources)
    fake_tree(tmp_path / "smooth", 200, ["bsds500", "photos"])
    a = gpu_pack.pack(tmp_path / "mix", tmp_path / "a", 95, sources=sources, shake_from=tmp_path / "smooth")
    b = gpu_pack.pack(tmp_path / "mix", tmp_path / "b", 95, sources=sources, shake_from=tmp_path / "smooth")
    assert a == b == {"bsds500": 2, "photos": 2, "gopro240": 2}
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.jpg"))
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*.jpg"))
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    for source, value, shape in (("bsds500", 200, (32, 32)), ("photos", 200, (32, 32)), ("gopro240", 40, (40, 48))):
        for f in (tmp_path / "a" / source / "blur").iterdir():
            img = cv2.imread(str(f))
            assert img.shape[:2] == shape and abs(float(img.mean()) - value) < 2, (source, f.name)
    assert (tmp_path / "a" / "COMPOSITION").read_text().endswith("total 6\n")
