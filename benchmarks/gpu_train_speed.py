"""What bounds a training step on a GPU: the GPU's kernels, or the CPU that launches them?

    python benchmarks/gpu_train_speed.py [--steps 20] [--json OUT.json] [--only nafnet:small:32,...]

For each architecture/variant/batch: one optimiser step (AdamW, PSNR-like L1 loss, bf16 autocast on CUDA, random
256x256 crops already on the device, so no data loading is timed) in eager mode, with the extras of deblurcli
train's loop (gradient clipping, EMA, the loss read back every step), with channels-last, and through
torch.compile (its compile time reported apart). For each, the wall-clock per step and the GPU's own
kernel time per step (torch.profiler over a few steps): when kernel time is far below wall time the step is
bound by launching kernels from Python, and fewer, larger kernels (compile, CUDA graphs, larger batches) pay;
when they are close, only less arithmetic or memory traffic does. Runs on a CPU too (for testing the script;
the numbers there mean little). One run; report the device with the numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deblurcli.models import create_model  # noqa: E402

CASES = ["nafnet:small:32", "nafnet:small:64", "uptimus:default:32", "efficientnet_b4:default:32", "resunet:small:32"]


def make_step(model: torch.nn.Module, device: torch.device, batch: int, patch: int, mode: str, compiled):
    """One optimiser step; mode "loop" adds what deblurcli train's loop does around it (clipping, EMA, the
    finite-loss check and the loss read back every step)."""
    from trainers.state import EMA

    channels_last = mode == "channels_last"
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ema = EMA(model, 0.999) if mode == "loop" else None
    x = torch.rand(batch, 3, patch, patch, device=device)
    y = torch.rand_like(x)
    if channels_last:
        model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    fn = model if compiled is None else compiled  # not `compiled or model`: bool() of a module calls len()
    amp = device.type == "cuda"

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            out = fn(x)
        loss = (out.float() - y).abs().mean()
        if ema is not None and not torch.isfinite(loss):
            raise RuntimeError("loss not finite")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if ema is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
        if ema is not None:
            ema.update(model)
            float(loss.item())

    return step


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def kernel_seconds(step, device: torch.device, n: int = 3) -> float | None:
    """The GPU's summed kernel time per step, from torch.profiler (None on a CPU)."""
    if device.type != "cuda":
        return None
    from torch.profiler import ProfilerActivity, profile

    sync(device)
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(n):
            step()
        sync(device)
    events = prof.key_averages()
    kernels = [e for e in events if getattr(e, "device_type", None) == torch.autograd.DeviceType.CUDA]
    total_us = sum(e.self_device_time_total for e in (kernels or events))
    return total_us / 1e6 / n


def run_case(arch: str, variant: str, batch: int, mode: str, steps: int, device: torch.device) -> dict:
    torch.manual_seed(0)
    model = create_model(arch, variant).to(device).train()
    compiled = None
    t0 = time.perf_counter()
    if mode == "compile":
        compiled = torch.compile(model)
    step = make_step(model, device, batch, 256, mode, compiled)
    for _ in range(3):  # warm-up (and compilation)
        step()
    sync(device)
    warm = time.perf_counter() - t0
    t = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    wall = (time.perf_counter() - t) / steps
    kern = kernel_seconds(step, device)
    row = {
        "arch": arch,
        "variant": variant,
        "batch": batch,
        "mode": mode,
        "seconds_per_step": round(wall, 5),
        "steps_per_second": round(1 / wall, 2),
        "crops_per_second": round(batch / wall, 1),
        "kernel_seconds_per_step": None if kern is None else round(kern, 5),
        "kernel_share": None if kern is None else round(kern / wall, 3),
        "warmup_seconds": round(warm, 1),
        "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if device.type == "cuda" else None,
    }
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--only", default=",".join(CASES), help="ARCH:VARIANT:BATCH,... (default: %(default)s)")
    ap.add_argument("--modes", default="eager,loop,channels_last,compile")
    ap.add_argument("--compile-only", default="nafnet", help="architectures to also time compiled")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    device = torch.device(a.device)
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    print(f"device: {name}, torch {torch.__version__}", flush=True)
    rows = []
    plan = [(c, m) for m in a.modes.split(",") for c in a.only.split(",")]
    plan.sort(key=lambda cm: cm[1] == "compile")  # compiling is slow: last, so a time limit cuts it first
    for case, mode in plan:
        arch, variant, batch = case.split(":")
        if mode == "compile" and arch not in a.compile_only.split(","):
            continue
        try:
            row = run_case(arch, variant, int(batch), mode, a.steps, device)
        except Exception as e:  # a mode that fails on this device is reported, not fatal
            row = {"arch": arch, "variant": variant, "batch": int(batch), "mode": mode, "error": str(e)[:200]}
        rows.append(row)
        print(json.dumps(row), flush=True)
        if a.json:
            a.json.write_text(json.dumps({"device": name, "torch": torch.__version__, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
