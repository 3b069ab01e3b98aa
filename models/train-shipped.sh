#!/usr/bin/env bash
# Trains (or resumes) one of the shipped models, from the project's root:
#   models/train-shipped.sh MODEL [THREADS]   (MODEL: one of the cases below)
# Logs to models/checkpoints/NAME-train.log; checkpoints every 10 minutes to
# models/checkpoints/NAME.ckpt (atomically), so it can be stopped any time
# (Ctrl-C or SIGTERM writes one more) and resumed by running this again.
set -euo pipefail
cd "$(dirname "$0")/.."
models="denoise|denoise-ft|denoise-wide|denoise-clip|denoise-mix|denoise-level|denoise-wider|denoise-clipped|photo|photo-psnr|photo-mix|photo-wide|photo-wide2|photo-deep|photo-jpeg|photo-grain|photo-mottle|x2|x2-deep|x2-wide|x2-varied|x3|x4|x2-photo|x3-photo|x4-photo|x2-photo-average|x3-photo-average|x4-photo-average"
what=${1:?usage: models/train-shipped.sh $models [THREADS]}
threads=${2:-1}
aenet=${AENET:-build/cli/aenet}
bsds=../shared/data/train/bsds432
t91=../shared/data/train/t91
photos=../shared/data/train/photos

# What every phase of the blind photo denoiser shares.
photo_phase=(--task denoise --photo --patch 128 --batch 8 --val-every 1000
             --name denoise-photo --data "$bsds:$photos")
# The fine-tunes of the shipped photo model on another mix (photo-grain,
# photo-mottle).
photo_finetune=(--from models/denoise-photo.safetensors --patch 128 --batch 8 --lr 1e-4
                --warmup 200 --steps 4000 --val-every 500 --name denoise-photo
                --data "$bsds:$photos")
