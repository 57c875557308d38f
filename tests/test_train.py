"""`deblurcli train` and trainers.train: checkpoints users can load, resume exactly, DDP."""

import csv
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from safetensors import safe_open

from deblurcli.checkpoints import read_checkpoint
from deblurcli.images import read_image
from deblurcli.models import get_spec, model_names
from trainers.train import Trainer, TrainOptions

from .conftest import ROOT, SHARED
from .helpers import one_line_error, run

PATCHES = SHARED / "data" / "pairs" / "gopro_train_patches_0372"
REDS_SMALL = SHARED / "data" / "pairs" / "reds_small"


@pytest.mark.parametrize("arch", model_names())
def test_two_steps_then_folder_loads_it(arch, tmp_path):
    out = tmp_path / "run"
    r = run(
        "train",
        arch,
        "--variant",
        "tiny",
        "--data",
        PATCHES,
        "--steps",
        "2",
        "--batch",
        "2",
        "--patch",
        "64",
        "--out",
        out,
        "--threads",
        "2",
    )
    assert r.exit_code == 0, r.output
    for name in ("last.safetensors", "best.safetensors", "history.csv", "curves.png", "run.json"):
        assert (out / name).is_file(), name
    ckpt = read_checkpoint(out / "last.safetensors")
    assert ckpt.arch == arch and ckpt.metadata["steps"] == "2"
    assert not any(k.startswith("_train/") for k in ckpt.state_dict)  # optimiser state is hidden from inference
    with safe_open(str(out / "last.safetensors"), "pt") as f:
        assert any(k.startswith("_train/opt/") for k in f.keys())  # ...but there for --resume
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for p in sorted((PATCHES / "blur").glob("*.png"))[:2]:
        (imgs / p.name).write_bytes(p.read_bytes())
    # the default architecture goes through the default engine (OpenVINO here: built and verified from the trained
    # file); the others through PyTorch, as their engine export is tested in test_onnx_engine.py (saves ~1 minute)
    engine = "auto" if arch == "nafnet" else "torch"
    r = run(
        "folder", imgs, "-o", tmp_path / "out", "--weights", out / "best.safetensors", "--engine", engine, "--quiet"
    )
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in imgs.iterdir())


def opts(out, steps, **kw):
    base = dict(
        arch="nafnet",
        variant="tiny",
        data=[REDS_SMALL],
        out=out,
        steps=steps,
        batch=2,
        patch=48,
        seed=5,
        save_every=1000,
        val_every=3,
        val_max=2,
        ema=0.9,
        warmup=2,
        threads=2,
    )
    base.update(kw)
    return TrainOptions(**base)


def weights(path):
    return read_checkpoint(path).state_dict


def test_resume_continues_the_same_run(tmp_path):
    straight = Trainer(opts(tmp_path / "a", 8)).run()
    assert straight["steps"] == 8

    def stop_at_4(row):
        if row["step"] == 4:
            raise KeyboardInterrupt  # what Ctrl-C does: a resumable checkpoint at step 4

    assert Trainer(opts(tmp_path / "b", 8), progress=stop_at_4).run()["interrupted"]
    resumed = Trainer(opts(tmp_path / "b", 8, resume=True))
    assert resumed.step == 4
    resumed.run()
    a, b = weights(tmp_path / "a" / "last.safetensors"), weights(tmp_path / "b" / "last.safetensors")
    assert a.keys() == b.keys()
    worst = max((a[k].float() - b[k].float()).abs().max().item() for k in a)
    assert worst < 1e-5, worst  # same batches, same optimiser state, same EMA
    rows = list(csv.DictReader(open(tmp_path / "b" / "history.csv")))
    assert [int(r["step"]) for r in rows] == list(range(1, 9))
    ha = list(csv.DictReader(open(tmp_path / "a" / "history.csv")))
    assert [float(r["loss"]) for r in rows] == pytest.approx([float(r["loss"]) for r in ha], abs=1e-5)


