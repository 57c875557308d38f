"""Inference-time settings against quality and time, on the validation suite, one run.

For a model, scores every validation set (one per blur kind, see trainers/recipes/cross_kind_data.sh) under:
tiles of 256/32 (the old default), tiles of 384/32, the whole frame, the whole frame with NAFNet's
test-time local converter (TLC, Chu et al. 2022: channel attention pooled over --tlc px instead of the whole
frame), and flip/rotate self-ensembles of 2, 4 and 8 on the whole frame, with and without TLC. Prints PSNR gain
over the input per set, the mean over sets, and seconds per megapixel (PyTorch fp32, channels-last, tuned
allocator). Pause other work first.

    python benchmarks/inference_quality.py --weights W --suite traindata/val [--tlc 384] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    from deblurcli.loading import load_model
    from deblurcli.pipeline import Deblurrer
    from deblurcli.runtime import tune_allocator
    from engines.ensemble import Ensemble
    from engines.torch_engine import TorchEngine
    from trainers.data import find_pairs
    from trainers.validation import score_pairs

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", type=Path)
    ap.add_argument("--suite", type=Path, required=True, help="folder with one subfolder per validation set")
    ap.add_argument("--tlc", type=int, default=384)
    ap.add_argument("--configs", nargs="*")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    tune_allocator()
    loaded = load_model(weights=args.weights)
    sets = {d.name: find_pairs(d, split="test") for d in sorted(args.suite.iterdir()) if d.is_dir()}
    eng = TorchEngine(loaded.model, device="cpu")
    cfg = loaded.config
    configs = {
        "tiles256": dict(tile=256, overlap=32),
        "tiles384": dict(tile=384, overlap=32),
        "frame": dict(tile=4096, overlap=0),
        "frame+ens2": dict(tile=4096, overlap=0, ensemble=2),
        "frame+ens4": dict(tile=4096, overlap=0, ensemble=4),
        "frame+ens8": dict(tile=4096, overlap=0, ensemble=8),
        "frame+tlc": dict(tile=4096, overlap=0, tlc=args.tlc),
        "frame+tlc+ens2": dict(tile=4096, overlap=0, tlc=args.tlc, ensemble=2),
        "frame+tlc+ens8": dict(tile=4096, overlap=0, tlc=args.tlc, ensemble=8),
    }
    rows = []
    for name, c in configs.items():
        if args.configs and name not in args.configs:
            continue
        if hasattr(loaded.model, "set_local_pooling"):
            loaded.model.set_local_pooling(c.get("tlc", 0))
        elif c.get("tlc"):
            continue
        fn = Ensemble(eng, c.get("ensemble", 1)) if c.get("ensemble", 1) > 1 else eng
        d = Deblurrer.for_config(fn, cfg, tile=c["tile"], overlap=c["overlap"])
        row = {"config": name, "sets": {}}
        seconds = mp = 0.0
        for sname, pairs in sets.items():
            t0 = time.perf_counter()
            p, s, ip, iss = score_pairs(d.process, pairs)
            seconds += time.perf_counter() - t0
            row["sets"][sname] = {
                "psnr": round(p, 3),
                "ssim": round(s, 4),
                "gain": round(p - ip, 3),
                "ssim_gain": round(s - iss, 4),
            }
        mp = sum(_megapixels(p) for pairs in sets.values() for p in pairs)
        row["mean_gain"] = round(sum(v["gain"] for v in row["sets"].values()) / len(sets), 3)
        row["seconds_per_mp"] = round(seconds / mp, 3)  # includes metrics; the same for every config
        rows.append(row)
        per = "  ".join(f"{k} {v['gain']:+.2f}" for k, v in row["sets"].items())
        print(f"{name:16} mean {row['mean_gain']:+.3f} dB  [{per}]  {row['seconds_per_mp']:.2f} s/MP", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"weights": str(args.weights), "rows": rows}, indent=2) + "\n")


def _megapixels(pair) -> float:
    import cv2

    img = cv2.imread(str(pair.blur))
    return img.shape[0] * img.shape[1] / 1e6


if __name__ == "__main__":
    main()
