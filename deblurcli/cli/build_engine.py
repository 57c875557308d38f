"""``deblurcli build-engine``: compile a trained model for fast inference.

The work is in :mod:`engines.build`; onnx, onnxruntime and tensorrt are
imported only when the command runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..catalog import BUILD_TARGETS, architecture_names
from .common import fail, handle_errors, options


@click.command("build-engine")
@click.argument("model", required=False)
@options("variant", "weights")
@click.option(
    "--target",
    type=click.Choice(list(BUILD_TARGETS)),
    default="onnx",
    show_default=True,
    help="onnx: an ONNX Runtime engine (CPU, or CUDA when available); tensorrt: NVIDIA GPUs.",
)
@options("tile", "overlap", "batch", "precision")
@click.option(
    "--dynamic",
    metavar="MIN:OPT:MAX",
    help="Build for a range of square tile sizes instead of one static shape, e.g. 128:256:512.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Engine folder (default: $DEBLURCLI_ENGINE_DIR or ~/.cache/deblurcli/engines).",
)
@options("device")
@click.option(
    "--verify-data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of real images to verify on (default: the crops shipped with deblurcli).",
)
@click.option("--opset", type=click.IntRange(min=17), default=18, show_default=True, help="ONNX opset.")
@click.option("--force", is_flag=True, help="Rebuild even if a matching verified engine exists.")
@options("threads")
@click.option("--json", "as_json", is_flag=True, help="Print the engine's path, key and verification as JSON.")
@handle_errors
def build_engine(
    model: str | None,
    variant: str | None,
    weights: Path | None,
    target: str,
    tile: int | None,
    overlap: int | None,
    batch: int,
    precision: str,
    dynamic: str | None,
    out_dir: Path | None,
    device: str,
    verify_data: Path | None,
    opset: int,
    force: bool,
    threads: int | None,
    as_json: bool,
) -> None:
    """Compile MODEL into an engine for the tile shape 'folder' will use.

    Exports to ONNX (checked and simplified), builds (ONNX Runtime or
    TensorRT), then runs the engine and PyTorch on real images and keeps the
    engine only if their outputs agree (60 dB PSNR for fp32, 40 dB for fp16,
    34 dB for bf16). The file name carries model, weights hash, tile, batch,
    precision and back-end version (and GPU for TensorRT); 'folder' and 'eval'
    find it by themselves (--engine auto).
    """
    from engines.build import build

    from .. import console
    from ..loading import load_model

    if model is not None and model not in architecture_names():
        raise fail(f"unknown model {model!r} (known: {', '.join(architecture_names())})")
    loaded = load_model(model, variant, weights)
    tile = tile or loaded.config.tile
    res = build(
        loaded,
        target,
        tile,
        batch,
        precision,
        out_dir,
        dynamic,
        overlap,
        device,
        verify_data,
        threads,
        force,
        opset,
        say=lambda m: console.err.print(m),
    )
    _report(res, as_json)


def _report(res: Any, as_json: bool) -> None:
    from .. import console

    v = res.verification
    if as_json:
        doc = {
            "engine": str(res.path),
            "reused": res.reused,
            "key": res.key.to_dict(),
            "verification": v.to_dict(),
            "build_seconds": round(res.seconds, 2),
        }
        click.echo(json.dumps(doc, indent=2))
        return
    if res.reused:
        console.err.print(f"a verified engine already matches (use --force to rebuild): {res.path}")
    else:
        console.err.print(
            f"verified: worst {v.worst:.1f} dB against PyTorch (needs {v.threshold:.0f}); built in {res.seconds:.1f} s"
        )
    click.echo(str(res.path))
