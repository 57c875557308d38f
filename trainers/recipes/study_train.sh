#!/usr/bin/env bash
# The study's training runs: all five architectures on the same data and the same budget (README "The study").
#   bash trainers/recipes/study_train.sh ARCH|all DATA RUNS [extra train flags...]
# DATA is the cross-kind mix (TRAINDATA/mix from cross_kind_data.sh) or a pack of it made by gpu_pack.py (the
# form that travels to a rented GPU). The budget is the same number of training crops for every architecture:
# STEPS x BATCH 256x256 crops (default 1000 x 32 = 32,000), from scratch (no ImageNet weights can be reached
# here: the transfer encoders start random; pass --backbone-weights FILE with torchvision's files to train them
# as the study did, and expect different numbers), each with its architecture's own recipe (loss, learning
# rate: trainers/options.py), EMA 0.999, seed 11. On a CPU use BATCH=4 STEPS=8000 for the same budget.
# TIME_LIMIT (e.g. 75s) is a safety stop; a run it cuts short says so in RUNS/ARCH/history.csv.
set -euo pipefail
WHAT=$1; D=$2; R=$3; shift 3
STEPS=${STEPS:-1000}; BATCH=${BATCH:-32}; TIME_LIMIT=${TIME_LIMIT:-}
DEBLURCLI=${DEBLURCLI:-deblurcli}  # "python3 -m deblurcli" where it is not installed (a rented GPU)
# the architectures and variants of the study: CPU-sized ResUNet, VGG19 with the narrower decoder (its full
# decoder costs 860 GMACs per megapixel), the shipped NAFNet and Uptimus configurations
declare -A VARIANT=([nafnet]=small [resunet]=small [uptimus]=default [efficientnet_b4]=default [vgg19]=small)
DATA=()
for d in "$D"/*/; do DATA+=(--data "${d%/}"); done
run() {
  local arch=$1; shift
  local extra=()
  [ -n "$TIME_LIMIT" ] && extra+=(--time-limit "$TIME_LIMIT")
  case $arch in efficientnet_b4|vgg19) extra+=(--freeze-steps 0) ;; esac  # a random encoder is not frozen
  RESUME=(); [ -f "$R/$arch/last.safetensors" ] && RESUME=(--resume)
  $DEBLURCLI train "$arch" --variant "${VARIANT[$arch]}" "${DATA[@]}" --out "$R/$arch" \
    --steps "$STEPS" --batch "$BATCH" --patch 256 --warmup 100 --ema 0.999 --seed 11 \
    --save-every "$STEPS" --val-every "$STEPS" "${extra[@]}" "${RESUME[@]}" "$@"
}
if [ "$WHAT" = all ]; then
  for a in nafnet resunet uptimus efficientnet_b4 vgg19; do run "$a" "$@"; done
else
  run "$WHAT" "$@"
fi
