"""Training losses, and a small grammar to combine them: ``"charbonnier+0.05*fft"``.

* ``l1``: mean absolute error.
* ``charbonnier``: sqrt(d^2 + eps^2), a smooth L1 (Charbonnier et al. 1994;
  used by Uformer, Wang et al. 2022).
* ``psnr``: the negative PSNR of NAFNet (Chen et al. 2022), mean over images
  of 10 log10(MSE), so it is minimised.
* ``ssim``: 1 - SSIM with a Gaussian window (Wang et al. 2004), differentiable;
  ``mae+ssim`` is the study's residual U-Net recipe.
* ``fft``: L1 between the amplitudes of the 2-D Fourier transforms
  (frequency loss as in Cho et al. 2021, MIMO-UNet), which penalises
  missing high frequencies that pixel losses forgive.
* ``vgg``: L1 between VGG19 features (Johnson et al. 2016), from ImageNet
  weights in a local file given by ``--backbone-weights`` or
  ``$DEBLURCLI_VGG19_WEIGHTS``; an error without them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from deblurcli.errors import DeblurError


class LossError(DeblurError):
    """A loss name or weight the grammar does not know."""


def l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (pred - target).abs().mean()


def charbonnier(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    return torch.sqrt((pred - target) ** 2 + eps * eps).mean()


def psnr_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    mse = ((pred - target) ** 2).mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(mse + 1e-8).mean()


def _gaussian(size: int, sigma: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    x = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma * sigma))
    return g / g.sum()


def ssim(
    pred: torch.Tensor, target: torch.Tensor, window: int = 11, sigma: float = 1.5, data_range: float = 1.0
) -> torch.Tensor:
    """Mean SSIM over the batch, Gaussian-weighted, per channel, 'valid' windows only."""
    c = pred.shape[1]
    g = _gaussian(window, sigma, pred.device, pred.dtype)
    kx = g.view(1, 1, 1, window).expand(c, 1, 1, window)
    ky = g.view(1, 1, window, 1).expand(c, 1, window, 1)

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(x, kx, groups=c), ky, groups=c)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_x, mu_y = blur(pred), blur(target)
    sxx = blur(pred * pred) - mu_x**2
    syy = blur(target * target) - mu_y**2
    sxy = blur(pred * target) - mu_x * mu_y
    s = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return s.mean()


def ssim_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return 1.0 - ssim(pred, target)


def fft_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    fp = torch.fft.rfft2(pred.float(), norm="ortho")
    ft = torch.fft.rfft2(target.float(), norm="ortho")
    return (fp.abs() - ft.abs()).abs().mean()


def fft_complex_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of the real and imaginary parts of the two spectra: phase-aware, unlike ``fft``
    (amplitudes only, which a shifted picture satisfies). Cho et al. 2021 (MIMO-UNet, "Rethinking coarse-to-fine
    approach in single image deblurring") add it to the content loss at 0.1 x L1."""
    d = torch.fft.rfft2(pred.float(), norm="ortho") - torch.fft.rfft2(target.float(), norm="ortho")
    return (d.real.abs() + d.imag.abs()).mean()


class VGGPerceptual(nn.Module):
    mean: torch.Tensor
    std: torch.Tensor

    """L1 between VGG19 relu1_2 .. relu4_4 features of prediction and target."""

    LAYERS = (3, 8, 17, 26)

    def __init__(self, weights: str | os.PathLike | None) -> None:
        super().__init__()
        from torchvision.models import vgg19

        path = weights or os.environ.get("DEBLURCLI_VGG19_WEIGHTS")
        if not path:
            raise LossError(
                "the vgg loss needs ImageNet VGG19 weights from a local file (they cannot be downloaded "
                "here): pass --backbone-weights vgg19-dcbb9e9d.pth or set DEBLURCLI_VGG19_WEIGHTS"
            )
        if not os.path.isfile(path):
            raise LossError(f"VGG19 weights {path} do not exist")
        net = vgg19(weights=None)
        try:
            sd = torch.load(path, map_location="cpu", weights_only=True)
            sd = {k.removeprefix("features."): v for k, v in sd.items() if k.startswith("features.")}
            net.features.load_state_dict(sd, strict=True)
        except Exception as e:
            raise LossError(f"{path} is not torchvision VGG19 ImageNet weights: {str(e).splitlines()[0]}") from None
        self.features = net.features[: self.LAYERS[-1] + 1].eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        x, y = (pred - self.mean) / self.std, (target - self.mean) / self.std
        total = pred.new_zeros(())
        for i, layer in enumerate(self.features):
            x, y = layer(x), layer(y)
            if i in self.LAYERS:
                total = total + (x - y).abs().mean()
        return total


LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "l1": l1,
    "mae": l1,
    "charbonnier": charbonnier,
    "psnr": psnr_loss,
    "ssim": ssim_loss,
    "fft": fft_loss,
    "fftc": fft_complex_loss,
}
NAMES = sorted([*LOSSES, "vgg"])

_TERM = re.compile(r"^\s*(?:(\d+(?:\.\d*)?(?:e-?\d+)?)\s*\*\s*)?([a-z0-9_]+)\s*$")


class CombinedLoss(nn.Module):
    """A weighted sum of named losses; ``terms`` is [(weight, name)]."""

    def __init__(self, spec: str, vgg_weights: str | os.PathLike | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.terms: list[tuple[float, str]] = []
        for part in spec.split("+"):
            m = _TERM.match(part.lower())
            if not m or m.group(2) not in NAMES:
                raise LossError(
                    f"unknown loss term {part.strip()!r} in {spec!r}; terms are "
                    f"[WEIGHT*]NAME joined by '+', NAME one of {', '.join(NAMES)}"
                )
            self.terms.append((float(m.group(1) or 1.0), m.group(2)))
        self.vgg = VGGPerceptual(vgg_weights) if any(n == "vgg" for _, n in self.terms) else None

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = pred.new_zeros((), dtype=torch.float32)
        for w, name in self.terms:
            fn = LOSSES[name] if name != "vgg" else self.vgg
            assert fn is not None  # the vgg term builds self.vgg
            total = total + w * fn(pred.float(), target.float())
        return total
