"""Keep only the validation kernels that training does not use.

    python trainers/recipes/held_out_kernels.py VAL_KERNELS TRAIN_KERNELS

Deletes from the folder VAL_KERNELS every ``.npy`` kernel that is one of TRAIN_KERNELS' under another name (the
same kernel up to shift, flips, 90-degree rotations and scale: :func:`trainers.holdout.same_kernel`) and says
which. USRNet's 12 kernels, which the training mix draws from, include Levin et al.'s k7 and k8, so the camera-shake
validation set keeps Levin's other six. Exits 1 when no kernel would be left.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from trainers.holdout import same_kernel  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("val", type=Path, help="folder of validation kernels (.npy); pruned in place")
    ap.add_argument("train", type=Path, help="folder of the kernels training draws from (.npy)")
    a = ap.parse_args(argv)
    train = {f.name: np.load(f) for f in sorted(a.train.glob("*.npy"))}
    val = sorted(a.val.glob("*.npy"))
    kept = 0
    for f in val:
        twin = next((n for n, k in train.items() if same_kernel(np.load(f), k)), None)
        if twin is None:
            kept += 1
            continue
        f.unlink()
        print(f"{f.name}: left out of validation, training uses it as {twin}")
    if not kept:
        print(f"error: every kernel in {a.val} is also in {a.train}", file=sys.stderr)
        return 1
    print(f"{kept} of {len(val)} validation kernels held out of training")
    return 0


if __name__ == "__main__":
    sys.exit(main())
