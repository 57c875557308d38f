"""NAFNet: a nonlinear-activation-free network for image restoration.

Chen, Chu, Zhang and Sun 2022, "Simple Baselines for Image Restoration"
(ECCV). NAFBlocks replace activations with SimpleGate (split channels in two
and multiply) and use simplified channel attention (global average pool and a
1x1 convolution); LayerNorm is written in plain tensor ops so the model
exports to ONNX. Encoder-decoder with additive skips, PixelShuffle upsampling
and a global residual. The paper's GoPro models are width 32 and 64 with
encoder blocks (1, 1, 1, 28), one middle block and decoder blocks (1, 1, 1, 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import LayerNorm2d, pad_to_multiple
from .registry import TiledConfig, register_model


@dataclass(frozen=True)
class NAFNetConfig(TiledConfig):
    width: int = 32
    enc_blocks: tuple[int, ...] = (1, 1, 1, 28)
    middle_blocks: int = 1
    dec_blocks: tuple[int, ...] = (1, 1, 1, 1)
    dw_expand: int = 2
    ffn_expand: int = 2

    @property
    def pad_multiple(self) -> int:
        return 2 ** len(self.enc_blocks)


def simple_gate(x: torch.Tensor, pointwise: nn.Conv2d, depthwise: nn.Conv2d | None = None) -> torch.Tensor:
    """SimpleGate after ``pointwise`` (and a ``depthwise`` convolution): the first half of the output channels
    times the second. Each half is computed by its own slice of the weights and the two multiplied, which
    gives the same numbers as convolving all channels and splitting them, but leaves no channel Split in an
    exported graph: OpenVINO's CPU plugin runs that Split in a reference kernel, and this form took a
    NAFNet-small 720p frame from 0.61 to 0.30 s in bf16 (2 threads). The parameters are the paper's."""
    n = pointwise.out_channels // 2
    halves = []
    for part in (slice(0, n), slice(n, 2 * n)):
        y = F.conv2d(x, pointwise.weight[part], _part(pointwise.bias, part))
        if depthwise is not None:
            y = F.conv2d(y, depthwise.weight[part], _part(depthwise.bias, part), padding=depthwise.padding, groups=n)
        halves.append(y)
    return halves[0] * halves[1]


def _part(bias: torch.Tensor | None, part: slice) -> torch.Tensor | None:
    return None if bias is None else bias[part]


def local_mean(x: torch.Tensor, window: int) -> torch.Tensor:
    """Mean over a ``window`` x ``window`` neighbourhood (clipped to the image), from an integral image: the
    test-time local converter (TLC) of Chu et al. 2022, "Improving Image Restoration by Revisiting Global
    Information Aggregation". Where the image is no larger than the window this is the global mean, as in
    training on crops of that size; the valid positions are computed and the border replicated."""
    h, w = x.shape[-2:]
    kh, kw = min(window, h), min(window, w)
    s = torch.nn.functional.pad(x.cumsum(-1).cumsum(-2), (1, 0, 1, 0))
    box = s[..., kh:, kw:] - s[..., :-kh, kw:] - s[..., kh:, :-kw] + s[..., :-kh, :-kw]
    mean = box / (kh * kw)
    ph, pw = h - mean.shape[-2], w - mean.shape[-1]
    return torch.nn.functional.pad(mean, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), mode="replicate")