case $what in
  denoise)
    name=denoise
    first=(--task denoise --arch unet-denoise --patch 64 --steps 60000 --data "$bsds") ;;
  denoise-ft)
    # Second phase: the finished denoiser again, on 128×128 patches with an
    # L2 loss and a lower peak rate. Writes its best to checkpoints/; copy it
    # over models/denoise.safetensors when `aenet eval` says it is better.
    name=denoise-ft
    out=models/checkpoints/denoise-ft.safetensors
    first=(--task denoise --from models/denoise.safetensors --patch 128 --batch 8 --loss l2
           --lr 2e-4 --warmup 200 --steps 18000 --val-every 1000 --name denoise --data "$bsds") ;;
  denoise-wide)
    # Third phase: unet-denoise-wide grown from the two-phase denoiser (same
    # output at step 0), with the loss balanced across noise levels.
    name=denoise-wide
    out=models/checkpoints/denoise-wide.safetensors
    first=(--task denoise --arch unet-denoise-wide --widen-from models/denoise.safetensors
           --balance-sigma --patch 128 --batch 8 --loss l2 --lr 2e-4 --warmup 200 --steps 18000
           --val-every 1000 --val-sigma 15 --name denoise --data "$bsds") ;;
  denoise-clip)
    # Fourth phase: the same network on inputs clipped and rounded to 8 bits
    # as in a saved file (every input is, since this phase), so light and
    # dark areas of real files are denoised as well as the paper protocol's.
    name=denoise-clip
    out=models/checkpoints/denoise-clip.safetensors
    first=(--task denoise --from models/denoise.safetensors --balance-sigma --patch 128 --batch 8
           --loss l2 --lr 1e-4 --warmup 200 --steps 6000 --val-every 500 --val-sigma 50
           --name denoise --data "$bsds:$photos") ;;
  denoise-mix)
    # The fourth phase again, with half of the inputs left unclipped: on
    # clipped inputs alone (denoise-clip) the model gained on real files
    # but fell below CBM3D on the paper protocol. Writes its best to
    # checkpoints/ until `aenet eval` (both ways) says it is better.
    name=denoise-mix
    out=models/checkpoints/denoise-mix.safetensors
    first=(--task denoise --from models/denoise.safetensors --balance-sigma --unclipped 0.5
           --patch 128 --batch 8 --loss l2 --lr 1e-4 --warmup 200 --steps 6000 --val-every 500
           --val-sigma 50 --name denoise --data "$bsds:$photos") ;;
  denoise-level)
    # Fifth phase: phase 4 also on inputs with less noise than the level it
    # is told (--overstated 0.2). Phase 4 read "less noise than told" as
    # clipping and brightened bright areas by up to 5 levels when the level
    # was set above a photo's noise (PolyU at --sigma 10: 35.37 dB, below
    # the noisy input's 36.05).
    name=denoise-level
    out=models/checkpoints/denoise-level.safetensors
    first=(--task denoise --from models/denoise.safetensors --balance-sigma --unclipped 0.5
           --overstated 0.2 --patch 128 --batch 8 --loss l2 --lr 1e-4 --warmup 200 --steps 6000
           --val-every 500 --val-sigma 50 --name denoise --data "$bsds:$photos") ;;
  denoise-wider)
    # Sixth phase: phase 5 grown into unet-denoise-wider (same output at
    # step 0; about twice the multiply-adds), phase 5's mix, patches drawn
    # per image as in phases 1–5 (BSD's photos are the paper protocol's
    # kind), a long cosine at phase 5's rate. For issue 12's clipped-file
    # bars at σ 25 and 50 and issue 15's denoiser bar, which the
    # unet-denoise-wide phases did not reach. (The run began with --steps
    # 30000 and was resumed with --steps 16000 at step 2 653 and with
    # --steps 14000 at step 8 934, as its log says, so that its result
    # comes sooner; then given a second cycle, resumed with --steps 22000
    # at step 14 000 and --steps 19000 at step 15 070.)
    name=denoise-wider
    out=models/checkpoints/denoise-wider.safetensors
    first=(--task denoise --arch unet-denoise-wider --widen-from models/denoise.safetensors
           --balance-sigma --unclipped 0.5 --overstated 0.2 --per-image --patch 128 --batch 8
           --loss l2 --lr 1e-4 --warmup 200 --steps 14000 --val-every 1000 --val-sigma 50
           --name denoise --data "$bsds:$photos") ;;
  denoise-clipped)
    # Seventh phase: phase 6 after its second cycle (the file the
    # denoise-wider case writes to checkpoints/) with nine inputs in ten
    # clipped and rounded, as every file a user brings is (phase 6 left
    # half unclipped for the paper protocol), at a low rate. For issue
    # 12's clipped-file bar at σ 50. Its result became denoise.safetensors.
    name=denoise-clipped
    out=models/checkpoints/denoise-clipped.safetensors
    first=(--task denoise --from models/checkpoints/denoise-wider.safetensors --balance-sigma
           --unclipped 0.1 --overstated 0.2 --per-image --patch 128 --batch 8 --loss l2 --lr 3e-5
           --warmup 100 --steps 3000 --val-every 500 --val-sigma 50 --name denoise
           --data "$bsds:$photos") ;;
  photo)
    # The blind photo denoiser, first phase: unet-photo started from the
    # shipped denoiser's weights (its noise-level input dropped), trained on
    # camera noise, Gaussian noise and JPEG, every input clipped to 8 bits.
    # Stopped at step 1 843 (best model: step 1 000): with L2, clean photos
    # and quality-90 JPEGs lost up to 2.5 dB (heavy noise dominates L2), so
    # photo-psnr goes on from the step-1 000 model.
    name=denoise-photo
    first=("${photo_phase[@]}" --arch unet-photo --init-from models/denoise.safetensors
           --loss l2 --lr 2e-4 --warmup 200 --steps 15000) ;;
  photo-psnr)
    # Second phase: from the first phase's model, with the PSNR loss (each
    # patch counts in dB) and more clean patches in the mix.
    name=denoise-photo-psnr
    out=models/denoise-photo.safetensors
    first=("${photo_phase[@]}" --from models/denoise-photo.safetensors
           --loss psnr --lr 2e-4 --warmup 200 --steps 12000) ;;
  photo-mix)
    # Third phase: the shipped photo model with processed noise in the mix
    # (brightness and colour noise drawn apart, as cameras' JPEG engines
    # leave them; the camera model alone made colour noise dominate), more
    # and stronger JPEG, soft scenes, and the default loss: with the PSNR loss
    # (a first try, stopped at step 4 240; log in
    # denoise-photo-mix-psnr-train.log) PolyU went from 37.33 to 37.22 dB,
    # the clean and low-noise patches it weighs most kept it cautious.
    # Writes its best to checkpoints/ until the benchmarks say it is better.
    name=denoise-photo-mix
    out=models/checkpoints/denoise-photo-mix.safetensors
    first=("${photo_phase[@]}" --from models/denoise-photo.safetensors
           --lr 1e-4 --warmup 200 --steps 8000) ;;
  photo-wide)
    # Fourth phase: unet-photo-wide grown from the shipped photo model (same
    # output at step 0; twice the multiply-adds), with noisy samples written
    # as cameras write them (high-quality JPEG, which leaves the noise
    # blocky: on PolyU the photo model left exactly that noise) and half
    # the scenes soft (photo-mix had a quarter). photo-mix's validation
    # still rose at its end (31.37 dB at step 8 000, from 30.78 at 1 000).
    name=denoise-photo-wide
    out=models/checkpoints/denoise-photo-wide.safetensors
    first=("${photo_phase[@]}" --arch unet-photo-wide --widen-from models/denoise-photo.safetensors
           --lr 1e-4 --warmup 200 --steps 10000) ;;
  photo-wide2)
    # Fifth phase: the shipped model, phase 4's result, 8 000 more steps
    # at half the rate; phase 4's validation still rose at its end
    # (30.83 / 30.91 / 31.05 dB at steps 6 000 / 8 000 / 9 000).
    name=denoise-photo-wide2
    out=models/checkpoints/denoise-photo-wide2.safetensors
    first=("${photo_phase[@]}" --from models/denoise-photo.safetensors
           --lr 5e-5 --warmup 100 --steps 8000) ;;
  photo-deep)
    # Sixth phase: the shipped model deepened by two residual blocks at 1/8
    # resolution (they start as identities), for the coarse noise it leaves
    # on PolyU (models/README.md). Writes its best to checkpoints/ until
    # tests/bench-real-photos.sh says it is better. At phase 4's peak rate
    # (10⁻⁴) validation fell from 30.86 dB to 30.16 / 30.04 at steps 1 000 /
    # 2 000 (log denoise-photo-deep-lr1e-4-train.log), so a third of it.
    # Stopped at step 4 128: validation rose, PolyU fell (models/README.md).
    name=denoise-photo-deep
    out=models/checkpoints/denoise-photo-deep.safetensors
    first=("${photo_phase[@]}" --arch unet-photo-deep --deepen-from models/denoise-photo.safetensors
           --lr 3e-5 --warmup 200 --steps 10000) ;;
  photo-jpeg)
    # The blind denoiser of strongly compressed JPEGs (quality 60 or lower
    # by their steps; core/jpeg-trace.h), which the job gives those
    # images: the shipped photo model fine-tuned on the strong-JPEG mix
    # (docs/training.md). The photo model, trained for everything at once,
    # gained only 0.77 dB on CBSD68 at quality 30 (issue 12 asks 1.0).
    name=denoise-jpeg
    out=models/checkpoints/denoise-jpeg.safetensors
    first=(--task denoise --photo-jpeg --from models/denoise-photo.safetensors --per-image
           --patch 128 --batch 8 --lr 1e-4 --warmup 200 --steps 5000 --val-every 500
           --name denoise-jpeg --data "$bsds:$photos") ;;
  photo-grain)
    # The shipped photo model fine-tuned on cameras' grain (--photo-grain,
    # docs/training.md), written to checkpoints/ until the benchmarks say
    # it is better. On PolyU the photo model's error, each photo's mean
    # offset removed, is mostly brightness (8.0 of 10.4), some of it bands
    # along rows it does not remove; the noise of cameras' JPEGs there is
    # 77 % brightness, the photo mix's 50 % (tools/real-error.py).
    name=denoise-photo-grain
    out=models/checkpoints/denoise-photo-grain.safetensors
    first=(--task denoise --photo-grain "${photo_finetune[@]}") ;;
  photo-mottle)
    # The shipped photo model fine-tuned with brightness mottle in its
    # processed noise (--photo-mottle, docs/training.md), written to
    # checkpoints/ until the benchmarks say it is better: the photo
    # model's remaining error on PolyU is mostly brightness at scales over
    # 8 px, which the grain and bands of photo-grain did not teach it to
    # remove. It did not gain (models/README.md).
    name=denoise-photo-mottle
    out=models/checkpoints/denoise-photo-mottle.safetensors
    first=(--task denoise --photo-mottle "${photo_finetune[@]}") ;;
  x2-photo|x3-photo|x4-photo)
    # Upscalers for JPEG photos, which the job gives every image that shows
    # JPEG's quantization (core/jpeg-trace.h; quality 92 or lower); clean
    # images keep the clean upscalers. Every low-resolution input is a JPEG
    # (aenet_photo_mix_upscale: quality 30–92 uniform, a fifth with light
    # processed noise first). 2× goes on from the first fine-tune
    # (checkpoints/upscale-x2-photo-first.safetensors: 6 000 steps, 40 %
    # clean inputs, JPEG 40–95 on half). xS-photo-average then makes the
    # shipped file. A continuation on
    # inputs that were all JPEG but mostly strongly compressed, half of
    # them noisy, lost on light compression (Set14 from JPEG q90 30.63 dB
    # against 31.41; log upscale-x2-photo-alljpeg-train.log).
    s=${what%-photo}; s=${s#x}
    name=upscale-x$s-photo
    out=models/checkpoints/$name.safetensors
    from=models/upscale-x$s.safetensors
    [ "$s" = 2 ] && from=models/checkpoints/upscale-x2-photo-first.safetensors
    first=(--task upscale --scale "$s" --from "$from" --photo --patch 48
           --lr 1e-4 --warmup 200 --steps 6000 --val-every 500 --name "$name"
           --data "$bsds:$t91:$photos") ;;
  x2|x3|x4)
    s=${what#x}
    name=upscale-x$s
    first=(--task upscale --scale "$s" --arch "unet-x$s" --patch 48 --data "$bsds:$t91")
    # 3x and 4x start from the 2x model's layers, so they need fewer steps.
    if [ "$s" = 2 ]; then
      first+=(--steps 30000)
    else
      first+=(--steps 10000 --init-from models/upscale-x2.safetensors)
    fi ;;
  x2-deep)
    # Issue 15: the finished upscale-x2 deepened by two residual blocks at
    # 1/2 resolution (they start as identities, so step 0 is that model),
    # at a lower peak rate than from scratch. Writes its best to
    # checkpoints/ until `aenet eval` says it is better than the shipped one.
    name=upscale-x2-deep
    out=models/checkpoints/$name.safetensors
    first=(--task upscale --scale 2 --arch unet-deep-x2 --deepen-from models/upscale-x2.safetensors
           --patch 48 --lr 2e-4 --warmup 200 --steps 8000 --data "$bsds:$t91") ;;
  x2-wide)
    # Issue 15: the finished upscale-x2 widened at the input's resolution
    # (96 channels instead of 64; the new ones start at zero, so step 0 is
    # that model), with train/photos/ beside BSD432 and T91. Depth added
    # at 1/2 (x2-deep) had gained 0.02 dB. Writes its best to checkpoints/
    # until `aenet eval` says it is better than the shipped one. It gained
    # 0.08 dB on Set5 and nothing on CBSD68 (models/README.md).
    name=upscale-x2-wide
    out=models/checkpoints/$name.safetensors
    first=(--task upscale --scale 2 --arch unet-wide-x2 --widen-from models/upscale-x2.safetensors
           --patch 48 --lr 2e-4 --warmup 200 --steps 8000 --val-every 1000
           --data "$bsds:$t91:$photos") ;;
  x2-varied)
    # Issue 15: the finished upscale-x2 fine-tuned with train/photos/
    # beside BSD432 and T91 (patches in proportion to area, so most come
    # from the larger, more varied photos), at 2·10⁻⁴ (its first run
    # peaked at 5·10⁻⁴). Writes its best to checkpoints/ until `aenet eval`
    # says it is better than the shipped one. It gained 0.05 dB on Set5
    # and nothing on CBSD68 (models/README.md).
    name=upscale-x2-varied
    out=models/checkpoints/$name.safetensors
    first=(--task upscale --scale 2 --from models/upscale-x2.safetensors --patch 48
           --lr 2e-4 --warmup 200 --steps 6000 --val-every 1000 --data "$bsds:$t91:$photos") ;;
  x2-photo-average|x3-photo-average|x4-photo-average)
    # The shipped JPEG upscalers: the mean of the JPEG fine-tune and the
    # model it started from (for 2×, the first fine-tune), better on JPEGs
    # of light and strong compression together than either
    # (models/README.md).
    s=${what%-photo-average}; s=${s#x}
    other=models/upscale-x$s.safetensors
    [ "$s" = 2 ] && other=models/checkpoints/upscale-x2-photo-first.safetensors
    exec "$aenet" average "models/checkpoints/upscale-x$s-photo.safetensors" "$other" \
      --out "models/upscale-x$s-photo.safetensors" ;;
  *) echo "unknown model '$what' ($models)" >&2; exit 2 ;;
esac

ckpt=models/checkpoints/$name.ckpt
common=(--threads "$threads" --checkpoint "$ckpt" --checkpoint-minutes 10
        --out "${out:-models/$name.safetensors}")
if [ -f "$ckpt" ]; then
  args=(--resume "$ckpt" "${common[@]}")
else
  # Later options win: "first" may override these defaults.
  args=(--batch 16 --lr 5e-4 --val-every 2000 --val-images 16 --name "$name" "${first[@]}"
        "${common[@]}")
fi
echo "$(date -u '+%F %T') $aenet train ${args[*]}" >> "models/checkpoints/$name-train.log"
exec "$aenet" train "${args[@]}" >> "models/checkpoints/$name-train.log" 2>&1
