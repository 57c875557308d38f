"""Uptimus: the origin study's Uformer-style window-attention U-Net.

After Wang et al. 2022, "Uformer: A General U-Shaped Transformer for Image
Restoration" (CVPR): LeWin blocks (non-overlapping window multi-head
self-attention followed by a locally-enhanced feed-forward network with a
depthwise 3x3 convolution), strided-convolution downsampling, ConvTranspose2d
upsampling, skip concatenation reduced by a 1x1 convolution, and a global
residual. Parameter names follow the study's notebook exactly, so its
``Uptimus.pth`` (``Uptimus(base=24, ws=8, heads=2)``) loads with
``strict=True``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import pad_to_multiple
from .registry import TiledConfig, register_model


@dataclass(frozen=True)
class UptimusConfig(TiledConfig):
    base: int = 24
    window: int = 8
    heads: int = 2
    mlp_ratio: int = 2

    @property
    def pad_multiple(self) -> int:
        # two 2x downsamples, and windows must tile the smallest scale
        return self.window * 4


class WindowAttention(nn.Module):
    """Multi-head self-attention inside one window of tokens."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = torch.softmax((q * self.scale) @ k.transpose(-2, -1), dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj(out)


class LeFF(nn.Module):
    """Locally-enhanced feed-forward: linear, depthwise 3x3 conv, linear."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.dw = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        b, _, c = x.shape
        x = F.gelu(self.fc1(x))
        x = x.transpose(1, 2).reshape(b, -1, h, w)
        x = F.gelu(self.dw(x))
        x = x.flatten(2).transpose(1, 2)
        return self.fc2(x)


class LeWinBlock(nn.Module):
    """Window attention + LeFF, each pre-normed with a residual, on NCHW maps."""

    def __init__(self, dim: int, heads: int, window: int, mlp_ratio: int) -> None:
        super().__init__()
        self.window = window
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = LeFF(dim, dim * mlp_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        ws = self.window
        tokens = x.flatten(2).transpose(1, 2)  # B, HW, C
        y = self.norm1(tokens).reshape(b, h // ws, ws, w // ws, ws, c)
        y = y.permute(0, 1, 3, 2, 4, 5).reshape(-1, ws * ws, c)
        y = self.attn(y)
        y = y.reshape(b, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5)
        tokens = tokens + y.reshape(b, h * w, c)
        tokens = tokens + self.mlp(self.norm2(tokens), h, w)
        return tokens.transpose(1, 2).reshape(b, c, h, w)


class Uptimus(nn.Module):
    def __init__(self, config: UptimusConfig) -> None:
        super().__init__()
        self.config = config
        c, hd, ws, r = config.base, config.heads, config.window, config.mlp_ratio
        self.in_proj = nn.Conv2d(3, c, 3, padding=1)
        self.enc1 = LeWinBlock(c, hd, ws, r)
        self.down1 = nn.Conv2d(c, c * 2, 4, stride=2, padding=1)
        self.enc2 = LeWinBlock(c * 2, hd, ws, r)
        self.down2 = nn.Conv2d(c * 2, c * 4, 4, stride=2, padding=1)
        self.bot = LeWinBlock(c * 4, hd, ws, r)
        self.up1 = nn.ConvTranspose2d(c * 4, c * 2, 2, stride=2)
        self.reduce1 = nn.Conv2d(c * 4, c * 2, 1)
        self.dec1 = LeWinBlock(c * 2, hd, ws, r)
        self.up2 = nn.ConvTranspose2d(c * 2, c, 2, stride=2)
        self.reduce2 = nn.Conv2d(c * 2, c, 1)
        self.dec2 = LeWinBlock(c, hd, ws, r)
        self.out_proj = nn.Conv2d(c, 3, 3, padding=1)

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        x, h, w = pad_to_multiple(inp, self.config.pad_multiple)
        e1 = self.enc1(self.in_proj(x))
        e2 = self.enc2(self.down1(e1))
        b = self.bot(self.down2(e2))
        d1 = self.dec1(self.reduce1(torch.cat([self.up1(b), e2], dim=1)))
        d2 = self.dec2(self.reduce2(torch.cat([self.up2(d1), e1], dim=1)))
        out = self.out_proj(d2) + x
        return out[..., :h, :w]


@register_model(
    "uptimus",
    UptimusConfig,
    variants={
        "tiny": UptimusConfig(base=8, window=4, heads=1, tile=64, overlap=16),
        "default": UptimusConfig(),
    },
    default_variant="default",
    summary="Uformer-style window-attention U-Net of the origin study",
)
def build_uptimus(config: UptimusConfig) -> nn.Module:
    return Uptimus(config)
