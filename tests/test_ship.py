"""trainers/recipes/ship.py: a run's checkpoint becomes package weights only when it clears the bar."""

import json
import subprocess
import sys

import pytest
import torch

from deblurcli.checkpoints import read_checkpoint

from .conftest import DATA, ROOT

SHIP = ROOT / "trainers" / "recipes" / "ship.py"
SHIPPED = ROOT / "deblurcli" / "weights" / "nafnet-small.safetensors"


def ship(src, out, *extra):
    return subprocess.run(
        [
            sys.executable,
            str(SHIP),
            str(src),
            "--val",
            str(DATA / "reds"),
            "--sets",
            str(DATA),
            "--out",
            str(out),
            "--command",
            "bash recipe.sh stage",
            "--threads",
            "1",
            *extra,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


def test_data_summary_counts_oversampled_sets():
    sys.path.insert(0, str(SHIP.parent))
    try:
        from ship import data_summary
    finally:
        sys.path.remove(str(SHIP.parent))
    assert data_summary("a, b, b, c, b") == "a, b x3, c"
    assert data_summary(None) is None


def test_the_card_names_the_measured_kernels_of_a_synthetic_set(tmp_path):
    """ship.py records which measured kernels blurred a `deblurcli synth` set (its pairs.json), so the model card
    can say what the camera-shake numbers were measured on; a folder without pairs.json records none."""
    sys.path.insert(0, str(SHIP.parent))
    try:
        from ship import measured_kernels
    finally:
        sys.path.remove(str(SHIP.parent))
    pairs = [{"kernel_source": s} for s in ("real:levin09_k2", "trajectory", "real:levin09_k1", "real:levin09_k2")]
    (tmp_path / "pairs.json").write_text(json.dumps({"mode": "shake", "pairs": pairs}))
    assert measured_kernels(tmp_path) == ["levin09_k1", "levin09_k2"]
    assert measured_kernels(DATA / "reds") == []


def test_a_model_below_the_bar_is_refused_and_nothing_is_touched(tiny_weights, tmp_path):
    out = tmp_path / "weights" / "nafnet-tiny.safetensors"
    out.parent.mkdir()
    out.write_bytes(b"the weights users have now")
    r = ship(tiny_weights, out, "--engine", "torch")  # random weights: no gain on real blur
    assert r.returncode == 1
    assert "not shipped: reds gains" in r.stderr.splitlines()[-1] and "needs +1.00" in r.stderr
    assert out.read_bytes() == b"the weights users have now"
    assert sorted(p.name for p in out.parent.iterdir()) == ["nafnet-tiny.safetensors"]  # no candidate left
    card = json.loads(r.stdout)
    assert card["bar"]["passed"] is False and set(card["sets"]) == {"gopro", "reds"}


def test_force_ships_and_records_the_failure(tiny_weights, tmp_path):
    out = tmp_path / "nafnet-tiny.safetensors"
    r = ship(tiny_weights, out, "--force", "--engine", "torch")
    assert r.returncode == 0, r.stderr
    ck = read_checkpoint(out)
    assert ck.metadata["bar_passed"] == "false"
    assert all(t.dtype == torch.float16 for t in ck.state_dict.values() if t.is_floating_point())
    assert json.loads(out.with_suffix(".json").read_text())["bar"]["passed"] is False


@pytest.mark.slow
@pytest.mark.skipif(not SHIPPED.exists(), reason="no shipped default weights")
def test_a_model_that_deblurs_ships_with_its_numbers(tmp_path):
    out = tmp_path / "nafnet-small.safetensors"
    r = ship(SHIPPED, out, "--min-gain", "0.5")
    assert r.returncode == 0, r.stderr
    meta = read_checkpoint(out).metadata
    assert meta["bar_passed"] == "true" and meta["training_command"] == "bash recipe.sh stage"
    assert float(meta["val_psnr"]) > float(meta["val_input_psnr"]) + 0.5
    assert float(meta["val_ssim"]) > float(meta["val_input_ssim"])
    sets = json.loads(meta["real_sets"])
    assert all(s["psnr"] > s["input_psnr"] for s in sets.values())
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["parameters"] == 1_991_923 and card["validation"]["pairs"] == 2
    assert set(card["validation_suite"]) == {"reds"} and card["engine"]["name"] in ("openvino", "torch")


@pytest.mark.slow
def test_every_validation_set_has_its_own_target(tmp_path):
    """Two kinds: one passes its target, the other misses it, so the model is refused and says which."""
    out = tmp_path / "nafnet-small.safetensors"
    if not SHIPPED.exists():
        pytest.skip("no shipped default weights")
    r = ship(SHIPPED, out, "--val", str(DATA / "gopro"), "--target", "reds=0.1", "--target", "gopro=9", "--engine",
             "torch")  # fmt: skip
    assert r.returncode == 1
    card = json.loads(r.stdout)
    assert set(card["validation_suite"]) == {"reds", "gopro"}
    assert card["bar"]["targets"] == {"reds": 0.1, "gopro": 9.0}
    assert [m.split()[0] for m in card["bar"]["misses"]] == ["gopro"]
    assert not out.exists()
