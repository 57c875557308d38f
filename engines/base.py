"""The protocol every inference back end follows.

An engine takes a batch of tiles, (N, 3, h, w) float32 RGB in [0, 1], and
returns an array of the same shape. It is a context manager and describes
itself with an :class:`EngineInfo`. Layout conversion happens once, in the
pipeline, never inside an engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class EngineInfo:
    name: str  # "torch", "onnxruntime", "tensorrt"
    device: str  # "cpu", "cuda:0", ...
    precision: str  # "fp32", "fp16", "bf16"
    threads: int | None = None


@runtime_checkable
class Engine(Protocol):
    info: EngineInfo

    def infer(self, batch: np.ndarray) -> np.ndarray: ...

    def close(self) -> None: ...

    def __enter__(self) -> Engine: ...

    def __exit__(self, *exc: object) -> None: ...


class EngineBase(ABC):
    """Context-manager plumbing and input checks shared by the engines; each engine defines ``infer``."""

    info: EngineInfo

    def __enter__(self) -> EngineBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:  # noqa: B027  (optional: engines holding resources override it)
        """Release the back end's resources; nothing to release by default."""

    @abstractmethod
    def infer(self, batch: np.ndarray) -> np.ndarray:
        """(N, 3, h, w) float32 RGB in [0, 1] -> the same shape, deblurred."""

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.infer(batch)

    @staticmethod
    def check_batch(batch: np.ndarray) -> None:
        if batch.ndim != 4 or batch.shape[1] != 3:
            raise ValueError(f"engine input must be (N, 3, h, w), got {batch.shape}")
        if batch.dtype != np.float32:
            raise ValueError(f"engine input must be float32, got {batch.dtype}")


@dataclass
class Selected:
    """The engine a job runs, as picked by :func:`engines.select.select_engine`."""

    engine: EngineBase
    fixed_shape: bool  # compiled engines take exactly their tile shape
    path: Path | None = None
