#!/usr/bin/env bash
# bench-plugin-vs-cli.sh — the same 12 MP denoise (automatic noise level,
# shipped models) with the aenet command and with the GIMP 2.10 plug-in in
# batch mode, on an idle machine (run it through /work/notes/bench-pause.sh
# while training runs).
#
#   command:  aenet denoise IN OUT                     (load, denoise, save)
#   GIMP:     gimp batch: load IN, denoise, save OUT   minus
#             gimp batch: load IN, save OUT            (GIMP's own start, load, save)
# The plug-in's share is the difference; the ratio plug-in / command must be
# at most 1.1 (issue 11). Each is run REPEAT times (default 2), the fastest
# kept. The noise level each chose is printed (the plug-in's from
# AENET_DEBUG_JOB) and the two results are compared.
#
# Usage: tests/bench-plugin-vs-cli.sh [BUILD-DIR [WORK-DIR]]
#   BUILD-DIR  the meson build folder (default: build)
#   WORK-DIR   where the test photo (SIZE, default 4000x3000) and results go
#              (default: a temporary folder); the photo is made once
#              (coffee.png scaled up, with GIMP's RGB noise), so a second
#              call reuses it. REPEAT (default 2): runs of each.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=$(cd "${1:-build}" && pwd)
work=${2:-$(mktemp -d "${TMPDIR:-/tmp}/aenet-bench-XXXXXX")}
mkdir -p "$work"
work=$(cd "$work" && pwd)
repeat=${REPEAT:-2}
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

best_cli=1e9 best_full=1e9 best_base=1e9
for ((r = 1; r <= repeat; r++)); do
  t0=$(now)
  "$aenet" denoise "$in" "$work/cli.png" >"$work/cli.log"
  t1=$(now)
  gimp_batch "(let* ((img (car (gimp-file-load RUN-NONINTERACTIVE \"$in\" \"\")))
                     (l (car (gimp-image-get-active-layer img))))
                (plug-in-aenet-denoise RUN-NONINTERACTIVE img l \"\" -1 1.0)
                (gimp-file-save RUN-NONINTERACTIVE img l \"$work/gimp.png\" \"\"))" \
    >"$work/gimp.log" 2>&1
  t2=$(now)
  gimp_batch "(let* ((img (car (gimp-file-load RUN-NONINTERACTIVE \"$in\" \"\")))
                     (l (car (gimp-image-get-active-layer img))))
                (gimp-file-save RUN-NONINTERACTIVE img l \"$work/base.png\" \"\"))" \
    >/dev/null 2>&1
  t3=$(now)
  read -r best_cli best_full best_base < <(awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" \
    -v x="$best_cli" -v y="$best_full" -v z="$best_base" \
    'BEGIN { p = b - a; q = c - b; s = d - c;
             printf "%.2f %.2f %.2f\n", (p < x ? p : x), (q < y ? q : y), (s < z ? s : z) }')
done

cli_level=$(grep -o 'sigma [0-9.]*' "$work/cli.log" | cut -d' ' -f2 || true)
gimp_level=$(grep -o 'noise-level=[0-9.]*' "$work/gimp.log" | tail -1 | cut -d= -f2 || true)
awk -v c="$best_cli" -v f="$best_full" -v b="$best_base" -v lc="$cli_level" -v lg="$gimp_level" '
  BEGIN {
    p = f - b
    printf "command (load, denoise, save):        %6.2f s  (noise level %s)\n", c, lc
    printf "GIMP batch, load + denoise + save:    %6.2f s  (noise level %s)\n", f, lg
    printf "GIMP batch, load + save only:         %6.2f s\n", b
    printf "plug-in share (difference):           %6.2f s\n", p
    printf "plug-in / command:                    %6.2f (must be <= 1.10)\n", p / c
  }'
echo "results in $work (cli.png, gimp.png)"