def test_interrupt_writes_a_resumable_checkpoint(tmp_path):
    calls = []

    def progress(row):
        calls.append(row["step"])
        if row["step"] == 3:
            raise KeyboardInterrupt

    t = Trainer(opts(tmp_path / "r", 10), progress=progress)
    res = t.run()
    assert res["interrupted"] and res["steps"] == 3
    state = json.loads(read_checkpoint(tmp_path / "r" / "last.safetensors").metadata["train_state"])
    assert state["step"] == 3
    assert Trainer(opts(tmp_path / "r", 10, resume=True)).step == 3


def test_interrupt_before_first_validation_resumes_with_a_new_length(tmp_path):
    def stop_at_2(row):
        if row["step"] == 2:
            raise KeyboardInterrupt

    assert Trainer(opts(tmp_path / "r", 10), progress=stop_at_2).run()["interrupted"]
    # no validation has run yet, and the user shortens the schedule on resume
    t = Trainer(opts(tmp_path / "r", 4, resume=True))
    assert t.step == 2 and t.best_psnr == float("-inf")
    res = t.run()
    assert res["steps"] == 4 and res["best_psnr"] > 0  # validated at step 3 (and 4), so best exists
    assert (tmp_path / "r" / "best.safetensors").is_file()


def test_validation_picks_best_and_records_it(tmp_path):
    Trainer(opts(tmp_path / "v", 6, val_every=2)).run()
    rows = list(csv.DictReader(open(tmp_path / "v" / "history.csv")))
    vals = [(int(r["step"]), float(r["val_psnr"])) for r in rows if r["val_psnr"]]
    assert [s for s, _ in vals] == [2, 4, 6]
    best = read_checkpoint(tmp_path / "v" / "best.safetensors").metadata
    assert float(best["val_psnr"]) == pytest.approx(max(v for _, v in vals), abs=1e-3)
    # validation holds out whole sequences of reds_small
    assert best["validation_data"] and best["validation_data"] != "none"


def test_cli_refuses_to_overwrite_a_run_and_reports_bad_data(tmp_path):
    out = tmp_path / "run"
    args = ("train", "nafnet", "--variant", "tiny", "--data", PATCHES, "--steps", "1", "--patch", "32", "--out", out)
    assert run(*args).exit_code == 0
    before = (out / "last.safetensors").read_bytes()
    r = run(*args)
    assert r.exit_code == 2 and "--resume" in one_line_error(r)
    assert (out / "last.safetensors").read_bytes() == before
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run("train", "nafnet", "--data", empty, "--out", tmp_path / "x")
    assert r.exit_code == 2 and "no 'blur' folder under" in one_line_error(r)
    (empty / "blur").mkdir()
    r = run("train", "nafnet", "--data", empty, "--out", tmp_path / "x")
    assert r.exit_code == 2 and "no 'sharp' folder" in one_line_error(r)
    r = run("train", "nafnet", "--data", PATCHES, "--val", PATCHES, "--out", tmp_path / "x")
    assert r.exit_code == 2 and "keep them apart" in one_line_error(r)
    r = run("train", "nafnet", "--data", PATCHES, "--loss", "l1+bogus", "--out", tmp_path / "x")
    assert r.exit_code == 2 and "unknown loss term" in one_line_error(r)
    r = run("train", "uptimus", "--variant", "tiny", "--data", PATCHES, "--out", out, "--resume", "--steps", "2")
    assert r.exit_code == 2 and "not uptimus" in one_line_error(r)


def _random_small_checkpoint(path):
    from deblurcli.checkpoints import save_checkpoint
    from deblurcli.models import create_model

    cfg = get_spec("nafnet").config("small")
    model = create_model("nafnet", config=cfg)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in model.parameters():  # nonzero block scales, so every block does something
            p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    save_checkpoint(path, model.state_dict(), "nafnet", cfg)
    return model.eval()


