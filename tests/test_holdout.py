"""Validation kept out of training: copies of its images stop `deblurcli train`, shared blur kernels are reported."""

import json
import logging
import shutil
import subprocess
import sys

import numpy as np

from deblurcli.checkpoints import read_checkpoint
from trainers.data import find_pairs
from trainers.holdout import canonical_kernel, identical_files, same_kernel, shared_kernels
from trainers.train import Trainer, TrainOptions

from .conftest import DATA, ROOT, SHARED
from .helpers import one_line_error, run

KERNELS = SHARED / "data" / "kernels"
PATCHES = SHARED / "data" / "pairs" / "gopro_train_patches_0372"


def test_usrnets_twelve_kernels_hold_two_of_levins_eight():
    """The shared data's two kernel sets overlap in exactly two kernels (under other names), and Levin's eight are
    eight different kernels: what the validation suite's camera-shake set has to reckon with."""
    levin = {f.stem: np.load(f) for f in sorted(KERNELS.glob("levin09_*.npy"))}
    usrnet = {f.stem: np.load(f) for f in sorted(KERNELS.glob("kernels12_*.npy"))}
    same = sorted((u, n) for u, k in usrnet.items() for n, m in levin.items() if same_kernel(k, m))
    assert same == [("kernels12_k10", "levin09_k7"), ("kernels12_k9", "levin09_k8")]
    assert sum(same_kernel(a, b) for a in levin.values() for b in levin.values()) == len(levin) == 8


def test_same_kernel_ignores_shift_flip_rotation_and_scale_but_not_shape():
    rng = np.random.default_rng(0)
    k = np.zeros((15, 15))
    k[4:9, 3:12] = rng.random((5, 9))
    padded = np.zeros((25, 25))
    padded[10:15, 2:11] = 3 * np.fliplr(k[4:9, 3:12])  # shifted, mirrored, scaled
    assert same_kernel(k, padded) and same_kernel(np.rot90(k), k.T)
    assert canonical_kernel(padded).shape == (5, 9) and abs(canonical_kernel(padded).sum() - 1) < 1e-12
    other = k.copy()
    other[6, 6] *= 1.5
    assert not same_kernel(k, other)
    assert not same_kernel(k, np.pad(k[4:9, 3:12], ((0, 0), (0, 1)), constant_values=0.01))


def test_a_copy_of_a_training_image_in_validation_stops_train(tmp_path):
    """A validation folder that is a copy of training images (another path, the same bytes) is refused with a
    one-line error naming both files; different images of the same size pass."""
    val = tmp_path / "val" / "clip"
    for side in ("blur", "sharp"):
        (val / side).mkdir(parents=True)
    name = sorted((PATCHES / "blur").iterdir())[3].name
    for side in ("blur", "sharp"):
        shutil.copy(PATCHES / side / name, val / side / name)
    assert [v.name for v, _ in identical_files(find_pairs(PATCHES), find_pairs(val))] == [name, name]
    out = tmp_path / "run"
    r = run("train", "nafnet", "--variant", "tiny", "--data", PATCHES, "--val", val, "--out", out, "--steps", "1")
    msg = one_line_error(r)
    assert r.exit_code == 2 and "2 validation file(s) are also training data" in msg and name in msg
    assert "keep them apart" in msg and not out.exists()
    other = sorted((PATCHES / "blur").iterdir())[4].name
    for side in ("blur", "sharp"):  # same size (128x128 PNGs of the same clip), different pixels
        (val / side / name).unlink()
        shutil.copy(PATCHES / side / other, val / side / "renamed.png")
        (val / side / "renamed.png").write_bytes((PATCHES / side / other).read_bytes()[:-1] + b"\0")
    assert identical_files(find_pairs(PATCHES), find_pairs(val)) == []


def test_validation_blurred_by_a_training_kernel_is_reported_and_recorded(tmp_path, caplog):
    """Training pairs made with USRNet's kernel 9 and validation pairs made with Levin's kernel 8 (the same kernel):
    train warns, naming both, and its checkpoints record how many validation pairs it concerns."""
    for name, kernel in (("train", "kernels12_k9"), ("val", "levin09_k8")):
        (tmp_path / f"k_{name}").mkdir()
        shutil.copy(KERNELS / f"{kernel}.npy", tmp_path / f"k_{name}")
        # fmt: off
        r = run("synth", DATA / "photos", tmp_path / name, "--per-image", "1", "--limit", "2", "--crop", "64",
                "--kernels", tmp_path / f"k_{name}", "--real-fraction", "1", "--seed", "1" if name == "train" else "2")
        # fmt: on
        assert r.exit_code == 0, r.output
    hits = shared_kernels([tmp_path / "train"], tmp_path / "val")
    assert [(v.source, t) for v, t in hits] == [("real:levin09_k8", "real:kernels12_k9")] * 2
    assert shared_kernels([tmp_path / "train"], PATCHES) == []  # no pairs.json: nothing recorded, nothing claimed
    # fmt: off
    o = TrainOptions(arch="nafnet", variant="tiny", data=[tmp_path / "train"], val=[tmp_path / "val", PATCHES],
                     out=tmp_path / "run", steps=1, batch=1, patch=32, val_max=1, threads=1)
    # fmt: on
    with caplog.at_level(logging.WARNING, logger="deblurcli"):
        t = Trainer(o)
    said = [r.getMessage() for r in caplog.records if "kernels the training data also uses" in r.getMessage()]
    assert said == [
        "validation set val: 2 of 2 pairs are blurred by kernels the training data also uses "
        "(levin09_k8 = kernels12_k9)"
    ]
    t.run()
    meta = read_checkpoint(tmp_path / "run" / "last.safetensors").metadata
    assert json.loads(meta["val_kernels_seen"]) == {"val": 2}


def test_the_suite_keeps_the_six_levin_kernels_training_does_not_use(tmp_path):
    """held_out_kernels.py, as cross_kind_data.sh runs it on the shared kernels: Levin's k7 and k8 leave the
    validation kernels (USRNet's k10 and k9 are them); a validation folder with nothing held out is an error."""
    val, train = tmp_path / "val", tmp_path / "train"
    val.mkdir()
    train.mkdir()
    for f in KERNELS.glob("levin09_*.npy"):
        shutil.copy(f, val)
    for f in KERNELS.glob("kernels12_*.npy"):
        shutil.copy(f, train)
    script = ROOT / "trainers" / "recipes" / "held_out_kernels.py"
    r = subprocess.run([sys.executable, str(script), str(val), str(train)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert sorted(p.stem for p in val.iterdir()) == [f"levin09_k{i}" for i in range(1, 7)]
    assert "levin09_k7.npy: left out of validation, training uses it as kernels12_k10.npy" in r.stdout
    assert r.stdout.splitlines()[-1] == "6 of 8 validation kernels held out of training"
    for f in val.iterdir():
        shutil.copy(f, train / f"copy_{f.name}")
    r = subprocess.run([sys.executable, str(script), str(val), str(train)], capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.strip() == f"error: every kernel in {val} is also in {train}"
