"""Seconds per real 1280x720 frame for every CPU path, in one run, with useful GFLOP/s.

Paths: PyTorch fp32 NCHW with 256/32 tiles (deblurcli's default before the speed work), PyTorch fp32
channels-last and bf16 (autocast) on the whole frame, ONNX Runtime fp32, and OpenVINO fp32 and bf16 on the
whole frame; each is timed with glibc's default allocator settings and with the allocator tuned
(:func:`deblurcli.runtime.tune_allocator`), each setting in a fresh process. Useful GFLOP/s is
2 x GMACs/MP x megapixels / seconds (tile overlap and padding count as waste). Output: a table on stdout and
``--json``. Pause other work first (a training run: ``kill -STOP PID``).

    python benchmarks/cpu_backends.py [--model nafnet] [--weights W] [--repeat 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FRAME = ROOT.parent / "shared/data/pairs/reds_train_001/blur/00000002.png"
SHARP = ROOT.parent / "shared/data/pairs/reds_train_001/sharp/00000002.png"
PATHS = [
    "torch-fp32-nchw-tiles256",
    "torch-fp32-cl-frame",
    "torch-bf16-cl-frame",
    "ort-fp32-frame",
    "openvino-fp32-frame",
    "openvino-bf16-frame",
]


def _runner(path: str, loaded, img_shape, threads):
    """A callable (3, H, W) float32 -> same, for ``path``, and the tile it runs at."""
    import numpy as np
    import torch

    from deblurcli.pipeline import Deblurrer
    from engines.torch_engine import TorchEngine

    h, w = img_shape
    m = loaded.pad_multiple
    frame_tile = -(-max(h, w) // m) * m
    if path.startswith("torch"):
        eng = TorchEngine(
            loaded.model,
            device="cpu",
            threads=threads,
            channels_last="-cl" in path,
            precision="bf16" if "bf16" in path else "fp32",
        )
        tile = 256 if "tiles256" in path else frame_tile
        return Deblurrer.for_config(eng, loaded.config, tile=tile, overlap=32 if tile == 256 else 0)
    if path.startswith("ort"):
        from engines.cache import ShapeRange
        from engines.onnx_export import export_onnx
        from engines.ort_engine import OrtEngine

        tmp = Path(tempfile.mkdtemp()) / "m.onnx"
        hh, ww = -(-h // m) * m, -(-w // m) * m
        shapes = ShapeRange((1, hh, ww), (1, hh, ww), (1, hh, ww))
        export_onnx(loaded.model, tmp, shapes, m)
        eng = OrtEngine(tmp, shapes, threads=threads)
        return lambda rgb: np.clip(eng.run_exact(_pad(rgb, m)[None])[0][:, :h, :w], 0, 1)
    from engines.openvino_engine import OpenVinoEngine

    eng = OpenVinoEngine.from_model(loaded.model, precision="bf16" if "bf16" in path else "fp32", threads=threads)
    _ = torch
    return Deblurrer.for_config(eng, loaded.config, tile=frame_tile, overlap=0)


def _pad(rgb, m):
    import numpy as np

    h, w = rgb.shape[1:]
    return np.pad(rgb, ((0, 0), (0, -h % m), (0, -w % m)), mode="reflect")


def child(args) -> None:
    """One process: time every path with this process's allocator setting."""
    import numpy as np

    from deblurcli.images import read_image
    from deblurcli.loading import load_model
    from deblurcli.metrics import psnr
    from deblurcli.models.stats import gmacs_per_megapixel
    from deblurcli.pipeline import to_planar

    if args.tuned:
        from deblurcli.runtime import tune_allocator

        tune_allocator()
    loaded = load_model(args.model, None, args.weights)
    gmacs = gmacs_per_megapixel(loaded.model)
    img, sharp = read_image(FRAME), read_image(SHARP)
    rgb, _ = to_planar(img)
    mp = img.shape[0] * img.shape[1] / 1e6
    rows = []
    ref = None
    for path in args.paths:
        try:
            run = _runner(path, loaded, img.shape[:2], args.threads)
        except Exception as e:  # a back end that is not installed here
            rows.append({"path": path, "error": str(e).splitlines()[0][:120]})
            continue
        fn = run.run if hasattr(run, "run") else run
        fn(rgb)  # warm-up (first-shape compilation)
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            out = fn(rgb)
            times.append(time.perf_counter() - t0)
        out8 = np.rint(out.transpose(1, 2, 0) * 255).astype(np.uint8)
        ref = out if ref is None else ref
        s = min(times)
        rows.append(
            {
                "path": path,
                "seconds": round(s, 3),
                "useful_gflops": round(2 * gmacs * mp / s, 1),
                "psnr_vs_sharp": round(psnr(out8, sharp), 3),
                "max_abs_vs_first": float(np.abs(out - ref).max()),
            }
        )
    print(json.dumps({"tuned": args.tuned, "rows": rows}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model")
    ap.add_argument("--weights", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--paths", nargs="*", default=PATHS)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--tuned", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    results = []
    for tuned in (False, True):
        cmd = [sys.executable, __file__, "--child", "--repeat", str(args.repeat), "--paths", *args.paths]
        cmd += ["--tuned"] if tuned else []
        cmd += ["--model", args.model] if args.model else []
        cmd += ["--weights", str(args.weights)] if args.weights else []
        cmd += ["--threads", str(args.threads)] if args.threads else []
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        if out.returncode:
            sys.exit(out.stderr)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    base = next(r["seconds"] for r in results[0]["rows"] if r["path"] == PATHS[0] and "seconds" in r)
    print(f"{'path':28} {'allocator':9} {'s/frame':>8} {'speed-up':>8} {'GFLOP/s':>8} {'PSNR':>7} {'max|d|':>8}")
    for res in results:
        for r in res["rows"]:
            if "error" in r:
                print(f"{r['path']:28} {'tuned' if res['tuned'] else 'default':9} {r['error']}")
                continue
            print(
                f"{r['path']:28} {'tuned' if res['tuned'] else 'default':9} {r['seconds']:8.3f} "
                f"{base / r['seconds']:7.1f}x {r['useful_gflops']:8.1f} {r['psnr_vs_sharp']:7.2f} "
                f"{r['max_abs_vs_first']:8.1e}"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
