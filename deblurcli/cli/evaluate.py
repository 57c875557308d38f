"""``deblurcli eval``: PSNR/SSIM of the input and each model on blurry/sharp pairs (:mod:`trainers.evaluate`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..inference import InferenceOptions
from .common import fail, handle_errors, inference_options


@click.command(name="eval")
@click.option(
    "--data",
    "data",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help="Pairs to score (GoPro layout, blur/ + sharp/, or X_test.npy/y_test.npy). Repeatable.",
)
@click.option(
    "-m",
    "--models",
    "models",
    default=None,
    help="Comma-separated models (default: the default model); 'all' = every model with weights.",
)
@click.option(
    "--weights",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Weights file(s), one per model in -m order, or alone (the model is read from the file).",
)
@inference_options(models=False)
@click.option("--limit", type=click.IntRange(min=1), help="Score at most N pairs.")
@click.option(
    "--json",
    "as_json",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write per-image and summary numbers as JSON to this file (- for standard output).",
)
@click.option(
    "--figure",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a PNG grid: input / each model / sharp, with zoomed insets.",
)
@click.option("--figure-rows", type=click.IntRange(min=1), default=3, show_default=True, help="Images in --figure.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the summary table.")
@handle_errors
def eval_(
    data: tuple[Path, ...],
    models: str | None,
    weights: tuple[Path, ...],
    inference: InferenceOptions,
    limit: int | None,
    as_json: Path | None,
    figure: Path | None,
    figure_rows: int,
    quiet: bool,
) -> None:
    """Score models on blurry/sharp pairs: PSNR and SSIM of input and outputs.

    Runs the same tiled pipeline as 'folder'. Prints mean +- std per model and
    seconds per megapixel; --json for every image, --figure for a picture.
    """
    from trainers.data import find_pairs
    from trainers.evaluate import resolve_models

    from ..inference import open_deblurrer

    pairs = []
    for d in data:
        pairs += find_pairs(d, split="test")
    pairs = pairs[:limit] if limit else pairs
    names = resolve_models(models, list(weights))
    runners: list[tuple[str, Any]] = []
    opened: list[Any] = []
    try:
        for i, name in enumerate(names):
            o = open_deblurrer(inference.with_model(name, weights[i] if weights else None))
            opened.append(o)
            label = o.loaded.arch if names.count(name) == 1 and name else f"{o.loaded.arch}:{o.loaded.weights.stem}"
            runners.append((unique_label(label, o.loaded.weights, [lab for lab, _ in runners]), o.deblurrer))
        _score(pairs, runners, data, as_json, figure, figure_rows, quiet, inference.settings())
    finally:
        for o in opened:  # every engine opened, also when one failed to open or scoring failed
            o.close()


def unique_label(label: str, weights: Path, taken: list[str]) -> str:
    """A row name no other model has: two runs' files both called last.safetensors get their folders' names."""
    if label in taken:
        label = f"{label.split(':')[0]}:{weights.parent.name}/{weights.stem}"
    base, n = label, 2
    while label in taken:
        label, n = f"{base}#{n}", n + 1
    return label


def _score(pairs, runners, data, as_json, figure, figure_rows, quiet, settings) -> None:
    import numpy as np

    from trainers.evaluate import evaluate, summarise

    from .. import console

    labels = ["input"] + [lab for lab, _ in runners]
    pick = (
        set(np.linspace(0, len(pairs) - 1, min(figure_rows, len(pairs))).round().astype(int).tolist())
        if figure
        else set()
    )

    def show(r) -> None:
        if not quiet:
            console.err.print(f"{r.name}: " + "  ".join(f"{k} {r.psnr[k]:.2f}/{r.ssim[k]:.3f}" for k in labels))

    rows, kept = evaluate(pairs, runners, on_image=show, keep=lambda i: i in pick)
    if not rows:
        raise fail("no readable pairs to score")
    summary = summarise(rows, labels)
    # the table is the command's output, unless the JSON takes standard output (--json -)
    (console.err if str(as_json) == "-" else console.out).print(
        console.table(
            f"{len(rows)} pairs from {', '.join(str(d) for d in data)}",
            ["name", "PSNR dB", "SSIM", "gain dB", "s/MP"],
            [
                [
                    s["label"],
                    f"{s['psnr_mean']:.2f} ± {s['psnr_std']:.2f}",
                    f"{s['ssim_mean']:.4f} ± {s['ssim_std']:.4f}",
                    f"{s['psnr_mean'] - summary[0]['psnr_mean']:+.2f}" if s["label"] != "input" else "",
                    f"{s['seconds_per_mp']:.2f}" if s["seconds_per_mp"] is not None else "",
                ]
                for s in summary
            ],
        )
    )
    if as_json:
        from ..images import write_json_atomic

        doc = {
            "data": [str(d) for d in data],
            **settings,
            "summary": summary,
            "images": [
                {"name": r.name, "size": r.size, "psnr": r.psnr, "ssim": r.ssim, "seconds": r.seconds} for r in rows
            ],
        }
        write_json_atomic(as_json, doc)
    if figure:
        from trainers.figure import comparison_figure

        comparison_figure([kept[i] for i in sorted(kept)], [rows[i] for i in sorted(kept)], labels, figure)
        if not quiet:
            console.err.print(f"figure -> {figure}")
