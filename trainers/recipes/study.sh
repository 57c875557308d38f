#!/usr/bin/env bash
# The study, end to end: the five architectures trained on one budget, scored on every kind of blur, timed on
# this CPU, and written into README.md's "The study" section (trainers/recipes/study/results.json).
#   bash trainers/recipes/study.sh [TRAINDATA] [RUNS]
# TRAINDATA comes from cross_kind_data.sh (TRAINDATA/mix and TRAINDATA/val). The published table ran the
# training on one H200 (about 6 minutes for all five; `deblurcli train` uses bf16 autocast there) with
# TIME_LIMIT=75s, and the scoring and timing on a 2-core CPU. On a CPU alone use BATCH=4 STEPS=8000 (the same
# 32,000 crops; days for the transfer U-Nets).
set -euo pipefail
T=${1:-traindata}; R=${2:-runs/study}
ARCHS=(nafnet resunet uptimus efficientnet_b4 vgg19)
[ -d "$T/study-pack" ] || python trainers/recipes/gpu_pack.py "$T/mix" "$T/study-pack" --study
bash trainers/recipes/study_train.sh all "$T/study-pack" "$R" --val "$T/val/gopro/patches_0372" --val-max 30
W=(); S=()
for a in "${ARCHS[@]}"; do W+=(--weights "$R/$a/last.safetensors"); S+=("$a=$R/$a/last.safetensors"); done
M=$(IFS=,; echo "${ARCHS[*]}")
for s in reds gopro shake; do
  deblurcli eval --data "$T/val/$s" -m "$M" "${W[@]}" --engine torch --precision fp32 --tile 1280 --overlap 32 \
    --json "$R/eval-$s.json" -q
done
python benchmarks/study_speed.py "${S[@]}" --json "$R/speed.json"
python trainers/recipes/study_table.py collect --eval reds="$R/eval-reds.json" --eval gopro="$R/eval-gopro.json" \
  --eval shake="$R/eval-shake.json" --runs "$R" --speed "$R/speed.json" \
  --note budget="${STEPS:-1000} steps x ${BATCH:-32} random 256x256 crops per architecture${TIME_LIMIT:+, capped at $TIME_LIMIT of training}; from scratch (random encoders for the transfer U-Nets), EMA 0.999, seed 11, each architecture's own loss and learning rate" \
  --note data="gpu_pack.py's sample of the cross-kind mix" \
  --note train_hardware="${HARDWARE:-this machine}" \
  --note eval="deblurcli eval, PyTorch fp32, whole frames (--tile 1280 --overlap 32)" \
  --note cpu="this machine's CPU, allocator tuned, best of 3, real 1280x720 frame"
python trainers/recipes/study_table.py
deblurcli eval --data "$T/val/gopro/GOPR0374_11_00" -m "$M" "${W[@]}" --engine torch --precision fp32 \
  --tile 1280 --overlap 32 --figure docs/study.png --figure-rows 2 -q
