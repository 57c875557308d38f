"""Training options: per-architecture recipes, the options a run takes, schedules and precision."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from deblurcli.errors import DeblurError
from deblurcli.models import get_spec
from deblurcli.runtime import cpu_has_native_bf16


@dataclass(frozen=True)
class Recipe:
    """Per-architecture defaults, from each model's paper or the origin study."""

    loss: str
    lr: float
    patch: int = 256
    batch: int = 4
    weight_decay: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    warmup: int = 200
    freeze_steps: int = 0


RECIPES = {
    # NAFNet GoPro: PSNR loss, AdamW lr 1e-3, betas (0.9, 0.9), wd 1e-3, patch 256 (Chen et al. 2022)
    "nafnet": Recipe(loss="psnr", lr=1e-3, weight_decay=1e-3, betas=(0.9, 0.9)),
    # Uformer: Charbonnier, AdamW lr 2e-4, wd 0.02 (Wang et al. 2022)
    "uptimus": Recipe(loss="charbonnier", lr=2e-4, weight_decay=0.02),
    # the study's residual U-Net: MAE + (1 - SSIM)
    "resunet": Recipe(loss="mae+ssim", lr=1e-3),
    # transfer U-Nets: a low rate, the ImageNet backbone frozen while the decoder settles
    "efficientnet_b4": Recipe(loss="mae+ssim", lr=2e-4, freeze_steps=1000),
    "vgg19": Recipe(loss="mae+ssim", lr=2e-4, freeze_steps=1000),
}


@dataclass
class TrainOptions:
    arch: str
    data: list[Path]
    out: Path
    variant: str | None = None
    val: list[Path] = field(default_factory=list)
    val_fraction: float = 0.1
    val_max: int = 10
    steps: int = 10000
    batch: int | None = None
    accum: int = 1  # micro-batches per optimiser step (gradient accumulation)
    patch: int | None = None
    resize: int | None = None
    lr: float | None = None
    min_lr: float = 1e-7
    weight_decay: float | None = None
    loss: str | None = None
    warmup: int | None = None
    clip: float = 0.5
    ema: float = 0.0
    seed: int = 0
    save_every: int = 500
    keep_every: int | None = None  # also keep stepN.safetensors (inference weights) every N steps
    val_every: int = 500
    resume: bool = False
    init: Path | None = None
    freeze_steps: int | None = None
    backbone_weights: Path | None = None
    device: str = "auto"
    threads: int | None = None
    amp: bool = True
    channels_last: bool = True
    compile: bool = False  # the training forward/backward through torch.compile (TorchInductor)
    time_limit: float | None = None  # seconds of wall-clock for this invocation
    blur_dir: str = "blur"
    log_every: int = 50
    quiet: bool = False

    def resolved(self) -> TrainOptions:
        r = RECIPES[self.arch]
        return replace(
            self,
            variant=self.variant or get_spec(self.arch).default_variant,
            batch=self.batch or r.batch,
            patch=self.patch if self.patch is not None else r.patch,
            lr=self.lr or r.lr,
            weight_decay=r.weight_decay if self.weight_decay is None else self.weight_decay,
            loss=self.loss or r.loss,
            warmup=r.warmup if self.warmup is None else self.warmup,
            freeze_steps=r.freeze_steps if self.freeze_steps is None else self.freeze_steps,
        )

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        return {
            k: (str(v) if isinstance(v, Path) else [str(x) for x in v] if isinstance(v, list) else v)
            for k, v in d.items()
        }


def amp_dtype(device: torch.device, enabled: bool) -> torch.dtype | None:
    """Mixed precision for training: bf16 on CUDA GPUs and on CPUs with native bf16 (AVX512-BF16 or AMX),
    fp16 (with a gradient scaler) on older GPUs, none elsewhere."""
    if not enabled:
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_has_native_bf16():
        return torch.bfloat16
    return None


def parse_duration(text: str) -> float:
    """``"2h"``, ``"90m"``, ``"1h30m"``, ``"45s"`` or plain seconds -> seconds."""
    import re

    t = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", t):
        return float(t)
    m = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?", t)
    if not t or not m or not any(m.groups()):
        raise DeblurError(f"time limit {text!r}: expected a duration like 2h, 90m, 1h30m or 45s")
    h, mi, se = (float(g) if g else 0.0 for g in m.groups())
    return h * 3600 + mi * 60 + se


def lr_at(step: int, base: float, total: int, warmup: int, floor: float) -> float:
    """Linear warm-up to ``base``, then a cosine decay to ``floor`` at ``total``."""
    if warmup and step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return floor + 0.5 * (base - floor) * (1 + math.cos(math.pi * min(1.0, t)))
