"""The CPU default's largest tile, measured: time, peak memory and overlap work for large photos.

Above 2.2 MP deblurcli tiles images on a CPU with tiles of at most ``CPU_TILE`` px (overlap 32), shortened to
the least overlap (:func:`deblurcli.tiling.plan_axis` with ``fit``). Larger tiles waste less work on overlap
but hold more memory. For each candidate, each image is deblurred by ``deblurcli folder`` (no options, the
shipped default, its OpenVINO engine cached by a warm-up run) in a fresh process with ``CPU_TILE`` set to the
candidate, ``--repeat`` times; the best wall time and the largest peak RSS (``getrusage`` of the child) are
printed beside the overlap work the plan implies. Pause other work first.

    python benchmarks/cpu_tiles.py [--tiles 512,768,832,1024] [--repeat 2] [--ensemble N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
URBAN = ROOT.parent / "shared/data/sharp/urban100"
SIZES = {"4000x3000 (12 MP)": (3000, 4000), "7680x4320 (8K)": (4320, 7680)}
CHILD = (
    "import sys, deblurcli.inference as i; i.CPU_TILE = int(sys.argv[1]); from deblurcli.cli import main; "
    "main(sys.argv[2:], prog_name='deblurcli')"
)


def make_photo(shape: tuple[int, int], out: Path) -> None:
    """A real photo (urban100, upscaled with Lanczos to the size) saved as JPEG q95."""
    src = cv2.imread(str(sorted(URBAN.glob("*.*"))[0]))
    h, w = shape
    cv2.imwrite(str(out), cv2.resize(src, (w, h), interpolation=cv2.INTER_LANCZOS4), [cv2.IMWRITE_JPEG_QUALITY, 95])


def overlap_work(shape: tuple[int, int], tile: int, multiple: int = 16) -> float:
    from deblurcli.tiling import plan_tiles

    plan = plan_tiles(*shape, tile, 32, multiple, fit=True)
    th, tw = plan.tile_shape
    return len(plan) * th * tw / (shape[0] * shape[1]) - 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiles", default="512,768,832,1024")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--ensemble", help="passed to deblurcli folder (default: its default)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    extra = ["--ensemble", args.ensemble] if args.ensemble else []
    work = Path(tempfile.mkdtemp(prefix="cpu-tiles-"))
    folders = {}
    for name, shape in SIZES.items():
        folders[name] = work / name.split()[0]
        folders[name].mkdir()
        make_photo(shape, folders[name] / "photo.jpg")
    warm = work / "warm"
    warm.mkdir()
    cv2.imwrite(str(warm / "w.png"), np.full((64, 64, 3), 128, np.uint8))
    rows = []
    for tile in map(int, args.tiles.split(",")):
        subprocess.run(
            [sys.executable, "-c", CHILD, str(tile), "folder", str(warm), "-o", str(work / "w"), "-q", "--overwrite"],
            check=True,
        )  # builds the engine for this tile once
        for name, shape in SIZES.items():
            # peak memory: each measurement in its own grandchild, so ru_maxrss is that process's alone
            times, peaks = [], []
            for _ in range(args.repeat):
                code = (
                    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
                    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
                )
                cmd = [sys.executable, "-c", CHILD, str(tile), "folder", str(folders[name]), "-o", str(work / "o"),
                       "-q", *extra]  # fmt: skip
                shutil.rmtree(work / "o", ignore_errors=True)
                t0 = time.perf_counter()
                res = subprocess.run([sys.executable, "-c", code, *cmd], check=True, capture_output=True, text=True)
                times.append(time.perf_counter() - t0)
                peaks.append(int(res.stdout.split()[-1]))
            row = {"tile": tile, "image": name, "seconds": round(min(times), 2), "peak_rss_kib": max(peaks),
                   "overlap_work": round(overlap_work(shape, tile), 3)}  # fmt: skip
            rows.append(row)
            print(f"tile <= {tile:5d}  {name:18} {row['seconds']:7.2f} s  peak {row['peak_rss_kib'] / 1024**2:5.2f} GiB"
                  f"  overlap work {row['overlap_work']:.1%}", flush=True)  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
