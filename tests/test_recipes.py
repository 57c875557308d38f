"""The training recipes behind the shipped weights: what each stage really passes to ``deblurcli train``.

A fake ``deblurcli`` on PATH records its arguments, so these run in milliseconds.
"""

import os
import shutil
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

from trainers.losses import CombinedLoss

from .conftest import ROOT

RECIPE = ROOT / "trainers" / "recipes" / "shipped_train.sh"
STAGES = [
    "nafnet-real",
    "nafnet-real-ft",
    "nafnet-cross",
    "cap-small",
    "cap-deep",
    "gpu-ft",
    "smooth-ft",
    "smooth-restart",
    "smooth-restart2",
    "gpu-soup-ft",
    "shake-ft",
    "centred-ft",
    "accum-ft",
    "accum-ft2",
    "accum-deep",
    "accum-ft3",
    "accum-ssim",
    "ssim-ft2",
    "accum-ft4",
    "accum-p320",
    "accum-p320b",
    "accum-fft",
    "uptimus",
]
SUITE = ["reds", "gopro", "shake"]
SHAKE = ["bsds500", "urban100", "gopro_frames", "photos"]
pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def fake_deblurcli(tmp_path, body, **env):
    """A stand-in ``deblurcli`` (a shell script whose lines are ``body``) first on PATH: (its path, the environment
    with PATH and ``env`` set), so a recipe's calls are recorded instead of run."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    fake = bin_dir / "deblurcli"
    fake.write_text("#!/bin/sh\n" + body)
    fake.chmod(0o755)
    return fake, dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", **env)


def recipe_args(tmp_path, stage, runs=None, **extra_env):
    shared, train = tmp_path / "shared", tmp_path / "traindata"
    for d in (
        "shake",
        "video",
        "hcblur_1",
        "hcblur_2",
        "mix/hcblur_a",
        "mix/real/reds_small_train_000",
        "mix/real/reds_small_val_or_test_000",
        "pack/bsds500",
        "pack/real_reds_train_000",
    ):
        (train / d).mkdir(parents=True, exist_ok=True)
    log = tmp_path / f"{stage}.args"
    fake, env = fake_deblurcli(
        tmp_path, 'for a in "$@"; do printf "%s\\n" "$a"; done >> "$ARGS_LOG"\n', ARGS_LOG=str(log)
    )
    env["PYTHON"] = str(fake)
    env.update(extra_env)
    runs = runs or tmp_path / "runs"
    r = subprocess.run(
        ["bash", str(RECIPE), stage, str(shared), str(train), str(runs)], env=env, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    return log.read_text().splitlines(), shared / "pairs"


def values(args, flag):
    return [args[i + 1] for i, a in enumerate(args) if a == flag]


@pytest.mark.parametrize("stage", STAGES)
def test_the_validation_clip_is_never_trained_on(tmp_path, stage):
    args, pairs = recipe_args(tmp_path, stage)
    calls = [i for i, a in enumerate(args) if a == "train"]
    assert len(calls) == 1
    val = values(args, "--val")
    if stage in (
        "nafnet-cross",
        "cap-small",
        "cap-deep",
        "smooth-ft",
        "smooth-restart",
        "smooth-restart2",
        "gpu-soup-ft",
        "shake-ft",
        "centred-ft",
        "accum-ft",
        "accum-ft2",
        "accum-deep",
        "accum-ft3",
        "accum-ssim",
        "ssim-ft2",
        "accum-ft4",
        "accum-p320",
        "accum-p320b",
        "accum-fft",
    ):  # one set per blur kind, none of them trained on
        assert val == [str(tmp_path / "traindata" / "val" / k) for k in SUITE]
        assert not any("/val/" in d or "GOPR0374" in d or "patches_0372" in d for d in values(args, "--data"))
    elif stage == "gpu-ft":  # the suite's GoPro crops travel with the pack; the pack holds none of the suite
        assert val == [str(tmp_path / "traindata" / "val" / "gopro" / "patches_0372")]
        assert all("/pack/" in d for d in values(args, "--data"))
    else:
        assert val == [str(pairs / "reds_train_001")]
    data = values(args, "--data")
    assert data and not any("train_001" in d for d in data), data
    assert len(values(args, "--steps")) == 1  # the schedule is part of the recipe, not left to the default


def test_the_real_blur_mix_has_the_documented_shares(tmp_path):
    args, pairs = recipe_args(tmp_path, "nafnet-real")
    data = Counter(values(args, "--data"))
    assert data[str(pairs / "reds_train_000")] == 30
    assert data[str(pairs / "gopro_avg_train")] == 8
    assert data[str(tmp_path / "traindata" / "hcblur_1")] == data[str(tmp_path / "traindata" / "hcblur_2")] == 1
    assert str(tmp_path / "traindata") not in data  # the synthetic root is split, not added whole


def test_the_cross_kind_mix_weights_each_kind(tmp_path):
    args, _ = recipe_args(tmp_path, "nafnet-cross")
    mix = tmp_path / "traindata" / "mix"
    data = Counter(values(args, "--data"))
    assert data[str(mix / "gopro240")] == 10 and data[str(mix / "real" / "reds_train_000")] == 150
    assert data[str(mix / "bsds500")] == 1 and data[str(mix / "hcblur_a")] == 25
    assert values(args, "--init") == [str(tmp_path / "runs" / "nafnet-real-ft" / "best.safetensors")]


def test_the_smooth_stage_swaps_only_the_camera_shake_folders(tmp_path):
    """smooth-ft: the cross-kind mix with its four camera-shake sources taken from TRAINDATA/smooth, the same
    weights by kind, from the soup (the previous default)."""
    smooth, _ = recipe_args(tmp_path, "smooth-ft")
    cross, _ = recipe_args(tmp_path, "nafnet-cross")
    train = tmp_path / "traindata"
    shake = SHAKE
    a, b = Counter(values(smooth, "--data")), Counter(values(cross, "--data"))
    assert {d: a[str(train / "smooth" / d)] for d in shake} == {d: b[str(train / "mix" / d)] for d in shake}
    assert not any(str(train / "mix" / d) in a for d in shake)
    assert {k: v for k, v in a.items() if "/smooth/" not in k} == {
        k: v for k, v in b.items() if k not in {str(train / "mix" / d) for d in shake}
    }
    assert values(smooth, "--init") == [str(tmp_path / "runs" / "soup" / "last.safetensors")]


def test_the_restart_trains_smooth_ft_again_on_the_same_data(tmp_path):
    """smooth-restart: smooth-ft's last weights, the same data and validation, a new seed and a longer cosine."""
    ft, _ = recipe_args(tmp_path, "smooth-ft")
    restart, _ = recipe_args(tmp_path, "smooth-restart")
    assert Counter(values(restart, "--data")) == Counter(values(ft, "--data"))
    assert values(restart, "--val") == values(ft, "--val")
    assert values(restart, "--init") == [str(tmp_path / "runs" / "smooth-ft" / "last.safetensors")]
    assert values(restart, "--seed") != values(ft, "--seed") and values(restart, "--lr") == values(ft, "--lr")
    assert values(restart, "--out") == [str(tmp_path / "runs" / "smooth-restart")]
    again, _ = recipe_args(tmp_path, "smooth-restart2")  # and once more, from smooth-restart, on a longer cosine
    assert Counter(values(again, "--data")) == Counter(values(ft, "--data"))
    assert values(again, "--val") == values(ft, "--val")
    assert values(again, "--init") == [str(tmp_path / "runs" / "smooth-restart" / "last.safetensors")]
    assert values(again, "--seed") not in (values(ft, "--seed"), values(restart, "--seed"))
    assert int(values(again, "--steps")[0]) > int(values(restart, "--steps")[0])


