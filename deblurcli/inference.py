"""From the user's choices to a running deblurrer: model, weights, back end, tiling.

:class:`InferenceOptions` is what every inference command (``folder``,
``video``, ``eval``) and every script (``ship.py``, the benchmarks) asks for;
:func:`open_deblurrer` loads the weights, picks and starts the engine and
wraps both in the tiled pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DeblurError

if TYPE_CHECKING:  # torch is imported when a deblurrer is opened, not with the CLI
    from .loading import LoadedModel
    from .pipeline import Deblurrer


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
    ensemble: int = 1  # flips/rotations averaged (engines/ensemble.py)
    compile_model: bool = False  # the PyTorch engine through torch.compile

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
    from engines.select import select_engine

    from .loading import load_model
    from .pipeline import Deblurrer
    from .runtime import tune_allocator

    if o.device in ("auto", "cpu"):  # before torch and the engines start threads (one arena for them all)
        tune_allocator()
    loaded = load_model(o.model, o.variant, o.weights)
    cfg = loaded.config
    cpu = _on_cpu(o.device)
    tile = o.tile or (CPU_TILE if cpu else cfg.tile)
    overlap = cfg.overlap if o.overlap is None else o.overlap
    if overlap >= tile:
        raise DeblurError(f"--overlap {overlap} must be smaller than --tile {tile}")
    sel = select_engine(
        o.engine, loaded, o.device, o.precision, o.threads, tile, o.batch, o.engine_dir, o.compile_model
    )
    run: Any = sel.engine
    if o.ensemble > 1:
        from engines.ensemble import Ensemble  # tiles are square, so a fixed-shape engine takes turned ones

        run = Ensemble(sel.engine, o.ensemble)
    d = Deblurrer.for_config(run, cfg, tile, overlap, o.batch, sel.fixed_shape)
    if cpu and not o.tile and not sel.fixed_shape:
        d.frame_pixels, d.fit_tiles = FRAME_PIXELS, True
    return OpenDeblurrer(loaded, sel.engine, d)


# On a CPU, without --tile: whole frames up to about 1080p (faster than tiles, and no seams), larger images
# in tiles of at most 512 px shortened to the least overlap, which bounds memory (README "Speed": 1024 px tiles
# would cut the overlap work of a 12 MP photo from 21% to 5% but peak at 1.74 GB instead of 1.13)
CPU_TILE = 512
FRAME_PIXELS = 2_200_000


def _on_cpu(device: str) -> bool:
    if device == "cpu":
        return True
    if device != "auto":
        return False
    import torch

    return not torch.cuda.is_available()
