"""Evaluation: PSNR and SSIM of the blurry input and of each model, through the same tiled pipeline as ``folder``.

Metrics are scikit-image's ``peak_signal_noise_ratio`` and
``structural_similarity`` on RGB in [0, 1] (``data_range=1``,
``channel_axis=2``), computed on the 8-bit output a user would get.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deblurcli.errors import DeblurError
from deblurcli.pipeline import Deblurrer

from .data import Pair, PairLoader, iterate_pairs


def resolve_models(models: str | None, weights: list[Path]) -> list[str | None]:
    """``eval -m`` and ``--weights`` to one model name per run (None: the model is read from its file).

    ``models``: comma-separated names, ``all`` (every model with installed weights) or None (the default
    model, or one run per weights file).
    """
    from deblurcli.catalog import architecture_names
    from deblurcli.loading import DEFAULT_MODEL, find_weights
    from deblurcli.models import get_spec

    names: list[str | None]
    if models == "all":
        names = [n for n in architecture_names() if find_weights(n, get_spec(n).default_variant)]
        if not names:
            raise DeblurError("no model has installed weights; pass -m NAME --weights FILE")
    elif models:
        names = [n.strip() for n in models.split(",") if n.strip()]
        unknown = [n for n in names if n not in architecture_names()]
        if unknown:
            raise DeblurError(f"unknown model {unknown[0]!r} (known: {', '.join(architecture_names())})")
    else:
        names = [None] if weights else [DEFAULT_MODEL]
    if weights and len(weights) != len(names):
        if len(names) == 1 and names[0] is None:
            return [None] * len(weights)
        raise DeblurError(f"{len(weights)} --weights for {len(names)} models; give one per model, in -m order")
    return names


def metrics(pred: np.ndarray, sharp: np.ndarray) -> tuple[float, float]:
    """(PSNR, SSIM) of two uint8 RGB images, as scikit-image computes them."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    a = pred.astype(np.float64) / 255.0
    b = sharp.astype(np.float64) / 255.0
    return (
        float(peak_signal_noise_ratio(b, a, data_range=1.0)),
        float(structural_similarity(b, a, data_range=1.0, channel_axis=2)),
    )


def torch_fn(model: torch.nn.Module, device: torch.device) -> Callable[[np.ndarray], np.ndarray]:
    def run(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(batch).to(device)).float().cpu().numpy()

    return run


@dataclass
class Scored:
    """One image's numbers: input and each model."""

    name: str
    size: tuple[int, int]
    psnr: dict[str, float] = field(default_factory=dict)
    ssim: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def summarise(rows: Sequence[Scored], labels: Sequence[str]) -> list[dict[str, Any]]:
    out = []
    mp = sum(r.size[0] * r.size[1] for r in rows) / 1e6
    for lab in labels:
        p = np.array([r.psnr[lab] for r in rows])
        s = np.array([r.ssim[lab] for r in rows])
        secs = sum(r.seconds.get(lab, 0.0) for r in rows)
        out.append(
            {
                "label": lab,
                "psnr_mean": float(p.mean()),
                "psnr_std": float(p.std()),
                "ssim_mean": float(s.mean()),
                "ssim_std": float(s.std()),
                "seconds_per_mp": secs / mp if lab != "input" and mp else None,
                "images": len(rows),
            }
        )
    return out


def evaluate(
    pairs: Sequence[Pair],
    models: Sequence[tuple[str, Deblurrer]],
    on_image: Callable[[Scored], None] | None = None,
    keep: Callable[[int], bool] | None = None,
) -> tuple[list[Scored], dict[int, dict[str, np.ndarray]]]:
    """Score every pair for the input and each model; keep the images ``keep(i)`` asks for (figures).

    ``i`` and the keys of the returned dict index the returned rows.
    """
    rows: list[Scored] = []
    kept: dict[int, dict[str, np.ndarray]] = {}
    for pair, blur, sharp in iterate_pairs(PairLoader(pairs, cache_bytes=0)):
        i = len(rows)  # index among scored pairs (unreadable ones are skipped)
        r = Scored(pair.name, (blur.shape[1], blur.shape[0]))
        r.psnr["input"], r.ssim["input"] = metrics(blur, sharp)
        images = {"input": blur, "sharp": sharp}
        for label, deblurrer in models:
            t0 = time.perf_counter()
            out = deblurrer.process(blur)
            r.seconds[label] = time.perf_counter() - t0
            r.psnr[label], r.ssim[label] = metrics(out, sharp)
            images[label] = out
        if keep and keep(i):
            kept[i] = images
        rows.append(r)
        if on_image:
            on_image(r)
    return rows, kept
