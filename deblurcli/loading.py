"""From what the user typed (-m, --variant, --weights) to a ready model.

:func:`load_model` reads the weights and builds the PyTorch model. :func:`peek_model` only names the model a
``.safetensors`` file holds (its header, no torch), so that a cached engine can run without importing torch at
all (:func:`deblurcli.inference.open_deblurrer`); such a :class:`LoadedModel` builds its PyTorch model only if
something asks for it.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .catalog import DEFAULT_VARIANTS
from .errors import WeightsMissing

if TYPE_CHECKING:
    import torch.nn as nn

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
    """A model named by its weights; ``model`` (PyTorch) is built on first use when it was only peeked at."""

    arch: str
    variant: str
    config: Any  # the architecture's config, or (peeked) anything with tile, overlap and pad_multiple
    weights: Path
    metadata: dict[str, str] = field(default_factory=dict)
    built: Any = None  # the nn.Module, once built

    @property
    def model(self) -> nn.Module:
        if self.built is None:
            full = load_model(self.arch, self.variant, self.weights)
            self.built, self.config = full.built, full.config
        return self.built

    @property
    def pad_multiple(self) -> int:
        return int(self.config.pad_multiple)


@dataclass(frozen=True)
class Tiling:
    """What the tiler needs from a model's config, for a model that was only peeked at."""

    tile: int
    overlap: int
    pad_multiple: int


def load_model(arch: str | None = None, variant: str | None = None, weights: str | Path | None = None) -> LoadedModel:
    """Resolve and load a model. Never returns a model with random weights."""
    from .checkpoints import build_model, read_checkpoint
    from .models import get_spec

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
    return LoadedModel(name, vname, cfg, Path(weights), ckpt.metadata, built=model)


def peek_model(
    arch: str | None = None, variant: str | None = None, weights: str | Path | None = None
) -> tuple[str, str, Path, dict[str, str]] | None:
    """The architecture, variant, weights file and metadata that :func:`load_model` would load, read from the
    ``.safetensors`` header alone (no torch); None wherever only loading can tell (a torch ``.pth``, a file
    without deblurcli's metadata, names that do not match it, anything unreadable): load then, which also
    gives the proper error."""
    if weights is None:
        arch = arch or DEFAULT_MODEL
        variant = variant or DEFAULT_VARIANTS.get(arch)
        if variant is None:
            return None
        weights = find_weights(arch, variant)
        if weights is None:
            return None
    meta = _safetensors_metadata(Path(weights))
    if meta is None or meta.get("format") != "deblurcli" or not meta.get("arch") or not meta.get("variant"):
        return None
    if (arch and arch != meta["arch"]) or (variant and variant != meta["variant"]):
        return None
    return meta["arch"], meta["variant"], Path(weights), meta


def _safetensors_metadata(path: Path) -> dict[str, str] | None:
    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > 100_000_000:
                return None
            header = json.loads(f.read(n))
        meta = header.get("__metadata__") or {}
        return {str(k): str(v) for k, v in meta.items()}
    except (OSError, struct.error, ValueError, AttributeError):
        return None
