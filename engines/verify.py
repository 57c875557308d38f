"""Does a built engine compute what PyTorch computes? Checked on real pixels.

Every build ends here: the engine and the PyTorch model deblur the same real
images through the same tile plan, and the PSNR between the two outputs
(not against any ground truth) measures the engine's drift. A build whose
worst image is below the precision's threshold is refused.

The default images are real motion-blurred crops shipped in
``engines/verify_images`` (see the ATTRIBUTION file there); any folder of
images can be used instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

VERIFY_IMAGES = Path(__file__).parent / "verify_images"
# PSNR (dB) between engine and PyTorch outputs below which a build is refused
THRESHOLDS = {"fp32": 60.0, "fp16": 40.0, "bf16": 34.0}


def output_psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR between two outputs in [0, 1]; ``inf`` when identical."""
    from deblurcli.metrics import psnr

    return psnr(a, b, peak=1.0)


def load_images(directory: Path | None = None, limit: int = 4) -> list[np.ndarray]:
    """Up to ``limit`` images from ``directory`` as (3, H, W) float32 RGB in [0, 1]."""
    from deblurcli.images import IMAGE_EXTS, read_image
    from deblurcli.pipeline import to_planar

    d = Path(directory) if directory else VERIFY_IMAGES
    files = sorted(p for p in d.rglob("*") if p.suffix.lower() in IMAGE_EXTS)[:limit] if d.is_dir() else []
    if not files:
        raise FileNotFoundError(f"no images to verify with in {d}")
    return [to_planar(read_image(f))[0] for f in files]


@dataclass
class Verification:
    threshold: float
    psnr: list[float] = field(default_factory=list)

    @property
    def worst(self) -> float:
        return min(self.psnr) if self.psnr else math.nan

    @property
    def passed(self) -> bool:
        return bool(self.psnr) and self.worst >= self.threshold

    def to_dict(self) -> dict:
        fmt = lambda v: None if math.isnan(v) else ("inf" if math.isinf(v) else round(v, 2))  # noqa: E731
        return {
            "threshold_db": self.threshold,
            "worst_db": fmt(self.worst),
            "per_image_db": [fmt(v) for v in self.psnr],
            "passed": self.passed,
        }


def verify(
    run_engine: Callable[[np.ndarray], np.ndarray],
    run_reference: Callable[[np.ndarray], np.ndarray],
    images: list[np.ndarray],
    precision: str,
) -> Verification:
    """Compare two image -> image callables on ``images`` (outputs before quantisation)."""
    v = Verification(threshold=THRESHOLDS[precision])
    for img in images:
        a = run_engine(img)
        b = run_reference(img)
        if not np.all(np.isfinite(a)):
            v.psnr.append(-math.inf)
            continue
        v.psnr.append(output_psnr(a, b))
    return v
