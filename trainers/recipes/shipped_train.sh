#!/usr/bin/env bash
# The training runs behind the shipped weights (model cards in README.md).
#   bash trainers/recipes/shipped_train.sh MODEL [SHARED_DATA] [TRAINDATA] [RUNS] [extra train flags...]
# MODEL: nafnet | nafnet-ft | nafnet-reds | nafnet-long | uptimus. TRAINDATA comes from shipped_data.sh. nafnet-ft is the
# second stage of the shipped NAFNet: it starts from runs/nafnet/last.safetensors and fine-tunes on a
# mix where the real 720p REDS and GoPro pairs are repeated (x8 and x4: 16% and 8% of the samples
# instead of 2.5% each). Validation is the
# held-out REDS clip pairs/reds_train_001 (its 4x-downscaled copy
# reds_small/train_001 is left out of training too). Re-running with the same
# RUNS folder resumes.
set -euo pipefail
MODEL=$1; D=${2:-../shared/data}; T=${3:-traindata}; R=${4:-runs}; shift $(( $# < 4 ? $# : 4 ))
P=$D/pairs
DATA=(--data "$T" --data "$P/reds_train_000" --data "$P/gopro_avg_train" --data "$P/gopro_train_patches_0372"
      --data "$P/reds_small/train_000" --data "$P/reds_small/val_or_test_000" --data "$P/reds_small/val_or_test_001"
      --data "$P/reds_small/val_or_test_002")
REAL=(--data "$P/reds_train_000")
GOPRO=(--data "$P/gopro_avg_train")
rep() { local n=$1 d=$2; for ((i = 0; i < n; i++)); do DATA+=(--data "$d"); done; }
case $MODEL in
  nafnet-reds)  # third stage, shipped: real motion blur dominates the mix. Of 766 samples: 720p REDS
    # x30 (39%), GoPro averages x8 (10%), the GoPro-style 240 fps windows (13%), camera shake (27%),
    # REDS small (5%), GoPro patches (4%), hcblur (1%). 2600 steps, cosine from 3e-4.
    DATA=(--data "$T/shake" --data "$T/video" --data "$P/gopro_train_patches_0372"
          --data "$P/reds_small/train_000" --data "$P/reds_small/val_or_test_000"
          --data "$P/reds_small/val_or_test_001" --data "$P/reds_small/val_or_test_002")
    for h in "$T"/hcblur_*; do rep 1 "$h"; done
    rep 30 "$P/reds_train_000"; rep 8 "$P/gopro_avg_train"
    ARGS=(nafnet --variant small --batch 4 --patch 256 --lr 3e-4 --ema 0.999 --warmup 100 --seed 3
          --steps 2600 --init "$R/nafnet-ft/best.safetensors") ;;
  nafnet-long)  # third stage: the nafnet-ft mix on a long schedule, resumed session after session
    DATA+=("${REAL[@]}" "${REAL[@]}" "${REAL[@]}" "${REAL[@]}" "${REAL[@]}" "${REAL[@]}" "${REAL[@]}"
           "${GOPRO[@]}" "${GOPRO[@]}" "${GOPRO[@]}")
    ARGS=(nafnet --variant small --batch 4 --patch 256 --lr 3e-4 --ema 0.999 --warmup 200 --seed 2
          --steps 20000 --init "$R/nafnet-ft/last.safetensors"); VAL_EVERY=1000 ;;
  nafnet-ft)
    DATA+=("${REAL[@]}" "${REAL[@]}" "${REAL[@]}" "${REAL[@]}" "${REAL[@]}" "${REAL[@]}" "${REAL[@]}"
           "${GOPRO[@]}" "${GOPRO[@]}" "${GOPRO[@]}")
    ARGS=(nafnet --variant small --batch 4 --patch 256 --lr 2e-4 --ema 0.999 --warmup 50 --seed 1
          --init "$R/nafnet/last.safetensors") ;;
  nafnet)  ARGS=(nafnet --variant small --batch 4 --patch 256 --lr 5e-4 --ema 0.999 --warmup 300) ;;
  uptimus) ARGS=(uptimus --variant default --batch 4 --patch 256 --lr 2e-4 --ema 0.999 --warmup 300) ;;
  *) echo "unknown model $MODEL" >&2; exit 2 ;;
esac
OUT=$R/$MODEL
RESUME=(); [ -f "$OUT/last.safetensors" ] && RESUME=(--resume)
exec deblurcli train "${ARGS[@]}" "${DATA[@]}" --val "$P/reds_train_001" --val-max 10 --out "$OUT" \
  --save-every 250 --val-every "${VAL_EVERY:-500}" "${RESUME[@]}" "$@"
