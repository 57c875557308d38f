"""``deblurcli build-engine``: compile a trained model for fast inference.

The work is in :mod:`engines.build`; onnx, onnxruntime and tensorrt are
imported only when the command runs.
"""
from __future__ import annotations

import json
from pathlib import Path

import click

from .cli import fail, handle_errors, main


@main.command("build-engine")
@click.argument("model", required=False)
@click.option("--variant", help="Model variant (default: the model's default, or what --weights holds).")
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path),
              help="Trained weights (default: the installed weights for MODEL).")
@click.option("--target", type=click.Choice(["onnx", "tensorrt"]), default="onnx", show_default=True,
              help="onnx: an ONNX Runtime engine (CPU, or CUDA when available); tensorrt: NVIDIA GPUs.")
@click.option("--tile", type=click.IntRange(min=8), help="Tile size the engine is built for (default: the model's).")
@click.option("--overlap", type=click.IntRange(min=0), help="Tile overlap used in verification (default: the model's).")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True, help="Tiles per inference.")
@click.option("--precision", type=click.Choice(["fp32", "fp16", "bf16"]), default="fp32", show_default=True,
              help="fp16/bf16: mixed precision with fp32 inputs and outputs (GPU).")
@click.option("--dynamic", metavar="MIN:OPT:MAX",
              help="Build for a range of square tile sizes instead of one static shape, e.g. 128:256:512.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Engine folder (default: $DEBLURCLI_ENGINE_DIR or ~/.cache/deblurcli/engines).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--verify-data", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of real images to verify on (default: the crops shipped with deblurcli).")
@click.option("--opset", type=click.IntRange(min=17), default=18, show_default=True, help="ONNX opset.")
@click.option("--force", is_flag=True, help="Rebuild even if a matching verified engine exists.")
@click.option("--threads", type=click.IntRange(min=1), help="CPU threads (default: all cores).")
@click.option("--json", "as_json", is_flag=True, help="Print the engine's path, key and verification as JSON.")
@handle_errors
def build_engine(model: str | None, variant: str | None, weights: Path | None, target: str, tile: int | None,
                 overlap: int | None, batch: int, precision: str, dynamic: str | None, out_dir: Path | None,
                 device: str, verify_data: Path | None, opset: int, force: bool, threads: int | None,
                 as_json: bool) -> None:
    """Compile MODEL into an engine for the tile shape 'folder' will use.

    Exports to ONNX (checked and simplified), builds (ONNX Runtime or
    TensorRT), then runs the engine and PyTorch on real images and keeps the
    engine only if their outputs agree (60 dB PSNR for fp32, 40 dB for fp16,
    34 dB for bf16). The file name carries model, weights hash, tile, batch,
    precision and back-end version (and GPU for TensorRT); 'folder' and 'eval'
    find it by themselves (--engine auto).
    """
    from engines.build import build

    from . import console
    from .loading import load_model
    from .models import model_names

    if model is not None and model not in model_names():
        raise fail(f"unknown model {model!r} (known: {', '.join(model_names())})")
    loaded = load_model(model, variant, weights)
    tile = tile or loaded.config.tile
    res = build(loaded, target, tile, batch, precision, out_dir, dynamic, overlap, device, verify_data,
                threads, force, opset, say=lambda m: console.err.print(m))
    v = res.verification
    if as_json:
        click.echo(json.dumps({"engine": str(res.path), "reused": res.reused, "key": res.key.to_dict(),
                               "verification": v.to_dict(), "build_seconds": round(res.seconds, 2)}, indent=2))
        return
    if res.reused:
        console.err.print(f"a verified engine already matches (use --force to rebuild): {res.path}")
    else:
        console.err.print(f"verified: worst {v.worst:.1f} dB against PyTorch (needs {v.threshold:.0f}); "
                          f"built in {res.seconds:.1f} s")
    click.echo(str(res.path))
