"""From the user's choices to a running deblurrer: model, weights, back end, tiling.

:class:`InferenceOptions` is what every inference command (``folder``,
``video``, ``eval``) and every script (``ship.py``, the benchmarks) asks for;
:func:`open_deblurrer` loads the weights, picks and starts the engine and
wraps both in the tiled pipeline.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DeblurError

if TYPE_CHECKING:  # torch is imported when a deblurrer is opened (unless a cached engine runs), not with the CLI
    from collections.abc import Callable

    import numpy as np

    from engines.base import Selected

    from .loading import LoadedModel
    from .pipeline import Deblurrer


# The flip/rotate self-ensemble every inference command runs unless told otherwise: the four rotations of the
# input, averaged. On the validation suite (benchmarks/inference_quality.py, the shipped default, PyTorch fp32, whole
# frames) 1 -> 2 -> 4 -> 8 read a mean gain of +1.449 -> +1.513 -> +1.556 -> +1.570 dB, higher PSNR and SSIM on every
# blur kind at each step; 4 is the knee (8 doubles the time for +0.014 dB). End to end (benchmarks/folder_e2e.py) four
# passes took 1.08 s per 720p frame against one pass's 0.38 and the old default's 3.38 in the same run, well under
# issue 18's budget (twice the old default's time). --ensemble 1 is the fast path.
DEFAULT_ENSEMBLE = 4


@dataclass(frozen=True)
class InferenceOptions:
    """Which model and weights, on which back end and device, with which tiles."""

    model: str | None = None
    variant: str | None = None
    weights: Path | None = None
    device: str = "auto"
    engine: str = "auto"
    precision: str = "auto"
    threads: int | None = None
    tile: int | None = None
    overlap: int | None = None
    batch: int = 1
    engine_dir: Path | None = None
    ensemble: int = DEFAULT_ENSEMBLE  # flips/rotations averaged (engines/ensemble.py)
    compile_model: bool = False  # the PyTorch engine through torch.compile
    strength: float = 1.0  # input + strength x (output - input): 1 the model's output

    def settings(self) -> dict[str, float]:
        """What shapes the pixels beyond the model and weights, for reports: the self-ensemble and the strength."""
        return {"ensemble": self.ensemble, "strength": self.strength}

    def with_model(self, model: str | None, weights: Path | None = None) -> InferenceOptions:
        return replace(self, model=model, weights=weights, variant=None if model != self.model else self.variant)


@dataclass
class OpenDeblurrer:
    """A loaded model, its started engine (close it, or use ``with``) and the pipeline around them."""

    loaded: LoadedModel
    engine: Any
    deblurrer: Deblurrer

    def __iter__(self):  # loaded, engine, deblurrer = open_deblurrer(...)
        return iter((self.loaded, self.engine, self.deblurrer))

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> OpenDeblurrer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_deblurrer(o: InferenceOptions) -> OpenDeblurrer:
    """Load weights, pick and start the engine, and wrap both in the tiled pipeline."""
    from .loading import load_model
    from .pipeline import Deblurrer
    from .runtime import tune_allocator

    if o.device in ("auto", "cpu"):  # before torch and the engines start threads (one arena for them all)
        tune_allocator()
    cached = _cached_without_torch(o)
    loaded, sel = cached if cached else (load_model(o.model, o.variant, o.weights), None)
    cfg = loaded.config
    cpu = _on_cpu(o.device)
    tile = o.tile or (CPU_TILE if cpu else cfg.tile)
    overlap = cfg.overlap if o.overlap is None else o.overlap
    if overlap >= tile:
        raise DeblurError(f"--overlap {overlap} must be smaller than --tile {tile}")
    if sel is None:
        from engines.select import select_engine

        sel = select_engine(
            o.engine, loaded, o.device, o.precision, o.threads, tile, o.batch, o.engine_dir, o.compile_model
        )
    run: Any = sel.engine
    if o.ensemble > 1:
        from engines.ensemble import Ensemble  # tiles are square, so a fixed-shape engine takes turned ones

        run = Ensemble(sel.engine, o.ensemble)
    d = Deblurrer.for_config(run, cfg, tile, overlap, o.batch, sel.fixed_shape)
    d.strength = o.strength
    if cpu and not o.tile and not sel.fixed_shape:
        frames_on_cpu(d)
    return OpenDeblurrer(loaded, sel.engine, d)


def cpu_default_pipeline(engine: Callable[[np.ndarray], np.ndarray], cfg: Any) -> Deblurrer:
    """The pipeline ``deblurcli folder`` uses on a CPU with no tiling options (whole frames, see below), in one pass
    of ``engine`` (no self-ensemble), for scoring a model the way it will be used (training's validation)."""
    from .pipeline import Deblurrer

    return frames_on_cpu(Deblurrer.for_config(engine, cfg, tile=CPU_TILE))


def frames_on_cpu(d: Deblurrer) -> Deblurrer:
    d.frame_pixels, d.fit_tiles = FRAME_PIXELS, True
    return d


# On a CPU, without --tile: whole frames up to about 1080p (faster than tiles, and no seams), larger images
# in tiles of at most 832 px shortened to the least overlap, which bounds memory: the smallest bound that keeps
# the overlap work of common photo sizes (12 MP, 24 MP, 4K, 8K) under 10% (benchmarks/cpu_tiles.py: 0.79 GiB
# peak for a 12 MP photo, 1.03 GiB for 8K; 512 px tiles wasted 17% and 14%, 1024 px held 1.04 and 1.24 GiB)
CPU_TILE = 832
FRAME_PIXELS = 2_200_000


def _cached_without_torch(o: InferenceOptions) -> tuple[LoadedModel, Selected] | None:
    """The model named by its weights' header and its cached OpenVINO engine, torch never imported, where
    that is what the full path would pick (``--engine auto`` or ``openvino`` on a CPU, no ``--compile``, the
    engine built and verified before); else None."""
    from engines.base import Selected
    from engines.cached import open_cached_openvino

    from .loading import LoadedModel, Tiling, peek_model

    if o.engine not in ("auto", "openvino") or o.compile_model or not _on_cpu(o.device):
        return None
    named = peek_model(o.model, o.variant, o.weights)
    if named is None:
        return None
    arch, variant, weights, meta = named
    try:
        saved = json.loads(meta.get("config", "{}"))
        tile, overlap = int(saved["tile"]), int(saved["overlap"])
    except (ValueError, KeyError, TypeError):
        return None
    found = open_cached_openvino(
        arch, variant, weights, o.precision, o.tile or CPU_TILE, o.batch, o.threads, o.engine_dir
    )
    if found is None:
        return None
    engine, path, multiple = found
    loaded = LoadedModel(arch, variant, Tiling(tile, overlap, multiple), weights, meta)
    return loaded, Selected(engine, False, path)


def _on_cpu(device: str) -> bool:
    if device == "cpu":
        return True
    if device != "auto":
        return False
    if not _cuda_possible():
        return True
    import torch

    return not torch.cuda.is_available()


def _cuda_possible() -> bool:
    """Whether this machine could have a CUDA GPU at all (an NVIDIA driver's device files or WSL's GPU),
    answered without importing torch."""
    import sys

    if sys.platform == "darwin":
        return False
    return any(os.path.exists(p) for p in ("/dev/nvidiactl", "/dev/nvidia0", "/dev/dxg", "/proc/driver/nvidia"))
