"""Training batches that depend only on (seed, step, rank): a resumed run sees the batches an uninterrupted
one would have."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import torch

from .data import DataError, PairLoader, augment_pair, to_tensor


class BatchSource:
    """Batches that depend only on (seed, step, rank): resuming at step N sees what an uninterrupted run would.

    The order of pairs comes from a :class:`torch.utils.data.DistributedSampler`
    (one shard per rank, reshuffled every epoch); crops and flips from a
    generator seeded by ``(seed, step, rank)``.
    """

    def __init__(
        self,
        loader: PairLoader,
        batch: int,
        patch: int | None,
        resize: int | None,
        seed: int = 0,
        rank: int = 0,
        world: int = 1,
        prefetch: int = 0,
    ) -> None:
        from torch.utils.data import DistributedSampler

        self.loader, self.batch, self.patch, self.resize = loader, batch, patch, resize
        self.seed, self.rank = seed, rank
        indices: Any = range(len(loader))  # any sized sequence works as the sampler's dataset
        self.sampler: DistributedSampler = DistributedSampler(
            indices, num_replicas=world, rank=rank, shuffle=True, seed=seed, drop_last=False
        )
        self._epoch: int | None = None
        self._order: list[int] = []
        # batches for the next ``prefetch`` steps are built in threads while the model trains on this one (numpy
        # and torch release the GIL); each is still a function of (seed, step, rank) alone
        self.prefetch = prefetch
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._ahead: dict[int, Future] = {}

    def _index(self, position: int) -> int:
        per_rank = len(self.sampler)
        epoch, offset = divmod(position, per_rank)
        with self._lock:
            if epoch != self._epoch:
                self.sampler.set_epoch(epoch)
                self._order, self._epoch = list(self.sampler), epoch
            return self._order[offset]

    def get(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch of ``step``; with ``prefetch``, also starts building the next ones."""
        if not self.prefetch:
            return self._build(step)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.prefetch, thread_name_prefix="batches")
        future = self._ahead.pop(step, None)
        for stale in [s for s in self._ahead if s < step]:
            self._ahead.pop(stale).cancel()
        for s in range(step + 1, step + 1 + self.prefetch):
            if s not in self._ahead:
                self._ahead[s] = self._pool.submit(self._build, s)
        return future.result() if future is not None else self._build(step)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool, self._ahead = None, {}

    def _build(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, step, self.rank])
        blurs: list[np.ndarray] = []
        sharps: list[np.ndarray] = []
        position = step * self.batch
        tries = 0
        while len(blurs) < self.batch:
            item = self.loader.load(self._index(position))
            position += 1
            if item is None:
                tries += 1
                if tries > len(self.loader) and len(self.loader.bad) >= len(self.loader):
                    raise DataError("every training pair failed to load")
                continue
            b, s = augment_pair(*item, rng, self.patch, self.resize)
            blurs.append(b)
            sharps.append(s)
        return to_tensor(blurs), to_tensor(sharps)
