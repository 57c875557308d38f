#!/usr/bin/env bash
# The README's before/after picture: the example crops (examples/ATTRIBUTION.md), their sharp
# counterparts from the held-out REDS clip, and the default model, drawn by 'deblurcli eval --figure'.
#   bash trainers/recipes/before_after.sh [SHARED_DATA] [OUT.png]
set -euo pipefail
D=${1:-../shared/data}; OUT=${2:-examples/before_after.png}
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
python - "$D/pairs/reds_train_001" "$TMP" <<'PY'
import sys
from pathlib import Path
import cv2
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
crops = {"00000002": (360, 180), "00000004": (40, 90), "00000009": (200, 120)}  # x, y of 480x360
for kind in ("blur", "sharp"):
    (dst / kind).mkdir(parents=True)
    for frame, (x, y) in crops.items():
        im = cv2.imread(str(src / kind / f"{frame}.png"))
        cv2.imwrite(str(dst / kind / f"reds_train001_{frame}.png"), im[y:y + 360, x:x + 480])
PY
# the crops must be exactly the shipped examples
for f in examples/blurry/*.png; do cmp -s "$f" "$TMP/blur/$(basename "$f")" || { echo "$f differs from its crop" >&2; exit 1; }; done
deblurcli eval --data "$TMP" --engine torch --figure "$OUT" --figure-rows 3 -q
