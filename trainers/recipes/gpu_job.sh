#!/usr/bin/env bash
# One GPU stage on a rented machine, from a kit made by gpu_kit.py (README, "A GPU stage on a mix drawn on the GPU machine").
#   bash trainers/recipes/gpu_job.sh KIT RUN EXPORT [extra deblurcli train flags...]
# 1. draws the camera-shake pairs from KIT/sharp with deblurcli synth (the smooth-path flags of cross_kind_data.sh's
#    shake; KIT/SHAKE gives the pairs per image), one process per CPU core, each on a shard with its own seed
#    (SEED, default 40: the same SEED and core count draw the same pairs); measured kernels as stored, as the shipped
#    gpu-kit drew them, or centred by mass with OFFSET=centre (README, "The camera-shake set, centred");
# 2. trains nafnet small from INIT (default: the shipped default) at batch 64 on KIT/MIX's weighted folders plus the
#    drawn pairs, validating on KIT/val, into RUN (resumes if RUN/last.safetensors exists);
# 3. while it trains, copies each saved checkpoint's EMA weights into EXPORT as fp16 weights-only files
#    (deblurcli convert --half, named stepN.safetensors: small enough to come back from the machine; it looks every
#    3 s, so checkpoints saved further apart than that are all exported, the last always), plus the
#    run's history.csv.
# Runs anywhere (CPU too, for testing: pass --device cpu and a few --steps).
set -euo pipefail
shopt -s nullglob  # a source with no images adds no folder
KIT=$1; RUN=$2; EXPORT=$3; shift 3
PY=${PYTHON:-python3}
DEBLUR=("$PY" -m deblurcli)
SEED=${SEED:-40}; INIT=${INIT:-deblurcli/weights/nafnet-small.safetensors}
OFFSET=${OFFSET:-keep}
CORES=${CORES:-$(nproc)}
mkdir -p "$EXPORT" "$RUN"
SYN=$RUN/shake
t0=$(date +%s)

# 1. camera shake: shard each source's images over the cores (a shard is a folder of links), drawn with the camera
#    and kernel sizes of the mix made here (shake_camera.sh)
. "$(dirname "$0")/shake_camera.sh"
if [ ! -f "$SYN/DONE" ]; then
  rm -rf "$SYN"; mkdir -p "$SYN"
  k=0
  while read -r source per; do
    files=("$KIT/sharp/$source"/*)
    for ((s = 0; s < CORES; s++)); do
      shard=$SYN/src/$source/$s; mkdir -p "$shard"
      for ((i = s; i < ${#files[@]}; i += CORES)); do ln -s "$(realpath "${files[$i]}")" "$shard/"; done
      [ -n "$(ls -A "$shard")" ] || continue
      CROPARG=(); [ -n "${SHAKE_CROP[$source]}" ] && CROPARG=(--crop "${SHAKE_CROP[$source]}")
      "${DEBLUR[@]}" synth "$shard" "$SYN/$source/$s" --per-image "$per" --kernel-size "${SHAKE_KSIZE[$source]}" \
        "${CROPARG[@]}" --kernels "$KIT/kernels" "${SHAKE_CAMERA[@]}" --kernel-offset "$OFFSET" --trajectory smooth --seed $((SEED * 1000 + k)) --force > "$SYN/$source.$s.log" 2>&1 &
      k=$((k + 1))
      while [ "$(jobs -rp | wc -l)" -ge "$CORES" ]; do wait -n; done
    done
  done < "$KIT/SHAKE"
  wait
  rm -rf "$SYN/src"; touch "$SYN/DONE"
fi
echo "camera shake: $(find "$SYN" -path '*/blur/*' -type f | wc -l) pairs drawn in $(( $(date +%s) - t0 )) s"

# 2. the weighted mix
DATA=()
for d in "$SYN"/*/*/; do DATA+=(--data "${d%/}"); done
while read -r folder repeat; do
  for ((i = 0; i < repeat; i++)); do DATA+=(--data "$KIT/$folder"); done
done < "$KIT/MIX"
RESUME=(); [ -f "$RUN/last.safetensors" ] && RESUME=(--resume)

# 3. export each saved checkpoint while training runs
export_loop() {
  local seen=""
  while true; do
    if [ -f "$RUN/last.safetensors" ]; then
      local stamp; stamp=$(stat -c %Y "$RUN/last.safetensors")
      if [ "$stamp" != "$seen" ]; then
        sleep 2  # let the atomic rename settle
        local step; step=$("$PY" -c "import sys; from safetensors import safe_open
with safe_open(sys.argv[1], 'pt') as f: print(f.metadata().get('steps', 'x'))" "$RUN/last.safetensors" 2>/dev/null || echo x)
        "${DEBLUR[@]}" convert "$RUN/last.safetensors" "$EXPORT/step$step.safetensors" --half --force > /dev/null 2>&1 \
          && seen=$stamp
      fi
    fi
    [ -f "$RUN/.finished" ] && break
    sleep 3
  done
}
rm -f "$RUN/.finished"
export_loop &
EXPORTER=$!
set +e
"${DEBLUR[@]}" train nafnet --variant small --batch 64 --patch 256 --ema 0.999 --seed "$SEED" --init "$INIT" \
  "${DATA[@]}" --val "$KIT/val/patches_0372" --val-max 30 --out "$RUN" \
  "${RESUME[@]}" "$@"
rc=$?
set -e
touch "$RUN/.finished"; wait "$EXPORTER" || true
cp "$RUN/history.csv" "$EXPORT/" 2>/dev/null || true
echo "train exited $rc after $(( $(date +%s) - t0 )) s; exported: $(ls "$EXPORT" | tr '\n' ' ')"
exit $rc
