#!/usr/bin/env bash
# What users get on real files: the benchmarks of the real-photographs
# issue, with files in and files out and every score from `aenet compare`.
#   tests/bench-real-photos.sh [polyu] [clean] [jpeg] [upscale]   (default: all)
#   AENET_SCALES="2 3 4" AENET_QUALITIES="50 75 90" tests/bench-real-photos.sh upscale
#   AENET_QUALITIES="30 50 60 75" tests/bench-real-photos.sh jpeg
# Needs the shared data beside the project and ImageMagick's convert (for
# writing JPEGs and for the bicubic baseline). Extra options for the
# commands come from AENET_DENOISE_ARGS / AENET_UPSCALE_ARGS, e.g. a model
# being trained: AENET_DENOISE_ARGS="-m models/denoise-photo.safetensors".
set -euo pipefail
cd "$(dirname "$0")/.."
aenet=${AENET:-build/cli/aenet}
# The tree's models, not older ones an installation put in /usr/local
# (the command looks there before the source tree).
export AENET_MODEL_PATH=${AENET_MODEL_PATH:-$PWD/models}
data=${AENET_DATA:-../shared/data}
convert=${CONVERT:-/usr/bin/convert}
read -r -a denoise_args <<< "${AENET_DENOISE_ARGS:-}"
read -r -a upscale_args <<< "${AENET_UPSCALE_ARGS:-}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(polyu clean jpeg upscale)

mean_of() { tail -n 1 | sed -n 's/.*PSNR \([0-9.]*\) dB.*/\1/p'; }

for part in "${parts[@]}"; do
  case $part in
    polyu)
      # Real camera noise: the camera's JPEG in, PNG out, against the mean
      # of many shots.
      pairs_in=() pairs_out=()
      for noisy in "$data"/real/polyu-val/*_real.JPG; do
        base=$(basename "$noisy" _real.JPG)
        ref=${noisy%_real.JPG}_mean.JPG
        "$aenet" denoise "${denoise_args[@]}" "$noisy" "$work/$base.png" > /dev/null
        pairs_in+=("$ref" "$noisy")
        pairs_out+=("$ref" "$work/$base.png")
      done
      echo "polyu-val, $(( ${#pairs_out[@]} / 2 )) photos: noisy $("$aenet" compare --no-ssim "${pairs_in[@]}" | mean_of) dB," \
           "denoised $("$aenet" compare --no-ssim "${pairs_out[@]}" | mean_of) dB" ;;
    clean)
      # Do no harm: a clean photo should come back almost unchanged.
      pairs=()
      for f in "$data"/test/cbsd68/*.png; do
        "$aenet" denoise "${denoise_args[@]}" "$f" "$work/clean-$(basename "$f")" > /dev/null
        pairs+=("$f" "$work/clean-$(basename "$f")")
      done
      echo "cbsd68 clean: PSNR(output, input) $("$aenet" compare --no-ssim "${pairs[@]}" | mean_of) dB" ;;
    jpeg)
      # JPEGs of clean photos: the output should be closer to the original
      # than the JPEG is. Qualities: AENET_QUALITIES (default 30 and 90).
      for q in ${AENET_QUALITIES:-30 90}; do
        pairs_in=() pairs_out=()
        for f in "$data"/test/cbsd68/*.png; do
          b=$(basename "$f" .png)
          "$convert" "$f" -quality "$q" "$work/$b-q$q.jpg"
          "$aenet" denoise "${denoise_args[@]}" "$work/$b-q$q.jpg" "$work/$b-q$q.png" > /dev/null
          pairs_in+=("$f" "$work/$b-q$q.jpg")
          pairs_out+=("$f" "$work/$b-q$q.png")
        done
        echo "cbsd68 JPEG q$q: JPEG $("$aenet" compare --no-ssim "${pairs_in[@]}" | mean_of) dB," \
             "denoised $("$aenet" compare --no-ssim "${pairs_out[@]}" | mean_of) dB"
      done ;;
    upscale)
      # Enlarging a JPEG: the low-resolution Set14 image saved as JPEG (at
      # each quality of AENET_QUALITIES, default 75), against bicubic
      # (Catmull-Rom) of the same JPEG; and the clean low-resolution image.
      # Scales: AENET_SCALES (default 2).
      for s in ${AENET_SCALES:-2}; do
        y=(compare --no-ssim --y --crop "$s")
        for q in ${AENET_QUALITIES:-75}; do
          jpeg=() bicubic=()
          for lr in "$data"/test/set14/x$s/*_LR.png; do
            b=$(basename "$lr" _LR.png) hr=${lr%_LR.png}_HR.png
            "$convert" "$lr" -quality "$q" "$work/$b-lr.jpg"
            "$aenet" upscale "${upscale_args[@]}" --scale "$s" "$work/$b-lr.jpg" "$work/$b-jpeg.png" > /dev/null
            "$convert" "$work/$b-lr.jpg" -filter Catrom -resize "$((s * 100))%" "$work/$b-bicubic.png"
            jpeg+=("$hr" "$work/$b-jpeg.png")
            bicubic+=("$hr" "$work/$b-bicubic.png")
          done
          echo "set14 x$s from JPEG q$q (Y): bicubic $("$aenet" "${y[@]}" "${bicubic[@]}" | mean_of) dB," \
               "upscaled $("$aenet" "${y[@]}" "${jpeg[@]}" | mean_of) dB"
          rm -f "$work"/*-jpeg.png "$work"/*-bicubic.png
        done
        clean=()
        for lr in "$data"/test/set14/x$s/*_LR.png; do
          b=$(basename "$lr" _LR.png) hr=${lr%_LR.png}_HR.png
          "$aenet" upscale "${upscale_args[@]}" --scale "$s" "$lr" "$work/$b-clean.png" > /dev/null
          clean+=("$hr" "$work/$b-clean.png")
        done
        echo "set14 x$s from the clean LR (Y): upscaled $("$aenet" "${y[@]}" "${clean[@]}" | mean_of) dB"
      done ;;
    *) echo "unknown part '$part' (polyu, clean, jpeg, upscale)" >&2; exit 2 ;;
  esac
done
