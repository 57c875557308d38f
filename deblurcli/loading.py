"""From what the user typed (-m, --variant, --weights) to a ready model."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch.nn as nn

from .checkpoints import build_model, read_checkpoint
from .errors import WeightsMissing
from .models import get_spec

DEFAULT_MODEL = "nafnet"
PACKAGE_WEIGHTS = Path(__file__).parent / "weights"


def weights_dirs() -> list[Path]:
    """Where trained weights are looked for: $DEBLURCLI_WEIGHTS_DIR, then the package."""
    dirs = []
    if os.environ.get("DEBLURCLI_WEIGHTS_DIR"):
        dirs.append(Path(os.environ["DEBLURCLI_WEIGHTS_DIR"]))
    dirs.append(PACKAGE_WEIGHTS)
    return dirs


def find_weights(arch: str, variant: str) -> Path | None:
    """Trained weights for ``arch``/``variant``: ``<arch>-<variant>.safetensors``."""
    for d in weights_dirs():
        p = d / f"{arch}-{variant}.safetensors"
        if p.is_file():
            return p
    return None


@dataclass
class LoadedModel:
    model: nn.Module
    arch: str
    variant: str
    config: Any
    weights: Path
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def pad_multiple(self) -> int:
        return int(self.config.pad_multiple)


def load_model(arch: str | None = None, variant: str | None = None, weights: str | Path | None = None) -> LoadedModel:
    """Resolve and load a model. Never returns a model with random weights."""
    if weights is None:
        arch = arch or DEFAULT_MODEL
        spec = get_spec(arch)
        variant = variant or spec.default_variant
        spec.config(variant)  # validates the variant name
        found = find_weights(arch, variant)
        if found is None:
            raise WeightsMissing(
                f"no trained weights for {arch} ({variant}) are installed; pass --weights FILE "
                f"(a .safetensors from 'deblurcli train' or 'deblurcli convert', or a torch .pth state dict)"
            )
        weights = found
    ckpt = read_checkpoint(weights)
    model, name, vname, cfg = build_model(ckpt, arch, variant)
    return LoadedModel(model, name, vname, cfg, Path(weights), ckpt.metadata)
