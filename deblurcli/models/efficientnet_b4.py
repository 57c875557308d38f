"""U-Net with an ImageNet EfficientNet-B4 encoder (the study's transfer arm).

Tan and Le 2019, "EfficientNet: Rethinking Model Scaling for Convolutional
Neural Networks" (ICML), as torchvision's ``efficientnet_b4``: its feature
stages are tapped at 1/2, 1/4, 1/8, 1/16 and 1/32 resolution (24, 32, 56, 160
and 448 channels); a small full-resolution stem adds the finest skip. The
decoder (ConvTranspose2d, concatenation, conv-BN-ReLU) follows Ronneberger et
al. 2015. See :mod:`.transfer` for normalisation and backbone weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn as nn
from torchvision.models import efficientnet_b4

from .registry import TiledConfig, register_model
from .transfer import TransferUNet


@dataclass(frozen=True)
class EfficientNetB4Config(TiledConfig):
    decoder: tuple[int, ...] = (256, 128, 64, 32, 16)  # deepest first

    @property
    def pad_multiple(self) -> int:
        return 32


class EfficientNetB4UNet(TransferUNet):
    arch = "efficientnet_b4"
    backbone_files = ("efficientnet_b4_rwightman-23ab8bcd.pth", "efficientnet_b4_rwightman-7eb33cd5.pth")

    def __init__(self, config: EfficientNetB4Config) -> None:
        features = efficientnet_b4(weights=None).features[:8]  # drop the 1792-channel 1x1 head
        super().__init__(
            features,
            taps=(1, 2, 3, 5, 7),
            tap_channels=(24, 32, 56, 160, 448),
            decoder=config.decoder,
            multiple=config.pad_multiple,
            full_res_stem=True,
        )
        self.config = config


@register_model(
    "efficientnet_b4",
    EfficientNetB4Config,
    variants={
        "tiny": EfficientNetB4Config(decoder=(16, 8, 8, 8, 8), tile=64, overlap=16),
        "small": EfficientNetB4Config(decoder=(96, 64, 32, 24, 16)),
        "default": EfficientNetB4Config(),
    },
    default_variant="default",
    summary="U-Net decoder on an ImageNet EfficientNet-B4 encoder (transfer learning)",
)
def build_efficientnet_b4(config: EfficientNetB4Config) -> nn.Module:
    return EfficientNetB4UNet(config)