def test_init_grows_small_into_deep_keeping_its_output(tmp_path):
    small = _random_small_checkpoint(tmp_path / "small.safetensors")
    t = Trainer(opts(tmp_path / "g", 1, variant="deep", init=tmp_path / "small.safetensors"))
    img = read_image(sorted((PATCHES / "blur").glob("*.png"))[0])[:96, :96, :3]
    blurry = torch.from_numpy(img.astype(np.float32) / 255).permute(2, 0, 1)[None]
    with torch.no_grad():
        want = small(blurry)
        got = t.model.eval()(blurry)
    assert (got - want).abs().max().item() < 1e-5  # the 6 new NAFBlocks start as the identity
    assert t.model.state_dict().keys() > small.state_dict().keys()
    # the other way round cannot work: a one-line error, exit 2, no run folder
    Trainer(opts(tmp_path / "d", 1, variant="deep", init=tmp_path / "small.safetensors")).run()
    r = run(
        "train",
        "nafnet",
        "--variant",
        "small",
        "--init",
        tmp_path / "d" / "last.safetensors",
        "--data",
        PATCHES,
        "--steps",
        "1",
        "--patch",
        "32",
        "--out",
        tmp_path / "x",
    )
    assert r.exit_code == 2
    assert "does not fit inside the bigger one" in one_line_error(r) and "not the small variant" in one_line_error(r)
    assert not (tmp_path / "x" / "last.safetensors").exists()


def test_two_process_ddp_on_cpu(tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        "29517",
        "-m",
        "deblurcli",
        "train",
        "nafnet",
        "--variant",
        "tiny",
        "--data",
        str(REDS_SMALL),
        "--steps",
        "4",
        "--batch",
        "1",
        "--accum",
        "2",  # the first of each step's two batches accumulates without a gradient all-reduce (no_sync)
        "--patch",
        "48",
        "--val-every",
        "2",
        "--val-max",
        "2",
        "--out",
        str(out),
        "--quiet",
    ]
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    ckpt = read_checkpoint(out / "last.safetensors")
    assert ckpt.metadata["batch"] == "2" and ckpt.metadata["accum"] == "2"  # 1 per process x 2 processes, x 2
    state = json.loads(ckpt.metadata["train_state"])
    assert state["world"] == 2 and state["step"] == 4
    rows = list(csv.DictReader(open(out / "history.csv")))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]  # rank 0 alone writes
    assert all(np.isfinite(v.float().numpy()).all() for v in ckpt.state_dict.values())


def test_ema_forgets_the_random_start_in_a_short_run():
    from trainers.train import EMA

    net = torch.nn.Linear(4, 4)
    ema = EMA(net, 0.999)
    with torch.no_grad():
        net.weight.fill_(1.0)
    for _ in range(300):
        ema.update(net)
    # a fixed 0.999 would still hold 0.999**300 = 74% of the initial weights
    assert torch.allclose(ema.state["weight"], torch.ones(4, 4), atol=0.05)
    assert ema.updates == 300


def test_ema_in_fused_steps_equals_the_average_tensor_by_tensor():
    """EMA.update's foreach form gives the very numbers of e = d * e + (1 - d) * w per tensor; buffers copy."""
    from deblurcli.models import create_model
    from trainers.train import EMA

    torch.manual_seed(0)
    net = create_model("nafnet", "tiny")
    net.add_module("extra_bn", torch.nn.BatchNorm2d(3))
    ema = EMA(net, 0.99)
    ref = {k: v.clone() for k, v in ema.state.items()}
    for n in range(4):
        with torch.no_grad():
            for p in net.parameters():
                p.add_(torch.randn_like(p))
            net.extra_bn.num_batches_tracked += 1
        d = min(0.99, (1 + n) / (10 + n))
        for k, v in net.state_dict().items():
            if v.is_floating_point():
                ref[k].mul_(d).add_(v.float(), alpha=1 - d)
            else:
                ref[k].copy_(v)
        ema.update(net)
    assert all(torch.equal(ema.state[k], ref[k]) for k in ref)
    assert int(ema.state["extra_bn.num_batches_tracked"]) == 4


def test_a_fine_tune_scores_its_start_and_never_ships_worse(tmp_path):
    Trainer(opts(tmp_path / "a", 6)).run()
    start = tmp_path / "a" / "last.safetensors"
    # a rate far too high: the fine-tune gets worse, so its best checkpoint must still be the start
    t = Trainer(opts(tmp_path / "ft", 3, init=start, lr=0.5, warmup=0, ema=0.0))
    t.run()
    rows = list(csv.DictReader(open(tmp_path / "ft" / "history.csv")))
    assert [int(r["step"]) for r in rows] == [0, 1, 2, 3] and rows[0]["loss"] == ""
    v0, v3 = float(rows[0]["val_psnr"]), float(rows[3]["val_psnr"])
    assert v3 < v0
    best = read_checkpoint(tmp_path / "ft" / "best.safetensors")
    assert best.metadata["init"] == str(start) and best.metadata["steps"] == "0"
    assert float(best.metadata["val_psnr"]) == pytest.approx(v0, abs=1e-4)
    init = weights(start)
    assert all(torch.equal(best.state_dict[k], init[k]) for k in init)


