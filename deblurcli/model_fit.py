"""Does a state dict fit a model? Names and shapes, compared on meta-device models (no memory), so a
checkpoint's untrusted metadata is checked before anything is allocated."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from .errors import CheckpointError
from .models import create_model, get_spec, model_names

if TYPE_CHECKING:
    from .checkpoints import Checkpoint


def _signature(sd: Mapping[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in sd.items()}


def match_architecture(sd: Mapping[str, torch.Tensor]) -> tuple[str, str, Any] | None:
    """Find the registered (arch, variant) whose parameters fit ``sd`` exactly."""
    want = _signature(sd)
    for name in model_names():
        spec = get_spec(name)
        for vname, cfg in spec.variants.items():
            with torch.device("meta"):
                have = _signature(create_model(name, config=cfg).state_dict())
            if have == want:
                return name, vname, cfg
    return None


def _mismatch(model: torch.nn.Module, sd: Mapping[str, torch.Tensor]) -> str:
    have = _signature(model.state_dict())
    want = _signature(sd)
    missing = sorted(set(have) - set(want))
    unexpected = sorted(set(want) - set(have))
    shapes = sorted(k for k in set(have) & set(want) if have[k] != want[k])
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
    if shapes:
        k = shapes[0]
        parts.append(f"{len(shapes)} of another shape (e.g. {k}: {want[k]} vs {have[k]})")
    return ", ".join(parts)


MAX_PARAMETERS = 200_000_000  # ~10x the largest variant shipped; a bigger config is refused, not allocated


def _allocate_checked(ckpt: Checkpoint, name: str, vname: str, cfg: Any) -> torch.nn.Module:
    """Build the model on the meta device first (no memory), check its size and that the file's tensors have
    its names and shapes, and only then allocate it: hostile metadata cannot make deblurcli allocate gigabytes."""
    try:
        with torch.device("meta"):
            ghost = create_model(name, config=cfg)
    except Exception as e:  # a config the builder rejects (e.g. heads that do not divide the width)
        raise CheckpointError(f"{ckpt.path.name}: cannot build {name} ({vname}) from its config: {e}") from None
    n = sum(p.numel() for p in ghost.parameters())
    if n > MAX_PARAMETERS:
        raise CheckpointError(
            f"{ckpt.path.name}: its config describes a {name} of {n:,} parameters, more than "
            f"deblurcli builds ({MAX_PARAMETERS:,}); the metadata is wrong"
        )
    if _signature(ghost.state_dict()) != _signature(ckpt.state_dict):
        raise CheckpointError(
            f"{ckpt.path.name}: its tensors do not fit {name} ({vname}): {_mismatch(ghost, ckpt.state_dict)}"
        )
    return create_model(name, config=cfg)
