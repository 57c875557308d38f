"""Training curves drawn with OpenCV (no plotting library needed): loss, and validation PSNR/SSIM."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

W, H = 900, 300
MARGIN = (70, 20, 40, 30)  # left, right, bottom, top
FONT = cv2.FONT_HERSHEY_SIMPLEX
INK, GRID = (40, 40, 40), (225, 225, 225)


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not math.isfinite(lo) or not math.isfinite(hi) or hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 5, 10) if m * mag >= raw), default=raw)
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step) + 1)]


def _panel(
    title: str,
    xs: Sequence[float],
    ys: Sequence[float | None],
    colour: tuple[int, int, int],
    xmax: float,
    smooth: int = 1,
) -> np.ndarray:
    img = np.full((H, W, 3), 255, np.uint8)
    left, right, bottom, top = MARGIN
    pw, ph = W - left - right, H - top - bottom
    cv2.putText(img, title, (left, 20), FONT, 0.55, INK, 1, cv2.LINE_AA)
    pts = [(x, y) for x, y in zip(xs, ys) if y is not None and math.isfinite(y)]
    if not pts:
        cv2.putText(img, "no data yet", (left + 10, top + ph // 2), FONT, 0.5, INK, 1, cv2.LINE_AA)
        return img
    x = np.array([p[0] for p in pts], float)
    y = np.array([p[1] for p in pts], float)
    if smooth > 1 and len(y) > smooth:
        y = np.convolve(y, np.ones(smooth) / smooth, mode="valid")
        x = x[smooth - 1 :]
    lo, hi = float(np.percentile(y, 1)), float(np.percentile(y, 99))
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    pad = 0.05 * (hi - lo)
    lo, hi = lo - pad, hi + pad

    def to_px(xv: float, yv: float) -> tuple[int, int]:
        px = left + int(round(pw * xv / max(xmax, 1)))
        py = top + int(round(ph * (1 - (min(max(yv, lo), hi) - lo) / (hi - lo))))
        return px, py

    for t in _nice_ticks(lo, hi):
        _, py = to_px(0, t)
        cv2.line(img, (left, py), (left + pw, py), GRID, 1)
        cv2.putText(img, f"{t:.4g}", (4, py + 4), FONT, 0.4, INK, 1, cv2.LINE_AA)
    for t in _nice_ticks(0, xmax):
        px, _ = to_px(t, lo)
        cv2.line(img, (px, top), (px, top + ph), GRID, 1)
        cv2.putText(img, f"{int(t)}", (px - 10, H - bottom + 16), FONT, 0.4, INK, 1, cv2.LINE_AA)
    cv2.rectangle(img, (left, top), (left + pw, top + ph), INK, 1)
    line = np.array([to_px(a, b) for a, b in zip(x, y)], np.int32)
    cv2.polylines(img, [line], False, colour, 2 if len(line) < 50 else 1, cv2.LINE_AA)
    if len(line) < 50:
        for p in line:
            cv2.circle(img, tuple(int(v) for v in p), 3, colour, -1, cv2.LINE_AA)
    cv2.putText(img, "step", (left + pw - 30, H - 6), FONT, 0.4, INK, 1, cv2.LINE_AA)
    return img


def plot_history(history: Sequence[dict[str, Any]], path: Path, title: str = "") -> Path:
    """Three stacked panels (training loss, validation PSNR, validation SSIM) as a PNG."""
    from deblurcli.images import write_image

    steps = [h["step"] for h in history]
    xmax = max(steps, default=1)
    smooth = max(1, len(history) // 100)
    panels = [
        _panel(
            f"{title}  training loss (moving mean of {smooth})",
            steps,
            [h.get("loss") for h in history],
            (200, 80, 20),
            xmax,
            smooth,
        ),
        _panel("validation PSNR (dB)", steps, [h.get("val_psnr") for h in history], (30, 120, 30), xmax),
        _panel("validation SSIM", steps, [h.get("val_ssim") for h in history], (20, 40, 200), xmax),
    ]
    write_image(path, np.concatenate(panels, axis=0))
    return path
