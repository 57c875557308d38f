"""Pack a sample of the cross-kind mix small enough to travel to a rented GPU (tens of MB, not 2.7 GB).

    python trainers/recipes/gpu_pack.py TRAINDATA/mix PACK [--quality 90] [--study] [--shake-from TRAINDATA/smooth]

Deterministic (seeded): the same mix gives the same pack. Each source keeps ``count`` pairs, each cropped at
the same place in its blurry and sharp image (``crops`` per pair, ``size`` px square; smaller images are kept
whole) and written as JPEG at ``--quality`` with 4:4:4 chroma for both sides. At quality 90 the re-encoding
error (37-47 dB PSNR against the PNG, 40.8 dB mean on 16 sharp images of the mix) is far below a deblurring
model's error (22-30 dB), so it changes what a short run learns very little; the trade is stated in the
study's README section. 664 pairs, 44 MiB: with the repository (15 MB) it fits the 64 MiB a device call
carries. ``--study`` writes the pack the published study trained on (549 pairs, quality 95, 51 MB).
``--shake-from`` takes the four camera-shake sources from another folder with the same layout (cross_kind_data.sh's
TRAINDATA/smooth: the same photos blurred on smooth paths), everything else from the mix. PACK/COMPOSITION lists
what was kept.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

# source folder (under the mix): pairs kept, crops per pair, crop size
SOURCES = {
    "bsds500": (180, 1, 320),
    "urban100": (70, 1, 320),
    "gopro_frames": (50, 1, 320),
    "photos": (40, 1, 320),
    "gopro240": (120, 1, 384),
    "real/GOPR0477_11_00": (6, 8, 384),
    "real/reds_train_000": (10, 8, 384),
    "real/reds_small_train_000": (10, 1, 0),
    "real/reds_small_val_or_test_000": (10, 1, 0),
    "real/reds_small_val_or_test_001": (10, 1, 0),
    "real/reds_small_val_or_test_002": (10, 1, 0),
    "hcblur_689994771463000_689994971463000": (9, 2, 384),
    "hcblur_692796081940916_692796281940916": (9, 2, 384),
}

# the camera-shake sources, which --shake-from can take from elsewhere
SHAKE = ("bsds500", "urban100", "gopro_frames", "photos")

# the published study's pack (README 'The study', resunet-small's card): 549 pairs, written at quality 95; the
# same sources in the same order (each source's random draw is seeded by its position), fewer camera-shake pairs
STUDY_SOURCES = {
    **SOURCES,
    "bsds500": (100, 1, 320),
    "urban100": (55, 1, 320),
    "gopro_frames": (40, 1, 320),
    "photos": (30, 1, 320),
}


def pairs_under(root: Path) -> list[tuple[Path, Path]]:
    out = []
    for blur in sorted(root.rglob("blur/*")):
        sharp = blur.parent.parent / "sharp" / blur.name
        if sharp.is_file():
            out.append((blur, sharp))
    return out


def crops(shape: tuple[int, ...], n: int, size: int, rng: np.random.Generator) -> list[tuple[int, int, int, int]]:
    h, w = shape[:2]
    if size == 0 or (h <= size and w <= size):
        return [(0, 0, h, w)]
    sh, sw = min(size, h), min(size, w)
    return [(int(rng.integers(0, h - sh + 1)), int(rng.integers(0, w - sw + 1)), sh, sw) for _ in range(n)]


def read(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f"gpu_pack: cannot read {path}")
    return img


def pack(
    mix: Path, out: Path, quality: int, seed: int = 0, sources: dict | None = None, shake_from: Path | None = None
) -> dict[str, int]:
    params = [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
    counts = {}
    for k, (source, (count, per, size)) in enumerate((sources or SOURCES).items()):
        rng = np.random.default_rng([seed, k])
        root = shake_from if shake_from is not None and source in SHAKE else mix
        pairs = pairs_under(root / source)
        if not pairs:
            raise SystemExit(f"gpu_pack: no pairs under {root / source}")
        chosen = sorted(rng.choice(len(pairs), size=min(count, len(pairs)), replace=False))
        dst = out / source.replace("/", "_")
        (dst / "blur").mkdir(parents=True, exist_ok=True)
        (dst / "sharp").mkdir(parents=True, exist_ok=True)
        n = 0
        for i in chosen:
            blur, sharp = (read(p) for p in pairs[i])
            for j, (y, x, h, w) in enumerate(crops(blur.shape, per, size, rng)):
                name = f"{i:05d}_{j}.jpg"
                cv2.imwrite(str(dst / "blur" / name), blur[y : y + h, x : x + w], params)
                cv2.imwrite(str(dst / "sharp" / name), sharp[y : y + h, x : x + w], params)
                n += 1
        counts[dst.name] = n
    (out / "COMPOSITION").write_text(
        "".join(f"{k} {v}\n" for k, v in counts.items()) + f"total {sum(counts.values())}\n"
    )
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mix", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--quality", type=int, help="JPEG quality (default 90; 95 with --study)")
    ap.add_argument("--study", action="store_true", help="the published study's 549-pair pack (STUDY_SOURCES)")
    ap.add_argument("--shake-from", type=Path, help="a folder holding the camera-shake sources " + ", ".join(SHAKE))
    a = ap.parse_args(argv)
    quality = a.quality or (95 if a.study else 90)
    counts = pack(a.mix, a.out, quality, sources=STUDY_SOURCES if a.study else SOURCES, shake_from=a.shake_from)
    size = sum(f.stat().st_size for f in a.out.rglob("*") if f.is_file())
    print(f"{sum(counts.values())} pairs, {size / 2**20:.1f} MiB in {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
