#!/usr/bin/env bash
# The set that chooses between candidate JPEG upscalers (the means of
# models/README.md), kept apart from the reported Set5/Set14: the first 24
# CBSD68 photos, centre crops of the largest multiple of the scale up to
# 320 pixels, reduced with Catmull-Rom and saved as JPEG of quality 75 and
# 90. Prints each model's PSNR on Y (scale border pixels cropped).
#   models/jpeg-choice.sh SCALE MODEL...
# Needs ImageMagick's convert.
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:?usage: models/jpeg-choice.sh SCALE MODEL...}
shift
[ $# -gt 0 ] || { echo "usage: models/jpeg-choice.sh SCALE MODEL..." >&2; exit 2; }
aenet=${AENET:-build/cli/aenet}
convert=${CONVERT:-/usr/bin/convert}
data=${AENET_DATA:-../shared/data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
crop=$(( 320 / scale * scale ))
photos=$(ls "$data"/test/cbsd68/*.png | head -n 24)
for f in $photos; do
  b=$(basename "$f" .png)
  "$convert" "$f" -gravity center -crop "${crop}x${crop}+0+0" +repage "$work/$b-hr.png"
  for q in 75 90; do
    "$convert" "$work/$b-hr.png" -filter Catrom -resize "$(( crop / scale ))x$(( crop / scale ))" \
      -quality "$q" "$work/$b-q$q.jpg"
  done
done
for model in "$@"; do
  line="$model:"
  for q in 75 90; do
    pairs=()
    for f in $photos; do
      b=$(basename "$f" .png)
      "$aenet" upscale -m "$model" --scale "$scale" "$work/$b-q$q.jpg" "$work/$b-q$q-out.png" > /dev/null
      pairs+=("$work/$b-hr.png" "$work/$b-q$q-out.png")
    done
    line+=" q$q $("$aenet" compare --no-ssim --y --crop "$scale" "${pairs[@]}" | tail -n 1 \
                 | sed -n 's/.*PSNR \([0-9.]*\) dB.*/\1/p') dB"
  done
  echo "$line"
done