def test_the_capacity_runs_differ_only_in_variant_and_steps(tmp_path):
    small, _ = recipe_args(tmp_path, "cap-small")
    deep, _ = recipe_args(tmp_path, "cap-deep")
    assert values(small, "--variant") == ["small"] and values(deep, "--variant") == ["deep"]
    assert values(small, "--init") == values(deep, "--init") == [str(tmp_path / "runs/nafnet-cross/best.safetensors")]
    assert values(small, "--threads") == values(deep, "--threads") == ["1"]  # side by side, one core each
    assert int(values(small, "--steps")[0]) > int(values(deep, "--steps")[0])  # equal time: deep is slower per step
    drop = {"--variant", "--steps", "--val-every", "--out"}
    keep = [[a for i, a in enumerate(x) if a not in drop and (i == 0 or x[i - 1] not in drop)] for x in (small, deep)]
    assert keep[0] == keep[1]


def test_the_warm_restart_starts_from_the_real_mix_run(tmp_path):
    args, pairs = recipe_args(tmp_path, "nafnet-real-ft")
    assert values(args, "--init") == [str(tmp_path / "runs" / "nafnet-real" / "best.safetensors")]
    assert values(args, "--lr") == ["2e-4"]
    assert Counter(values(args, "--data"))[str(pairs / "reds_train_000")] == 30  # the same mix


def test_a_stage_with_a_checkpoint_resumes(tmp_path):
    runs = tmp_path / "runs"
    (runs / "nafnet-cross").mkdir(parents=True)
    (runs / "nafnet-cross" / "last.safetensors").write_bytes(b"")
    args, _ = recipe_args(tmp_path, "nafnet-cross", runs)
    assert "--resume" in args
    args, _ = recipe_args(tmp_path, "nafnet-real")
    assert "--resume" not in args


