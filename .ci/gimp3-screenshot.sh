#!/usr/bin/env bash
# Takes docs/images/gimp3-dialog.png: GIMP 3 in the Debian 13 tree
# (.ci/trixie.sh) on a virtual screen, the sample photo open and the
# denoise dialog opened by a Script-Fu call in RUN-INTERACTIVE mode. Xvfb
# keeps its screen in a file (-fbdir), which ImageMagick on the host turns
# into a PNG. Usage: .ci/gimp3-screenshot.sh [SECONDS-TO-WAIT [upscale]]
# (the upscale dialog goes to docs/images/gimp3-upscale-dialog.png).
set -euo pipefail
cd "$(dirname "$0")/.."
root=${AENET_TRIXIE:-/var/cache/aenet/trixie}
work=${AENET_TRIXIE_WORK:-/src} # as .ci/trixie.sh
display=${AENET_SCREENSHOT_DISPLAY:-57}
wait=${1:-60}
if [ "${2:-}" = upscale ]; then
  call='(plug-in-aenet-upscale RUN-INTERACTIVE img (vector l) "" 2 0)'
  shot=docs/images/gimp3-upscale-dialog.png
else
  call='(plug-in-aenet-denoise RUN-INTERACTIVE img (vector l) "" -1 1.0)'
  shot=docs/images/gimp3-dialog.png
fi

cat >.ci/.screenshot-in-tree.sh <<'IN'
set -e
w=$3
d=$4
[ -x $w/build/plugin/gimp3/aenet ] || meson setup $w/build >/dev/null
ninja -C $w/build >/dev/null
t=/tmp/shot
mkdir -p $t/gimp $t/plug-ins/aenet $w/fb
ln -sf $w/build/plugin/gimp3/aenet $t/plug-ins/aenet/aenet
echo "(plug-in-path \"$t/plug-ins:\${gimp_plug_in_dir}/plug-ins\")" >$t/gimp/gimprc
Xvfb :$d -screen 0 1280x800x24 -fbdir $w/fb -nolisten tcp &
xvfb=$!
sleep 2
photo=$w/aenet/docs/samples/coffee-noisy.png
HOME=$t GIMP3_DIRECTORY=$t/gimp AENET_MODEL_PATH=$w/aenet/models LANGUAGE=C LC_ALL=C.UTF-8 \
  DISPLAY=:$d gimp-3.0 --no-splash --batch-interpreter=plug-in-script-fu-eval -b "
  (let* ((img (car (gimp-file-load RUN-NONINTERACTIVE \"$photo\")))
         (l (vector-ref (car (gimp-image-get-selected-layers img)) 0)))
    (gimp-display-new img)
    $2)" >$t/gimp.log 2>&1 &
gimp=$!
sleep "$1"
cp $w/fb/Xvfb_screen0 $w/fb/screen.xwd
DISPLAY=:$d xdotool search --name 'Autoencoder' getwindowgeometry 2>/dev/null | tee $w/fb/geometry || true
kill $gimp $xvfb 2>/dev/null || true
IN
.ci/trixie.sh run sh .ci/.screenshot-in-tree.sh "$wait" "$call" "$work" "$display"
rm -f .ci/.screenshot-in-tree.sh
convert "xwd:$root$work/fb/screen.xwd" docs/images/gimp3-screen.png
if geometry=$(grep -o 'Position: [0-9]*,[0-9]*' "$root$work/fb/geometry"); then
  size=$(grep -o 'Geometry: [0-9]*x[0-9]*' "$root$work/fb/geometry" | cut -d' ' -f2)
  pos=$(echo "$geometry" | cut -d' ' -f2 | tr , +)
  convert docs/images/gimp3-screen.png -crop "${size}+${pos}" +repage "$shot"
  rm docs/images/gimp3-screen.png
fi
