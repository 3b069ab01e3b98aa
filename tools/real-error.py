#!/usr/bin/env python3
"""Where the error of a denoiser on real photos lies: PolyU's camera JPEGs
against the mean of many shots, and a folder of the denoiser's outputs
(NAME.png for each NAME_real.JPG), all 8-bit RGB.

    tools/real-error.py ../shared/data/real/polyu-val OUTDIR [OUTDIR...]

For the noisy photos and each output folder, mean over photos of:
  PSNR            as tests/bench-real-photos.sh measures it
  offset removed  PSNR with each photo's mean difference per channel
                  taken out (a shot brighter or darker than the mean of
                  the shots: no denoiser can know it)
  brightness / colour  MSE of the error's part that is the same in R, G
                  and B, and of the rest (offset removed)
  coarse          share of the MSE (offset removed) in a Gaussian blur of
                  8 px: blotches larger than a denoiser's reach
Needs python3-numpy and python3-pil."""
import glob
import os
import sys

import numpy as np
from PIL import Image


def load(path):
    return np.asarray(Image.open(path).convert("RGB"), np.float64)


def blur(e, sigma):
    """Gaussian blur of each channel of e (h, w, 3), periodic edges."""
    h, w = e.shape[:2]
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
    g = np.exp(-2 * np.pi ** 2 * sigma ** 2 * (fx ** 2 + fy ** 2))
    return np.stack([np.real(np.fft.ifft2(np.fft.fft2(e[..., c]) * g)) for c in range(3)], -1)


def psnr(mse):
    return 10 * np.log10(255.0 ** 2 / mse)


def measures(out, ref):
    e = out - ref
    e0 = e - e.mean(axis=(0, 1))
    luma = e0.mean(axis=-1, keepdims=True)
    mse0 = np.mean(e0 ** 2)
    return (psnr(np.mean(e ** 2)), psnr(mse0), np.mean(luma ** 2),
            np.mean((e0 - luma) ** 2), np.mean(blur(e0, 8) ** 2) / mse0)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    refs = sorted(glob.glob(os.path.join(sys.argv[1], "*_mean.JPG")))
    if not refs:
        sys.exit(f"real-error.py: no *_mean.JPG in {sys.argv[1]}")
    rows = {"noisy": []}
    for ref_path in refs:
        ref = load(ref_path)
        name = os.path.basename(ref_path)[: -len("_mean.JPG")]
        rows["noisy"].append(measures(load(ref_path.replace("_mean.JPG", "_real.JPG")), ref))
        for folder in sys.argv[2:]:
            rows.setdefault(folder, []).append(measures(load(os.path.join(folder, name + ".png")), ref))
    print(f"{len(refs)} photos | PSNR | offset removed | brightness MSE | colour MSE | coarse")
    for what, values in rows.items():
        m = np.mean(values, axis=0)
        print(f"{what} | {m[0]:.2f} | {m[1]:.2f} | {m[2]:.2f} | {m[3]:.2f} | {m[4]:.2f}")


if __name__ == "__main__":
    main()