def test_several_val_sets_are_reported_and_best_is_the_mean_gain(tmp_path):
    """Each --val folder is a set with its own input baseline; 'best' is the highest mean gain over sets."""
    sets = [REDS_SMALL / "val_or_test_000", PATCHES]
    t = Trainer(opts(tmp_path / "m", 6, data=[REDS_SMALL / "train_000"], val=sets, val_every=2))
    assert [s.name for s in t.val_sets] == ["val_or_test_000", "gopro_train_patches_0372"]
    t.run()
    rows = list(csv.DictReader(open(tmp_path / "m" / "history.csv")))
    scored = [r for r in rows if r["val_gain"]]
    assert [int(r["step"]) for r in scored] == [2, 4, 6]
    for r in scored:
        per = [float(r[f"val/{n}/gain"]) for n in ("val_or_test_000", "gopro_train_patches_0372")]
        assert float(r["val_gain"]) == pytest.approx(np.mean(per), abs=1e-6)
        assert float(r["val_psnr"]) == pytest.approx(
            np.mean([float(r[f"val/{n}/psnr"]) for n in ("val_or_test_000", "gopro_train_patches_0372")]), abs=1e-6
        )
    best_row = max(scored, key=lambda r: float(r["val_gain"]))
    meta = read_checkpoint(tmp_path / "m" / "best.safetensors").metadata
    assert float(meta["val_gain"]) == pytest.approx(float(best_row["val_gain"]), abs=1e-3)
    assert set(json.loads(meta["val_sets"])) >= {"val_or_test_000/gain", "gopro_train_patches_0372/gain"}


def test_validation_scores_whole_frames_as_folder_runs_them(tiny_weights):
    """Training's validation infers as ``deblurcli folder`` does on a CPU by default (whole frames), not in the
    model's 256 px tiles, so checkpoints are ranked by the pictures users get."""
    from deblurcli.loading import load_model
    from deblurcli.pipeline import Deblurrer
    from trainers.data import find_pairs
    from trainers.evaluate import torch_fn
    from trainers.validation import ValSet, score_pairs, validate_sets

    loaded = load_model("nafnet", None, tiny_weights)
    model = loaded.model.eval()
    pairs = find_pairs(REDS_SMALL / "val_or_test_000")[:2]  # 320x180: 64 px tiles, or one frame
    got = validate_sets(model, loaded.config, [ValSet("reds", pairs)], torch.device("cpu"), 2).sets["reds"]["psnr"]
    fn = torch_fn(model, torch.device("cpu"))
    frame = score_pairs(Deblurrer(fn, tile=4096, overlap=0, multiple=loaded.config.pad_multiple).process, pairs)[0]
    tiles = score_pairs(Deblurrer.for_config(fn, loaded.config).process, pairs)[0]
    assert loaded.config.tile == 64 and got == frame and got != tiles


def test_best_by_mean_gain_not_by_mean_psnr(tmp_path):
    """A set with a high baseline must not outvote one with a low baseline: ranking uses gains."""
    from trainers.validation import ValResult

    a = ValResult(
        {
            "easy": {"psnr": 40.0, "ssim": 0.9, "input_psnr": 39.0, "input_ssim": 0.9},
            "hard": {"psnr": 22.0, "ssim": 0.6, "input_psnr": 22.5, "input_ssim": 0.6},
        }
    )
    b = ValResult(
        {
            "easy": {"psnr": 39.2, "ssim": 0.9, "input_psnr": 39.0, "input_ssim": 0.9},
            "hard": {"psnr": 23.5, "ssim": 0.6, "input_psnr": 22.5, "input_ssim": 0.6},
        }
    )
    assert a.psnr < b.psnr + 1 and a.gain == pytest.approx(0.25) and b.gain == pytest.approx(0.6)


