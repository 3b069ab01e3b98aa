#!/usr/bin/env bash
# The model card's before/after crops, 200×200 pixels at 1:1, written to
# docs/images/. Needs ImageMagick's convert.
#   models/card-crops.sh [NAME:X:Y ...]       RNI15 photos through the default
#       `aenet denoise`, input left, output right: photo-NAME.png (default:
#       Glass, Dog and Frog)
#   models/card-crops.sh jpeg [NAME:X:Y ...]  CBSD68 photos saved as JPEG of
#       quality 30 through the default `aenet denoise`: the photo, the
#       JPEG, the output: jpeg30-NAME.png (default: 108005 and 223061)
set -euo pipefail
cd "$(dirname "$0")/.."
aenet=${AENET:-build/cli/aenet}
# The tree's models, not older ones an installation put in /usr/local
# (the command looks there before the source tree).
export AENET_MODEL_PATH=${AENET_MODEL_PATH:-$PWD/models}
convert=${CONVERT:-/usr/bin/convert}
data=${AENET_DATA:-../shared/data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mode=rni15
if [ "${1:-}" = jpeg ]; then
  mode=jpeg
  shift
fi
crops=("$@")
if [ ${#crops[@]} -eq 0 ]; then
  # Highlights and shadows: Glass's bright rim, Dog's fur and red cloth,
  # Frog's dark background; for JPEG, edges against flat areas.
  if [ $mode = jpeg ]; then crops=(108005:150:60 223061:140:100)
  else crops=(Glass:300:120 Dog:120:180 Frog:150:100); fi
fi
crop() { "$convert" "$1" -crop "200x200+$2+$3" +repage "$4"; }
for c in "${crops[@]}"; do
  IFS=: read -r name x y <<< "$c"
  if [ $mode = jpeg ]; then
    "$convert" "$data/test/cbsd68/$name.png" -quality 30 "$work/$name.jpg"
    panels=("$data/test/cbsd68/$name.png" "$work/$name.jpg" "$work/$name.png")
    out=docs/images/jpeg30-$name.png
    "$aenet" denoise "$work/$name.jpg" "$work/$name.png"
  else
    panels=("$data/real/rni15/$name.png" "$work/$name.png")
    out=docs/images/photo-$name.png
    "$aenet" denoise "${panels[0]}" "$work/$name.png"
  fi
  for i in "${!panels[@]}"; do crop "${panels[$i]}" "$x" "$y" "$work/panel$i.png"; done
  "$convert" "$work"/panel[0-9].png -bordercolor white -border 2 +append "$out"
  rm -f "$work"/panel[0-9].png
  echo "$out"
done
