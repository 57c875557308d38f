"""Start a bigger variant of an architecture from a trained smaller one.

``deblurcli train --variant BIG --init small.safetensors``: every tensor of
the small model must exist, with the same name and shape, in the big one (the
big one has extra blocks appended to its stages, same widths); those are
copied and the extra tensors keep their fresh initialisation. For NAFNet that
growth preserves the function exactly, because a new NAFBlock's residual
scales (beta, gamma) start at zero, so it begins as the identity and training
continues from the small model's quality instead of from scratch (the
function-preserving idea of Chen, Goodfellow and Shlens 2016, "Net2Net").
For other architectures new layers are not the identity; ``grow`` measures
whether the output was kept and says so, so nobody mistakes a partial
initialisation for a grown model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from deblurcli.errors import GrowError  # noqa: F401  (raised here, defined with the other user-facing errors)


@dataclass(frozen=True)
class Growth:
    copied: int  # tensors taken from the small model
    fresh: int  # tensors only the big model has
    max_abs_diff: float  # big vs small output on a probe input after the copy

    @property
    def preserved(self) -> bool:
        return self.max_abs_diff < 1e-4


def grow(big: nn.Module, small: nn.Module, probe_size: int = 64) -> Growth:
    """Copy ``small``'s weights into ``big`` (in place) and measure the outcome."""
    src = small.state_dict()
    dst = big.state_dict()
    misfit = [k for k, v in src.items() if k not in dst or dst[k].shape != v.shape]
    if misfit:
        k = misfit[0]
        why = "missing" if k not in dst else f"{tuple(dst[k].shape)} instead of {tuple(src[k].shape)}"
        raise GrowError(
            f"the smaller model does not fit inside the bigger one ({len(misfit)} tensors differ, "
            f"e.g. {k}: {why}); only variants that add blocks at the same widths can grow"
        )
    big.load_state_dict(src, strict=False)
    fresh = len(dst) - len(src)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, probe_size, probe_size, generator=g)
    device = next(big.parameters()).device
    was_training = (big.training, small.training)
    with torch.no_grad():
        a = big.eval()(x.to(device)).cpu()
        b = small.eval().to(device)(x.to(device)).cpu()
    big.train(was_training[0])
    small.train(was_training[1])
    return Growth(copied=len(src), fresh=fresh, max_abs_diff=float((a - b).abs().max()))
