"""Megapixels/s of PyTorch and of ONNX Runtime on this CPU, same model, same tiles.

Builds (and verifies) an ONNX Runtime engine for the model in a temporary
folder, then deblurs a real 1280x720 frame from ``../shared/data`` through the
same tiled pipeline as ``deblurcli folder`` with each back end, best of
``--repeat`` runs after a warm-up, and prints both rates and their ratio.

    python benchmarks/engine_speed.py [--model nafnet] [--weights W] [--tile 256] [--batch 1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from deblurcli.images import read_image
from deblurcli.loading import load_model
from deblurcli.pipeline import Deblurrer
from engines.build import build, open_engine
from engines.torch_engine import TorchEngine
from engines.verify import output_psnr

FRAME = Path(__file__).resolve().parents[2] / "shared/data/pairs/reds_train_001/blur/00000002.png"


def best_time(d: Deblurrer, img, repeat: int) -> tuple[float, object]:
    d.process(img[:256, :256])  # warm-up
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = d.process(img)
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model")
    ap.add_argument("--variant")
    ap.add_argument("--weights", type=Path)
    ap.add_argument("--tile", type=int)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int)
    args = ap.parse_args()
    loaded = load_model(args.model, args.variant, args.weights)
    cfg = loaded.config
    tile = args.tile or cfg.tile
    img = read_image(FRAME)
    mp = img.shape[0] * img.shape[1] / 1e6
    kw = dict(tile=tile, overlap=cfg.overlap, multiple=loaded.pad_multiple, batch=args.batch, fixed_shape=True)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = build(loaded, "onnx", tile, args.batch, "fp32", Path(tmp), threads=args.threads)
        build_s = time.perf_counter() - t0
        with TorchEngine(loaded.model, device="cpu", threads=args.threads) as pt:
            t_pt, out_pt = best_time(Deblurrer(pt, **kw), img, args.repeat)
        with open_engine(res.path, res.key, "cpu", args.threads) as ort:
            t_ort, out_ort = best_time(Deblurrer(ort, **kw), img, args.repeat)
    report = {
        "model": f"{loaded.arch}:{loaded.variant}",
        "weights": str(loaded.weights),
        "frame": f"{img.shape[1]}x{img.shape[0]}",
        "tile": tile,
        "batch": args.batch,
        "threads": pt.threads,
        "build_and_verify_s": round(build_s, 1),
        "torch_s_per_frame": round(t_pt, 3),
        "onnxruntime_s_per_frame": round(t_ort, 3),
        "torch_mp_per_s": round(mp / t_pt, 4),
        "onnxruntime_mp_per_s": round(mp / t_ort, 4),
        "speedup_ort_over_torch": round(t_pt / t_ort, 3),
        "outputs_psnr_db": round(output_psnr(out_pt / 255.0, out_ort / 255.0), 1),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
