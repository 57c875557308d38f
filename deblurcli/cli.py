"""Command-line interface: parse, validate, hand the work to the library.

Typed library errors become one-line ``click`` errors. Exit codes: 0 when
everything succeeded, 1 when some files failed, 2 when the job could not
start (bad arguments, missing or wrong weights, nothing to do).
"""
from __future__ import annotations

import functools
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

import click

from . import __version__
from engines import ENGINE_NAMES

from .catalog import architecture_names
from .errors import DeblurError


class JobError(click.ClickException):
    """The job cannot start: printed as one line, exit code 2."""

    exit_code = 2


def fail(message: str) -> JobError:
    return JobError(message)


def model_options(f: Callable) -> Callable:
    """-m/--model, --variant, --weights: which network and which trained weights."""
    f = click.option("--weights", type=click.Path(dir_okay=False, path_type=Path),
                     help="Trained weights: a .safetensors from 'deblurcli train'/'convert' "
                          "(the model is rebuilt from it, no -m needed) or a torch .pth state dict.")(f)
    f = click.option("--variant", help="Model variant (see 'deblurcli models'); default: the model's default.")(f)
    f = click.option("-m", "--model", type=click.Choice(architecture_names()),
                     help="Architecture (default: nafnet, or whatever --weights holds).")(f)
    return f


def engine_options(f: Callable) -> Callable:
    """Device, back end, precision, threads and tiling shared by inference commands."""
    opts = [
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N."),
        click.option("--engine", type=click.Choice(ENGINE_NAMES), default="auto", show_default=True,
                     help="Inference back end. auto: a TensorRT engine built for this GPU, else an ONNX "
                          "Runtime engine built by 'build-engine', else PyTorch. onnxruntime builds its "
                          "engine if missing."),
        click.option("--engine-dir", type=click.Path(file_okay=False, path_type=Path),
                     help="Where built engines are (default: $DEBLURCLI_ENGINE_DIR or ~/.cache/deblurcli/engines)."),
        click.option("--precision", type=click.Choice(["fp32", "fp16", "bf16"]), default="fp32", show_default=True,
                     help="Compute precision (fp16/bf16 need CUDA)."),
        click.option("--threads", type=click.IntRange(min=1), help="CPU threads (default: all cores)."),
        click.option("--tile", type=click.IntRange(min=8), help="Tile size in pixels (default: the model's)."),
        click.option("--overlap", type=click.IntRange(min=0), help="Tile overlap in pixels (default: the model's)."),
        click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True, help="Tiles per forward pass."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def handle_errors(f: Callable) -> Callable:
    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from engines.torch_engine import EngineError

        try:
            return f(*args, **kwargs)
        except (DeblurError, EngineError) as e:
            raise fail(str(e)) from None

    return wrapper


def make_deblurrer(model: str | None, variant: str | None, weights: Path | None, device: str, engine: str,
                   precision: str, threads: int | None, tile: int | None, overlap: int | None, batch: int,
                   engine_dir: Path | None = None):
    """Load weights, pick and start the engine, and wrap both in the tiled pipeline."""
    from engines.select import select_engine

    from .loading import load_model
    from .pipeline import Deblurrer

    loaded = load_model(model, variant, weights)
    cfg = loaded.config
    tile = tile or cfg.tile
    overlap = cfg.overlap if overlap is None else overlap
    if overlap >= tile:
        raise fail(f"--overlap {overlap} must be smaller than --tile {tile}")
    sel = select_engine(engine, loaded, device, precision, threads, tile, batch, engine_dir)
    return loaded, sel.engine, Deblurrer(sel.engine, tile=tile, overlap=overlap, multiple=loaded.pad_multiple,
                                         batch=batch, fixed_shape=sel.fixed_shape)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="deblurcli")
def main() -> None:
    """Remove motion blur from photos and videos with trained deep-learning models."""
    import logging

    # library warnings (e.g. "starting from a random backbone") as plain lines on stderr
    logging.basicConfig(format="deblurcli: %(message)s", level=logging.WARNING)


