"""What a training run carries between steps and sessions: EMA weights, the process group, and the
optimiser/RNG state stored in ``last.safetensors`` under ``_train/`` keys (inference ignores them)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from deblurcli.checkpoints import read_checkpoint
from deblurcli.errors import CheckpointError

TRAIN_PREFIX = "_train/"


class EMA:
    """Exponential moving average of parameters (buffers copied).

    The decay warms up as ``min(decay, (1 + n) / (10 + n))`` after ``n``
    updates (TensorFlow's ``num_updates``, timm's ModelEma), so the random
    initial weights are forgotten within the first few hundred steps instead
    of weighing ``decay ** n`` in the average of a short run.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.updates = 0
        self.state = {
            k: v.detach().clone().float() if v.is_floating_point() else v.detach().clone()
            for k, v in model.state_dict().items()
        }

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One step of the average: ``e = d * e + (1 - d) * w`` for every float tensor, buffers copied.

        The float tensors go through ``torch._foreach_*`` (a few fused launches instead of two per tensor, the
        same arithmetic element by element): on a GPU the per-tensor loop was part of the 30% the training
        loop's extras added to a NAFNet step (benchmarks/gpu_train_speed.py).
        """
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        self.updates += 1
        avg, new = [], []
        for k, v in model.state_dict().items():
            e = self.state[k]
            if v.is_floating_point():
                avg.append(e)
                new.append(v.detach().float())
            else:
                e.copy_(v)
        if avg:
            torch._foreach_mul_(avg, d)
            torch._foreach_add_(avg, new, alpha=1 - d)


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> DistInfo:
    """Join the torchrun process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


# --- checkpoints ------------------------------------------------------------------------------------


def _training_state(opt: torch.optim.Optimizer, raw: dict[str, torch.Tensor] | None) -> tuple[dict, list]:
    tensors: dict[str, torch.Tensor] = {}
    sd = opt.state_dict()
    for idx, st in sd["state"].items():
        for name, v in st.items():
            t = v if isinstance(v, torch.Tensor) else torch.tensor(v)
            tensors[f"{TRAIN_PREFIX}opt/{idx}/{name}"] = t
    if raw is not None:
        for k, v in raw.items():
            tensors[f"{TRAIN_PREFIX}raw/{k}"] = v
    tensors[f"{TRAIN_PREFIX}rng/torch"] = torch.get_rng_state()
    return tensors, sd["param_groups"]


def _restore_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], groups: list) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith(f"{TRAIN_PREFIX}opt/"):
            _, _, idx, name = k.split("/", 3)
            state.setdefault(int(idx), {})[name] = v
    opt.load_state_dict({"state": state, "param_groups": groups})


def read_training_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, str]]:
    """(inference weights, training tensors, metadata) of a ``last.safetensors``."""
    from safetensors import safe_open

    ckpt = read_checkpoint(path)  # validates the file and drops _train/ keys
    with safe_open(str(path), framework="pt") as f:
        extra = {k: f.get_tensor(k) for k in f.keys() if k.startswith(TRAIN_PREFIX)}
    if "train_state" not in ckpt.metadata:
        raise CheckpointError(
            f"{path} has no training state (is it a 'best' or a converted checkpoint?); "
            "resume from the run's last.safetensors"
        )
    return ckpt.state_dict, extra, ckpt.metadata


# --- the run ----------------------------------------------------------------------------------------