def test_a_loss_that_turns_nan_stops_the_run_at_that_step_with_nothing_bad_saved(tmp_path):
    from deblurcli.errors import DeblurError

    t = Trainer(opts(tmp_path / "nan", 6, save_every=1, val_every=100))
    loss_fn = t.loss_fn

    def turns_nan(pred, sharp):
        loss = loss_fn(pred, sharp)
        return loss * float("nan") if t.step == 2 else loss

    t.loss_fn = turns_nan
    with pytest.raises(DeblurError, match=r"^the loss became nan at step 2; lower --lr or --clip$"):
        t.run()
    last = read_checkpoint(tmp_path / "nan" / "last.safetensors")
    assert json.loads(last.metadata["train_state"])["step"] == 2  # the last good step, saved before the bad one
    assert all(torch.isfinite(v.float()).all() for v in last.state_dict.values())
    assert all(torch.isfinite(v.float()).all() for v in t.ema.state.values())  # the EMA never took the bad step


def test_time_limit_stops_cleanly_and_resumes_exactly(tmp_path):
    """--time-limit: a resumable checkpoint at the budget; resuming gives the uninterrupted run's weights."""
    Trainer(opts(tmp_path / "a", 6)).run()
    res = Trainer(opts(tmp_path / "b", 6, time_limit=0.0)).run()  # a zero budget: stop after one step
    assert res["timed_out"] and res["steps"] == 1 and not res["interrupted"]
    assert json.loads(read_checkpoint(tmp_path / "b" / "last.safetensors").metadata["train_state"])["step"] == 1
    res = Trainer(opts(tmp_path / "b", 6, resume=True)).run()
    assert res["steps"] == 6 and not res["timed_out"]
    a, b = weights(tmp_path / "a" / "last.safetensors"), weights(tmp_path / "b" / "last.safetensors")
    assert max((a[k].float() - b[k].float()).abs().max().item() for k in a) < 1e-5


def test_time_limit_cli(tmp_path):
    out = tmp_path / "t"
    r = run(
        "train",
        "nafnet",
        "--variant",
        "tiny",
        "--data",
        PATCHES,
        "--steps",
        "5",
        "--batch",
        "2",
        "--patch",
        "32",
        "--out",
        out,
        "--threads",
        "2",
        "--time-limit",
        "0s",
        "--val-fraction",
        "0",
    )
    assert r.exit_code == 0, r.output
    assert "time limit reached at step 1 of 5" in r.output and "--resume" in r.output
    r = run(
        "train",
        "nafnet",
        "--variant",
        "tiny",
        "--data",
        PATCHES,
        "--steps",
        "5",
        "--out",
        tmp_path / "u",
        "--time-limit",
        "soon",
    )
    assert r.exit_code == 2 and one_line_error(r) and "2h, 90m" in r.output


def test_parse_duration():
    from trainers.train import parse_duration

    assert parse_duration("2h") == 7200 and parse_duration("1h30m") == 5400 and parse_duration("90m") == 5400
    assert parse_duration("45s") == 45 and parse_duration("12.5") == 12.5


def test_kill_stops_a_background_run_with_a_checkpoint_that_resumes(tmp_path):
    """`kill PID` (SIGTERM) is how a run started in the background (which ignores Ctrl-C's SIGINT) is stopped: it
    saves a resumable last.safetensors at the step it reached, says so, and exits 143."""
    out = tmp_path / "bg"
    # fmt: off
    cmd = [sys.executable, "-m", "deblurcli", "train", "nafnet", "--variant", "tiny", "--data", str(PATCHES),
           "--steps", "100000", "--batch", "1", "--patch", "32", "--threads", "1", "--val-fraction", "0",
           "--save-every", "100000", "--out", str(out)]
    # fmt: on
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert p.stderr is not None
    for line in p.stderr:  # the first progress line: it is training
        if line.startswith("step "):
            break
    p.send_signal(signal.SIGTERM)
    rest = p.stderr.read()
    assert p.wait(timeout=120) == 143, rest
    said = re.search(r"interrupted at step (\d+); saved (\S+); continue with --resume", rest)
    assert said and said.group(2) == str(out / "last.safetensors"), rest
    state = json.loads(read_checkpoint(out / "last.safetensors").metadata["train_state"])
    assert state["step"] == int(said.group(1)) > 0
    t = Trainer(opts(out, state["step"] + 2, data=[PATCHES], val_fraction=0, resume=True))
    assert t.step == state["step"] and t.run()["steps"] == state["step"] + 2


