"""Training steps per second on this CPU: eager against torch.compile, and what building the batches costs.

    python benchmarks/cpu_train_speed.py [--variant small] [--batch 4] [--patch 256] [--steps 6] [--threads 2]
                                         [--data DIR] [--json OUT.json]

One optimiser step as `deblurcli train` takes it on a CPU (AdamW, PSNR loss, bf16 autocast where the CPU computes
bf16 natively, channels-last, gradient clipping, the EMA), on random crops held in memory, in eager mode and through
torch.compile (TorchInductor; its compile time, the first two steps, reported apart). With --data, also the time
to build one batch from real pairs (read, crop, flip) as the training loop does between steps on a CPU. Pause
other work first (a background training run: kill -STOP PID, then kill -CONT PID). One run; quote the CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def time_steps(variant: str, batch: int, patch: int, steps: int, compiled: bool) -> dict[str, float]:
    from deblurcli.models import create_model, get_spec
    from deblurcli.runtime import cpu_has_native_bf16
    from trainers.losses import CombinedLoss
    from trainers.state import EMA

    torch.manual_seed(0)
    model = create_model("nafnet", config=get_spec("nafnet").config(variant)).to(memory_format=torch.channels_last)
    net = torch.compile(model) if compiled else model
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.9), weight_decay=1e-3)
    ema = EMA(model, 0.999)
    loss_fn = CombinedLoss("psnr")
    bf16 = cpu_has_native_bf16()
    x = torch.rand(batch, 3, patch, patch).contiguous(memory_format=torch.channels_last)
    y = torch.rand(batch, 3, patch, patch)

    def step() -> float:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            pred = net(x)
        loss = loss_fn(pred.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
        ema.update(model)
        return float(loss.item())

    t0 = time.perf_counter()
    for _ in range(2):  # warm-up: the allocator, oneDNN's primitives, and compiling
        step()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    per = (time.perf_counter() - t0) / steps
    return {"first_two_steps_s": round(first, 2), "seconds_per_step": round(per, 4), "bf16": bf16}


def time_batches(data: Path, batch: int, patch: int, n: int) -> float:
    from trainers.batches import BatchSource
    from trainers.data import PairLoader, find_pairs

    src = BatchSource(PairLoader(find_pairs(data)), batch, patch, None, 0, 0, 1, prefetch=0)
    src.get(0)
    t0 = time.perf_counter()
    for s in range(1, n + 1):
        src.get(s)
    return (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", default="small")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--patch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--modes", default="eager,compile")
    ap.add_argument("--data", type=Path, help="a folder of pairs, to time building batches from real images")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows: dict[str, object] = {"variant": args.variant, "batch": args.batch, "patch": args.patch}
    for mode in args.modes.split(","):
        r = time_steps(args.variant, args.batch, args.patch, args.steps, mode == "compile")
        rows[mode] = r
        print(
            f"{mode:8} {r['seconds_per_step']:.3f} s/step ({1 / r['seconds_per_step']:.2f} steps/s, "
            f"{args.batch / r['seconds_per_step']:.1f} crops/s); first two steps {r['first_two_steps_s']:.1f} s; "
            f"bf16 autocast {r['bf16']}",
            flush=True,
        )
    if args.data:
        per = time_batches(args.data, args.batch, args.patch, args.steps)
        rows["batch_build_s"] = round(per, 4)
        print(f"building one batch from {args.data}: {per:.3f} s", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
