"""Residual U-Net trained from scratch, the origin study's baseline.

Ronneberger, Fischer and Brox 2015, "U-Net: Convolutional Networks for
Biomedical Image Segmentation", used as a restoration network: double
conv-BN-ReLU blocks, max-pool downsampling, ConvTranspose2d upsampling with
concatenated skips, dropout in the deepest levels, and a global residual
(output = input + predicted residual). The study trained it with MAE +
(1 - SSIM).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from .layers import DoubleConv, pad_to_multiple
from .registry import TiledConfig, register_model


@dataclass(frozen=True)
class ResUNetConfig(TiledConfig):
    width: int = 32
    levels: int = 4
    dropout: float = 0.1

    @property
    def pad_multiple(self) -> int:
        return 2**self.levels


class ResUNet(nn.Module):
    def __init__(self, config: ResUNetConfig) -> None:
        super().__init__()
        self.config = config
        widths = [config.width * 2**i for i in range(config.levels + 1)]
        self.encoders = nn.ModuleList()
        cin = 3
        for i, c in enumerate(widths[:-1]):
            # dropout in the two deepest encoder levels, as U-Net does
            drop = config.dropout if i >= config.levels - 2 else 0.0
            self.encoders.append(DoubleConv(cin, c, drop))
            cin = c
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = DoubleConv(widths[-2], widths[-1], config.dropout)
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for c in reversed(widths[:-1]):
            self.ups.append(nn.ConvTranspose2d(c * 2, c, 2, stride=2))
            self.decoders.append(DoubleConv(c * 2, c))
        self.head = nn.Conv2d(widths[0], 3, 1)

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        x, h, w = pad_to_multiple(inp, self.config.pad_multiple)
        res = x
        skips = []
        for enc in self.encoders:
            x = enc(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for up, dec, skip in zip(self.ups, self.decoders, reversed(skips)):
            x = dec(torch.cat([up(x), skip], dim=1))
        x = self.head(x) + res
        return x[..., :h, :w]


@register_model(
    "resunet",
    ResUNetConfig,
    variants={
        "tiny": ResUNetConfig(width=4, levels=2, tile=64, overlap=16),
        "small": ResUNetConfig(width=16),  # the study's CPU-sized ResUNet: the default, and the one with weights
        "default": ResUNetConfig(width=32),
    },
    default_variant="small",
    summary="U-Net of double convs with a global residual, from scratch",
)
def build_resunet(config: ResUNetConfig) -> nn.Module:
    return ResUNet(config)