def test_the_gpu_stage_fine_tunes_cap_small_on_every_folder_of_the_pack(tmp_path):
    args, _ = recipe_args(tmp_path, "gpu-ft")
    pack = tmp_path / "traindata" / "pack"
    assert sorted(values(args, "--data")) == [str(pack / "bsds500"), str(pack / "real_reds_train_000")]
    assert values(args, "--init") == [str(tmp_path / "runs" / "cap-small" / "last.safetensors")]
    assert values(args, "--batch") == ["64"] and values(args, "--steps") == ["1500"]


def test_the_shipped_soup_averages_the_cpu_and_gpu_fine_tunes(tmp_path):
    args, _ = recipe_args(tmp_path, "soup")
    runs = tmp_path / "runs"
    assert args == [
        "trainers/recipes/soup.py",
        str(runs / "cap-small" / "last.safetensors"),
        str(runs / "gpu-ft" / "last.safetensors"),
        "--weight",
        "0.65",
        "--weight",
        "0.35",
        "-o",
        str(runs / "soup" / "last.safetensors"),
    ]


def small_kit(tmp_path):
    """TRAINDATA/kit as gpu_kit.py lays it out: one sharp photo drawn twice, one real folder repeated three times."""
    kit = tmp_path / "traindata" / "kit"
    for d in ("sharp/bsds500", "real/r", "val/patches_0372"):
        (kit / d).mkdir(parents=True)
    (kit / "sharp" / "bsds500" / "a.jpg").write_bytes(b"x")
    (kit / "SHAKE").write_text("bsds500 2\n")
    (kit / "MIX").write_text("real/r 3\n")
    return kit


def test_the_gpu_kit_stage_trains_smooth_restart2_on_the_kit_with_the_shake_it_draws(tmp_path):
    """gpu-kit: gpu_job.sh on TRAINDATA/kit, from smooth-restart2, at batch 64; the GPU soup averages its step 2000
    with smooth-restart2, and the CPU stage after it fine-tunes the soup on the cross mix."""
    kit = small_kit(tmp_path)
    args, _ = recipe_args(tmp_path, "gpu-kit")
    runs = tmp_path / "runs"
    synth = args[args.index("synth") :]
    assert synth[synth.index("--per-image") + 1] == "2" and synth[synth.index("--trajectory") + 1] == "smooth"
    assert values(synth, "--kernel-offset") == ["keep", "keep"]  # as the shipped run drew them (the last one wins)
    shutil.copytree(kit, tmp_path / "centred" / "traindata" / "kit")
    centred, _ = recipe_args(tmp_path / "centred", "gpu-kit", OFFSET="centre")
    assert values(centred[centred.index("synth") :], "--kernel-offset")[-1] == "centre"
    assert values(args, "--kernels") == [str(kit / "kernels")]
    train = args[args.index("train") :]
    assert values(train, "--init") == [str(runs / "smooth-restart2" / "last.safetensors")]
    assert values(train, "--batch") == ["64"] and values(train, "--steps") == ["2800"]
    assert values(train, "--lr") == ["2e-4"] and values(train, "--val") == [str(kit / "val" / "patches_0372")]
    assert values(train, "--data") == [str(kit / "real" / "r")] * 3  # the fake synth drew no shake folders
    assert values(train, "--out") == [str(runs / "gpu-kit")]
    soup, _ = recipe_args(tmp_path, "gpu-soup")
    assert soup == [
        "trainers/recipes/soup.py",
        str(runs / "smooth-restart2" / "last.safetensors"),
        str(runs / "gpu-kit" / "export" / "step2000.safetensors"),
        "--weight",
        "0.5",
        "--weight",
        "0.5",
        "-o",
        str(runs / "gpu-soup" / "last.safetensors"),
    ]
    last, _ = recipe_args(tmp_path, "gpu-soup2")  # what ships: the CPU fine-tune and the GPU run's end, averaged
    assert last[1:3] == [
        str(runs / "gpu-soup-ft" / "last.safetensors"),
        str(runs / "gpu-kit" / "export" / "step2800.safetensors"),
    ]
    assert last[-1] == str(runs / "gpu-soup2" / "last.safetensors")
    ft, _ = recipe_args(tmp_path, "gpu-soup-ft")
    again, _ = recipe_args(tmp_path, "smooth-restart2")
    assert Counter(values(ft, "--data")) == Counter(values(again, "--data"))
    assert values(ft, "--init") == [str(runs / "gpu-soup" / "last.safetensors")]


