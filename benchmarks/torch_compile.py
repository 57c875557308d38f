"""Does ``torch.compile`` pay for its start-up on a folder job? One run, one real 720p frame.

Times, in one process with the allocator tuned: PyTorch eager (channels-last, bf16 autocast where the CPU has
native bf16), the same model through ``torch.compile`` (first call = compilation, then steady frames), and the
OpenVINO engine that ``--engine auto`` uses (compiled from the cached graph). Prints the compile cost, the
seconds per frame, and after how many frames compiling would beat eager and OpenVINO. Pause other work first.

    python benchmarks/torch_compile.py [--weights W] [--frames 4] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FRAME = ROOT.parent / "shared/data/pairs/reds_train_001/blur/00000002.png"


def per_frame(fn, x, frames: int) -> tuple[float, float]:
    """(first call, best of ``frames`` later calls) in seconds."""
    t0 = time.perf_counter()
    fn(x)
    first = time.perf_counter() - t0
    best = float("inf")
    for _ in range(frames):
        t0 = time.perf_counter()
        fn(x)
        best = min(best, time.perf_counter() - t0)
    return first, best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", type=Path)
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    import torch

    from deblurcli.images import read_image
    from deblurcli.inference import InferenceOptions, open_deblurrer
    from deblurcli.pipeline import to_planar
    from deblurcli.runtime import tune_allocator

    tune_allocator()
    opened = open_deblurrer(InferenceOptions(weights=args.weights))  # the default path: OpenVINO where it runs
    rgb, _ = to_planar(read_image(FRAME))
    x = torch.from_numpy(rgb[None].copy()).contiguous(memory_format=torch.channels_last)
    model = opened.loaded.model.eval().to(memory_format=torch.channels_last)
    bf16 = opened.engine.info.precision == "bf16"

    def eager(t):
        with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            return model(t)

    compiled_model = torch.compile(model)

    def compiled(t):
        with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            return compiled_model(t)

    rows = {
        f"{opened.engine.info.name} {opened.engine.info.precision} (--engine auto)": per_frame(
            lambda a: opened.engine.infer(a), rgb[None].copy(), args.frames
        ),
        f"torch eager {'bf16' if bf16 else 'fp32'} channels-last": per_frame(eager, x, args.frames),
        f"torch.compile {'bf16' if bf16 else 'fp32'} channels-last": per_frame(compiled, x, args.frames),
    }
    opened.close()
    names = list(rows)
    (_, auto), (_, eag), (first_c, comp) = (rows[n] for n in names)
    print(f"one 1280x720 frame, {torch.get_num_threads()} threads; first call and best of {args.frames} after it")
    for name, (first, best) in rows.items():
        print(f"{name:44} first {first:7.2f} s   then {best:6.3f} s per frame")
    cost = first_c - comp
    for label, other in (("eager", eag), (names[0], auto)):
        gain = other - comp
        verdict = f"after {cost / gain:.0f} frames" if gain > 0 else "never (not faster per frame)"
        print(f"torch.compile pays for its {cost:.1f} s start-up against {label}: {verdict}")
    if args.json:
        args.json.write_text(json.dumps({n: {"first_s": f, "per_frame_s": b} for n, (f, b) in rows.items()}, indent=1))


if __name__ == "__main__":
    main()
