"""Training steps per second on this CPU, eager against torch.compile, with the memory each takes.

    python benchmarks/cpu_train_speed.py [--data DIR] [--variant small] [--batch 4] [--accum 1] [--patch 256]
                                         [--steps 6] [--threads 2] [--modes eager,compile] [--json OUT.json]

Times `deblurcli train`'s own optimiser step (`Trainer.train_step`: building the batches from real pairs, bf16
autocast where the CPU computes bf16 natively, channels-last, the PSNR loss, gradient accumulation, clipping,
AdamW and the EMA), so the numbers follow the training loop as it changes. Each mode runs in its own process, so
its peak resident memory (ru_maxrss) is its own: the model, the optimiser, the EMA, the autograd graph of one
batch, and for compile the compiled kernels. The first two steps (allocator, oneDNN primitives, compiling) are
reported apart; building one batch (crops and flips; each image is read once, then comes from the loader's
memory cache of up to 4 GiB) is timed apart too, from the cache and with a fresh loader that reads every image.
Pause other work first (a background training run: kill -STOP PID, then kill -CONT PID). One run per mode; quote
the CPU.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def measure(args: argparse.Namespace, compiled: bool) -> dict[str, object]:
    """Time ``args.steps`` training steps of a real Trainer after two warm-up steps (in this process)."""
    from trainers.batches import BatchSource
    from trainers.data import PairLoader
    from trainers.options import TrainOptions
    from trainers.train import Trainer

    with tempfile.TemporaryDirectory() as out:
        opts = TrainOptions(
            "nafnet",
            [args.data],
            Path(out),
            variant=args.variant,
            batch=args.batch,
            accum=args.accum,
            patch=args.patch,
            steps=args.steps + 2,
            ema=0.999,
            threads=args.threads,
            device="cpu",
            compile=compiled,
            quiet=True,
        )
        trainer = Trainer(opts)
        t0 = time.perf_counter()
        for _ in range(2):
            trainer.train_step()
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(args.steps):
            trainer.train_step()
        per = (time.perf_counter() - t0) / args.steps
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # before the batch timings' extra images
        n = max(args.steps, 4)
        t0 = time.perf_counter()
        for i in range(n):
            trainer.batches.get(10_000 + i)
        build = (time.perf_counter() - t0) / n
        cold = BatchSource(PairLoader(trainer.train_pairs), args.batch, args.patch, None, 1, 0, 1)
        t0 = time.perf_counter()
        for i in range(n):
            cold.get(i)
        build_cold = (time.perf_counter() - t0) / n
    return {
        "first_two_steps_s": round(first, 2),
        "seconds_per_step": round(per, 4),
        "batch_build_s": round(build, 4),
        "batch_build_cold_s": round(build_cold, 4),
        "peak_rss_gib": round(peak, 3),
        "bf16": trainer.amp_dtype == torch.bfloat16,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT / "tests" / "data" / "reds", help="a folder of pairs")
    ap.add_argument("--variant", default="small")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--accum", type=int, default=1)
    ap.add_argument("--patch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--modes", default="eager,compile")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child", choices=["eager", "compile"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:  # one mode, in a fresh process: its result on stdout's last line
        print(json.dumps(measure(args, args.child == "compile")))
        return
    rows: dict[str, object] = {k: getattr(args, k) for k in ("variant", "batch", "accum", "patch", "threads")}
    rows["data"] = str(args.data)
    crops = args.batch * args.accum
    for mode in args.modes.split(","):
        cmd = [sys.executable, __file__, "--child", mode] + [
            a
            for k in ("data", "variant", "batch", "accum", "patch", "steps", "threads")
            for a in (f"--{k}", str(getattr(args, k)))
        ]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"{mode}: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else 'failed'}")
        r = json.loads(done.stdout.strip().splitlines()[-1])
        rows[mode] = r
        per = float(r["seconds_per_step"])
        print(
            f"{mode:8} {per:.3f} s/step ({crops / per:.1f} crops/s, batch {args.batch} x accum {args.accum}); "
            f"first two steps {r['first_two_steps_s']} s; of a step, building one batch {r['batch_build_s']} s "
            f"({r['batch_build_cold_s']} s reading the images first); "
            f"peak memory {r['peak_rss_gib']} GiB; bf16 autocast {r['bf16']}",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
