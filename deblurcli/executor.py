"""Where a job runs: in this process (``local``) or on a Ray cluster (``ray``, :mod:`deblurcli.ray_jobs`).

Nothing here imports Ray: the CLI describes the executor with :class:`ExecutorOptions` and asks
:func:`require_ray` for the module only when ``--executor ray`` was given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .errors import DeblurError, reraise_interrupt

EXECUTORS = ("local", "ray")


class RayMissing(DeblurError):
    """``--executor ray`` without Ray installed."""


@dataclass(frozen=True)
class ExecutorOptions:
    """``--executor`` and the Ray options (ignored by the local executor)."""

    name: str = "local"
    address: str | None = None
    workers: tuple[int, int] | None = None  # (min, max) actors; None: sized to the cluster
    gpus_per_worker: float = 0.0
    cpus_per_worker: float = 1.0
    batch_files: int = 4

    @property
    def threads(self) -> int:
        """CPU threads each worker's engine uses: its share of the node, at least one."""
        return max(1, math.floor(self.cpus_per_worker))


def parse_workers(text: str | None) -> tuple[int, int] | None:
    """``N`` or ``MIN:MAX`` to (min, max); None stays None."""
    if text is None:
        return None
    lo, sep, hi = text.partition(":")
    try:
        low, high = int(lo), int(hi) if sep else int(lo)
    except ValueError:
        raise DeblurError(f"--workers {text!r}: expected N or MIN:MAX, e.g. 4 or 1:8") from None
    if low < 1 or high < low:
        raise DeblurError(f"--workers {text!r}: need 1 <= MIN <= MAX")
    return low, high


def require_ray() -> Any:
    """The ``ray`` module, or a one-line error naming the extra that installs it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        reraise_interrupt(e)
        raise RayMissing("--executor ray needs Ray: pip install 'deblurcli[ray]'") from None
    return ray
