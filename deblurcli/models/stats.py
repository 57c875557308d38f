"""Model cost counted from the model itself: parameters and GMACs per megapixel."""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def gmacs_per_megapixel(model: nn.Module, size: int = 256) -> float:
    """Multiply-accumulates of one forward pass, per megapixel of input.

    Counted by torch's FlopCounterMode (convolutions, matrix products,
    attention) on a ``size`` x ``size`` input, on the meta device when the
    model's parameters are there, so no real arithmetic is done. Element-wise
    operations are not counted, as is usual. Window attention and the
    convolutions here scale linearly with pixels, so one size suffices.
    """
    device = next(model.parameters()).device
    x = torch.zeros(1, 3, size, size, device=device)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model.eval()(x)
    return counter.get_total_flops() / 2 / (size * size) * 1e6 / 1e9