def test_a_validation_set_rebuilt_between_legs_is_measured_again(tmp_path, caplog):
    """Resuming re-measures each set's blurry input: a set rebuilt between legs gets its own baseline (not the old
    one), the run says so, and best.safetensors is chosen again from the new scores. A leg in between that stops
    before it validates passes the old baseline on, so the change is still seen."""
    val = tmp_path / "val" / "clip"
    shutil.copytree(REDS_SMALL / "val_or_test_000", val)
    t = Trainer(opts(tmp_path / "r", 4, data=[REDS_SMALL / "train_000"], val=[val], val_every=2, val_max=2))
    t.run()
    before = t.val_sets[0].input_psnr

    def stop_at_5(row):
        if row["step"] == 5:
            raise KeyboardInterrupt

    t = Trainer(opts(tmp_path / "r", 8, data=[REDS_SMALL / "train_000"], val=[val], val_every=2, val_max=2,
                     resume=True), progress=stop_at_5)  # fmt: skip
    assert t.run()["steps"] == 5 and t.val_sets[0].input_psnr is None  # this leg never validated
    blur = sorted((val / "blur").iterdir())[0]
    mixed = (read_image(blur).astype(np.float32) + read_image(val / "sharp" / blur.name)) / 2
    cv2.imwrite(str(blur), mixed.round().astype(np.uint8)[:, :, ::-1])  # the rebuilt set: one pair half as blurred
    with caplog.at_level(logging.WARNING, logger="deblurcli"):
        t = Trainer(opts(tmp_path / "r", 8, data=[REDS_SMALL / "train_000"], val=[val], val_every=2, val_max=2,
                         resume=True))  # fmt: skip
        t.run()
    after = t.val_sets[0].input_psnr
    assert after > before + 0.1  # measured again, on the new pixels
    assert any(f"clip (input {before:.2f} -> {after:.2f} dB)" in r.getMessage() for r in caplog.records)
    rows = list(csv.DictReader(open(tmp_path / "r" / "history.csv")))
    new = [r for r in rows if r["val_gain"] and int(r["step"]) > 4]
    meta = read_checkpoint(tmp_path / "r" / "best.safetensors").metadata
    assert float(meta["val_gain"]) == pytest.approx(max(float(r["val_gain"]) for r in new), abs=1e-3)


def test_accumulated_step_follows_the_mean_gradient_of_its_batches(tmp_path):
    """--accum N: one optimiser step on the mean gradient of batches step*N .. step*N+N-1 (no clipping here)."""
    acc = Trainer(opts(tmp_path / "a", 3, batch=1, accum=2, clip=0.0, amp=False, ema=0.0))
    seen = {}
    step = acc.opt.step

    def capture(*a, **k):
        seen.update({n: p.grad.clone() for n, p in acc.model.named_parameters() if p.grad is not None})
        return step(*a, **k)

    acc.opt.step = capture
    acc.train_step()
    ref = Trainer(opts(tmp_path / "b", 3, batch=1, clip=0.0, amp=False, ema=0.0))
    ref.net.train()
    ref.opt.zero_grad(set_to_none=True)
    ((ref._forward(0) + ref._forward(1)) / 2).backward()
    want = {n: p.grad for n, p in ref.model.named_parameters() if p.grad is not None}
    assert seen.keys() == want.keys() and seen
    for n in want:
        torch.testing.assert_close(seen[n], want[n], rtol=1e-4, atol=1e-6)


def test_accumulated_run_resumes_exactly_and_only_with_its_accum(tmp_path):
    Trainer(opts(tmp_path / "a", 4, accum=2)).run()
    res = Trainer(opts(tmp_path / "b", 4, accum=2, time_limit=0.0)).run()
    assert res["timed_out"] and res["steps"] == 1
    with pytest.raises(Exception, match=r"trained with --accum 2; resume it with --accum 2 \(not 3\)"):
        Trainer(opts(tmp_path / "b", 4, accum=3, resume=True))
    Trainer(opts(tmp_path / "b", 4, accum=2, resume=True)).run()
    a, b = weights(tmp_path / "a" / "last.safetensors"), weights(tmp_path / "b" / "last.safetensors")
    assert max((a[k].float() - b[k].float()).abs().max().item() for k in a) < 1e-5
    meta = read_checkpoint(tmp_path / "b" / "last.safetensors").metadata
    assert meta["batch"] == "2" and meta["accum"] == "2"


