#!/usr/bin/env bash
# Architecture search at equal training time (issue #15): trains each
# candidate from scratch for the same minutes on the same data, with the
# same seed and threads, then measures it on the paper protocol.
#   models/search.sh denoise|x2|x3|x4 MINUTES [THREADS] [ARCH ...]
# Without ARCH, every preset of the task (`aenet train --help` lists them).
# Models and logs go to models/checkpoints/search/ (not committed); the
# table (Markdown) to standard output and models/checkpoints/search/TASK.md.
# Run it with nothing else on the machine: the steps done in the time are
# part of what is compared.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:?usage: models/search.sh denoise|x2|x3|x4 MINUTES [THREADS] [ARCH ...]}
minutes=${2:?usage: models/search.sh denoise|x2|x3|x4 MINUTES [THREADS] [ARCH ...]}
threads=${3:-2}
shift $(($# < 3 ? $# : 3))
aenet=${AENET:-build/cli/aenet}
data=../shared/data
out=models/checkpoints/search
mkdir -p "$out"

case $what in
  denoise)
    train=(--task denoise --patch 128 --batch 8 --data "$data/train/bsds432:$data/train/photos")
    evals=(--data "$data/test/cbsd68" --sigma 15,25,50)
    conditions=3 measure="CBSD68 σ 15 / 25 / 50" ;;
  x2|x3|x4)
    s=${what#x}
    train=(--task upscale --scale "$s" --patch 48 --data "$data/train/bsds432:$data/train/t91:$data/train/photos")
    evals=(--data "$data/test/set5/x$s")
    conditions=1 measure="Set5 ×$s" ;;
  *) echo "unknown task '$what' (denoise, x2, x3, x4)" >&2; exit 2 ;;
esac

archs=("$@")
if [ ${#archs[@]} -eq 0 ]; then
  # The presets of this task and scale; for denoising, those that take a
  # noise level (the paper protocol gives it).
  task=${train[1]}
  while read -r name; do
    info=$("$aenet" info --arch "$name")
    grep -q "^Task: *$task$" <<< "$info" || continue
    if [ "$task" = denoise ]; then
      grep -q "^Noise level input: yes" <<< "$info" || continue
    else
      grep -q "^Scale: *${what#x}$" <<< "$info" || continue
    fi
    archs+=("$name")
  done < <("$aenet" train --help | sed -n '/^Architectures/,$p' | sed -n 's/^  \([a-z0-9-]*\) .*/\1/p')
fi

table=$out/$what.md
{
  echo "| architecture | multiply-adds / px | parameters | steps in $minutes min ($threads threads) | $measure PSNR |"
  echo "|---|---|---|---|---|"
} > "$table"
for arch in "${archs[@]}"; do
  model=$out/$what-$arch.safetensors log=$out/$what-$arch.log
  rm -f "$model"
  "$aenet" train --arch "$arch" "${train[@]}" --minutes "$minutes" --threads "$threads" \
    --seed 1 --val-every 1000000 --out "$model" > "$log" 2>&1
  info=$("$aenet" info "$model")
  macs=$(sed -n 's/^Multiply-adds: *\([0-9]*\).*/\1/p' <<< "$info")
  params=$(sed -n 's/^Parameters: *\([0-9]*\).*/\1/p' <<< "$info")
  steps=$(sed -n 's/^\([0-9]*\) steps in.*/\1/p' "$log" | tail -n 1)
  psnr=$("$aenet" eval -m "$model" "${evals[@]}" --threads "$threads" --json \
           | grep -o '"psnr": [0-9.]*' | head -n "$conditions" | sed 's/"psnr": //' | paste -sd /)
  echo "| $arch | $macs | $params | $steps | $psnr |" >> "$table"
done
cat "$table"
