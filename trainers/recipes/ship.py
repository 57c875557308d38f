"""Turn a training run's best checkpoint into shipped package weights, or refuse.

    python trainers/recipes/ship.py RUN/best.safetensors \\
        --val traindata/val/reds --val traindata/val/gopro --val traindata/val/shake \\
        --target reds=1.8 --target gopro=1.5 --target shake=2.0 \\
        --sets ../shared/data/pairs --command "bash trainers/recipes/..." \\
        --out deblurcli/weights/nafnet-small.safetensors

Writes the weights in fp16 to a temporary file, then scores *that file* (what users will get) through the
pipeline ``deblurcli folder`` runs with no options (engine, precision and tiling chosen as for a user; the
engine is built in a temporary folder) on every validation set (one per blur kind) and on every real pair set
under ``--sets``. The bar: on every validation set higher SSIM than the blurry input and at least its
``--target`` gain in dB (``--min-gain`` for sets without one; never below "better than the input"), and no
set under ``--sets`` made worse on average. Only then is the file moved into place, with the numbers in its
metadata and a card (``.json``, rendered into the README by model_card.py) beside it; ``--force`` ships
anyway and records what was missed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from deblurcli.checkpoints import read_checkpoint, save_checkpoint
from deblurcli.inference import InferenceOptions, open_deblurrer
from deblurcli.loading import load_model
from deblurcli.models.stats import count_parameters, gmacs_per_megapixel
from trainers.data import find_pairs
from trainers.evaluate import evaluate, summarise
from trainers.validation import set_names

MIN_GAIN_DB = 1.0


def pair_sets(root: Path) -> list[Path]:
    """Every folder under ``root`` that holds a blur/ + sharp/ pair of folders (a GoPro sequence counts alone)."""
    return sorted(d.parent for d in root.rglob("blur") if d.is_dir() and (d.parent / "sharp").is_dir())


def data_summary(data: str | None) -> str | None:
    """``"a, b, b, b"`` (the metadata's training sets, oversampling spelled out) -> ``"a, b x3"``."""
    if not data:
        return data
    counts: dict[str, int] = {}
    for d in data.split(", "):
        counts[d] = counts.get(d, 0) + 1
    return ", ".join(d if n == 1 else f"{d} x{n}" for d, n in counts.items())


def measured_kernels(folder: Path) -> list[str]:
    """The measured kernels a ``deblurcli synth`` set was blurred with (``pairs.json``), e.g. ['levin09_k1']."""
    side = folder / "pairs.json"
    if not side.is_file():
        return []
    pairs = json.loads(side.read_text()).get("pairs", [])
    return sorted(
        {str(p.get("kernel_source", ""))[5:] for p in pairs if str(p.get("kernel_source")).startswith("real:")}
    )


def score(deblurrer: Any, folder: Path) -> dict:
    rows, _ = evaluate(find_pairs(folder, split="test"), [("model", deblurrer)])
    s = {r["label"]: r for r in summarise(rows, ["input", "model"])}
    kernels = measured_kernels(folder)
    return {
        **({"kernels": kernels} if kernels else {}),
        "pairs": len(rows),
        "input_psnr": s["input"]["psnr_mean"],
        "input_ssim": s["input"]["ssim_mean"],
        "psnr": s["model"]["psnr_mean"],
        "ssim": s["model"]["ssim_mean"],
        "seconds_per_mp": s["model"]["seconds_per_mp"],
    }


def parse_targets(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        name, _, db = item.partition("=")
        try:
            out[name] = float(db)
        except ValueError:
            sys.exit(f"--target {item!r}: expected NAME=DB, e.g. reds=1.8")
    return out


def judge(suite: dict[str, dict], sets: dict[str, dict], targets: dict[str, float], min_gain: float) -> dict:
    """The bar's verdict: what each validation set needed and got, which sets got worse."""
    misses = []
    for name, v in suite.items():
        need = max(targets.get(name, min_gain), 1e-9)
        gain = v["psnr"] - v["input_psnr"]
        if gain < need:
            misses.append(f"{name} gains {gain:+.2f} dB, needs +{need:.2f}")
        if v["ssim"] <= v["input_ssim"]:
            misses.append(f"{name} SSIM {v['ssim']:.4f} not above the input's {v['input_ssim']:.4f}")
    worse = [k for k, v in sets.items() if v["psnr"] < v["input_psnr"]]
    return {
        "targets": {k: targets.get(k, min_gain) for k in suite},
        "min_gain_db": min_gain,
        "gains": {k: round(v["psnr"] - v["input_psnr"], 3) for k, v in suite.items()},
        "misses": misses,
        "worse_sets": worse,
        "passed": not misses and not worse,
    }


def measure(
    tmp: Path, vals: list[Path], sets_root: Path, threads: int | None, engine_name: str = "auto"
) -> tuple[dict, dict, dict]:
    """(validation suite scores, real-set scores, the engine that ran) for the weights file ``tmp``."""
    with tempfile.TemporaryDirectory() as engines:
        opts = InferenceOptions(weights=tmp, threads=threads, engine_dir=Path(engines), engine=engine_name)
        opened = open_deblurrer(opts)
        with opened.engine:
            d = opened.deblurrer
            suite = {n: score(d, v) for n, v in zip(set_names(vals), vals)}
            sets = {str(s.relative_to(sets_root)): score(d, s) for s in pair_sets(sets_root)}
            info = opened.engine.info
            engine = {
                "name": info.name,
                "precision": info.precision,
                "threads": info.threads,
                "ensemble": opts.ensemble,
                "tiling": f"whole frames up to {d.frame_pixels / 1e6:.1f} MP, else {d.tile}/{d.overlap}"
                if d.frame_pixels
                else f"{d.tile}/{d.overlap}",
            }
    return suite, sets, engine


def _metadata(first: dict, suite: dict, sets: dict, bar: dict, args: Any) -> dict[str, str]:
    """The numbers the shipped file carries in its own metadata."""

    def rounded(scores: dict) -> str:
        keys = ("input_psnr", "input_ssim", "psnr", "ssim")
        return json.dumps({k: {m: round(v[m], 4) for m in keys} for k, v in scores.items()})

    return {
        "val_psnr": f"{first['psnr']:.4f}", "val_ssim": f"{first['ssim']:.4f}",
        "val_input_psnr": f"{first['input_psnr']:.4f}", "val_input_ssim": f"{first['input_ssim']:.4f}",
        "validation_data": ", ".join(str(v) for v in args.val), "training_command": args.command,
        "val_suite": rounded(suite), "real_sets": rounded(sets), "bar_passed": str(bar["passed"]).lower(),
    }  # fmt: skip


def _arguments() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--val", type=Path, action="append", required=True, help="a validation set (repeat per kind)")
    ap.add_argument("--target", action="append", default=[], help="NAME=DB: the gain a validation set needs")
    ap.add_argument("--sets", type=Path, required=True, help="folder of real pair sets (none may get worse)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--command", required=True, help="the exact training command, for the model card")
    ap.add_argument("--threads", type=int)
    ap.add_argument(
        "--engine",
        default="auto",
        help="back end to score with (default auto: what 'deblurcli folder' runs; the tests use torch for speed)",
    )
    ap.add_argument(
        "--min-gain",
        type=float,
        default=MIN_GAIN_DB,
        help=f"gain needed on a validation set without --target (default {MIN_GAIN_DB})",
    )
    ap.add_argument("--force", action="store_true")
    return ap.parse_args()


def main() -> None:
    args = _arguments()

    ckpt, loaded = read_checkpoint(args.checkpoint), load_model(weights=args.checkpoint)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(f".{args.out.name}.candidate.safetensors")
    meta = {
        k: v
        for k, v in ckpt.metadata.items()
        if k not in ("format", "format_version", "arch", "variant", "config", "dtype", "train_state")
    }
    save_checkpoint(tmp, loaded.model.state_dict(), loaded.arch, loaded.config, half=True, **meta)
    try:
        t0 = time.perf_counter()
        suite, sets, engine = measure(tmp, args.val, args.sets, args.threads, args.engine)
        bar = judge(suite, sets, parse_targets(args.target), args.min_gain)
        first = next(iter(suite.values()))
        model = loaded.model
        card = {
            "model": f"{loaded.arch}-{loaded.variant}",
            "parameters": count_parameters(model),
            "gmacs_per_mp": round(gmacs_per_megapixel(model), 2),
            "validation_clip": str(args.val[0]),
            "validation": first,
            "validation_suite": suite,
            "validation_folders": [str(v) for v in args.val],
            "engine": engine,
            "sets": sets,
            "bar": bar,
            "training_command": args.command,
            "steps": meta.get("steps"),
            "training_data": data_summary(meta.get("training_data")),
            "scored_seconds": round(time.perf_counter() - t0, 1),
        }
        print(json.dumps(card, indent=2))
        if not bar["passed"] and not args.force:  # refused: the candidate goes, the shipped file stays
            print(
                f"not shipped: {'; '.join(bar['misses'] + [f'{w} worse' for w in bar['worse_sets']])}", file=sys.stderr
            )
            sys.exit(1)
        meta.update(_metadata(first, suite, sets, bar, args))
        save_checkpoint(args.out, read_checkpoint(tmp).state_dict, loaded.arch, loaded.config, half=True, **meta)
        args.out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
        print(f"shipped {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)", file=sys.stderr)
    finally:
        tmp.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
