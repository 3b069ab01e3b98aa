#!/usr/bin/env bash
# bench-plugin-vs-cli.sh — the same 12 MP denoise (automatic noise level,
# shipped models) with the aenet command and with the GIMP 2.10 plug-in in
# batch mode, on an idle machine (pause any training while it runs).
#
#   command:  aenet denoise IN OUT            (load, denoise, save)
#   GIMP:     gimp batch: load IN, denoise, save OUT, each step timed
# The plug-in call against the whole command must be at most 1.1 (issue
# 11). Each is run REPEAT times (default 3), medians printed. The noise
# level each chose is printed (the plug-in's from AENET_DEBUG_JOB) and the
# two results are compared.
#
# Usage: tests/bench-plugin-vs-cli.sh [BUILD-DIR [WORK-DIR]]
#   BUILD-DIR  the meson build folder (default: build)
#   WORK-DIR   where the test photo (SIZE, default 4000x3000) and results go
#              (default: a temporary folder); the photo is made once
#              (coffee.png scaled up, with GIMP's RGB noise), so a second
#              call reuses it. REPEAT (default 3): runs of each.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=$(cd "${1:-build}" && pwd)
work=${2:-$(mktemp -d "${TMPDIR:-/tmp}/aenet-bench-XXXXXX")}
mkdir -p "$work"
work=$(cd "$work" && pwd)
repeat=${REPEAT:-3}
size=${SIZE:-4000x3000} # another size for a quick look; the 1.1 bound is for 12 MP
width=${size%x*} height=${size#*x}
aenet=$build/cli/aenet
plugin=$build/plugin/aenet
[[ -x $aenet && -x $plugin ]] || { echo "bench: build $aenet and $plugin first" >&2; exit 1; }
command -v gimp >/dev/null || { echo "bench: gimp is not installed" >&2; exit 1; }

# GIMP with its own settings folder whose plug-in path starts with the build tree.
mkdir -p "$work/gimp" "$work/plug-ins/aenet"
ln -sf "$plugin" "$work/plug-ins/aenet/aenet"
printf '(plug-in-path "%s/plug-ins:${gimp_plug_in_dir}/plug-ins")\n' "$work" >"$work/gimp/gimprc"
export GIMP2_DIRECTORY=$work/gimp AENET_MODEL_PATH=$src/models AENET_DEBUG_JOB=1
gimp_batch () { gimp -i -d -f --batch-interpreter plug-in-script-fu-eval -b "$1" -b '(gimp-quit 0)'; }
now () { date +%s.%N; }

in=$work/photo-$size.png
if [[ ! -f $in ]]; then
  echo "Making $in"
  gimp_batch "(let* ((img (car (gimp-file-load RUN-NONINTERACTIVE \"$src/docs/samples/coffee.png\" \"\")))
                     (l (car (gimp-image-get-active-layer img))))
                (gimp-image-scale img $width $height)
                (plug-in-rgb-noise RUN-NONINTERACTIVE img l FALSE FALSE 0.2 0.2 0.2 0)
                (gimp-file-save RUN-NONINTERACTIVE img l \"$in\" \"$in\"))" >/dev/null 2>&1
fi

# GIMP times its own steps (script-fu's gettimeofday): the load, the
# plug-in call (start, model, reading, denoising, writing, merge into the
# drawable) and the save. Subtracting a separate load-and-save run of the
# noisy photo is not fair: saving a PNG (zlib level 9) takes about five
# times longer for the smooth denoised image than for the noisy one.
stamp='(let ((t (gettimeofday))) (+ (car t) (/ (cadr t) 1000000.0)))'
median () { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
: >"$work/times"
for ((r = 1; r <= repeat; r++)); do
  t0=$(now)
  "$aenet" denoise "$in" "$work/cli.png" >"$work/cli.log"
  t1=$(now)
  gimp_batch "(let* ((t0 $stamp)
                     (img (car (gimp-file-load RUN-NONINTERACTIVE \"$in\" \"\")))
                     (l (car (gimp-image-get-active-layer img)))
                     (t1 $stamp)
                     (d (plug-in-aenet-denoise RUN-NONINTERACTIVE img l \"\" -1 1.0))
                     (t2 $stamp)
                     (s (gimp-file-save RUN-NONINTERACTIVE img l \"$work/gimp.png\" \"\"))
                     (t3 $stamp))
                (gimp-message (string-append \"aenet-times \" (number->string (- t1 t0)) \" \"
                                             (number->string (- t2 t1)) \" \"
                                             (number->string (- t3 t2)))))" \
    >"$work/gimp.log" 2>&1
  read -r load call save < <(grep -o 'aenet-times .*' "$work/gimp.log" | tail -1 | cut -d' ' -f2-)
  [[ -n ${save:-} ]] || { echo "bench: GIMP gave no times, see $work/gimp.log" >&2; exit 1; }
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') $load $call $save" >>"$work/times"
done

col () { cut -d' ' -f"$1" "$work/times" | median; }
cli_level=$(grep -o 'sigma [0-9.]*' "$work/cli.log" | cut -d' ' -f2 || true)
gimp_level=$(grep -o 'removed=[0-9.]*' "$work/gimp.log" | tail -1 | cut -d= -f2 || true)
awk -v c="$(col 1)" -v l="$(col 2)" -v p="$(col 3)" -v s="$(col 4)" -v lc="$cli_level" \
    -v lg="$gimp_level" -v n="$repeat" '
  BEGIN {
    printf "medians of %d runs\n", n
    printf "command (load, denoise, save):  %6.2f s  (noise level %s)\n", c, lc
    printf "GIMP load of the PNG:           %6.2f s\n", l
    printf "GIMP plug-in call:              %6.2f s  (noise level %s)\n", p, lg
    printf "GIMP save of the PNG:           %6.2f s\n", s
    printf "plug-in call / command:         %6.2f (must be <= 1.10)\n", p / c
  }'
"$aenet" compare --no-ssim "$work/cli.png" "$work/gimp.png" | tail -n 1
echo "results in $work (cli.png, gimp.png, times: command load call save per run)"