class NAFBlock(nn.Module):
    window = 0  # simplified channel attention pools globally; > 0: over this window (TLC), set per scale

    def __init__(self, c: int, dw_expand: int, ffn_expand: int) -> None:
        super().__init__()
        dw = c * dw_expand
        self.norm1 = LayerNorm2d(c)
        self.conv1 = nn.Conv2d(c, dw, 1)
        self.conv2 = nn.Conv2d(dw, dw, 3, padding=1, groups=dw)  # depthwise; then SimpleGate
        self.sca = nn.Conv2d(dw // 2, dw // 2, 1)  # simplified channel attention
        self.conv3 = nn.Conv2d(dw // 2, c, 1)
        ffn = c * ffn_expand
        self.norm2 = LayerNorm2d(c)
        self.conv4 = nn.Conv2d(c, ffn, 1)
        self.conv5 = nn.Conv2d(ffn // 2, c, 1)
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        x = simple_gate(self.norm1(inp), self.conv1, self.conv2)
        h, w = x.shape[-2:]
        if self.window and (h > self.window or w > self.window):
            pooled = local_mean(x, self.window)
        else:
            pooled = x.mean(dim=(2, 3), keepdim=True)
        x = x * self.sca(pooled)
        y = inp + self.conv3(x) * self.beta
        x = self.conv5(simple_gate(self.norm2(y), self.conv4))
        return y + x * self.gamma


class NAFNet(nn.Module):
    def __init__(self, config: NAFNetConfig) -> None:
        super().__init__()
        if len(config.enc_blocks) != len(config.dec_blocks):
            raise ValueError("NAFNet needs as many decoder levels as encoder levels")
        self.config = config

        def stage(c: int, n: int) -> nn.Sequential:
            return nn.Sequential(*[NAFBlock(c, config.dw_expand, config.ffn_expand) for _ in range(n)])

        c = config.width
        self.intro = nn.Conv2d(3, c, 3, padding=1)
        self.encoders = nn.ModuleList()
        self.downs = nn.ModuleList()
        for n in config.enc_blocks:
            self.encoders.append(stage(c, n))
            self.downs.append(nn.Conv2d(c, c * 2, 2, stride=2))
            c *= 2
        self.middle = stage(c, config.middle_blocks)
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for n in config.dec_blocks:
            self.ups.append(nn.Sequential(nn.Conv2d(c, c * 2, 1, bias=False), nn.PixelShuffle(2)))
            c //= 2
            self.decoders.append(stage(c, n))
        self.ending = nn.Conv2d(c, 3, 3, padding=1)

    def set_local_pooling(self, window: int) -> None:
        """TLC: pool the channel attention over ``window`` px of the input (0: globally, as trained). Each
        block's window is scaled to its resolution; use about 1.5x the training crop (Chu et al. 2022)."""
        levels = [(enc, 2**i) for i, enc in enumerate(self.encoders)]
        levels += [(self.middle, 2 ** len(self.encoders))]
        levels += [(dec, 2 ** (len(self.decoders) - 1 - i)) for i, dec in enumerate(self.decoders)]
        for stage, scale in levels:
            for block in stage.children():
                if isinstance(block, NAFBlock):
                    block.window = max(1, window // scale) if window else 0

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        x, h, w = pad_to_multiple(inp, self.config.pad_multiple)
        res = x
        x = self.intro(x)
        skips = []
        for enc, down in zip(self.encoders, self.downs):
            x = enc(x)
            skips.append(x)
            x = down(x)
        x = self.middle(x)
        for up, dec, skip in zip(self.ups, self.decoders, reversed(skips)):
            x = dec(up(x) + skip)
        x = self.ending(x) + res
        return x[..., :h, :w]


@register_model(
    "nafnet",
    NAFNetConfig,
    variants={
        "tiny": NAFNetConfig(width=8, enc_blocks=(1, 1), middle_blocks=1, dec_blocks=(1, 1), tile=64, overlap=16),
        "small": NAFNetConfig(width=16, enc_blocks=(1, 1, 2, 4), middle_blocks=2, dec_blocks=(1, 1, 1, 1)),
        # small plus 4 blocks at 1/8 and 2 in the middle (1/16 scale): +34% MACs, most of them where the
        # receptive field for large motion grows; 'train --variant deep --init small.safetensors' grows it
        "deep": NAFNetConfig(width=16, enc_blocks=(1, 1, 2, 8), middle_blocks=4, dec_blocks=(1, 1, 1, 1)),
        "w32": NAFNetConfig(width=32),
        "w64": NAFNetConfig(width=64),
    },
    default_variant="small",
    summary="activation-free NAFBlocks, encoder-decoder (Chen et al. 2022)",
)
def build_nafnet(config: NAFNetConfig) -> nn.Module:
    return NAFNet(config)