@main.command()
@click.argument("input_dir", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Output folder (default: INPUT-deblurred beside INPUT).")
@click.option("-r", "--recursive", is_flag=True, help="Also process subfolders, keeping the tree.")
@click.option("--format", "fmt", type=click.Choice(["same", "png", "jpg"]), default="same", show_default=True,
              help="Output format: the input's, or png / jpg.")
@click.option("--skip-existing", is_flag=True, help="Skip images whose output exists (resume a run).")
@click.option("--overwrite", is_flag=True, help="Replace outputs that already exist.")
@model_options
@engine_options
@click.option("--json", "json_report", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a JSON report (per file: input, output, size, seconds, status or error).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@handle_errors
def folder(input_dir: Path, output: Path | None, recursive: bool, fmt: str, skip_existing: bool, overwrite: bool,
           model: str | None, variant: str | None, weights: Path | None, device: str, engine: str, precision: str,
           threads: int | None, tile: int | None, overlap: int | None, batch: int, engine_dir: Path | None,
           json_report: Path | None, quiet: bool) -> None:
    """Deblur every image in INPUT (png, jpg, bmp, tif, webp) into another folder.

    Inputs are never modified; each output keeps the input's name, size, bit
    depth, alpha and grayscale, and is written under a temporary name first.
    Unreadable files are reported and skipped. Exit code 1 if any file failed.
    """
    from . import console
    from .folder import plan_folder, process_file

    if skip_existing and overwrite:
        raise click.UsageError("--skip-existing and --overwrite exclude each other")
    out_dir, tasks, results = plan_folder(input_dir, output, recursive, fmt, skip_existing, overwrite)
    loaded, eng, deblurrer = make_deblurrer(model, variant, weights, device, engine, precision, threads,
                                            tile, overlap, batch, engine_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise fail(f"cannot create output folder {out_dir}: {e.strerror or e}") from None
    for r in results:
        if r.status == "failed":
            console.error(f"error: {r.input}: {r.error}")
    if not quiet:
        info = eng.info
        console.err.print(f"[bold]{loaded.arch}[/] ({loaded.variant}) from {loaded.weights.name}, "
                          f"{info.name} on {info.device} {info.precision}, tile {deblurrer.tile}/{deblurrer.overlap}; "
                          f"{len(tasks)} to do, {sum(r.status == 'skipped' for r in results)} skipped -> {out_dir}")
    t0 = time.perf_counter()
    interrupted = False
    with eng, console.file_progress(quiet) as progress:
        bar = progress.add_task("deblurring", total=len(tasks), mp=0.0, current="")
        mp = 0.0
        try:
            for task in tasks:
                progress.update(bar, current=task.src.name)
                r = process_file(task, deblurrer)
                results.append(r)
                mp += r.megapixels
                progress.update(bar, advance=1, mp=mp)
                if r.status == "failed":
                    console.error(f"error: {r.input}: {r.error}")
        except KeyboardInterrupt:
            interrupted = True
    seconds = time.perf_counter() - t0
    ok = [r for r in results if r.status == "ok"]
    failed = [r for r in results if r.status == "failed"]
    skipped = [r for r in results if r.status == "skipped"]
    if json_report:
        from .images import write_atomic

        report = {"model": loaded.arch, "variant": loaded.variant, "weights": str(loaded.weights),
                  "engine": eng.info.__dict__, "output": str(out_dir), "seconds": round(seconds, 3),
                  "interrupted": interrupted, "files": [r.to_dict() for r in results]}
        write_atomic(json_report, (json.dumps(report, indent=2) + "\n").encode())
    if not quiet:
        mps = sum(r.megapixels for r in ok)
        console.err.print(console.table("summary", ["ok", "skipped", "failed", "megapixels", "seconds", "MP/s"],
                                        [[len(ok), len(skipped), len(failed), f"{mps:.2f}", f"{seconds:.1f}",
                                          f"{mps / seconds if seconds > 0 else 0:.3f}"]]))
    if interrupted:
        console.error(f"interrupted after {len(ok)} of {len(tasks)} images; run again with --skip-existing to resume")
        sys.exit(130)
    if failed:
        sys.exit(1)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def models(as_json: bool) -> None:
    """List the architectures and variants: size, cost, tiling, weights."""
    import torch

    from . import console
    from .loading import find_weights
    from .models import create_model
    from .models.stats import count_parameters, gmacs_per_megapixel

    rows = []
    from .models import get_spec, model_names

    for name in model_names():
        spec = get_spec(name)
        for vname, cfg in spec.variants.items():
            with torch.device("meta"):
                m = create_model(name, config=cfg)
            w = find_weights(name, vname)
            rows.append({
                "name": name, "variant": vname, "default": vname == spec.default_variant,
                "parameters": count_parameters(m), "gmacs_per_mp": round(gmacs_per_megapixel(m), 2),
                "pad_multiple": cfg.pad_multiple, "tile": cfg.tile, "overlap": cfg.overlap,
                "weights": str(w) if w else None,
            })
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    console.out.print(console.table(
        "deblurcli models (* = default variant)",
        ["name", "variant", "parameters", "GMACs/MP", "pad", "tile", "weights"],
        [[r["name"], r["variant"] + (" *" if r["default"] else ""), f"{r['parameters']:,}", f"{r['gmacs_per_mp']:.2f}",
          r["pad_multiple"], f"{r['tile']}/{r['overlap']}", "yes" if r["weights"] else "no"] for r in rows]))


@main.command()
@click.argument("src", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("dst", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-m", "--model", type=click.Choice(architecture_names()),
              help="Architecture of SRC (default: recognised from its parameter names and shapes).")
@click.option("--variant", help="Variant of SRC (default: recognised).")
@click.option("--half", is_flag=True, help="Store fp16 weights (half the size).")
@click.option("--force", is_flag=True, help="Replace DST if it exists.")
@handle_errors
def convert(src: Path, dst: Path, model: str | None, variant: str | None, half: bool, force: bool) -> None:
    """Convert a torch checkpoint (e.g. the study's Uptimus.pth) to .safetensors.

    SRC is read with torch.load(weights_only=True), never unrestricted pickle,
    and loaded strictly into the model it fits; DST gets the project's
    metadata (arch, variant, config, source epoch/PSNR/SSIM when present).
    """
    from .checkpoints import build_model, read_checkpoint, save_checkpoint

    if dst.suffix != ".safetensors":
        raise fail(f"DST must end in .safetensors, got {dst.name}")
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise fail("DST is SRC; choose another name")
    if dst.exists() and not force:
        raise fail(f"{dst} exists; pass --force to replace it")
    ckpt = read_checkpoint(src)
    m, name, vname, cfg = build_model(ckpt, model, variant)
    meta = {k: v for k, v in ckpt.metadata.items() if k not in ("format", "format_version", "arch", "variant", "config", "dtype")}
    meta.setdefault("source", src.name)
    save_checkpoint(dst, m.state_dict(), name, cfg, half=half, **meta)
    click.echo(f"{dst}: {name} ({vname}), {sum(p.numel() for p in m.parameters()):,} parameters"
               + (", fp16" if half else ""))


from . import train_cli  # noqa: E402,F401  (registers train, synth, eval)
from . import engine_cli  # noqa: E402,F401  (registers build-engine)
from . import video_cli  # noqa: E402,F401  (registers video)