def test_accum_cli(tmp_path):
    out = tmp_path / "t"
    args = ["train", "nafnet", "--variant", "tiny", "--data", PATCHES, "--steps", "2", "--batch", "1"]
    args += ["--patch", "32", "--out", out, "--threads", "2", "--val-fraction", "0"]
    r = run(*args, "--accum", "3")
    assert r.exit_code == 0, r.output
    assert "batch 1x1x3 (accumulated)" in r.output
    assert json.loads((out / "run.json").read_text())["accum"] == 3
    r = run(*args, "--accum", "2", "--resume", "--steps", "3")
    assert r.exit_code != 0 and one_line_error(r) and "--accum 3" in r.output
    assert read_checkpoint(out / "last.safetensors").metadata["steps"] == "2"  # nothing overwritten
    r = run(*args[:-6], "--out", tmp_path / "u", "--accum", "0")
    assert r.exit_code == 2 and "--accum" in r.output


def test_compiled_training_follows_eager_and_resumes_exactly(tmp_path):
    """--compile: the same steps as eager up to the rounding of fused kernels (fp32 here), a checkpoint with the
    model's plain tensor names, and compiled legs that resume to the uninterrupted compiled run's weights."""
    kw = dict(patch=32, val_every=100, amp=False)
    eager = Trainer(opts(tmp_path / "e", 3, **kw)).run()
    Trainer(opts(tmp_path / "c", 3, compile=True, **kw)).run()
    Trainer(opts(tmp_path / "r", 3, compile=True, time_limit=0.0, **kw)).run()
    Trainer(opts(tmp_path / "r", 3, compile=True, resume=True, **kw)).run()
    e, c, r = (weights(tmp_path / d / "last.safetensors") for d in "ecr")
    assert e.keys() == c.keys() == r.keys() and not any("_orig_mod" in k for k in c)
    assert max((e[k].float() - c[k].float()).abs().max().item() for k in e) < 1e-3
    assert max((c[k].float() - r[k].float()).abs().max().item() for k in c) < 1e-5
    assert eager["steps"] == 3


def test_keep_every_keeps_each_steps_inference_weights_for_later_soups(tmp_path):
    """--keep-every N: OUT/stepN.safetensors every N steps, the EMA weights of that step (what last.safetensors
    held then for inference), loadable on their own; the run's other files are as without it."""
    seen = {}

    def look(row):  # last.safetensors is written every step here (save_every=1): read it as the step ends
        if row["step"] in (2, 4):
            seen[row["step"]] = weights(tmp_path / "k" / "last.safetensors")

    Trainer(opts(tmp_path / "k", 5, keep_every=2, save_every=1), progress=look).run()
    kept = sorted(p.name for p in (tmp_path / "k").glob("step*.safetensors"))
    assert kept == ["step2.safetensors", "step4.safetensors"]
    for step in (2, 4):
        ckpt = read_checkpoint(tmp_path / "k" / f"step{step}.safetensors")
        assert ckpt.arch == "nafnet" and ckpt.metadata["steps"] == str(step)
        assert not any(k.startswith("_train/") for k in ckpt.state_dict)  # weights only, no optimiser state
        assert all(torch.equal(ckpt.state_dict[k], seen[step][k]) for k in ckpt.state_dict)
    assert weights(tmp_path / "k" / "step4.safetensors").keys() == seen[4].keys()
    assert not torch.equal(*(next(iter(weights(tmp_path / "k" / f"step{s}.safetensors").values())) for s in (2, 4)))
    r = run("train", "nafnet", "--variant", "tiny", "--data", PATCHES, "--keep-every", "0", "--out", tmp_path / "z")
    assert r.exit_code == 2 and "Invalid value for '--keep-every'" in r.output
