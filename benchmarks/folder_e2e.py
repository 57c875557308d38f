"""End to end, one run: a folder of real 720p frames through the old CPU default and through ``deblurcli folder``.

The folder: the 20 blurry 1280x720 REDS frames of ``../shared/data/pairs/reds_train_00{0,1}``. Each side is one
fresh process timed from start to exit (imports, weights, engine, reading, deblurring, writing):

* old: deblurcli's CPU default before the speed work (issue 21), rebuilt from today's parts: PyTorch fp32,
  NCHW, tiles of 256 with 32 px overlap, glibc's allocator untouched, through :func:`deblurcli.folder.run_folder`;
* new: ``deblurcli folder IN -o OUT -q``, no options (OpenVINO bf16 where the CPU has native bf16, whole
  frames, the allocator tuned; the engine cached by a warm-up run first).

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
SETS = ["reds_train_000", "reds_train_001"]


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

    scores = [psnr(read_image(f), read_image(PAIRS / f.stem.split("__")[0] / "sharp" / f"{f.stem.split('__')[1]}.png"))
              for f in sorted(out.glob("*.png"))]  # fmt: skip
    return sum(scores) / len(scores)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path)
    ap.add_argument("--old-child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.old_child:
        return old_default(*args.old_child)
    work = Path(tempfile.mkdtemp(prefix="folder-e2e-"))
    src = work / "in"
    src.mkdir()
    for s in SETS:
        for f in sorted((PAIRS / s / "blur").glob("*.png")):
            shutil.copy(f, src / f"{s}__{f.stem}.png")
    n = len(list(src.iterdir()))
    warm = work / "warm"
    warm.mkdir()
    shutil.copy(next(src.iterdir()), warm)
    subprocess.run(["deblurcli", "folder", str(warm), "-o", str(work / "warm-out"), "-q"], check=True)
    env_old = dict(os.environ, DEBLURCLI_NO_MALLOPT="1")
    rows = {
        "old default (torch fp32 NCHW, tiles 256/32, glibc allocator)": (
            timed([sys.executable, __file__, "--old-child", str(src), str(work / "old")], env_old),
            mean_psnr(work / "old"),
        ),
        "deblurcli folder, no options": (
            timed(["deblurcli", "folder", str(src), "-o", str(work / "new"), "-q"]),
            mean_psnr(work / "new"),
        ),
    }
    mp = n * 1280 * 720 / 1e6
    base = next(iter(rows.values()))[0]
    print(f"{n} real 1280x720 frames, one fresh process each, start to exit")
    print(f"{'path':62} {'seconds':>8} {'MP/s':>6} {'speed-up':>8} {'PSNR':>7}")
    doc = {}
    for name, (s, p) in rows.items():
        doc[name] = {"seconds": round(s, 2), "mp_per_s": round(mp / s, 3), "speedup": round(base / s, 2),
                     "psnr": round(p, 3)}  # fmt: skip
        print(f"{name:62} {s:8.2f} {mp / s:6.2f} {base / s:7.2f}x {p:7.3f}")
    if args.json:
        args.json.write_text(json.dumps({"frames": n, "rows": doc}, indent=1))


if __name__ == "__main__":
    main()
