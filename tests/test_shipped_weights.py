"""The weights that ship inside the package (issue 5): they load, they are documented, they deblur.

Every ``deblurcli/weights/*.safetensors`` is loaded the way users get it (``-m NAME``
without ``--weights``), and the default model, run through ``deblurcli folder``
with no options at all, must beat the blurry input on real pairs of the held-out
REDS clip (pairs/reds_train_001, never trained on) and on measured camera shake.
"""

import json
import shutil

import cv2
import numpy as np
import pytest
import torch

from deblurcli.checkpoints import read_checkpoint
from deblurcli.loading import DEFAULT_MODEL, PACKAGE_WEIGHTS, load_model
from deblurcli.metrics import psnr
from trainers.holdout import same_kernel

from .conftest import DATA, ROOT, SHARED
from .helpers import run

pytestmark = pytest.mark.slow  # real models on real pairs
SHIPPED = sorted(PACKAGE_WEIGHTS.glob("*.safetensors"))
VAL = SHARED / "data" / "pairs" / "reds_train_001"
# Per-frame gain of the shipped default model through `deblurcli folder` with no options (fp16 file; on this
# project's CPU OpenVINO bf16 on the whole frame), measured when it shipped (gpu-soup2): 00000002 +1.90 dB,
# 00000005 +0.84 (20.42 and 24.45 dB in; the default before it, smooth-restart2, +1.73 and +0.90). The margins sit a few tenths under both, so a regression of that size
# (tile blending, a colour-order slip, fp16 overflow, a bad engine) fails, while a model that merely copies
# its input fails by far.
FRAMES = ("00000002.png", "00000005.png")
MARGINS_DB = {"00000002.png": 1.5, "00000005.png": 0.6}


