"""Validation across blur kinds: one set per kind, each scored against its own blurry input.

A model that gains 2 dB on one kind and loses 0.3 dB on another is a
specialist; picking checkpoints on one set breeds them. Every ``--val`` folder
is a set (REDS, GoPro-style, camera shake, ...); a checkpoint's score is the
mean over sets of its PSNR gain over that set's blurry input, so each kind
counts once whatever its size or its baseline PSNR.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .data import Pair, PairLoader, iterate_pairs


@dataclass
class ValSet:
    """A named validation set and, once measured, its blurry input's scores."""

    name: str
    pairs: list[Pair]
    input_psnr: float | None = None
    input_ssim: float | None = None
    resumed_input: float | None = None  # the input PSNR the run's previous leg measured, checked on resume


@dataclass
class ValResult:
    """Per-set output scores and their means; ``gain`` (mean PSNR gain over sets) ranks checkpoints."""

    sets: dict[str, dict[str, float]] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)  # sets whose pairs differ from the previous leg's

    @property
    def psnr(self) -> float:
        return float(np.mean([s["psnr"] for s in self.sets.values()]))

    @property
    def ssim(self) -> float:
        return float(np.mean([s["ssim"] for s in self.sets.values()]))

    @property
    def gain(self) -> float:
        return float(np.mean([s["psnr"] - s["input_psnr"] for s in self.sets.values()]))

    def columns(self) -> dict[str, float]:
        """The history row's validation columns."""
        row = {"val_psnr": self.psnr, "val_ssim": self.ssim, "val_gain": self.gain}
        for name, s in self.sets.items():
            row[f"val/{name}/psnr"] = s["psnr"]
            row[f"val/{name}/ssim"] = s["ssim"]
            row[f"val/{name}/gain"] = s["psnr"] - s["input_psnr"]
        return row

    def describe(self) -> str:
        per = "  ".join(f"{n} {s['psnr']:.2f} ({s['psnr'] - s['input_psnr']:+.2f})" for n, s in self.sets.items())
        return f"mean gain {self.gain:+.3f} dB: {per}"


def set_names(folders: Sequence[Path]) -> list[str]:
    """A short unique name per folder: its own name, with its parent's where two share one."""
    names = [Path(f).name for f in folders]
    return [f"{Path(f).parent.name}/{n}" if names.count(n) > 1 else n for f, n in zip(folders, names)]


def score_pairs(process, pairs: Sequence[Pair], with_input: bool = True) -> tuple[float, float, float, float]:
    """Mean (output PSNR, output SSIM, input PSNR, input SSIM) of ``process`` over ``pairs``
    (the input's are NaN unless ``with_input``)."""
    from .evaluate import metrics

    out, inp = [], []
    for _, blur, sharp in iterate_pairs(PairLoader(pairs, cache_bytes=0)):
        out.append(metrics(process(blur), sharp))
        inp.append(metrics(blur, sharp) if with_input else (float("nan"), float("nan")))
    if not out:
        return (float("nan"),) * 4
    o, i = np.mean(out, axis=0), np.mean(inp, axis=0)
    return float(o[0]), float(o[1]), float(i[0]), float(i[1])


@torch.no_grad()
def validate_sets(
    model: torch.nn.Module, config: Any, sets: Sequence[ValSet], device: torch.device, limit: int
) -> ValResult:
    """Score ``model`` on every set (at most ``limit`` pairs each) as ``deblurcli folder`` runs it by default on a
    CPU: whole frames up to 2.2 MP, tiles above. (Validating on the model's 256 px tiles read REDS 0.1 dB lower
    than the shipped pipeline does, and could rank checkpoints by a way of inferring nobody uses.)"""
    from deblurcli.inference import cpu_default_pipeline

    from .evaluate import torch_fn

    d = cpu_default_pipeline(torch_fn(model, device), config)
    res = ValResult()
    for s in sets:
        p, ss, ip, iss = score_pairs(d.process, s.pairs[:limit], with_input=s.input_psnr is None)
        if s.input_psnr is None:
            s.input_psnr, s.input_ssim = ip, iss
            if s.resumed_input is not None and abs(ip - s.resumed_input) > 1e-6:
                res.changed.append(f"{s.name} (input {s.resumed_input:.2f} -> {ip:.2f} dB)")
        res.sets[s.name] = {
            "psnr": p,
            "ssim": ss,
            "input_psnr": float(s.input_psnr),
            "input_ssim": float(s.input_ssim or 0.0),
        }
    return res
