"""The training kit's commands: ``train``, ``synth`` and ``eval``.

Registered on the main group by :mod:`deblurcli.cli`; the heavy modules
(``trainers.*``) are imported only when a command runs.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .cli import engine_options, fail, handle_errors, main, make_deblurrer
from .catalog import architecture_names as model_names


def _progress_printer(quiet: bool, every: int):
    """A callback drawing rich progress on a terminal, and plain lines every ``every`` steps otherwise."""
    from . import console

    if quiet:
        return None, None
    if console.err.is_terminal:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        prog = Progress(TextColumn("[bold]training"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("loss {task.fields[loss]:.4f}  lr {task.fields[lr]:.2e}  {task.fields[rate]:.2f} it/s"
                                   "  {task.fields[val]}"),
                        TextColumn("ETA"), TimeRemainingColumn(), console=console.err)
        state: dict = {}

        def update(row: dict) -> None:
            if "task" not in state:
                state["task"] = prog.add_task("train", total=row["total"], completed=row["start"], loss=0.0, lr=0.0,
                                              rate=0.0, val="")
            rate = (row["step"] - row["start"]) / row["seconds"] if row["seconds"] > 0 else 0.0
            if row["val_psnr"] is not None:
                state["val"] = f"val {row['val_psnr']:.2f} dB / {row['val_ssim']:.4f} ({row.get('val_gain', 0):+.2f})"
            prog.update(state["task"], completed=row["step"], loss=row["loss"], lr=row["lr"], rate=rate,
                        val=state.get("val", ""))

        return prog, update

    def plain(row: dict) -> None:
        if row["step"] % every == 0 or row["val_psnr"] is not None or row["step"] == row["total"]:
            rate = (row["step"] - row["start"]) / row["seconds"] if row["seconds"] > 0 else 0.0
            eta = (row["total"] - row["step"]) / rate if rate else 0.0
            val = ""
            if row["val_psnr"] is not None:
                sets = "  ".join(f"{k[4:-5]} {v:+.2f}" for k, v in row.items() if k.startswith("val/") and k.endswith("/gain"))
                val = f"  val {row['val_psnr']:.2f} dB / {row['val_ssim']:.4f}, mean gain {row.get('val_gain', 0):+.3f} [{sets}]"
            print(f"step {row['step']}/{row['total']}  loss {row['loss']:.4f}  lr {row['lr']:.2e}  "
                  f"{rate:.2f} it/s  ETA {eta / 60:.0f} min{val}", file=sys.stderr, flush=True)

    return None, plain


@main.command()
@click.argument("arch", type=click.Choice(model_names()))
@click.option("--data", "data", multiple=True, required=True, type=click.Path(path_type=Path),
              help="Training pairs: GoPro layout (SEQ/blur + SEQ/sharp), blur/ + sharp/, or X_train.npy/y_train.npy. "
                   "Repeat to mix sets.")
@click.option("--val", multiple=True, type=click.Path(path_type=Path),
              help="Validation pairs (repeatable). Default: whole sequences split off the training data.")
@click.option("--val-fraction", type=click.FloatRange(0, 0.9), default=0.1, show_default=True,
              help="Share of pairs held out by sequence when --val is not given.")
@click.option("--val-max", type=click.IntRange(min=1), default=10, show_default=True,
              help="Validate on at most this many pairs.")
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path),
              help="Run folder for checkpoints and history (default: runs/ARCH-VARIANT).")
@click.option("--variant", help="Model variant (see 'deblurcli models').")
@click.option("--steps", type=click.IntRange(min=1), default=10000, show_default=True, help="Total optimiser steps.")
@click.option("--batch", type=click.IntRange(min=1), help="Pairs per step and per process (default: the recipe's).")
@click.option("--patch", type=click.IntRange(min=0), help="Random crop size (default 256; 0 = whole image).")
@click.option("--resize", type=click.IntRange(min=8), help="Resize whole frames to NxN instead of cropping "
                                                           "(the study's protocol: --resize 224).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), help="Peak learning rate (default: the recipe's).")
@click.option("--min-lr", type=click.FloatRange(min=0), default=1e-7, show_default=True, help="Final cosine rate.")
@click.option("--weight-decay", type=click.FloatRange(min=0), help="AdamW weight decay (default: the recipe's).")
@click.option("--loss", help="Loss: terms [W*]NAME joined by '+', NAME in l1, charbonnier, psnr, ssim, mae, fft, vgg "
                             "(default: the recipe's, e.g. psnr for nafnet).")
@click.option("--warmup", type=click.IntRange(min=0), help="Linear warm-up steps (default 200).")
@click.option("--clip", type=click.FloatRange(min=0), default=0.5, show_default=True,
              help="Gradient-norm clipping (0 = off).")
@click.option("--ema", type=click.FloatRange(0, 1, max_open=True), default=0.0, show_default=True,
              help="EMA decay of the weights (e.g. 0.999); checkpoints then hold the EMA weights.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for initialisation, data order, crops.")
@click.option("--save-every", type=click.IntRange(min=1), default=500, show_default=True,
              help="Write last.safetensors every N steps.")
@click.option("--val-every", type=click.IntRange(min=1), default=500, show_default=True,
              help="Validate every N steps (best.safetensors follows validation PSNR).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last.safetensors.")
@click.option("--init", type=click.Path(dir_okay=False, path_type=Path),
              help="Start from these weights (fine-tuning) instead of random ones.")
@click.option("--freeze-steps", type=click.IntRange(min=0),
              help="Transfer models: keep the ImageNet backbone frozen for N steps (default 1000).")
@click.option("--backbone-weights", type=click.Path(dir_okay=False, path_type=Path),
              help="Local ImageNet weights (torchvision .pth) for transfer backbones or the vgg loss; "
                   "nothing is downloaded.")
@click.option("--blur-dir", default="blur", show_default=True, help="Name of the blurry folder (e.g. blur_gamma).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N (torchrun sets the GPU).")
@click.option("--threads", type=click.IntRange(min=1), help="CPU threads (default: all cores).")
@click.option("--no-amp", is_flag=True, help="No mixed precision (default: bf16 autocast on GPUs and on CPUs with "
                                            "native bf16, fp16 on older GPUs; fp32 elsewhere).")
@click.option("--time-limit", help="Stop cleanly after this much wall-clock (e.g. 2h, 90m, 1h30m) with a "
                                   "resumable last.safetensors; --resume continues exactly.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@handle_errors
def train(arch: str, data: tuple[Path, ...], val: tuple[Path, ...], val_fraction: float, val_max: int,
          out: Path | None, variant: str | None, steps: int, batch: int | None, patch: int | None, resize: int | None,
          lr: float | None, min_lr: float, weight_decay: float | None, loss: str | None, warmup: int | None,
          clip: float, ema: float, seed: int, save_every: int, val_every: int, resume: bool, init: Path | None,
          freeze_steps: int | None, backbone_weights: Path | None, blur_dir: str, device: str,
          threads: int | None, no_amp: bool, time_limit: str | None, quiet: bool) -> None:
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

    from trainers.train import TrainOptions, Trainer, parse_duration

    from .models import get_spec

    spec = get_spec(arch)
    vname = variant or spec.default_variant
    try:
        spec.config(vname)
    except KeyError as e:
        raise fail(e.args[0]) from None
    out = out or Path("runs") / f"{arch}-{vname}"
    if not resume and (out / "last.safetensors").exists():
        raise fail(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    logging.getLogger("deblurcli.train").setLevel(logging.WARNING if quiet else logging.INFO)
    opts = TrainOptions(arch=arch, data=list(data), out=out, variant=vname, val=list(val), val_fraction=val_fraction,
                        val_max=val_max, steps=steps, batch=batch, patch=patch, resize=resize, lr=lr, min_lr=min_lr,
                        weight_decay=weight_decay, loss=loss, warmup=warmup, clip=clip, ema=ema, seed=seed,
                        save_every=save_every, val_every=val_every, resume=resume, init=init,
                        freeze_steps=freeze_steps, backbone_weights=backbone_weights, device=device, threads=threads,
                        amp=not no_amp, blur_dir=blur_dir, quiet=quiet,
                        time_limit=parse_duration(time_limit) if time_limit else None)
    prog, update = _progress_printer(quiet, 50)
    trainer = Trainer(opts, progress=None)
    if trainer.dist.main:
        trainer.progress = update
        (out / "run.json").write_text(json.dumps(trainer.opts.to_json(), indent=2) + "\n")
        if not quiet:
            o = trainer.opts
            click.echo(f"{arch} ({vname}): {len(trainer.train_pairs)} training pairs, {len(trainer.val_pairs)} "
                       f"validation pairs; loss {o.loss}, lr {o.lr:g}, batch {o.batch}x{trainer.dist.world}, "
                       f"patch {o.resize and f'resize {o.resize}' or o.patch}; steps {trainer.step}->{o.steps} -> {out}",
                       err=True)
    if prog is not None and trainer.dist.main:
        with prog:
            result = trainer.run()
    else:
        result = trainer.run()
    if not trainer.dist.main:
        return
    if result["interrupted"]:
        click.echo(f"interrupted at step {result['steps']}; saved {out / 'last.safetensors'}; continue with --resume",
                   err=True)
        sys.exit(130)
    if result["timed_out"]:
        click.echo(f"time limit reached at step {result['steps']} of {trainer.opts.steps}; saved "
                   f"{out / 'last.safetensors'}; continue with --resume", err=True)
        return
    if not quiet:
        best = (f", best validation PSNR {result['best_psnr']:.2f} dB (mean gain {result['best_gain']:+.2f} dB)"
                if result["best_psnr"] > -1e9 else "")
        click.echo(f"done: {result['steps']} steps in {result['seconds']:.0f} s{best}; {out / 'best.safetensors'}",
                   err=True)


@main.command()
@click.argument("sharp", type=click.Path(exists=True, path_type=Path))
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--from-video", "video", is_flag=True,
              help="SHARP is a high-frame-rate video (or a folder of its frames): average --window frames.")
@click.option("--window", default="7", show_default=True,
              help="Frames per blurry image: N or a range LO-HI drawn per pair (e.g. 7-13).")
@click.option("--stride", type=click.IntRange(min=1), help="Frames between window starts (default: the window).")
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True, help="First frame used.")
@click.option("--limit", type=click.IntRange(min=1), help="Stop after N pairs.")
@click.option("--per-image", type=click.IntRange(min=1), default=2, show_default=True,
              help="Camera shake: blurry versions per sharp image.")
@click.option("--kernels", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of real kernels (.npy) mixed with random trajectories.")
@click.option("--real-fraction", type=click.FloatRange(0, 1), default=0.3, show_default=True,
              help="Share of pairs blurred with a real kernel (with --kernels).")
@click.option("--kernel-size", default="7-65", show_default=True, help="Trajectory kernel sizes, LO-HI pixels.")
@click.option("--noise", type=click.FloatRange(min=0), default=0.01, show_default=True,
              help="Largest read-noise sigma (linear light, 0-1); shot noise scales with it. 0 = none.")
@click.option("--jpeg", help="JPEG quality range for the blurry images, e.g. 70-95 (default: no JPEG).")
@click.option("--jpeg-prob", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Share of blurry images that get the JPEG round trip (with --jpeg).")
@click.option("--crop", type=click.IntRange(min=16), help="Camera shake: random crops of this size.")
@click.option("--highlights", type=click.FloatRange(0, 1), default=0.4, show_default=True,
              help="Camera shake: share of pairs whose highlights saturate (radiance scaled above white, "
                   "clipped after blurring).")
@click.option("--rotation", type=click.FloatRange(0, 1), default=0.3, show_default=True,
              help="Camera shake: share of trajectory pairs with an in-plane rotation (spatially varying blur).")
@click.option("--plain", is_flag=True, help="Camera shake: sRGB curve only, no highlights, no rotation.")
@click.option("--include", help="Camera shake: only images whose names match this glob (e.g. 'test_*').")
@click.option("--exclude", help="Camera shake: leave out images whose names match this glob.")
@click.option("--average", type=click.Choice(["linear", "srgb", "both"]), default="linear", show_default=True,
              help="With --from-video: average in linear light (GoPro's blur_gamma), the sRGB codes (GoPro's "
                   "blur), or both (two pairs per window).")
@click.option("--seed", type=int, default=0, show_default=True, help="Makes the run reproducible.")
@click.option("--force", is_flag=True, help="Write into an OUT that already has pairs.json.")
@handle_errors
def synth(sharp: Path, out: Path, video: bool, window: str, stride: int | None, offset: int, limit: int | None,
          per_image: int, kernels: Path | None, real_fraction: float, kernel_size: str, noise: float,
          jpeg: str | None, jpeg_prob: float, crop: int | None, highlights: float, rotation: float, plain: bool,
          include: str | None, exclude: str | None, average: str, seed: int, force: bool) -> None:
    """Make blurry/sharp training pairs from SHARP images or video into OUT.

    Camera shake (default): each image under SHARP is blurred with random
    camera-motion kernels (Boracchi and Foi 2012) and/or real kernels through
    a camera model (RSBlur, Rim et al. 2022): linear light with a tone curve
    drawn per pair, saturated highlights, some rotating (spatially varying)
    paths, Poisson-Gaussian noise, optional JPEG. With --from-video, windows of
    consecutive frames are averaged and the middle frame is the target, as
    GoPro and REDS were made. OUT gets the GoPro layout and pairs.json (each
    pair's kernel or frame window, what the camera model drew, and the seed).
    """
    import numpy as np

    from trainers.camera import Camera
    from trainers.synth import (ShakeOptions, SynthError, Writer, folder_frames, load_kernels, parse_window,
                                synth_from_frames, synth_shake, video_frames)

    if (out / "pairs.json").exists() and not force:
        raise fail(f"{out} already holds synthetic pairs; pass --force or choose another OUT")
    rng = np.random.default_rng(seed)
    try:
        if video:
            lo_hi = parse_window(window)
            writer = Writer(out, seed, "video", [])
            frames = folder_frames(sharp) if sharp.is_dir() else video_frames(sharp)
            out.mkdir(parents=True, exist_ok=True)
            n = synth_from_frames(frames, writer, sharp.stem, lo_hi, stride, offset, limit, rng, average)
            writer.finish(source=str(sharp), window=list(lo_hi), stride=stride, offset=offset, average=average)
        else:
            if sharp.is_file():
                raise fail(f"{sharp} is a file: camera shake takes a folder of sharp images (for a video add --from-video)")
            q = parse_window(jpeg) if jpeg else None
            cam = Camera(noise=noise, jpeg=q, jpeg_prob=jpeg_prob,
                         saturate_prob=0.0 if plain else highlights, rotation_prob=0.0 if plain else rotation,
                         srgb_prob=1.0 if plain else 0.5)
            o = ShakeOptions(per_image=per_image, kernels=load_kernels(kernels) if kernels else None,
                             real_fraction=real_fraction, size=parse_window(kernel_size), crop=crop, camera=cam,
                             include=include, exclude=exclude, limit=limit)
            writer = Writer(out, seed, "shake", [])
            out.mkdir(parents=True, exist_ok=True)
            n = synth_shake(sharp, writer, rng, o)
            writer.finish(source=str(sharp), noise=noise, jpeg=jpeg, kernels=str(kernels) if kernels else None,
                          camera={k: v for k, v in vars(cam).items()}, include=include, exclude=exclude, crop=crop)
    except SynthError as e:
        raise fail(str(e)) from None
    click.echo(f"{n} pairs -> {out} (pairs.json records how each was made)", err=True)


@main.command(name="eval")
@click.option("--data", "data", multiple=True, required=True, type=click.Path(path_type=Path),
              help="Pairs to score (GoPro layout, blur/ + sharp/, or X_test.npy/y_test.npy). Repeatable.")
@click.option("-m", "--models", "models", default=None,
              help="Comma-separated models (default: the default model); 'all' = every model with weights.")
@click.option("--weights", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Weights file(s), one per model in -m order, or alone (the model is read from the file).")
@engine_options
@click.option("--limit", type=click.IntRange(min=1), help="Score at most N pairs.")
@click.option("--json", "as_json", type=click.Path(dir_okay=False, path_type=Path),
              help="Write per-image and summary numbers as JSON.")
@click.option("--figure", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a PNG grid: input / each model / sharp, with zoomed insets.")
@click.option("--figure-rows", type=click.IntRange(min=1), default=3, show_default=True, help="Images in --figure.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the summary table.")
@handle_errors
def eval_(data: tuple[Path, ...], models: str | None, weights: tuple[Path, ...], device: str, engine: str,
          precision: str, threads: int | None, tile: int | None, overlap: int | None, batch: int,
          engine_dir: Path | None, limit: int | None,
          as_json: Path | None, figure: Path | None, figure_rows: int, quiet: bool) -> None:
    """Score models on blurry/sharp pairs: PSNR and SSIM of input and outputs.

    Runs the same tiled pipeline as 'folder'. Prints mean +- std per model and
    seconds per megapixel; --json for every image, --figure for a picture.
    """
    from trainers.data import find_pairs

    from .loading import DEFAULT_MODEL, find_weights
    from .models import get_spec

    pairs = []
    for d in data:
        pairs += find_pairs(d, split="test")
    pairs = pairs[:limit] if limit else pairs
    if models == "all":
        names = [n for n in model_names() if find_weights(n, get_spec(n).default_variant)]
        if not names:
            raise fail("no model has installed weights; pass -m NAME --weights FILE")
    elif models:
        names = [n.strip() for n in models.split(",") if n.strip()]
        unknown = [n for n in names if n not in model_names()]
        if unknown:
            raise fail(f"unknown model {unknown[0]!r} (known: {', '.join(model_names())})")
    else:
        names = [None] if weights else [DEFAULT_MODEL]
    if weights and len(weights) != len(names):
        if len(names) == 1 and names[0] is None:
            names = [None] * len(weights)
        else:
            raise fail(f"{len(weights)} --weights for {len(names)} models; give one per model, in -m order")
    runners, engines = [], []
    try:
        for i, name in enumerate(names):
            loaded, eng, deblurrer = make_deblurrer(name, None, weights[i] if weights else None, device, engine,
                                                    precision, threads, tile, overlap, batch, engine_dir)
            engines.append(eng)
            label = loaded.arch if names.count(name) == 1 and name else f"{loaded.arch}:{loaded.weights.stem}"
            runners.append((label, deblurrer))
        _score(pairs, runners, data, as_json, figure, figure_rows, quiet)
    finally:
        for eng in engines:  # every engine opened, also when one failed to open or scoring failed
            eng.close()


def _score(pairs, runners, data, as_json, figure, figure_rows, quiet) -> None:
    import numpy as np

    from trainers.evaluate import evaluate, summarise

    from . import console

    labels = ["input"] + [lab for lab, _ in runners]
    pick = set(np.linspace(0, len(pairs) - 1, min(figure_rows, len(pairs))).round().astype(int).tolist()) if figure else set()

    def show(r) -> None:
        if not quiet:
            console.err.print(f"{r.name}: " + "  ".join(f"{k} {r.psnr[k]:.2f}/{r.ssim[k]:.3f}" for k in labels))

    rows, kept = evaluate(pairs, runners, on_image=show, keep=lambda i: i in pick)
    if not rows:
        raise fail("no readable pairs to score")
    summary = summarise(rows, labels)
    console.out.print(console.table(
        f"{len(rows)} pairs from {', '.join(str(d) for d in data)}",
        ["name", "PSNR dB", "SSIM", "gain dB", "s/MP"],
        [[s["label"], f"{s['psnr_mean']:.2f} ± {s['psnr_std']:.2f}", f"{s['ssim_mean']:.4f} ± {s['ssim_std']:.4f}",
          f"{s['psnr_mean'] - summary[0]['psnr_mean']:+.2f}" if s["label"] != "input" else "",
          f"{s['seconds_per_mp']:.2f}" if s["seconds_per_mp"] is not None else ""] for s in summary]))
    if as_json:
        from .images import write_atomic

        doc = {"data": [str(d) for d in data], "summary": summary,
               "images": [{"name": r.name, "size": r.size, "psnr": r.psnr, "ssim": r.ssim, "seconds": r.seconds}
                          for r in rows]}
        write_atomic(as_json, (json.dumps(doc, indent=2) + "\n").encode())
    if figure:
        from trainers.figure import comparison_figure

        comparison_figure([kept[i] for i in sorted(kept)], [rows[i] for i in sorted(kept)], labels, figure)
        if not quiet:
            console.err.print(f"figure -> {figure}")
