"""Turn a training run's best checkpoint into shipped package weights, or refuse.

    python trainers/recipes/ship.py RUN/best.safetensors --val ../shared/data/pairs/reds_train_001 \\
        --sets ../shared/data/pairs --command "bash trainers/recipes/shipped_train.sh nafnet ..." \\
        --out deblurcli/weights/nafnet-small.safetensors

Writes the weights in fp16 to a temporary file, then scores *that file*
(what users will get) through the same tiled pipeline as ``deblurcli folder``
on the validation clip and on every real pair set under ``--sets``. The bar
(issue 5): at least +1.0 dB PSNR and higher SSIM than the blurry input on the
validation clip, averaged, and no set made worse on average (``--min-gain``
lowers the required gain, never below "better than the input"). Only then is
the file moved into place, with the numbers in its metadata and a card
(``.json``, rendered into the README by model_card.py) beside it; ``--force``
ships anyway and records the failure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from deblurcli.checkpoints import read_checkpoint, save_checkpoint
from deblurcli.loading import load_model
from deblurcli.models.stats import count_parameters, gmacs_per_megapixel
from deblurcli.pipeline import Deblurrer
from engines.torch_engine import TorchEngine
from trainers.data import find_pairs
from trainers.evaluate import evaluate, summarise

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


def score(weights: Path, folder: Path, threads: int | None) -> dict:
    loaded = load_model(weights=weights)
    cfg = loaded.config
    eng = TorchEngine(loaded.model, device="cpu", threads=threads)
    d = Deblurrer.for_config(eng, cfg)
    rows, _ = evaluate(find_pairs(folder, split="test"), [("model", d)])
    s = {r["label"]: r for r in summarise(rows, ["input", "model"])}
    return {
        "pairs": len(rows),
        "input_psnr": s["input"]["psnr_mean"],
        "input_ssim": s["input"]["ssim_mean"],
        "psnr": s["model"]["psnr_mean"],
        "ssim": s["model"]["ssim_mean"],
        "seconds_per_mp": s["model"]["seconds_per_mp"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--val", type=Path, required=True, help="the held-out validation clip")
    ap.add_argument("--sets", type=Path, required=True, help="folder of real pair sets (each is scored)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--command", required=True, help="the exact training command, for the model card")
    ap.add_argument("--threads", type=int)
    ap.add_argument(
        "--min-gain",
        type=float,
        default=MIN_GAIN_DB,
        help=f"required PSNR gain in dB on --val (default {MIN_GAIN_DB}, the default model's bar)",
    )
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()

    ckpt = read_checkpoint(args.checkpoint)
    loaded = load_model(weights=args.checkpoint)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(f".{args.out.name}.candidate")
    meta = {
        k: v
        for k, v in ckpt.metadata.items()
        if k not in ("format", "format_version", "arch", "variant", "config", "dtype", "train_state")
    }
    save_checkpoint(tmp, loaded.model.state_dict(), loaded.arch, loaded.config, half=True, **meta)
    try:
        t0 = time.perf_counter()
        val = score(tmp, args.val, args.threads)
        sets = {str(s.relative_to(args.sets)): score(tmp, s, args.threads) for s in pair_sets(args.sets)}
        gain = val["psnr"] - val["input_psnr"]
        worse = [k for k, v in sets.items() if v["psnr"] < v["input_psnr"]]
        passed = gain >= args.min_gain and gain > 0 and val["ssim"] > val["input_ssim"] and not worse
        model = loaded.model
        card = {
            "model": f"{loaded.arch}-{loaded.variant}",
            "parameters": count_parameters(model),
            "gmacs_per_mp": round(gmacs_per_megapixel(model), 2),
            "validation_clip": str(args.val),
            "validation": val,
            "sets": sets,
            "bar": {"min_gain_db": args.min_gain, "gain_db": round(gain, 3), "worse_sets": worse, "passed": passed},
            "training_command": args.command,
            "steps": meta.get("steps"),
            "training_data": data_summary(meta.get("training_data")),
            "scored_seconds": round(time.perf_counter() - t0, 1),
        }
        print(json.dumps(card, indent=2))
        if not passed and not args.force:
            print(
                f"not shipped: the bar is +{args.min_gain} dB and higher SSIM on {args.val.name} and no set "
                f"worse (gain {gain:+.2f} dB, worse: {worse or 'none'})",
                file=sys.stderr,
            )
            sys.exit(1)
        meta.update(
            val_psnr=f"{val['psnr']:.4f}",
            val_ssim=f"{val['ssim']:.4f}",
            val_input_psnr=f"{val['input_psnr']:.4f}",
            val_input_ssim=f"{val['input_ssim']:.4f}",
            validation_data=str(args.val),
            training_command=args.command,
            real_sets=json.dumps(
                {k: {m: round(v[m], 4) for m in ("input_psnr", "input_ssim", "psnr", "ssim")} for k, v in sets.items()}
            ),
            bar_passed=str(passed).lower(),
        )
        save_checkpoint(args.out, read_checkpoint(tmp).state_dict, loaded.arch, loaded.config, half=True, **meta)
        args.out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
        print(f"shipped {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)", file=sys.stderr)
    finally:
        tmp.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
