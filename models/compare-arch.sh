#!/usr/bin/env bash
# Architectures compared at equal training time (issue 15's search): each
# preset trained from scratch for the same minutes on the same data, then
# measured on the paper protocol. Prints a Markdown table.
#   models/compare-arch.sh denoise MINUTES ARCH...         (CBSD68, σ 25)
#   models/compare-arch.sh upscale-xS MINUTES ARCH...      (Set5 ×S, Y)
# Run it alone on the machine: the runs count the same minutes, so other
# work running beside them takes steps from some runs and not others.
# THREADS (default: all cores) and EXTRA (more options for aenet train).
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: models/compare-arch.sh denoise|upscale-x2|upscale-x3|upscale-x4 MINUTES ARCH..."
task=${1:?$usage}
minutes=${2:?$usage}
shift 2
[ $# -gt 0 ] || { echo "$usage" >&2; exit 2; }
aenet=${AENET:-build/cli/aenet}
data=../shared/data
read -r -a extra <<< "${EXTRA:-}"
case $task in
  denoise)
    train=(--task denoise --patch 128 --batch 8 --loss l2 --val-sigma 25
           --data "$data/train/bsds432:$data/train/photos")
    measure=(--data "$data/test/cbsd68" --sigma 25)
    what="CBSD68 σ 25" ;;
  upscale-x[234])
    s=${task#upscale-x}
    train=(--task upscale --scale "$s" --patch 48 --data "$data/train/bsds432:$data/train/t91")
    measure=(--data "$data/test/set5/x$s")
    what="Set5 ×$s (Y)" ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "| architecture | multiply-adds per pixel | parameters | steps in $minutes min | $what |"
echo "|---|---|---|---|---|"
for arch in "$@"; do
  out=$work/$arch.safetensors
  "$aenet" train "${train[@]}" --arch "$arch" --minutes "$minutes" --threads "${THREADS:-0}" \
    --val-every 500 "${extra[@]}" --out "$out" > "$work/$arch.log" 2>&1 \
    || { echo "| $arch | training failed: $(tail -n 1 "$work/$arch.log") | | | |"; continue; }
  steps=$(sed -n 's/^\([0-9]*\) steps in .*/\1/p' "$work/$arch.log" | tail -n 1)
  info=$("$aenet" info "$out")
  macs=$(sed -n 's/^Multiply-adds: *\([0-9]*\) .*/\1/p' <<< "$info")
  params=$(sed -n 's/^Parameters: *\([0-9]*\) .*/\1/p' <<< "$info")
  psnr=$("$aenet" eval -m "$out" "${measure[@]}" --json 2>> "$work/$arch.log" \
         | grep -o '"psnr": [0-9.]*' | head -n 1 | awk '{ printf "%.2f", $2 }')
  echo "| \`$arch\` | $macs | $params | $steps | $psnr |"
done
