#!/usr/bin/env bash
# Builds the training mix and the validation suite behind the shipped weights (model cards in README.md).
#   bash trainers/recipes/cross_kind_data.sh [SHARED_DATA] [OUT]
# Defaults: ../shared/data and ./traindata. Deterministic (fixed seeds): the same command rebuilds the same
# pixels. Two jobs run at a time (JOBS=1 for one). Writes:
#   OUT/mix/...      about 5,100 training pairs (the "cross-kind mix"; composition in OUT/mix/COMPOSITION)
#   OUT/val/reds     pairs/reds_train_001, the held-out REDS clip (10 x 720p)
#   OUT/val/gopro    pairs/gopro_avg_train/GOPR0374_11_00 (4 x 720p) + pairs/gopro_train_patches_0372 (30 crops)
#   OUT/smooth/...   the mix's four camera-shake sources again on smooth paths (4,724 pairs; PART=smooth: only these)
#   OUT/centred/...  PART=centred only: the same sources on smooth paths, measured kernels centred, new seeds
#   OUT/val/shake    24 camera-shake pairs from sharp/bsds500/test_* and the 6 of Levin's 8 measured kernels that
#                    the mix does not use, noise included
# Nothing under OUT/val is in OUT/mix: those GoPro scenes, BSDS500's test split and Levin's k1-k6 stay out of it
# (the first two stages of shipped_train.sh, on shipped_data.sh's real mix, did train on the GoPro scenes and
# on all of Levin's kernels: README, model card).
set -euo pipefail
D=${1:-../shared/data}
T=${2:-traindata}
JOBS=${JOBS:-2}
PART=${PART:-all}  # all; smooth: only OUT/smooth; centred: only OUT/centred (the shake sources again, below)
M=$T/mix
mkdir -p "$M" "$T/val"

run() { if [ "$JOBS" -gt 1 ]; then "$@" & while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done; else "$@"; fi; }

