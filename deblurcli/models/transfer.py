"""The U-Net skeleton shared by the transfer-learning architectures.

An ImageNet-pretrained torchvision backbone is the encoder; features are
tapped at each resolution and fed, through ConvTranspose2d upsampling and
concatenation, to a decoder of conv-BN-ReLU blocks; a 1x1 head predicts a
residual added to the input. ImageNet mean/std normalisation happens inside,
so the model takes and returns RGB in [0, 1] like every other architecture.

Backbone weights are never downloaded implicitly: :func:`load_backbone`
takes a local torchvision state dict, or finds torchvision's standard file in
torch hub's cache, and otherwise says once, in one line, that the backbone is
random.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
import torch.nn as nn

from ..errors import BackboneError  # noqa: F401  (raised here, defined with the other user-facing errors)
from .layers import DoubleConv, pad_to_multiple

log = logging.getLogger("deblurcli")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_warned: set[str] = set()


class TransferUNet(nn.Module):
    """Backbone encoder + ConvTranspose2d/concat decoder + global residual.

    ``backbone`` is a Sequential whose outputs after the indices in ``taps``
    are the skips (all but the last) and the bottleneck (the last);
    ``tap_channels`` are their channel counts. When the first tap is not at
    full resolution, ``stem`` (a small conv block trained from scratch) gives
    a full-resolution skip. ``decoder`` lists the decoder widths, deepest
    first, one per skip.
    """

    arch = "transfer"
    backbone_files: tuple[str, ...] = ()  # torchvision's file names, for the hub cache

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self,
        backbone: nn.Sequential,
        taps: Sequence[int],
        tap_channels: Sequence[int],
        decoder: Sequence[int],
        multiple: int,
        full_res_stem: bool,
    ) -> None:
        super().__init__()
        for m in backbone.modules():  # no in-place activations: clean ONNX graphs, safe taps
            if hasattr(m, "inplace"):
                setattr(m, "inplace", False)  # noqa: B010
        self.backbone = backbone
        self.taps = tuple(taps)
        self.multiple = multiple
        skips = list(tap_channels[:-1])
        self.stem: DoubleConv | None = None
        if full_res_stem:
            self.stem = DoubleConv(3, decoder[-1])
            skips = [decoder[-1]] + skips
        if len(decoder) != len(skips):
            raise ValueError(f"need {len(skips)} decoder widths, got {len(decoder)}")
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        cin = tap_channels[-1]
        for width, skip in zip(decoder, reversed(skips)):
            self.ups.append(nn.ConvTranspose2d(cin, width, 2, stride=2))
            self.decoders.append(DoubleConv(width + skip, width))
            cin = width
        self.head = nn.Conv2d(cin, 3, 1)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.backbone_frozen = False

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        x, h, w = pad_to_multiple(inp, self.multiple)
        z = (x - self.mean) / self.std
        feats = [self.stem(z)] if self.stem is not None else []
        for i, layer in enumerate(self.backbone):
            z = layer(z)
            if i in self.taps:
                feats.append(z)
            if i == self.taps[-1]:
                break
        z = feats.pop()
        for up, dec in zip(self.ups, self.decoders):
            z = dec(torch.cat([up(z), feats.pop()], dim=1))
        return (self.head(z) + x)[..., :h, :w]

    # -- fine-tuning -------------------------------------------------------
    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """``backbone`` (pretrained) and ``decoder`` (everything else) parameters."""
        ids = {id(p) for p in self.backbone.parameters()}
        return {
            "backbone": list(self.backbone.parameters()),
            "decoder": [p for p in self.parameters() if id(p) not in ids],
        }

    def freeze_backbone(self, frozen: bool = True) -> None:
        """Stop (or restart) training the backbone, BatchNorm statistics included."""
        self.backbone_frozen = frozen
        for p in self.backbone.parameters():
            p.requires_grad_(not frozen)
        self.backbone.train(self.training and not frozen)

    def train(self, mode: bool = True) -> TransferUNet:
        super().train(mode)
        if self.backbone_frozen:
            self.backbone.eval()
        return self


def _candidates(files: Iterable[str]) -> list[Path]:
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    return [hub / f for f in files]


def load_backbone(model: TransferUNet, path: str | Path | None = None) -> str:
    """Load ImageNet weights into ``model.backbone``; return where they came from.

    ``path`` is a torchvision state dict (``features.*`` keys, as
    torchvision's ``*.pth`` files). Without it, torch hub's cache is searched
    for torchvision's standard file names. Nothing is downloaded. With no file
    found, the backbone stays random and a one-line warning says so, once per
    architecture. Only backbone weights change.
    """
    if path is None:
        found = [p for p in _candidates(model.backbone_files) if p.is_file()]
        if not found:
            if model.arch not in _warned:
                _warned.add(model.arch)
                log.warning(
                    "%s: no ImageNet backbone weights (pass --backbone-weights FILE, torchvision's %s; "
                    "looked in %s); starting from a random backbone",
                    model.arch,
                    model.backbone_files[0],
                    _candidates(model.backbone_files)[0].parent,
                )
            return "random"
        path = found[0]
    path = Path(path)
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unreadable, not a torch file, unsafe pickle
        raise BackboneError(
            f"cannot read backbone weights {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
        ) from None
    if isinstance(sd, dict) and "state_dict" in sd:
        sd = sd["state_dict"]
    own = model.backbone.state_dict()
    picked = {
        k[len("features.") :]: v for k, v in sd.items() if k.startswith("features.") and k[len("features.") :] in own
    }
    missing = sorted(set(own) - set(picked))
    if missing:
        raise BackboneError(
            f"{path.name} does not fit the {model.arch} backbone: {len(missing)} of {len(own)} tensors missing "
            f"(e.g. features.{missing[0]}); expected torchvision's {model.backbone_files[0]}"
        )
    bad = [k for k in own if picked[k].shape != own[k].shape]
    if bad:
        raise BackboneError(
            f"{path.name} does not fit the {model.arch} backbone: features.{bad[0]} has shape "
            f"{tuple(picked[bad[0]].shape)}, expected {tuple(own[bad[0]].shape)}"
        )
    model.backbone.load_state_dict(picked, strict=True)
    return str(path)
