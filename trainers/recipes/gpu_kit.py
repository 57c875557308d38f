"""Pack what a GPU machine needs to rebuild the cross-kind mix there: real pairs plus the *sharp* camera-shake sources.

    python trainers/recipes/gpu_kit.py SHARED_DATA TRAINDATA KIT [--quality 90]

A device call carries at most 64 MiB with the repository (15 MB), so the blurred camera-shake pairs, which
outnumber everything else in the mix, are not packed at all: ``gpu_job.sh`` draws them on the GPU machine's 16
cores with ``deblurcli synth`` from the sharp images packed here (new draws every run, the flags of
``cross_kind_data.sh``'s smooth-path shake), so a short GPU run sees thousands of distinct pairs instead of a
few hundred carried ones (``gpu_pack.py``'s 664, each cropped ~54 times, cost REDS and GoPro-style gains).

KIT gets, all deterministic (seeded):

- ``real/NAME/{blur,sharp}``: the real pairs of the mix, JPEG at ``--quality`` with 4:4:4 chroma: REDS
  ``reds_train_000`` and the GOPR0477 averages whole (720p), the four 4x-downscaled REDS sets and the handheld
  60 fps averages whole, and ``GOPRO240_CROPS`` crops of the 240 fps windows (both averagings).
- ``sharp/SOURCE``: camera-shake sources (nested folders flattened into names) at their own scale (cropping keeps the blur lengths of
  ``cross_kind_data.sh`` right, resizing would not): BSDS500 train+val photos byte for byte (never ``test_*``),
  crops of the Urban100 scenes, GoPro test frames and photos.
- ``kernels``: TRAINDATA/kernels/train (the measured kernels training may use; never the validation suite's).
- ``val/patches_0372``: the validation suite's smallest set (1.3 MB), so the run reports a curve; the whole suite
  (40 MB as PNG) stays here, where the exported weights are scored.
- ``MIX``: ``FOLDER REPEAT`` per training folder, weighting the kinds as ``shipped_train.sh``'s cross mix does
  (about 45% camera shake, 30% GoPro-style, 20% REDS, 5% handheld); ``COMPOSITION``: pairs per folder.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_pack import crops, pairs_under, read  # noqa: E402

sys.path.pop(0)

GOPRO240_CROPS = (200, 384)  # pairs kept from TRAINDATA/mix/gopro240, crop size
# sharp shake sources: (images kept, crops per image, crop size; 0 = whole file copied)
SHARP = {"bsds500": (130, 1, 0), "urban100": (90, 1, 448), "gopro_frames": (27, 1, 448), "photos": (25, 1, 448)}
SHARP_DIRS = {"bsds500": "bsds500", "urban100": "urban100", "gopro_frames": "gopro_test_frames", "photos": "photos"}
# real folders under the kit and how many times each is listed (the cross mix's weights, rescaled to the kit)
REAL = {
    "reds_train_000": ("pairs/reds_train_000", 120),
    "GOPR0477_11_00": ("pairs/gopro_avg_train/GOPR0477_11_00", 105),
    "reds_small_train_000": ("pairs/reds_small/train_000", 12),
    "reds_small_val_or_test_000": ("pairs/reds_small/val_or_test_000", 12),
    "reds_small_val_or_test_001": ("pairs/reds_small/val_or_test_001", 12),
    "reds_small_val_or_test_002": ("pairs/reds_small/val_or_test_002", 12),
}
GOPRO240_REPEAT = 10
HCBLUR_REPEAT = 18
# camera-shake pairs gpu_job.sh draws per packed sharp image (sharp/SOURCE), listed once each
SHAKE_PER_IMAGE = {"bsds500": 15, "urban100": 12, "gopro_frames": 18, "photos": 12}
IMAGES = {".jpg", ".jpeg", ".png"}


def _params(quality: int) -> list[int]:
    return [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]


def _write_pairs(pairs, dst: Path, quality: int, n: int = 0, size: int = 0, seed: int = 0) -> int:
    """Pairs (all, or ``n`` drawn with ``seed``) to dst/{blur,sharp} as JPEG, cropped at one place if ``size``."""
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(pairs), size=n, replace=False)) if n and n < len(pairs) else range(len(pairs))
    (dst / "blur").mkdir(parents=True, exist_ok=True)
    (dst / "sharp").mkdir(parents=True, exist_ok=True)
    for i in chosen:
        blur, sharp = (read(p) for p in pairs[i])
        ((y, x, h, w),) = crops(blur.shape, 1, size, rng)
        for side, img in (("blur", blur), ("sharp", sharp)):
            cv2.imwrite(str(dst / side / f"{i:05d}.jpg"), img[y : y + h, x : x + w], _params(quality))
    return len(chosen)


def build(shared: Path, traindata: Path, kit: Path, quality: int = 90) -> dict[str, int]:
    if kit.exists():
        shutil.rmtree(kit)
    counts: dict[str, int] = {}
    mix: list[tuple[str, int]] = []
    for k, (name, (rel, repeat)) in enumerate(REAL.items()):
        counts[name] = _write_pairs(pairs_under(shared / rel), kit / "real" / name, quality, seed=k)
        mix.append((f"real/{name}", repeat))
    n, size = GOPRO240_CROPS
    gopro240 = pairs_under(traindata / "mix" / "gopro240")
    if not gopro240:
        raise SystemExit(f"gpu_kit: no pairs under {traindata / 'mix' / 'gopro240'} (run cross_kind_data.sh)")
    counts["gopro240"] = _write_pairs(gopro240, kit / "real" / "gopro240", quality, n, size, seed=100)
    mix.append(("real/gopro240", GOPRO240_REPEAT))
    for h in sorted((traindata / "mix").glob("hcblur_*")):
        counts[h.name] = _write_pairs(pairs_under(h), kit / "real" / h.name, quality, seed=101)
        mix.append((f"real/{h.name}", HCBLUR_REPEAT))
    for k, (source, (keep, per, size)) in enumerate(SHARP.items()):
        rng = np.random.default_rng([200, k])
        root = shared / "sharp" / SHARP_DIRS[source]
        files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGES and not p.name.startswith("test_"))
        chosen = sorted(rng.choice(len(files), size=min(keep, len(files)), replace=False))
        dst = kit / "sharp" / source
        dst.mkdir(parents=True)
        for i in chosen:
            name = "_".join(files[i].relative_to(root).parts)  # sources nest images in folders
            if size == 0:
                shutil.copyfile(files[i], dst / name)
                continue
            img = read(files[i])
            for j, (y, x, h, w) in enumerate(crops(img.shape, per, size, rng)):
                cv2.imwrite(str(dst / f"{Path(name).stem}_{j}.jpg"), img[y : y + h, x : x + w], _params(95))
        counts[f"sharp/{source}"] = len(list(dst.iterdir()))
    shutil.copytree(traindata / "kernels" / "train", kit / "kernels")
    shutil.copytree(traindata / "val" / "gopro" / "patches_0372", kit / "val" / "patches_0372")
    (kit / "MIX").write_text("".join(f"{d} {r}\n" for d, r in mix))
    (kit / "SHAKE").write_text("".join(f"{s} {n}\n" for s, n in SHAKE_PER_IMAGE.items()))
    (kit / "COMPOSITION").write_text("".join(f"{k} {v}\n" for k, v in counts.items()))
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("shared", type=Path)
    ap.add_argument("traindata", type=Path)
    ap.add_argument("kit", type=Path)
    ap.add_argument("--quality", type=int, default=90, help="JPEG quality of the real pairs (default 90)")
    a = ap.parse_args(argv)
    counts = build(a.shared, a.traindata, a.kit, a.quality)
    size = sum(f.stat().st_size for f in a.kit.rglob("*") if f.is_file())
    print(f"{sum(counts.values())} files' worth ({counts}), {size / 2**20:.1f} MiB in {a.kit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