def test_the_default_model_ships():
    names = {p.stem for p in SHIPPED}
    assert f"{DEFAULT_MODEL}-small" in names, names


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_file_loads_by_name_and_is_documented(path):
    assert path.stat().st_size <= 10_000_000
    ckpt = read_checkpoint(path)
    assert all(t.dtype == torch.float16 for t in ckpt.state_dict.values() if t.is_floating_point())
    meta = ckpt.metadata
    for key in (
        "steps",
        "training_data",
        "training_command",
        "validation_data",
        "val_psnr",
        "val_ssim",
        "val_input_psnr",
        "val_input_ssim",
        "real_sets",
        "bar_passed",
    ):
        assert meta.get(key), f"{path.name} lacks {key}"
    # validated on the held-out REDS clip (alone, or as the suite's REDS set), never trained on
    assert "reds_train_001" in meta["validation_data"] or "val/reds" in meta["validation_data"]
    assert "reds_train_001" not in meta["training_data"] and "/val/" not in meta["training_data"]
    arch, variant = path.stem.split("-", 1)
    loaded = load_model(arch)  # no --weights: the shipped file is found
    assert loaded.weights == path and loaded.variant == variant
    crop = cv2.imread(str(DATA / "reds" / "blur" / sorted(p.name for p in (DATA / "reds" / "blur").iterdir())[0]))
    x = torch.from_numpy(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        y = loaded.model.float().eval()(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert (y - x).abs().mean() < 0.1  # a deblurred image, not noise
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["validation"]["psnr"] == pytest.approx(float(meta["val_psnr"]), abs=1e-3)
    assert f"{arch}-{variant}" in (ROOT / "README.md").read_text()


def test_readme_model_cards_carry_the_shipped_numbers():
    """Each README card is exactly what model_card.py renders from the card ship.py measured."""
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, str(ROOT / "trainers" / "recipes" / "model_card.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr


def test_every_card_was_scored_on_kernels_the_training_mix_never_draws():
    """A shipped card's camera-shake numbers name their measured kernels (ship.py, from the set's pairs.json), and
    none of them is one of the kernels the cross-kind mix draws (USRNet's 12, two of which are Levin's k7, k8)."""
    kernels = SHARED / "data" / "kernels"
    train = [np.load(k) for k in kernels.glob("kernels12_*.npy")]
    for path in SHIPPED:
        card = json.loads(path.with_suffix(".json").read_text())
        shake = card.get("validation_suite", {}).get("shake")
        if shake is None:
            continue
        assert shake["kernels"], path.name
        for name in shake["kernels"]:
            assert not any(same_kernel(np.load(kernels / f"{name}.npy"), t) for t in train), (path.name, name)


def test_models_lists_the_shipped_weights():
    r = run("models", "--json")
    rows = {(row["name"], row["variant"]): row for row in json.loads(r.output)}
    for path in SHIPPED:
        arch, variant = path.stem.split("-", 1)
        assert rows[(arch, variant)]["weights"] == str(path)


def test_default_model_beats_the_blur_on_held_out_real_pairs(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for f in FRAMES:
        shutil.copy(VAL / "blur" / f, src / f)
    r = run("folder", src, "-q")  # no model, no weights: what a new user runs
    assert r.exit_code == 0, r.output
    gains = {}
    for f in FRAMES:
        sharp = cv2.imread(str(VAL / "sharp" / f))
        out = cv2.imread(str(tmp_path / "in-deblurred" / f))
        assert out.shape == sharp.shape
        gains[f] = psnr(out, sharp) - psnr(cv2.imread(str(src / f)), sharp)
    assert all(gains[f] > MARGINS_DB[f] for f in FRAMES), gains


# The first pairs of the validation suite's camera-shake set (cross_kind_data.sh: BSDS500's test split, the six of
# Levin et al.'s measured kernels that the training mix does not draw, each centred by its centre of mass, noise and
# saturated highlights, seed 100), rebuilt here by the same `deblurcli synth` call. Measured on the shipped default
# (ssim-soup) with the default four-turn self-ensemble (since 2026-11-28): +2.62 +0.23 +0.96 +0.44 dB (kernels k1,
# k6, k4, k6), mean +1.06; the same weights in one pass (`--ensemble 1`, the default before, which the mean bound
# refuses) +2.44 +0.28 +0.67 +0.49, mean +0.97; in one pass too, the default before it (accum-soup3)
# +2.58 +0.31 +0.67 +0.49, mean +1.01, and the one before that (accum-ft) +2.59 +0.31 +0.92 +0.52, mean +1.09 (on
# all 24 pairs of the set each newer default is higher, +1.285, +1.283, +1.277, lowest pair +0.10, +0.09: these four
# are a quick floor, not the measure), gpu-soup2 +2.22 +0.17 +1.00 +0.59, mean +1.00, and smooth-restart2 +1.58
# +0.27 +0.69 +0.72, mean +0.82, which the bounds refuse. Since the kernels are centred no pair of the 24 comes out
# worse than its input (before, stored off centre, k6 shifted its photos 4 px and four pairs read -0.13 to -0.32).
# The bounds leave a few hundredths for another CPU's bf16 arithmetic.
SHAKE_MARGIN_DB = 1.03
SHAKE_FLOOR_DB = 0.15


def test_default_model_deblurs_measured_camera_shake(tmp_path):
    kernels = tmp_path / "kernels"
    kernels.mkdir()
    train = [np.load(k) for k in (SHARED / "data" / "kernels").glob("kernels12_*.npy")]
    for k in (SHARED / "data" / "kernels").glob("levin09_*.npy"):
        if not any(same_kernel(np.load(k), t) for t in train):  # held_out_kernels.py: the six the mix never draws
            shutil.copy(k, kernels / k.name)
    assert len(list(kernels.iterdir())) == 6
    # fmt: off
    r = run("synth", SHARED / "data" / "sharp" / "bsds500", tmp_path / "shake", "--include", "test_*",
            "--per-image", "1", "--limit", "4", "--kernels", kernels, "--real-fraction", "1", "--noise", "0.01",
            "--highlights", "0.3", "--seed", "100", "--trajectory", "fine")
    # fmt: on
    assert r.exit_code == 0, r.output
    blur = tmp_path / "shake" / "bsds500" / "blur"
    r = run("folder", blur, "-o", tmp_path / "out", "-q")  # the default model, no options
    assert r.exit_code == 0, r.output
    gains = []
    for f in sorted(blur.iterdir()):
        sharp = cv2.imread(str(blur.parent / "sharp" / f.name))
        gains.append(psnr(cv2.imread(str(tmp_path / "out" / f.name)), sharp) - psnr(cv2.imread(str(f)), sharp))
    assert len(gains) == 4 and min(gains) > SHAKE_FLOOR_DB and sum(gains) / 4 > SHAKE_MARGIN_DB, gains
