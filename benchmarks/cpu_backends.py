"""Seconds per real 1280x720 frame for every CPU path, in one run, with useful GFLOP/s.

Paths: PyTorch fp32 NCHW with 256/32 tiles (deblurcli's default before the speed work), PyTorch fp32
channels-last and bf16 (autocast) on the whole frame, ONNX Runtime fp32, and OpenVINO fp32 and bf16 on the
whole frame; each is timed with glibc's default allocator settings and with the allocator tuned
(:func:`deblurcli.runtime.tune_allocator`), each setting in a fresh process. Useful GFLOP/s is
2 x GMACs/MP x megapixels / seconds (tile overlap and padding count as waste). Output: a table on stdout and
``--json``. Pause other work first (a training run: ``kill -STOP PID``).

    python benchmarks/cpu_backends.py [--model nafnet] [--weights W] [--repeat 3] [--json out.json]

``--all-archs``: the five architectures (the study's variants: NAFNet small, ResUNet small, Uptimus default,
EfficientNet-B4 U-Net default, VGG19 U-Net small), every whole-frame back end and precision, the allocator
tuned, one fresh process per architecture; shipped weights where they ship, else seeded random weights (speed
does not depend on the values; their PSNR against the sharp frame means nothing and is not printed). Each
path's output is compared with PyTorch fp32's (PSNR in dB, the measure engine verification uses), and the same
run measures this machine's matrix-product rate in fp32 and bf16 (oneDNN through torch, 2048-square, best of
5) so useful GFLOP/s can be read as a fraction of what the cores reach.

    python benchmarks/cpu_backends.py --all-archs [--repeat 2] [--json out.json]
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


STUDY = {"nafnet": "small", "resunet": "small", "uptimus": "default", "efficientnet_b4": "default", "vgg19": "small"}
ARCH_PATHS = ["torch-fp32-cl-frame", "torch-bf16-cl-frame", "ort-fp32-frame", "openvino-fp32-frame",
              "openvino-bf16-frame"]  # fmt: skip


def matmul_peak(threads: int | None) -> dict[str, float]:
    """The best GFLOP/s of 2048- and 4096-square matrix products in fp32 and bf16 (8 tries each): what oneDNN
    reaches on this machine, a stand-in for its peak (on a shared VM it varies from minute to minute)."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    rates: dict[str, float] = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        for n in (2048, 4096):
            a, b = torch.rand(n, n).to(dtype), torch.rand(n, n).to(dtype)
            a @ b
            best = min(_timed(a.matmul, b) for _ in range(8))
            rates[name] = max(rates.get(name, 0.0), round(2 * n**3 / best / 1e9, 1))
    return rates


def _timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def _load(arch: str | None, weights: Path | None, variant: str | None = None):
    """The shipped (or given) weights; with ``variant`` and nothing shipped, seeded random weights."""
    from deblurcli.loading import LoadedModel, find_weights, load_model

    if variant is None or weights or find_weights(arch, variant):
        return load_model(arch, variant, weights), False
    import torch

    from deblurcli.models import create_model, get_spec

    torch.manual_seed(0)
    model = create_model(arch, variant).eval()
    return LoadedModel(arch, variant, get_spec(arch).config(variant), Path("random"), built=model), True


def child(args) -> None:
    """One process: time every path with this process's allocator setting."""
    import numpy as np

    from deblurcli.images import read_image
    from deblurcli.metrics import psnr
    from deblurcli.models.stats import gmacs_per_megapixel
    from deblurcli.pipeline import to_planar

    if args.tuned:
        from deblurcli.runtime import tune_allocator

        tune_allocator()
    loaded, random = _load(args.model, args.weights, args.variant)
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
        ref8 = np.rint(ref.transpose(1, 2, 0) * 255).astype(np.uint8)
        s = min(times)
        rows.append(
            {
                "path": path,
                "seconds": round(s, 3),
                "useful_gflops": round(2 * gmacs * mp / s, 1),
                "psnr_vs_sharp": None if random else round(psnr(out8, sharp), 3),
                "max_abs_vs_first": float(np.abs(out - ref).max()),
                "psnr_vs_first": round(min(psnr(out8, ref8), 99.0), 2),
            }
        )
    info = {"arch": loaded.arch, "variant": loaded.variant, "random_weights": random, "gmacs_per_mp": round(gmacs, 1)}
    print(json.dumps({"tuned": args.tuned, "rows": rows, **info}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model")
    ap.add_argument("--weights", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--paths", nargs="*", default=PATHS)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--all-archs", action="store_true", help="the five architectures, whole-frame paths, tuned")
    ap.add_argument("--variant", help=argparse.SUPPRESS)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--tuned", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    if args.all_archs:
        return all_archs(args)
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


def all_archs(args) -> None:
    import platform

    cpu = next((ln.split(":", 1)[1].strip() for ln in _cpuinfo() if ln.startswith("model name")), platform.machine())
    flags = next((ln.split(":", 1)[1].split() for ln in _cpuinfo() if ln.startswith("flags")), [])
    isa = [f for f in ("avx512_bf16", "amx_bf16") if f in flags]
    peak = matmul_peak(args.threads)
    print(f"{cpu} ({', '.join(isa) or 'no native bf16'}); matrix product: {peak['fp32']} GFLOP/s fp32, "
          f"{peak['bf16']} bf16", flush=True)  # fmt: skip
    results = []
    for arch, variant in STUDY.items():
        cmd = [sys.executable, __file__, "--child", "--tuned", "--repeat", str(args.repeat), "--model", arch]
        cmd += ["--variant", variant, "--paths", *ARCH_PATHS]
        cmd += ["--threads", str(args.threads)] if args.threads else []
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        if out.returncode:
            sys.exit(out.stderr)
        res = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(res)
        weights = "random weights" if res["random_weights"] else "shipped weights"
        print(f"\n{arch} ({variant}, {res['gmacs_per_mp']} GMACs/MP, {weights})")
        print(f"  {'path':22} {'s/frame':>8} {'GFLOP/s':>8} {'of fp32 mm':>10} {'of bf16 mm':>10} {'dB vs fp32':>10}")
        for r in res["rows"]:
            if "error" in r:
                print(f"  {r['path']:22} {r['error']}")
                continue
            g = r["useful_gflops"]
            print(f"  {r['path']:22} {r['seconds']:8.3f} {g:8.1f} {g / peak['fp32']:10.1%} {g / peak['bf16']:10.1%} "
                  f"{r['psnr_vs_first']:10.2f}", flush=True)  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu, "isa": isa, "matmul_gflops": peak, "archs": results}, indent=2))


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


if __name__ == "__main__":
    main()
