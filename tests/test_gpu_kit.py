"""trainers/recipes/gpu_kit.py and gpu_job.sh: the kit that travels to a GPU is deterministic, keeps the validation
suite's photos and kernels out, and the job draws camera shake from it, trains and exports weights-only files."""

import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
from safetensors import safe_open

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "trainers" / "recipes"))
import gpu_kit  # noqa: E402

sys.path.remove(str(ROOT / "trainers" / "recipes"))


def _pairs(root, n, shape, rng):
    for side in ("blur", "sharp"):
        (root / side).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        cv2.imwrite(str(root / "sharp" / f"{i:03d}.png"), img)
        cv2.imwrite(str(root / "blur" / f"{i:03d}.png"), cv2.blur(img, (5, 5)))


def fake_sources(tmp_path):
    """A small stand-in for ../shared/data and cross_kind_data.sh's TRAINDATA, with real-looking layouts."""
    rng = np.random.default_rng(0)
    shared, train = tmp_path / "shared", tmp_path / "traindata"
    for _, (rel, _) in gpu_kit.REAL.items():
        _pairs(shared / rel, 2, (40, 56), rng)
    _pairs(train / "mix" / "gopro240", 3, (90, 100), rng)
    _pairs(train / "mix" / "hcblur_a", 2, (40, 40), rng)
    _pairs(train / "val" / "gopro" / "patches_0372", 2, (48, 48), rng)
    for source, folder in gpu_kit.SHARP_DIRS.items():
        d = shared / "sharp" / folder
        if source != "bsds500":
            d = d / "clip"  # GoPro frames and photos sit in one folder per clip or package
        d.mkdir(parents=True)
        for name in ("a", "b", "test_c") if source == "bsds500" else ("a", "b"):
            cv2.imwrite(str(d / f"{name}.jpg"), rng.integers(0, 256, (96, 120, 3), dtype=np.uint8))
    (train / "kernels" / "train").mkdir(parents=True)
    k = np.zeros((9, 9), np.float32)
    k[4, 2:7] = 0.2
    np.save(train / "kernels" / "train" / "line.npy", k)
    return shared, train


@pytest.fixture
def small_kit(tmp_path, monkeypatch):
    monkeypatch.setattr(gpu_kit, "GOPRO240_CROPS", (2, 64))
    monkeypatch.setitem(gpu_kit.SHARP, "urban100", (2, 1, 64))
    monkeypatch.setitem(gpu_kit.SHARP, "gopro_frames", (2, 2, 64))
    monkeypatch.setitem(gpu_kit.SHARP, "photos", (1, 2, 64))
    shared, train = fake_sources(tmp_path)
    return shared, train


def _tree(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_kit_is_deterministic_weighted_and_keeps_test_photos_out(tmp_path, small_kit):
    shared, train = small_kit
    a = gpu_kit.build(shared, train, tmp_path / "a")
    b = gpu_kit.build(shared, train, tmp_path / "b")
    assert a == b and _tree(tmp_path / "a") == _tree(tmp_path / "b")
    kit = tmp_path / "a"
    assert a["gopro240"] == 2 and a["sharp/bsds500"] == 2 and a["sharp/gopro_frames"] == 4
    assert not list(kit.rglob("test_*")), "BSDS500's test split is the shake validation set's source"
    # BSDS500 photos travel byte for byte; crops of the others keep their pixel scale (no resizing)
    assert {p.name for p in (kit / "sharp" / "bsds500").iterdir()} == {"a.jpg", "b.jpg"}
    assert (kit / "sharp" / "bsds500" / "a.jpg").read_bytes() == (shared / "sharp" / "bsds500" / "a.jpg").read_bytes()
    assert {cv2.imread(str(p)).shape for p in (kit / "sharp" / "urban100").iterdir()} == {(64, 64, 3)}
    assert {p.name for p in (kit / "sharp" / "photos").iterdir()} == {"clip_a_0.jpg", "clip_a_1.jpg"}
    # the same crop of blurry and sharp: their difference is the blur, not a shift
    for f in (kit / "real" / "gopro240" / "blur").iterdir():
        assert cv2.imread(str(f)).shape == cv2.imread(str(kit / "real" / "gopro240" / "sharp" / f.name)).shape
    mix = dict(line.split() for line in (kit / "MIX").read_text().splitlines())
    assert mix["real/reds_train_000"] == str(gpu_kit.REAL["reds_train_000"][1])
    assert mix["real/hcblur_a"] == str(gpu_kit.HCBLUR_REPEAT)
    assert all((kit / folder / "blur").is_dir() for folder in mix)
    assert [p.name for p in (kit / "kernels").iterdir()] == ["line.npy"]
    assert [p.name for p in (kit / "val").iterdir()] == ["patches_0372"]


def test_the_default_weights_give_each_kind_its_share_of_the_cross_mix():
    """About 45% camera shake, 30% GoPro-style, 20% REDS, 5% handheld (shipped_train.sh's cross mix)."""
    shake = sum(gpu_kit.SHARP[s][0] * gpu_kit.SHARP[s][1] * gpu_kit.SHAKE_PER_IMAGE[s] for s in gpu_kit.SHARP)
    reds = 10 * gpu_kit.REAL["reds_train_000"][1] + sum(
        10 * r for name, (_, r) in gpu_kit.REAL.items() if name.startswith("reds_small")
    )
    gopro = 6 * gpu_kit.REAL["GOPR0477_11_00"][1] + gpu_kit.GOPRO240_CROPS[0] * gpu_kit.GOPRO240_REPEAT
    hand = 18 * gpu_kit.HCBLUR_REPEAT
    total = shake + reds + gopro + hand
    shares = [x / total for x in (shake, gopro, reds, hand)]
    assert shares == pytest.approx([0.45, 0.30, 0.20, 0.05], abs=0.04), shares


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_job_draws_shake_trains_and_exports_weights_only_files(tmp_path, small_kit, tiny_weights):
    shared, train = small_kit
    kit = tmp_path / "kit"
    gpu_kit.build(shared, train, kit)
    (kit / "SHAKE").write_text("bsds500 1\nurban100 1\ngopro_frames 1\nphotos 1\n")
    run, export = tmp_path / "run", tmp_path / "export"
    env = {"PYTHON": sys.executable, "INIT": str(tiny_weights), "CORES": "2", "PATH": "/usr/bin:/bin"}
    flags = ["--device", "cpu", "--variant", "tiny", "--batch", "2", "--patch", "32", "--steps", "2"]
    flags += ["--save-every", "1", "--val-every", "2", "--warmup", "0", "--quiet"]
    job = ROOT / "trainers" / "recipes" / "gpu_job.sh"
    p = subprocess.run(
        ["bash", str(job), str(kit), str(run), str(export), *flags],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    # 2 + 2 + 4 + 2 sharp images, one draw each, in per-core shards
    drawn = [p for p in (run / "shake").rglob("*") if p.parent.name == "blur"]
    assert len(drawn) == 10 and "camera shake: 10 pairs drawn" in p.stdout
    names = sorted(f.name for f in export.iterdir())
    # every checkpoint saved at least 3 s after the last is exported (on a GPU they are a minute apart); the last is
    assert "history.csv" in names and "step2.safetensors" in names, names
    with safe_open(str(export / "step2.safetensors"), "pt") as f:
        assert not [k for k in f.keys() if k.startswith("_train/")], "weights only"
        assert {f.get_tensor(k).dtype for k in f.keys()} == {__import__("torch").float16}
        assert f.metadata()["steps"] == "2"
