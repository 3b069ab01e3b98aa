#!/usr/bin/env bash
# The model card's before/after crops: three RNI15 photos through the
# default `aenet denoise`, 200×200 pixels at 1:1, input left, output right,
# written to docs/images/photo-NAME.png. Needs ImageMagick's convert.
#   models/card-crops.sh [NAME:X:Y ...]   (default: Glass, Dog and Frog)
set -euo pipefail
cd "$(dirname "$0")/.."
aenet=${AENET:-build/cli/aenet}
# The tree's models, not older ones an installation put in /usr/local
# (the command looks there before the source tree).
export AENET_MODEL_PATH=${AENET_MODEL_PATH:-$PWD/models}
convert=${CONVERT:-/usr/bin/convert}
rni15=${AENET_DATA:-../shared/data}/real/rni15
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
crops=("$@")
# Highlights and shadows: Glass's bright rim, Dog's fur and red cloth,
# Frog's dark background.
[ ${#crops[@]} -gt 0 ] || crops=(Glass:300:120 Dog:120:180 Frog:150:100)
for crop in "${crops[@]}"; do
  IFS=: read -r name x y <<< "$crop"
  "$aenet" denoise "$rni15/$name.png" "$work/$name.png"
  "$convert" \( "$rni15/$name.png" -crop "200x200+$x+$y" +repage \) \
             \( "$work/$name.png" -crop "200x200+$x+$y" +repage \) \
             -bordercolor white -border 2 +append "docs/images/photo-$name.png"
  echo "docs/images/photo-$name.png"
done
