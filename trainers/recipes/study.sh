#!/usr/bin/env bash
# The study, end to end: the five architectures trained on one budget, scored on every kind of blur, timed on
# this CPU, and written into README.md's "The study" section (trainers/recipes/study/results.json).
#   bash trainers/recipes/study.sh [TRAINDATA] [RUNS]
# TRAINDATA comes from cross_kind_data.sh (TRAINDATA/mix and TRAINDATA/val). The defaults are the published
# table's: every architecture sees 1000 x 8 random 128x128 crops of the whole mix, two runs at a time on a
# 2-core CPU, one thread each (about an hour for all five). On a GPU (bf16 autocast, larger batches), e.g.
#   PACK=1 STEPS=1000 BATCH=32 PATCH=256 LANES=1 HARDWARE="1x NVIDIA H200" bash trainers/recipes/study.sh
# trains on gpu_pack.py's sample of the mix (the form that travels to a rented GPU; PACK=study: the earlier
# GPU table's 549-pair pack, the one resunet-small was trained on); the scoring and timing run wherever this
# script runs.
set -euo pipefail
T=${1:-traindata}; R=${2:-runs/study}
export STEPS=${STEPS:-1000} BATCH=${BATCH:-8} PATCH=${PATCH:-128} LANES=${LANES:-2}
HARDWARE=${HARDWARE:-"this machine"}; CPU=${CPU:-"this machine's CPU"}  # for the table's notes
ARCHS=(nafnet resunet uptimus efficientnet_b4 vgg19)
if [ "${PACK:-0}" = 1 ]; then
  [ -d "$T/pack" ] || python trainers/recipes/gpu_pack.py "$T/mix" "$T/pack"
  D=$T/pack; DATA_NOTE="gpu_pack.py's sample of the cross-kind mix"
elif [ "${PACK:-0}" = study ]; then
  [ -d "$T/study-pack" ] || python trainers/recipes/gpu_pack.py "$T/mix" "$T/study-pack" --study
  D=$T/study-pack; DATA_NOTE="gpu_pack.py's 549-pair sample of the cross-kind mix (--study)"
else
  D=$T/mix; DATA_NOTE="the whole cross-kind mix of cross_kind_data.sh ($(awk '$1 == "total" {print $2}' "$D/COMPOSITION") pairs)"
fi
bash trainers/recipes/study_train.sh all "$D" "$R" --val "$T/val/gopro/patches_0372" --val-max 30
W=(); S=()
for a in "${ARCHS[@]}"; do W+=(--weights "$R/$a/last.safetensors"); S+=("$a=$R/$a/last.safetensors"); done
M=$(IFS=,; echo "${ARCHS[*]}")
for s in reds gopro shake; do
  deblurcli eval --data "$T/val/$s" -m "$M" "${W[@]}" --engine torch --precision fp32 --tile 1280 --overlap 32 \
    --json "$R/eval-$s.json" -q
done
python benchmarks/study_speed.py "${S[@]}" --json "$R/speed.json"
LANE_NOTE=""; [ "$LANES" = 2 ] && LANE_NOTE=", two runs at a time, one thread each (the seconds are wall-clock with the other lane beside)"
python trainers/recipes/study_table.py collect --eval reds="$R/eval-reds.json" --eval gopro="$R/eval-gopro.json" \
  --eval shake="$R/eval-shake.json" --runs "$R" --speed "$R/speed.json" \
  --note budget="$STEPS steps x $BATCH random ${PATCH}x$PATCH crops per architecture${TIME_LIMIT:+, capped at $TIME_LIMIT of training}; from scratch (random encoders for the transfer U-Nets), EMA 0.999, seed 11, each architecture's own loss and learning rate" \
  --note data="$DATA_NOTE" \
  --note train_hardware="$HARDWARE$LANE_NOTE" \
  --note eval="deblurcli eval, PyTorch fp32, whole frames (--tile 1280 --overlap 32)" \
  --note cpu="$CPU, allocator tuned, best of 3, real 1280x720 frame"
python trainers/recipes/study_table.py
deblurcli eval --data "$T/val/gopro/GOPR0374_11_00" -m "$M" "${W[@]}" --engine torch --precision fp32 \
  --tile 1280 --overlap 32 --figure docs/study.png --figure-rows 2 -q