# Camera shake through the camera model (saturated highlights, rotation, Poisson-Gaussian noise, tone curve, JPEG),
# kernel lengths at each source's scale (shake_camera.sh, which gpu_job.sh shares). OUT TRAJECTORY FIRST_SEED (seeds
# FIRST..FIRST+3) [flags that replace the camera's, e.g. --kernel-offset centre].
. "$(dirname "$0")/shake_camera.sh"
shake_sources() {
  local O=$1 S=$3 SH=(--kernels "$T/kernels/train" "${SHAKE_CAMERA[@]}" "${@:4}" --trajectory "$2")
  run deblurcli synth "$D/sharp/bsds500" "$O/bsds500" --exclude 'test_*' --per-image 10 \
    --kernel-size "${SHAKE_KSIZE[bsds500]}" "${SH[@]}" --seed "$S" --force
  run deblurcli synth "$D/sharp/urban100" "$O/urban100" --per-image 12 --crop "${SHAKE_CROP[urban100]}" \
    --kernel-size "${SHAKE_KSIZE[urban100]}" "${SH[@]}" --seed $((S + 1)) --force
  run deblurcli synth "$D/sharp/gopro_test_frames" "$O/gopro_frames" --per-image 12 --crop "${SHAKE_CROP[gopro_frames]}" \
    --kernel-size "${SHAKE_KSIZE[gopro_frames]}" "${SH[@]}" --seed $((S + 2)) --force
  run deblurcli synth "$D/sharp/photos" "$O/photos" --per-image 8 --crop "${SHAKE_CROP[photos]}" \
    --kernel-size "${SHAKE_KSIZE[photos]}" "${SH[@]}" --seed $((S + 3)) --force
}
# The same sources again on --trajectory smooth paths (blur at the kernel's scale, like measured shake; README,
# synth), new seeds: OUT/smooth, which the smooth-ft stage trains on in place of the mix's four shake folders
# (shipped_train.sh). Needs OUT/kernels/train (made below; PART=smooth reuses it).
# smooth_part NAME FIRST_SEED [flags for shake_sources]: OUT/NAME and its COMPOSITION.
smooth_part() {
  mkdir -p "$T/$1"
  shake_sources "$T/$1" smooth "${@:2}"
  wait
  for d in "$T/$1"/*/; do echo "$(basename "$d") $(find "$d" -path '*/blur/*' -type f | wc -l)"; done \
    > "$T/$1/COMPOSITION"
  cat "$T/$1/COMPOSITION"
}
if [ "$PART" = smooth ]; then smooth_part smooth 13; exit 0; fi
# The smooth sources once more with every measured kernel centred by mass (synth's default; the mix and OUT/smooth
# keep the offsets the shipped weights trained on), new seeds: OUT/centred, for the centred-ft stage. Needs
# OUT/kernels/train.
if [ "$PART" = centred ]; then smooth_part centred 23 --kernel-offset centre; exit 0; fi
[ "$PART" = all ] || { echo "PART must be all, smooth or centred, not $PART" >&2; exit 2; }

# --- the validation suite: one set per blur kind, never trained on ---
copy_pairs() {  # SRC DST: a GoPro-layout copy (blur/ + sharp/)
  mkdir -p "$2/blur" "$2/sharp"; cp "$1"/blur/* "$2/blur/"; cp "$1"/sharp/* "$2/sharp/"
}
# Levin et al.'s measured camera-shake kernels blur the validation set; training draws from USRNet's 12, which
# include two of Levin's 8 under other names (k7, k8), so those two leave the validation set (held_out_kernels.py)
rm -rf "$T/val/reds" "$T/val/gopro" "$T/kernels"
mkdir -p "$T/kernels/val" "$T/kernels/train"
cp "$D"/kernels/levin09_*.npy "$T/kernels/val/"; cp "$D"/kernels/kernels12_*.npy "$T/kernels/train/"
${PYTHON:-python} "$(dirname "$0")/held_out_kernels.py" "$T/kernels/val" "$T/kernels/train"
copy_pairs "$D/pairs/reds_train_001" "$T/val/reds/reds_train_001"
copy_pairs "$D/pairs/gopro_avg_train/GOPR0374_11_00" "$T/val/gopro/GOPR0374_11_00"
copy_pairs "$D/pairs/gopro_train_patches_0372" "$T/val/gopro/patches_0372"
# Each measured kernel is centred by its centre of mass (synth's default --kernel-offset centre): stored as measured,
# Levin's k6 shifted its blurry photos 4 px against their sharp originals, a shift no model can see, which capped the
# set's PSNR (README, "The camera-shake set, centred").
run deblurcli synth "$D/sharp/bsds500" "$T/val/shake" --include 'test_*' --per-image 1 --limit 24 \
  --kernels "$T/kernels/val" --real-fraction 1 --noise 0.01 --highlights 0.3 --seed 100 --trajectory fine --force

# --- the training mix ---
# GoPro-style real blur: 7-13 consecutive raw 240 fps frames averaged, both in linear light (GoPro's
# blur_gamma) and over the sRGB codes (GoPro's blur): ~290 pairs, 720p.
run deblurcli synth "$D/videos/gopro240_GOPR0477_11_00.mkv" "$M/gopro240" --from-video --window 7-13 --stride 2 \
  --average both --seed 1 --force
# Real handheld shake: 60 fps smartphone frames, 4-9 averaged.
for clip in "$D"/sequences/hcblur_60fps/*/; do
  run deblurcli synth "$clip/frames" "$M/hcblur_$(basename "$clip")" --from-video --window 4-9 --stride 1 --seed 2 --force
done
# Camera shake (shake_sources above); --trajectory fine: the random paths the earlier stages were trained on (most
# blur <= 5 px: README, synth).
shake_sources "$M" fine 3
wait

# --- real pairs that are not in the validation suite ---
rm -rf "$M/real"
copy_pairs "$D/pairs/reds_train_000" "$M/real/reds_train_000"
copy_pairs "$D/pairs/gopro_avg_train/GOPR0477_11_00" "$M/real/GOPR0477_11_00"
for s in train_000 val_or_test_000 val_or_test_001 val_or_test_002; do
  copy_pairs "$D/pairs/reds_small/$s" "$M/real/reds_small_$s"
done
smooth_part smooth 13

# composition, for the model card
{
  total=0
  for d in "$M"/*/; do
    n=$(find "$d" -path '*/blur/*' -type f | wc -l); total=$((total + n))
    echo "$(basename "$d") $n"
  done
  echo "total $total"
} > "$M/COMPOSITION"
cat "$M/COMPOSITION"
