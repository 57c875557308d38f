"""Side-by-side comparison figure for ``deblurcli eval --figure``.

One row per image; columns are the blurry input, each model and the sharp
target. Each cell shows the whole frame (with a box marking the zoomed
region) above an enlarged inset of that region, and a caption with the
cell's PSNR/SSIM. The region is the same in every column: the window where
the input differs most from the sharp frame, i.e. where the blur is worst.
This is the presentation of the origin study, drawn with OpenCV only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from deblurcli.images import write_image

CELL = 320  # width of one column in pixels
CAPTION = 26
GAP = 6
BOX = (255, 64, 32)  # RGB


def worst_region(blur: np.ndarray, sharp: np.ndarray, aspect: float = 2.0) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the window, about a sixth of the short side tall, where |blur - sharp| is largest."""
    h, w = sharp.shape[:2]
    rh = max(8, min(h, w) // 6)
    rw = min(w, int(round(rh * aspect)))
    err = np.abs(blur.astype(np.float32) - sharp.astype(np.float32)).mean(axis=2)
    summed = cv2.boxFilter(err, -1, (rw, rh), normalize=True, borderType=cv2.BORDER_CONSTANT)
    # only centres whose window lies inside the frame
    ys = slice(rh // 2, h - (rh - rh // 2) + 1)
    xs = slice(rw // 2, w - (rw - rw // 2) + 1)
    inner = summed[ys, xs]
    cy, cx = np.unravel_index(int(np.argmax(inner)), inner.shape)
    return int(cx), int(cy), rw, rh


def _to_u8(img: np.ndarray) -> np.ndarray:
    if img.dtype == np.uint16:
        img = (img.astype(np.float32) / 257.0).round().astype(np.uint8)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return np.ascontiguousarray(img[:, :, :3])


def _cell(img: np.ndarray, region: tuple[int, int, int, int], caption: str) -> np.ndarray:
    img = _to_u8(img)
    h, w = img.shape[:2]
    scale = CELL / w
    whole = cv2.resize(img, (CELL, max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    x, y, rw, rh = region
    p0 = (int(x * scale), int(y * scale))
    p1 = (int((x + rw) * scale) - 1, int((y + rh) * scale) - 1)
    cv2.rectangle(whole, p0, p1, BOX, 2)
    crop = img[y : y + rh, x : x + rw]
    inset = cv2.resize(
        crop,
        (CELL, max(1, round(rh * CELL / rw))),
        interpolation=cv2.INTER_NEAREST if CELL / rw >= 2 else cv2.INTER_CUBIC,
    )
    cap = np.full((CAPTION, CELL, 3), 255, np.uint8)
    cv2.putText(cap, caption, (6, CAPTION - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.48, (0, 0, 0), 1, cv2.LINE_AA)
    spacer = np.full((GAP // 2, CELL, 3), 255, np.uint8)
    return np.concatenate([cap, whole, spacer, inset], axis=0)


def comparison_figure(
    images: Sequence[Mapping[str, np.ndarray]], rows: Sequence, labels: Sequence[str], path: Path
) -> np.ndarray:
    """Draw the grid for ``images`` (dicts with 'input', each label and 'sharp') and write it to ``path``.

    ``rows`` are the matching :class:`trainers.evaluate.Scored` records, whose
    PSNR/SSIM go in the captions. Returns the RGB figure.
    """
    if not images:
        raise ValueError("no images to draw")
    columns = list(labels) + ["sharp"]
    lines = []
    for imgs, row in zip(images, rows):
        region = worst_region(imgs["input"], imgs["sharp"])
        cells = []
        for lab in columns:
            cap = (
                f"{lab}  {row.psnr[lab]:.2f} dB / {row.ssim[lab]:.3f}"
                if lab in row.psnr
                else f"{lab}  ({Path(row.name).name})"
            )
            cells.append(_cell(imgs[lab], region, cap))
        height = max(c.shape[0] for c in cells)
        cells = [np.pad(c, ((0, height - c.shape[0]), (0, 0), (0, 0)), constant_values=255) for c in cells]
        sep = np.full((height, GAP, 3), 255, np.uint8)
        line = cells[0]
        for c in cells[1:]:
            line = np.concatenate([line, sep, c], axis=1)
        lines.append(line)
    width = max(line.shape[1] for line in lines)
    sep = np.full((GAP, width, 3), 255, np.uint8)
    fig = lines[0]
    for line in lines[1:]:
        fig = np.concatenate([fig, sep, line], axis=0)
    write_image(Path(path), fig)
    return fig
