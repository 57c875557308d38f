"""Cheap inference-time variants of one model against its plain output, on the validation suite, one run.

For each pair of each validation set (one per blur kind, ``cross_kind_data.sh``), the model's whole-frame output
``f(x)`` (PyTorch fp32, one pass) and: the correction scaled, ``x + a (f(x) - x)`` for a in 0.9 ... 1.5; the model
run twice, ``f(f(x))``, and the mean of one and two runs; a coarse-to-fine pass (the half-size image's correction
upsampled onto the input, then the model) and that upsampled correction alone. Prints PSNR gain / SSIM per set and
the mean gain over sets. None of them beat ``f(x)`` on the shipped default (README, "deblurcli folder"); the
self-ensemble, which did, is in ``inference_quality.py``. Pause other work first.

    python benchmarks/inference_tricks.py --suite traindata/val [--weights W] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

SCALES = (0.9, 1.1, 1.2, 1.3, 1.5)


def _q(a: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def variants(f, blur: np.ndarray) -> dict[str, np.ndarray]:
    """Every variant's output for one blurry uint8 image, ``f`` the model's pipeline."""
    x = blur.astype(np.float32)
    y1 = f(blur)
    out = {"input": blur, "f": y1}
    for a in SCALES:
        out[f"scale {a}"] = _q(x + a * (y1.astype(np.float32) - x))
    y2 = f(y1)
    out["twice"] = y2
    out["mean of once and twice"] = _q((y1.astype(np.float32) + y2.astype(np.float32)) / 2)
    h, w = blur.shape[:2]
    half = cv2.resize(blur, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    corr = f(half).astype(np.float32) - half.astype(np.float32)
    coarse = _q(x + cv2.resize(corr, (w, h), interpolation=cv2.INTER_LINEAR))
    out["coarse-to-fine"] = f(coarse)
    out["coarse correction only"] = coarse
    return out


def main() -> None:
    from deblurcli.loading import load_model
    from deblurcli.pipeline import Deblurrer
    from deblurcli.runtime import tune_allocator
    from engines.torch_engine import TorchEngine
    from trainers.data import PairLoader, find_pairs, iterate_pairs
    from trainers.evaluate import metrics

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", type=Path, required=True, help="folder with one subfolder per validation set")
    ap.add_argument("--weights", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    tune_allocator()
    loaded = load_model(weights=args.weights)
    d = Deblurrer.for_config(TorchEngine(loaded.model, device="cpu"), loaded.config, tile=4096, overlap=0)
    res: dict[str, dict[str, list[float]]] = {}
    for kind in sorted(p for p in args.suite.iterdir() if p.is_dir()):
        scores: dict[str, list[tuple[float, float]]] = {}
        for _, blur, sharp in iterate_pairs(PairLoader(find_pairs(kind, split="test"), cache_bytes=0)):
            for name, img in variants(d.process, blur).items():
                scores.setdefault(name, []).append(metrics(img, sharp))
        res[kind.name] = {k: np.mean(v, axis=0).tolist() for k, v in scores.items()}
    for name in next(iter(res.values())):
        gains = {s: r[name][0] - r["input"][0] for s, r in res.items()}
        per = "  ".join(f"{s} {g:+.3f} / {res[s][name][1]:.4f}" for s, g in gains.items())
        print(f"{name:24} mean {np.mean(list(gains.values())):+.3f}  {per}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
