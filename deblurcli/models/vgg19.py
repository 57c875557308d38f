"""U-Net with an ImageNet VGG19 encoder (the study's transfer arm).

Simonyan and Zisserman 2015, "Very Deep Convolutional Networks for
Large-Scale Image Recognition" (ICLR), as torchvision's ``vgg19``: its
convolutional features are tapped before each max-pool (64, 128, 256, 512
channels at 1/1 to 1/8) with the fifth block (512 channels at 1/16) as the
bottleneck. The decoder concatenates the skips and uses BatchNorm
(conv-BN-ReLU), after Ronneberger et al. 2015. See :mod:`.transfer` for
normalisation and backbone weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn as nn
from torchvision.models import vgg19

from .registry import TiledConfig, register_model
from .transfer import TransferUNet


@dataclass(frozen=True)
class VGG19Config(TiledConfig):
    decoder: tuple[int, ...] = (512, 256, 128, 64)  # deepest first

    @property
    def pad_multiple(self) -> int:
        return 16


class VGG19UNet(TransferUNet):
    arch = "vgg19"
    backbone_files = ("vgg19-dcbb9e9d.pth",)

    def __init__(self, config: VGG19Config) -> None:
        features = vgg19(weights=None).features[:36]  # up to the last ReLU, before the fifth pool
        super().__init__(
            features,
            taps=(3, 8, 17, 26, 35),
            tap_channels=(64, 128, 256, 512, 512),
            decoder=config.decoder,
            multiple=config.pad_multiple,
            full_res_stem=False,
        )
        self.config = config


@register_model(
    "vgg19",
    VGG19Config,
    variants={
        "tiny": VGG19Config(decoder=(16, 8, 8, 8), tile=64, overlap=16),
        "small": VGG19Config(decoder=(128, 64, 32, 32)),
        "default": VGG19Config(),
    },
    default_variant="default",
    summary="U-Net decoder with BatchNorm on an ImageNet VGG19 encoder (transfer learning)",
)
def build_vgg19(config: VGG19Config) -> nn.Module:
    return VGG19UNet(config)
