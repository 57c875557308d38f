"""End to end, one run: a folder of real 720p frames through the old CPU default and through ``deblurcli folder``.

The folder: the 14 blurry 1280x720 frames of ``../shared/data/pairs/reds_train_001`` and
``gopro_avg_train/GOPR0374_11_00``, the validation suite's REDS and GoPro-style clips (never trained on by the
shipped default). Each side is one
fresh process timed from start to exit (imports, weights, engine, reading, deblurring, writing):

* old: deblurcli's CPU default before the speed work (issue 21), rebuilt from today's parts: PyTorch fp32,
  NCHW, tiles of 256 with 32 px overlap, glibc's allocator untouched, through :func:`deblurcli.folder.run_folder`;
* new: ``deblurcli folder IN -o OUT -q``, no options (OpenVINO bf16 where the CPU has native bf16, whole
  frames, the allocator tuned; the engine cached by a warm-up run first);
* reference: the same with ``--engine torch --precision fp32``, the quality the default must keep (within
  0.05 dB);
* fast: ``--ensemble 1``, one pass of the model instead of the default's four (the default before 2026-11-28).

Both use the shipped default weights; the mean PSNR of each side's outputs against the sharp frames is
printed so speed is not bought with quality. Pause other work first.

    python benchmarks/folder_e2e.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAIRS = ROOT.parent / "shared/data/pairs"
SETS = ["reds_train_001", "gopro_avg_train/GOPR0374_11_00"]


def old_default(src: Path, out: Path) -> None:
    """The pre-speed-work CPU path, in this (fresh) process."""
    from deblurcli.folder import plan_folder, run_folder
    from deblurcli.loading import load_model
    from deblurcli.pipeline import Deblurrer
    from engines.torch_engine import TorchEngine

    loaded = load_model()
    eng = TorchEngine(loaded.model, device="cpu", precision="fp32", channels_last=False)
    d = Deblurrer.for_config(eng, loaded.config, tile=256, overlap=32)
    report = run_folder(plan_folder(src, out)[1], d)
    assert not report.with_status("failed")


def timed(cmd: list[str], env: dict | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env)
    return time.perf_counter() - t0


def mean_psnr(out: Path) -> float:
    from deblurcli.images import read_image
    from deblurcli.metrics import psnr

    scores = []
    for f in sorted(out.glob("*.png")):
        k, stem = f.stem.split("__")[:2]
        scores.append(psnr(read_image(f), read_image(PAIRS / SETS[int(k)] / "sharp" / f"{stem}.png")))
    return sum(scores) / len(scores)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path)
    ap.add_argument("--old-child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.old_child:
        return old_default(*args.old_child)
    work = Path(tempfile.mkdtemp(prefix="folder-e2e-"))
    folders = {1: work / "in1", 2: work / "in2"}  # the frames once, and twice (for the per-frame cost)
    for copies, src in folders.items():
        src.mkdir()
        for k, s in enumerate(SETS):
            for f in sorted((PAIRS / s / "blur").glob("*.png")):
                for c in range(copies):
                    shutil.copy(f, src / f"{k}__{f.stem}{'__' + str(c) if c else ''}.png")
    n = len(list(folders[1].iterdir()))
    warm = work / "warm"
    warm.mkdir()
    shutil.copy(next(folders[1].iterdir()), warm)
    subprocess.run(["deblurcli", "folder", str(warm), "-o", str(work / "warm-out"), "-q"], check=True)
    env_old = dict(os.environ, DEBLURCLI_NO_MALLOPT="1")
    sides = {
        "old default (torch fp32 NCHW, tiles 256/32, glibc allocator)": lambda i, o: timed(
            [sys.executable, __file__, "--old-child", str(i), str(o)], env_old
        ),
        "deblurcli folder, no options": lambda i, o: timed(["deblurcli", "folder", str(i), "-o", str(o), "-q"]),
        "deblurcli folder --engine torch --precision fp32": lambda i, o: timed(
            ["deblurcli", "folder", str(i), "-o", str(o), "-q", "--engine", "torch", "--precision", "fp32"]
        ),
        "deblurcli folder --ensemble 1": lambda i, o: timed(
            ["deblurcli", "folder", str(i), "-o", str(o), "-q", "--ensemble", "1"]
        ),
    }
    rows = {}
    for j, (name, go) in enumerate(sides.items()):
        t1, t2 = go(folders[1], work / f"out{j}-1"), go(folders[2], work / f"out{j}-2")
        per = (t2 - t1) / n
        rows[name] = {"seconds": round(t1, 2), "per_frame_s": round(per, 3), "startup_s": round(t1 - n * per, 2),
                      "psnr": round(mean_psnr(work / f"out{j}-1"), 3)}  # fmt: skip
    base = next(iter(rows.values()))
    print(f"{n} real 1280x720 frames (and the same twice), one fresh process each, start to exit")
    print(f"{'path':62} {'N frames s':>10} {'start-up s':>10} {'s/frame':>8} {'speed-up':>8} {'PSNR':>7}")
    for name, r in rows.items():
        r["speedup_per_frame"] = round(base["per_frame_s"] / r["per_frame_s"], 2)
        r["speedup_total"] = round(base["seconds"] / r["seconds"], 2)
        print(f"{name:62} {r['seconds']:10.2f} {r['startup_s']:10.2f} {r['per_frame_s']:8.3f} "
              f"{r['speedup_per_frame']:7.2f}x {r['psnr']:7.3f}")  # fmt: skip
    new, ref = rows["deblurcli folder, no options"], rows["deblurcli folder --engine torch --precision fp32"]
    print(f"default vs the same model in PyTorch fp32: {new['psnr'] - ref['psnr']:+.3f} dB (issue 21: within 0.05)")
    if args.json:
        args.json.write_text(json.dumps({"frames": n, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
