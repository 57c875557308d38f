"""Seconds per 720p frame and megapixels/s for each model, through the real pipeline.

Runs the tiled pipeline (the same code as ``deblurcli folder``) with random
weights (speed does not depend on their values) on a real 1280x720 frame from
``../shared/data``, with the torch engine on this machine's CPU.

    python benchmarks/folder_speed.py [--models nafnet:small,uptimus:default] [--repeat 2] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from deblurcli.images import read_image
from deblurcli.models import create_model, get_spec, model_names
from deblurcli.models.stats import count_parameters, gmacs_per_megapixel
from deblurcli.pipeline import Deblurrer
from engines.torch_engine import TorchEngine

FRAME = Path(__file__).resolve().parents[2] / "shared/data/pairs/reds_train_000/blur/00000000.png"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = ",".join(f"{n}:{get_spec(n).default_variant}" for n in model_names())
    ap.add_argument("--models", default=default, help="comma-separated NAME:VARIANT")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--tile", type=int)
    args = ap.parse_args()
    img = read_image(FRAME)
    mp = img.shape[0] * img.shape[1] / 1e6
    rows = []
    for item in args.models.split(","):
        name, _, variant = item.partition(":")
        cfg = get_spec(name).config(variant or None)
        torch.manual_seed(0)
        model = create_model(name, config=cfg)
        eng = TorchEngine(model, device="cpu", threads=args.threads)
        d = Deblurrer.for_config(eng, cfg, args.tile)
        d.process(img[:256, :256])  # warm-up
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            d.process(img)
            times.append(time.perf_counter() - t0)
        best = min(times)
        row = {
            "model": name,
            "variant": variant or get_spec(name).default_variant,
            "parameters": count_parameters(model),
            "gmacs_per_mp": round(gmacs_per_megapixel(model), 1),
            "tile": d.tile,
            "threads": eng.info.threads,
            "seconds_per_720p": round(best, 2),
            "mp_per_s": round(mp / best, 3),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
