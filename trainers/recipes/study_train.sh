#!/usr/bin/env bash
# The study's training runs: all five architectures on the same data and the same budget (README "The study").
#   bash trainers/recipes/study_train.sh ARCH|all DATA RUNS [extra train flags...]
# DATA is the cross-kind mix (TRAINDATA/mix from cross_kind_data.sh) or a pack of it made by gpu_pack.py (the
# form that travels to a rented GPU). The budget is the same number of training crops for every architecture:
# STEPS x BATCH random PATCH x PATCH crops (default 1000 x 32 of 256 px; the published CPU table: 1000 x 8 of
# 128 px), from scratch (no ImageNet weights can be reached here: the transfer encoders start random; pass
# --backbone-weights FILE with torchvision's files to train them as the study did, and expect different
# numbers), each with its architecture's own recipe (loss, learning rate: trainers/options.py), EMA 0.999,
# seed 11. TIME_LIMIT (e.g. 75s) is a safety stop; a run it cuts short says so in RUNS/ARCH/history.csv.
# LANES=2 (with `all`) runs two lanes side by side, one thread each (uptimus, vgg19, resunet | efficientnet_b4,
# nafnet: about equal CPU time), which keeps both cores of a 2-core machine busy while one lane reads data.
set -euo pipefail
WHAT=$1; D=$2; R=$3; shift 3
STEPS=${STEPS:-1000}; BATCH=${BATCH:-32}; PATCH=${PATCH:-256}; TIME_LIMIT=${TIME_LIMIT:-}; LANES=${LANES:-1}
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
    --steps "$STEPS" --batch "$BATCH" --patch "$PATCH" --warmup 100 --ema 0.999 --seed 11 \
    --save-every "$STEPS" --val-every "$STEPS" "${extra[@]}" "${RESUME[@]}" "$@"
}
lane() {  # lane "flags" arch...: the architectures one after another
  local flags=$1; shift
  for a in "$@"; do
    # shellcheck disable=SC2086
    run "$a" "${EXTRA[@]}" $flags
  done
}
if [ "$WHAT" != all ]; then
  run "$WHAT" "$@"
elif [ "$LANES" = 2 ]; then
  EXTRA=("$@")
  lane "--threads 1" uptimus vgg19 resunet &
  a=$!
  lane "--threads 1" efficientnet_b4 nafnet &
  b=$!
  rc=0; wait "$a" || rc=$?; wait "$b" || rc=$?  # both lanes finish (or fail) before the status
  exit "$rc"
else
  EXTRA=("$@")
  lane "" nafnet resunet uptimus efficientnet_b4 vgg19
fi
