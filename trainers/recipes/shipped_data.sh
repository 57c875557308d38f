#!/usr/bin/env bash
# Builds the training mix behind the weights that ship with deblurcli
# (see the model cards in README.md). Usage:
#   bash trainers/recipes/shipped_data.sh [SHARED_DATA] [OUT]
# Defaults: ../shared/data and ./traindata. Deterministic (fixed seeds).
set -euo pipefail
D=${1:-../shared/data}
T=${2:-traindata}
mkdir -p "$T"

# GoPro-style real blur: 7-13 consecutive raw 240 fps frames averaged in linear light.
deblurcli synth "$D/videos/gopro240_GOPR0477_11_00.mkv" "$T/video" --from-video --window 7-13 --stride 3 --seed 1 --force
# Real handheld shake: 60 fps smartphone frames, 4-9 averaged.
for clip in "$D"/sequences/hcblur_60fps/*/; do
  deblurcli synth "$clip/frames" "$T/hcblur_$(basename "$clip")" --from-video --window 4-9 --stride 2 --seed 2 --force
done
# Camera shake on sharp frames and photos: random trajectories and the measured kernels, noise, light JPEG.
# Only the two folders sharp/ held when this mix was built: BSDS500 and Urban100 came later, and BSDS500's
# test split is the validation suite's camera-shake set (cross_kind_data.sh), so a rerun must not draw on it.
rm -rf "$T/shake-src"; mkdir -p "$T/shake-src"
cp -r "$D/sharp/gopro_test_frames" "$D/sharp/photos" "$T/shake-src/"
deblurcli synth "$T/shake-src" "$T/shake" --per-image 4 --kernels "$D/kernels" --real-fraction 0.3 \
  --kernel-size 7-41 --noise 0.01 --jpeg 85-98 --seed 3 --trajectory fine --force  # the shipped data's paths