def test_the_shake_stage_lists_the_camera_shake_folders_twice_and_nothing_else_more(tmp_path):
    """shake-ft: the smooth cross mix with its four camera-shake folders listed twice (about 62% of samples instead
    of 45%), every other folder as often as before, from the shipped gpu-soup2."""
    shake, _ = recipe_args(tmp_path, "shake-ft")
    base, _ = recipe_args(tmp_path, "gpu-soup-ft")
    smooth = tmp_path / "traindata" / "smooth"
    a, b = Counter(values(shake, "--data")), Counter(values(base, "--data"))
    assert {d: a[str(smooth / d)] for d in SHAKE} == {d: 2 * b[str(smooth / d)] for d in SHAKE} == {d: 2 for d in SHAKE}
    assert {k: v for k, v in a.items() if "/smooth/" not in k} == {k: v for k, v in b.items() if "/smooth/" not in k}
    assert values(shake, "--init") == [str(tmp_path / "runs" / "gpu-soup2" / "last.safetensors")]
    assert values(shake, "--val") == values(base, "--val") and values(shake, "--seed") != values(base, "--seed")


def test_the_uptimus_stage_converts_the_study_checkpoint_first(tmp_path):
    args, _ = recipe_args(tmp_path, "uptimus")
    assert args[:3] == [
        "convert",
        str(tmp_path / "shared" / ".." / "seed" / "Uptimus.pth"),
        str(tmp_path / "runs" / "uptimus-seed.safetensors"),
    ]
    assert values(args, "--variant")[-1] == "default"


