"""``deblurcli train``: a thin layer over :class:`trainers.train.Trainer` (imported when the command runs)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ..catalog import architecture_names
from .common import fail, handle_errors, options, quiet_option
from .progress import _progress_printer


@click.command()
@click.argument("arch", type=click.Choice(architecture_names()))
@click.option(
    "--data",
    "data",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help="Training pairs: GoPro layout (SEQ/blur + SEQ/sharp), blur/ + sharp/, or X_train.npy/y_train.npy. "
    "Repeat to mix sets.",
)
@click.option(
    "--val",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Validation pairs (repeatable). Default: whole sequences split off the training data.",
)
@click.option(
    "--val-fraction",
    type=click.FloatRange(0, 0.9),
    default=0.1,
    show_default=True,
    help="Share of pairs held out by sequence when --val is not given.",
)
@click.option(
    "--val-max", type=click.IntRange(min=1), default=10, show_default=True, help="Validate on at most this many pairs."
)
@click.option(
    "-o",
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Run folder for checkpoints and history (default: runs/ARCH-VARIANT).",
)
@click.option("--variant", help="Model variant (see 'deblurcli models').")
@click.option("--steps", type=click.IntRange(min=1), default=10000, show_default=True, help="Total optimiser steps.")
@click.option("--batch", type=click.IntRange(min=1), help="Pairs per step and per process (default: the recipe's).")
@click.option(
    "--accum",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Batches per optimiser step (gradient accumulation): an effective batch of --batch x N per process, "
    "for a large-batch recipe on a CPU or a small GPU, N times the time per step.",
)
@click.option("--patch", type=click.IntRange(min=0), help="Random crop size (default 256; 0 = whole image).")
@click.option(
    "--resize",
    type=click.IntRange(min=8),
    help="Resize whole frames to NxN instead of cropping (the study's protocol: --resize 224).",
)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), help="Peak learning rate (default: the recipe's).")
@click.option("--min-lr", type=click.FloatRange(min=0), default=1e-7, show_default=True, help="Final cosine rate.")
@click.option("--weight-decay", type=click.FloatRange(min=0), help="AdamW weight decay (default: the recipe's).")
@click.option(
    "--loss",
    help="Loss: terms [W*]NAME joined by '+', NAME in l1, charbonnier, psnr, ssim, mae, fft, fftc, vgg "
    "(default: the recipe's, e.g. psnr for nafnet).",
)
@click.option("--warmup", type=click.IntRange(min=0), help="Linear warm-up steps (default 200).")
@click.option(
    "--clip", type=click.FloatRange(min=0), default=0.5, show_default=True, help="Gradient-norm clipping (0 = off)."
)
@click.option(
    "--ema",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.0,
    show_default=True,
    help="EMA decay of the weights (e.g. 0.999); checkpoints then hold the EMA weights.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for initialisation, data order, crops.")
@click.option(
    "--save-every",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help="Write last.safetensors every N steps.",
)
@click.option(
    "--keep-every",
    type=click.IntRange(min=1),
    default=None,
    help="Also keep OUT/stepN.safetensors (the inference weights, EMA's with --ema) every N steps, for soups or "
    "comparing checkpoints later.",
)
@click.option(
    "--val-every",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help="Validate every N steps (best.safetensors follows validation PSNR).",
)
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last.safetensors.")
@click.option(
    "--init",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Start from these weights (fine-tuning) instead of random ones.",
)
@click.option(
    "--freeze-steps",
    type=click.IntRange(min=0),
    help="Transfer models: keep the ImageNet backbone frozen for N steps (default 1000).",
)
@click.option(
    "--backbone-weights",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Local ImageNet weights (torchvision .pth) for transfer backbones or the vgg loss; nothing is downloaded.",
)
@click.option("--blur-dir", default="blur", show_default=True, help="Name of the blurry folder (e.g. blur_gamma).")
@options("device", "threads")
@click.option(
    "--no-amp",
    is_flag=True,
    help="No mixed precision (default: bf16 autocast on GPUs and on CPUs with "
    "native bf16, fp16 on older GPUs; fp32 elsewhere).",
)
@click.option(
    "--compile",
    "compile_model",
    is_flag=True,
    help="Train through torch.compile (TorchInductor): a minute or two of compiling first, then faster steps "
    "(1.8-1.9x per step, data included, on a 2-core AVX512-BF16 CPU for NAFNet-small at batch 4 x 256); "
    "for long runs of one crop size.",
)
@click.option(
    "--time-limit",
    help="Stop cleanly after this much wall-clock (e.g. 2h, 90m, 1h30m) with a "
    "resumable last.safetensors; --resume continues exactly.",
)
@quiet_option
@handle_errors
def train(
    arch: str,
    variant: str | None,
    out: Path | None,
    resume: bool,
    no_amp: bool,
    time_limit: str | None,
    compile_model: bool,
    quiet: bool,
    **options: Any,
) -> None:
    """Train ARCH on blurry/sharp pairs, with checkpoints you can resume.

    Writes OUT/last.safetensors (resumable: optimiser, EMA, step, RNG),
    OUT/best.safetensors, history.csv and curves.png. Each --val folder is
    a validation set (e.g. one per blur kind), reported on its own; 'best'
    is the checkpoint with the highest mean PSNR gain over the sets' blurry
    inputs.
    Both checkpoints load with 'deblurcli folder --weights'. Ctrl-C saves a
    resumable checkpoint. For several GPUs or nodes, start it with
    'torchrun --nproc_per_node N -m deblurcli train ...'.
    """
    import logging

    from trainers.train import Trainer, TrainOptions, parse_duration

    from ..models import get_spec

    spec = get_spec(arch)
    vname = variant or spec.default_variant
    spec.config(vname)  # an unknown variant is a one-line error
    out = out or Path("runs") / f"{arch}-{vname}"
    if not resume and (out / "last.safetensors").exists():
        raise fail(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    logging.getLogger("deblurcli.train").setLevel(logging.WARNING if quiet else logging.INFO)
    opts = TrainOptions(
        arch=arch,
        variant=vname,
        out=out,
        resume=resume,
        amp=not no_amp,
        compile=compile_model,
        quiet=quiet,
        time_limit=parse_duration(time_limit) if time_limit else None,
        **{k: list(v) if isinstance(v, tuple) else v for k, v in options.items()},  # type: ignore[arg-type]
    )
    prog, update = _progress_printer(quiet, 50)
    trainer = Trainer(opts, progress=None)
    if trainer.dist.main:
        trainer.progress = update
        (out / "run.json").write_text(json.dumps(trainer.opts.to_json(), indent=2) + "\n")
        if not quiet:
            _announce(trainer, out)
    if prog is not None and trainer.dist.main:
        with prog:
            result = trainer.run()
    else:
        result = trainer.run()
    if trainer.dist.main:
        _report(result, trainer.opts.steps, out, quiet)


def _announce(trainer: Any, out: Path) -> None:
    o = trainer.opts
    click.echo(
        f"{o.arch} ({o.variant}): {len(trainer.train_pairs)} training pairs, {len(trainer.val_pairs)} "
        f"validation pairs; loss {o.loss}, lr {o.lr:g}, batch {o.batch}x{trainer.dist.world}"
        f"{f'x{o.accum} (accumulated)' if o.accum > 1 else ''}, "
        f"{'torch.compile, ' if o.compile else ''}"
        f"patch {o.resize and f'resize {o.resize}' or o.patch}; steps {trainer.step}->{o.steps} -> {out}",
        err=True,
    )


def _report(result: dict[str, Any], steps: int, out: Path, quiet: bool) -> None:
    """The run's last line; exit 130 when Ctrl-C stopped it, 143 when SIGTERM (``kill``) did."""
    last = out / "last.safetensors"
    if result["interrupted"]:
        click.echo(f"interrupted at step {result['steps']}; saved {last}; continue with --resume", err=True)
        sys.exit(int(result["interrupted"]))
    if result["timed_out"]:
        click.echo(
            f"time limit reached at step {result['steps']} of {steps}; saved {last}; continue with --resume", err=True
        )
        return
    if not quiet:
        best = (
            f", best validation PSNR {result['best_psnr']:.2f} dB (mean gain {result['best_gain']:+.2f} dB)"
            if result["best_psnr"] > -1e9
            else ""
        )
        click.echo(
            f"done: {result['steps']} steps in {result['seconds']:.0f} s{best}; {out / 'best.safetensors'}", err=True
        )
