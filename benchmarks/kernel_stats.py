"""How large is the camera-shake blur a model trains on, against the real kernels it is validated on?

    python benchmarks/kernel_stats.py [FOLDER_OR_PAIRS_JSON ...] [--random 7-35 ...] [--n 300] [--trajectory ...]

For each folder of ``.npy`` kernels (a synth output's ``kernels/``, ``../shared/data/kernels``) or a synth
output's ``pairs.json`` (its kernels split by source: ``trajectory`` or ``real:...``), and for kernels drawn by
``trainers.synth.random_path_kernel`` at the given canvas sizes: the blur's extent (the longer side of the box
holding the kernel's values above 5% of its peak, pixels) and its RMS radius (the spread of its mass around
its centre, pixels), as 10th/50th/90th percentiles, and the share of near-trivial kernels (extent <= 5 px).
Random kernels are drawn for each ``--trajectory`` (default: smooth and fine, ``deblurcli synth``'s two).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainers.synth import TRAJECTORIES, random_path_kernel  # noqa: E402


def extent(k: np.ndarray) -> int:
    ys, xs = np.nonzero(k > k.max() * 0.05)
    return int(max(np.ptp(xs), np.ptp(ys)) + 1)


def rms_radius(k: np.ndarray) -> float:
    k = k / k.sum()
    y, x = np.mgrid[: k.shape[0], : k.shape[1]]
    cy, cx = (k * y).sum(), (k * x).sum()
    return float(np.sqrt((k * ((y - cy) ** 2 + (x - cx) ** 2)).sum()))


def summary(name: str, kernels: list[np.ndarray]) -> dict:
    e = np.array([extent(k) for k in kernels])
    r = np.array([rms_radius(k) for k in kernels])
    row = {
        "kernels": name,
        "n": len(kernels),
        "extent_p10_p50_p90": [float(v) for v in np.percentile(e, [10, 50, 90])],
        "rms_p10_p50_p90": [round(float(v), 2) for v in np.percentile(r, [10, 50, 90])],
        "trivial_share": round(float((e <= 5).mean()), 3),
    }
    print(
        f"{name:<44} n={row['n']:>5}  extent {row['extent_p10_p50_p90']}  RMS radius {row['rms_p10_p50_p90']}  "
        f"extent <= 5 px: {row['trivial_share']:.0%}"
    )
    return row


def from_path(path: Path, limit: int) -> dict[str, list[np.ndarray]]:
    if path.is_dir():
        return {str(path): [np.load(f) for f in sorted(path.glob("*.npy"))[:limit]]}
    groups: dict[str, list[np.ndarray]] = defaultdict(list)
    for p in json.loads(path.read_text())["pairs"][:limit]:
        source = p["kernel_source"].split(":")[0]
        groups[f"{path.parent.name} ({source})"].append(np.load(path.parent / p["kernel"]))
    return dict(groups)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", type=Path)
    ap.add_argument("--random", action="append", default=[], help="MIN-MAX canvas sizes of random kernels")
    ap.add_argument("--n", type=int, default=300, help="random kernels per size range, and at most this many read")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--trajectory", action="append", choices=TRAJECTORIES, help="default: all")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    rows = []
    for path in a.paths:
        for name, kernels in from_path(path, a.n).items():
            rows.append(summary(name, kernels))
    for spec in a.random:
        lo, hi = (int(v) for v in spec.split("-"))
        for kind in a.trajectory or TRAJECTORIES:
            rng = np.random.default_rng(a.seed)
            kernels = [random_path_kernel(rng, lo, hi, kind)[0] for _ in range(a.n)]
            rows.append(summary(f"random {kind} {lo}-{hi}", kernels))
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