def run_study_train(tmp_path, **env_extra):
    """study_train.sh all with a fake deblurcli that writes each call's arguments to ARGS_DIR/ARCH."""
    pack = tmp_path / "pack"
    for d in ("bsds500", "real_reds_train_000", "gopro240"):
        (pack / d).mkdir(parents=True)
    (pack / "COMPOSITION").write_text("total 0\n")
    log = tmp_path / "args"
    log.mkdir()
    _, env = fake_deblurcli(
        tmp_path, 'for a in "$@"; do printf "%s\\n" "$a"; done > "$ARGS_DIR/$2"\n', ARGS_DIR=str(log), **env_extra
    )
    r = subprocess.run(
        ["bash", str(ROOT / "trainers/recipes/study_train.sh"), "all", str(pack), str(tmp_path / "runs"), "--val", "V"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    calls = {f.name: f.read_text().splitlines() for f in log.iterdir()}
    return pack, calls


def test_the_study_gives_every_architecture_the_same_budget_and_data(tmp_path):
    """study_train.sh: one budget (steps, batch, crop, seed, EMA), the same data for all five, no frozen random
    encoders, the documented variants."""
    pack, archs = run_study_train(tmp_path, STEPS="7", BATCH="3", PATCH="96")
    calls = list(archs.values())
    assert sorted(archs) == sorted(["nafnet", "resunet", "uptimus", "efficientnet_b4", "vgg19"])
    assert {a: values(c, "--variant")[0] for a, c in archs.items()} == {
        "nafnet": "small",
        "resunet": "small",
        "uptimus": "default",
        "efficientnet_b4": "default",
        "vgg19": "small",
    }
    for flag in ("--steps", "--batch", "--patch", "--seed", "--ema", "--data", "--val"):
        assert len({tuple(values(c, flag)) for c in calls}) == 1, flag
    assert (values(calls[0], "--steps"), values(calls[0], "--batch"), values(calls[0], "--patch")) == (
        ["7"],
        ["3"],
        ["96"],
    )
    assert sorted(values(calls[0], "--data")) == sorted(
        str(pack / d) for d in ("bsds500", "real_reds_train_000", "gopro240")
    )
    assert {a: values(c, "--freeze-steps") for a, c in archs.items()} == {
        "nafnet": [],
        "resunet": [],
        "uptimus": [],
        "efficientnet_b4": ["0"],
        "vgg19": ["0"],
    }
    assert all(values(c, "--threads") == [] for c in calls)


def test_the_study_in_two_lanes_trains_the_same_five_one_thread_each(tmp_path):
    """LANES=2 (the published CPU table): the same five runs with the same flags, each on one thread."""
    _, one = run_study_train(tmp_path / "one")
    _, two = run_study_train(tmp_path / "two", LANES="2")
    assert sorted(two) == sorted(one)
    for arch, args in two.items():
        assert values(args, "--threads") == ["1"], arch
        i = args.index("--threads")
        same = [a.replace(str(tmp_path / "two"), str(tmp_path / "one")) for a in args[:i] + args[i + 2 :]]
        assert same == one[arch], arch


def test_the_study_table_is_what_results_json_renders_and_every_model_deblurs():
    """README's study block equals study_table.py's rendering of results.json; the study's claim holds: every
    architecture beats the blurry input on the REDS and GoPro-style sets."""
    import json
    import sys

    r = subprocess.run(
        [sys.executable, str(ROOT / "trainers/recipes/study_table.py"), "--check"], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    doc = json.loads((ROOT / "trainers/recipes/study/results.json").read_text())
    assert sorted(doc["models"]) == sorted(["nafnet", "resunet", "uptimus", "efficientnet_b4", "vgg19"])
    for kind in ("reds", "gopro"):
        s = doc["sets"][kind]
        assert all(s[a][0] > s["input"][0] for a in doc["models"]), kind


@pytest.mark.parametrize("script", sorted((ROOT / "trainers/recipes").glob("*.sh")), ids=lambda p: p.name)
def test_every_recipe_script_parses(script):
    """bash -n: a quoting slip in a recipe (it happened once, in study.sh's notes) fails here, not an hour in."""
    r = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def same_call(call):
    """A synth call's words without its output folder and the centring flag: what the smooth and centred parts
    share."""
    words = call.replace(" --kernel-offset centre", "").split()
    return [w for w in words if "smooth" not in w and "centred" not in w]


def test_the_centred_part_draws_the_smooth_sources_again_with_centred_kernels(tmp_path):
    """cross_kind_data.sh PART=centred: TRAINDATA/centred, the smooth part's four calls with new seeds and
    --kernel-offset centre after the camera's keep (the last one given wins); the centred-ft stage trains on it in
    place of TRAINDATA/smooth, from the shipped gpu-soup2, and builds it first when it is missing."""
    script = ROOT / "trainers" / "recipes" / "cross_kind_data.sh"
    logs = {}
    for part in ("smooth", "centred"):
        logs[part] = tmp_path / part
        _, env = fake_deblurcli(tmp_path, 'printf "%s\\n" "$*" >> "$ARGS_LOG"\n', ARGS_LOG=str(logs[part]), JOBS="1")
        r = subprocess.run(
            ["bash", str(script), "S", str(tmp_path / "t")], env={**env, "PART": part}, capture_output=True
        )
        assert r.returncode == 0, r.stderr
    smooth, centred = (logs[p].read_text().splitlines() for p in ("smooth", "centred"))
    assert [c.split()[2] for c in centred] == [str(tmp_path / "t" / "centred" / d) for d in SHAKE]
    for a, b in zip(smooth, centred):
        assert b.endswith("--force") and b.split("--kernel-offset keep --kernel-offset centre ")[1].startswith("--traj")
        assert values(b.split(), "--seed") != values(a.split(), "--seed")
        assert same_call(a)[: same_call(a).index("--seed")] == same_call(b)[: same_call(b).index("--seed")]
    args, _ = recipe_args(tmp_path / "stage", "centred-ft")
    train = tmp_path / "stage" / "traindata"
    data = Counter(values(args, "--data"))
    assert {d: data[str(train / "centred" / d)] for d in SHAKE} == {d: 1 for d in SHAKE}
    assert not any("/smooth/" in d for d in data)
    assert values(args, "--init") == [str(tmp_path / "stage" / "runs" / "gpu-soup2" / "last.safetensors")]


def test_the_smooth_data_part_builds_the_four_shake_sources_on_smooth_paths(tmp_path):
    """cross_kind_data.sh PART=smooth: only TRAINDATA/smooth, four synth calls on --trajectory smooth, each with
    the kernel sizes and camera of its counterpart in the mix (which stays on the shipped weights' fine paths)."""
    script = ROOT / "trainers" / "recipes" / "cross_kind_data.sh"
    log = tmp_path / "calls"
    _, env = fake_deblurcli(tmp_path, 'printf "%s\\n" "$*" >> "$ARGS_LOG"\n', ARGS_LOG=str(log), JOBS="1")
    out = tmp_path / "traindata"
    r = subprocess.run(["bash", str(script), "S", str(out)], env={**env, "PART": "smooth"}, capture_output=True)
    assert r.returncode == 0, r.stderr
    calls = log.read_text().splitlines()
    assert [c.split()[2] for c in calls] == [str(out / "smooth" / d) for d in SHAKE]
    assert all("--trajectory smooth" in c for c in calls)
    assert not (out / "val").exists() or not any((out / "val").iterdir())
    # PART=all on a stand-in of the shared data: the mix's four shake calls are the ones that built the shipped
    # weights' data (spelled out here as they were before the recipe shared them with the smooth set), and the
    # smooth set's differ only in folder, trajectory and seed
    shared = tmp_path / "S"
    for d in (
        "kernels",
        "pairs/reds_train_001",
        "pairs/gopro_avg_train/GOPR0374_11_00",
        "pairs/reds_train_000",
        "pairs/gopro_train_patches_0372",
        "pairs/gopro_avg_train/GOPR0477_11_00",
        "sequences/hcblur_60fps/c",
    ):
        for side in ("blur", "sharp"):
            (shared / d / side).mkdir(parents=True, exist_ok=True)
            (shared / d / side / "0.png").write_bytes(b"")
    for s in ("train_000", "val_or_test_000", "val_or_test_001", "val_or_test_002"):
        for side in ("blur", "sharp"):
            (shared / "pairs/reds_small" / s / side).mkdir(parents=True)
            (shared / "pairs/reds_small" / s / side / "0.png").write_bytes(b"")
    # two validation kernels, one of which training also has (rotated, under another name): that one leaves
    streak, corner = np.zeros((9, 9)), np.zeros((9, 9))
    streak[4, 1:8], corner[2, 2:7], corner[2:7, 6] = 1, 1, 1
    np.save(shared / "kernels/levin09_k1.npy", streak)
    np.save(shared / "kernels/levin09_k2.npy", corner)
    np.save(shared / "kernels/kernels12_k1.npy", np.rot90(corner))
    log.unlink()
    env["PYTHON"] = sys.executable
    r = subprocess.run(
        ["bash", str(script), str(shared), str(out)], env={**env, "PART": "all"}, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert "levin09_k2.npy: left out of validation, training uses it as kernels12_k1.npy" in r.stdout
    assert sorted(p.name for p in (out / "kernels/val").iterdir()) == ["levin09_k1.npy"]
    assert sorted(p.name for p in (out / "kernels/train").iterdir()) == ["kernels12_k1.npy"]
    calls = log.read_text().splitlines()
    camera = (
        f"--kernels {out}/kernels/train --real-fraction 0.25 --noise 0.02 --jpeg 70-98 --jpeg-prob 0.4 --kernel-offset keep "
        "--trajectory"
    )
    fine = [
        f"synth {shared}/sharp/bsds500 {out}/mix/bsds500 --exclude test_* --per-image 10 --kernel-size 7-35 "
        f"{camera} fine --seed 3 --force",
        f"synth {shared}/sharp/urban100 {out}/mix/urban100 --per-image 12 --crop 320 --kernel-size 9-61 "
        f"{camera} fine --seed 4 --force",
        f"synth {shared}/sharp/gopro_test_frames {out}/mix/gopro_frames --per-image 12 --crop 320 --kernel-size 5-41 "
        f"{camera} fine --seed 5 --force",
        f"synth {shared}/sharp/photos {out}/mix/photos --per-image 8 --crop 320 --kernel-size 7-61 "
        f"{camera} fine --seed 6 --force",
    ]
    assert [c for c in calls if "/mix/" in c and "--trajectory" in c] == fine
    smooth = [c.replace("/mix/", "/smooth/").replace("fine --seed ", "smooth --seed 1") for c in fine]
    assert [c for c in calls if "/smooth/" in c] == smooth
    (val,) = [c for c in calls if "/val/shake" in c]  # the validation set's measured kernels are centred (default)
    assert "--kernel-offset" not in val and f"--kernels {out}/kernels/val --real-fraction 1" in val
    r = subprocess.run(
        ["bash", str(script), "S", str(out)], env={**env, "PART": "fine"}, capture_output=True, text=True
    )
    assert r.returncode == 2 and "PART must be all, smooth or centred" in r.stderr


def test_the_shipped_mix_draws_camera_shake_only_from_the_folders_it_was_built_from(tmp_path):
    """shipped_data.sh's camera-shake set was built when sharp/ held the GoPro test frames and the photos; BSDS500
    (whose test split is the validation suite's camera-shake set) and Urban100 came later and stay out of a rerun."""
    shared, out = tmp_path / "S", tmp_path / "traindata"
    for f in (
        "sharp/bsds500/test_1.jpg",
        "sharp/bsds500/train_2.jpg",
        "sharp/urban100/img_001.jpg",
        "sharp/gopro_test_frames/GOPR0385_11_01/000001.png",
        "sharp/photos/scikit_image_0.26.0/astronaut.png",
        "sequences/hcblur_60fps/c/frames/0.jpg",
    ):
        (shared / f).parent.mkdir(parents=True, exist_ok=True)
        (shared / f).write_bytes(b"x")
    log = tmp_path / "calls"
    _, env = fake_deblurcli(  # records each call and, for the camera-shake call, the images its source holds
        tmp_path,
        'printf "%s\\n" "$*" >> "$ARGS_LOG"\n'
        'case "$3" in */shake) (cd "$2" && find . -type f | sort) >> "$ARGS_LOG.src";; esac\n',
        ARGS_LOG=str(log),
    )
    script = ROOT / "trainers" / "recipes" / "shipped_data.sh"
    r = subprocess.run(["bash", str(script), str(shared), str(out)], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    shake = [c for c in log.read_text().splitlines() if c.split()[2] == str(out / "shake")]
    assert len(shake) == 1 and "--kernels" in shake[0]
    assert (tmp_path / "calls.src").read_text().split() == [
        "./gopro_test_frames/GOPR0385_11_01/000001.png",
        "./photos/scikit_image_0.26.0/astronaut.png",
    ]


def test_the_accum_stage_trains_at_the_gpu_batch_on_the_centred_mix(tmp_path):
    """accum-ft: gpu-soup2 on the centred mix at an effective batch of 64 (4 x 16 accumulated), gpu-kit's rate."""
    (tmp_path / "traindata" / "centred").mkdir(parents=True)
    args, _ = recipe_args(tmp_path, "accum-ft")
    assert values(args, "--batch") == ["4"] and values(args, "--accum") == ["16"] and values(args, "--lr") == ["2e-4"]
    data = Counter(values(args, "--data"))
    assert {d: data[str(tmp_path / "traindata" / "centred" / d)] for d in SHAKE} == {d: 1 for d in SHAKE}
    assert values(args, "--init") == [str(tmp_path / "runs" / "gpu-soup2" / "last.safetensors")]
    assert values(args, "--save-every") == ["50"] and values(args, "--val-every") == ["100"]
    args, _ = recipe_args(tmp_path / "restart", "accum-ft2")
    assert values(args, "--accum") == ["16"] and values(args, "--lr") == ["1e-4"]
    assert values(args, "--init") == [str(tmp_path / "restart" / "runs" / "accum-ft" / "best.safetensors")]
    args, _ = recipe_args(tmp_path / "deep", "accum-deep")  # the capacity question at batch 64: grown into deep
    assert values(args, "--variant") == ["deep"] and values(args, "--accum") == ["16"] and "--compile" in args
    assert values(args, "--init") == [str(tmp_path / "deep" / "runs" / "accum-ft" / "best.safetensors")]


def test_the_centred_gpu_stage_soups_with_accum_ft_and_the_cpu_fine_tunes_the_soup(tmp_path):
    """gpu-centre: gpu_job.sh from accum-ft's best with the camera shake drawn centred (SEED 43); gpu-centre-soup
    averages its last export with accum-ft's best; accum-ft3 fine-tunes that soup at an effective batch of 64."""
    small_kit(tmp_path)
    (tmp_path / "traindata" / "centred").mkdir(parents=True)
    runs = tmp_path / "runs"
    args, _ = recipe_args(tmp_path, "gpu-centre", CORES="1")
    synth = args[args.index("synth") : args.index("train")]
    assert values(synth, "--kernel-offset")[-1] == "centre"  # the last one wins over shake_camera.sh's keep
    assert values(synth, "--seed") == ["43000"] and values(args[args.index("train") :], "--seed") == ["43"]
    train = args[args.index("train") :]
    assert values(train, "--init") == [str(runs / "accum-ft" / "best.safetensors")]
    assert values(train, "--batch") == ["64"] and values(train, "--steps") == ["2300"]
    assert values(train, "--out") == [str(runs / "gpu-centre")]
    soup, _ = recipe_args(tmp_path, "gpu-centre-soup")
    assert soup[1:] == [
        str(runs / "accum-ft" / "best.safetensors"),
        str(runs / "gpu-centre" / "export" / "step2247.safetensors"),
        "--weight",
        "0.5",
        "--weight",
        "0.5",
        "-o",
        str(runs / "gpu-centre-soup" / "last.safetensors"),
    ]
    ft, _ = recipe_args(tmp_path, "accum-ft3")
    accum, _ = recipe_args(tmp_path, "accum-ft")
    assert Counter(values(ft, "--data")) == Counter(values(accum, "--data"))  # the same centred mix
    assert values(ft, "--accum") == ["16"] and values(ft, "--lr") == ["2e-4"] and "--compile" in ft
    assert values(ft, "--init") == [str(runs / "gpu-centre-soup" / "last.safetensors")]
    assert values(ft, "--keep-every") == ["100"]  # step 400 is kept for the soup that ships
    soup, _ = recipe_args(tmp_path, "accum-soup3")
    assert soup[1:4] == [
        str(runs / "accum-ft" / "best.safetensors"),
        str(runs / "accum-ft3" / "step400.safetensors"),
        str(runs / "gpu-centre" / "export" / "step2247.safetensors"),
    ]
    assert values(soup, "--weight") == ["0.45", "0.45", "0.1"]
    assert soup[-1] == str(runs / "accum-soup3" / "last.safetensors")


def test_the_ssim_stage_fine_tunes_the_shipped_soup_with_an_ssim_term(tmp_path):
    """accum-ssim: accum-soup3 fine-tuned as accum-ft3 was (same centred mix, batch 4 x 16), its loss PSNR plus
    5 x (1 - SSIM), keeping every 100th step for soups; ssim-soup averages its step 200 into the shipped weights."""
    (tmp_path / "traindata" / "centred").mkdir(parents=True)
    args, _ = recipe_args(tmp_path, "accum-ssim")
    ft3, _ = recipe_args(tmp_path, "accum-ft3")
    assert Counter(values(args, "--data")) == Counter(values(ft3, "--data"))
    assert values(args, "--loss") == ["psnr+5*ssim"] and values(ft3, "--loss") == []
    assert values(args, "--accum") == ["16"] and values(args, "--lr") == ["2e-4"] and "--compile" in args
    assert values(args, "--init") == [str(tmp_path / "runs" / "accum-soup3" / "last.safetensors")]
    assert values(args, "--keep-every") == ["100"]
    soup, _ = recipe_args(tmp_path, "ssim-soup")  # the shipped weights: with the previous default and the GPU soup
    runs = tmp_path / "runs"
    assert soup[1:4] == [
        str(runs / "accum-soup3" / "last.safetensors"),
        str(runs / "accum-ssim" / "step200.safetensors"),
        str(runs / "gpu-centre-soup" / "last.safetensors"),
    ]
    assert values(soup, "--weight") == ["0.34", "0.33", "0.33"]
    assert soup[-1] == str(runs / "ssim-soup" / "last.safetensors")
    again, _ = recipe_args(tmp_path, "ssim-ft2")  # the shipped soup fine-tuned again, on a 200-step cosine
    assert Counter(values(again, "--data")) == Counter(values(args, "--data"))
    assert values(again, "--loss") == ["psnr+5*ssim"] and values(again, "--steps") == ["200"]
    assert values(again, "--init") == [str(runs / "ssim-soup" / "last.safetensors")]
    assert values(again, "--keep-every") == ["50"] and values(again, "--seed") != values(args, "--seed")


def test_accum_ft4_fine_tunes_the_shipped_soup_as_accum_ft3_did(tmp_path):
    """accum-ft4: ssim-soup (the shipped weights) fine-tuned with accum-ft3's loss, mix, batch and rate, on a
    400-step cosine with a new seed, every 100th step kept for soups."""
    (tmp_path / "traindata" / "centred").mkdir(parents=True)
    args, _ = recipe_args(tmp_path, "accum-ft4")
    ft3, _ = recipe_args(tmp_path, "accum-ft3")
    assert Counter(values(args, "--data")) == Counter(values(ft3, "--data"))
    assert values(args, "--loss") == [] and values(args, "--steps") == ["400"]
    for flag in ("--accum", "--lr", "--batch", "--patch", "--ema", "--warmup"):
        assert values(args, flag) == values(ft3, flag)
    assert values(args, "--init") == [str(tmp_path / "runs" / "ssim-soup" / "last.safetensors")]
    assert values(args, "--keep-every") == ["100"] and values(args, "--seed") != values(ft3, "--seed")


def _variant_of(tmp_path, stage, base, same):
    """A stage that trains as ``base`` does on the centred mix, with the flags ``same`` equal and a new seed: its
    arguments and the base's."""
    (tmp_path / "traindata" / "centred").mkdir(parents=True, exist_ok=True)
    args, _ = recipe_args(tmp_path, stage)
    ref, _ = recipe_args(tmp_path, base)
    assert Counter(values(args, "--data")) == Counter(values(ref, "--data"))
    for flag in same:
        assert values(args, flag) == values(ref, flag), flag
    assert values(args, "--seed") != values(ref, "--seed")
    return args


def test_accum_p320_is_accum_ft4_on_larger_crops(tmp_path):
    """accum-p320: accum-ft4's start, mix, loss, batch and schedule with 320 px crops (the largest BSDS500 holds
    without reflection) and a new seed."""
    same = ("--accum", "--lr", "--batch", "--ema", "--warmup", "--steps", "--loss", "--init", "--keep-every")
    args = _variant_of(tmp_path, "accum-p320", "accum-ft4", same)
    assert values(args, "--patch") == ["320"]


def test_accum_p320b_is_accum_p320_at_half_the_rate_on_a_short_schedule(tmp_path):
    args = _variant_of(
        tmp_path, "accum-p320b", "accum-p320", ("--accum", "--batch", "--ema", "--patch", "--init", "--loss")
    )
    assert values(args, "--lr") == ["1e-4"] and values(args, "--steps") == ["120"]
    assert values(args, "--keep-every") == ["40"]


def test_accum_fft_is_accum_ft4_with_a_frequency_term(tmp_path):
    same = ("--accum", "--lr", "--batch", "--ema", "--warmup", "--steps", "--patch", "--init", "--keep-every")
    args = _variant_of(tmp_path, "accum-fft", "accum-ft4", same)
    assert values(args, "--loss") == ["psnr+60*fftc"]
    CombinedLoss(values(args, "--loss")[0])  # a term train accepts
