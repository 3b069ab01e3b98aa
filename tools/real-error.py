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
  shift removed   PSNR with, besides, the noisy shot's own sub-pixel
                  shift against the mean taken out (fitted on the noisy
                  photo as offset + dx d/dx + dy d/dy of the mean image;
                  the same part is removed from every output)
  brightness / colour  MSE of the error's part that is the same in R, G
                  and B, and of the rest (offset removed)
  coarse          share of the MSE (offset removed) in a Gaussian blur of
                  8 px: blotches larger than a denoiser's reach
Last, what a perfect denoiser would score (an output equal to the mean
image but for the shot's offset and shift) and the mean shift in pixels.
Needs python3-numpy and python3-pil."""
import glob
import os
import sys

import numpy as np
from PIL import Image

# The pixels scored once a shift is fitted: central differences and the
# shift's wrap-around spoil a 2-pixel border.
INNER = (slice(2, -2), slice(2, -2))


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


def inherited(noisy, ref):
    """The noisy shot's offset per channel and sub-pixel shift against the
    mean image, as a least-squares fit of its difference from it (a 2-pixel
    border left out): (fitted part of the difference, (dx, dy))."""
    gx = (np.roll(ref, -1, 1) - np.roll(ref, 1, 1)) / 2
    gy = (np.roll(ref, -1, 0) - np.roll(ref, 1, 0)) / 2
    columns = [gx, gy] + [np.eye(3)[c] * np.ones_like(ref) for c in range(3)]
    basis = np.stack([b[INNER].ravel() for b in columns], 1)
    coef = np.linalg.lstsq(basis, (noisy - ref)[INNER].ravel(), rcond=None)[0]
    return sum(k * b for k, b in zip(coef, columns)), coef[:2]


def measures(out, ref, shot):
    e = out - ref
    e0 = e - e.mean(axis=(0, 1))
    luma = e0.mean(axis=-1, keepdims=True)
    mse0 = np.mean(e0 ** 2)
    return (psnr(np.mean(e ** 2)), psnr(mse0), psnr(np.mean((e - shot)[INNER] ** 2)),
            np.mean(luma ** 2), np.mean((e0 - luma) ** 2), np.mean(blur(e0, 8) ** 2) / mse0)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    refs = sorted(glob.glob(os.path.join(sys.argv[1], "*_mean.JPG")))
    if not refs:
        sys.exit(f"real-error.py: no *_mean.JPG in {sys.argv[1]}")
    rows = {"noisy": []}
    floor, shifts = [], []
    for ref_path in refs:
        ref = load(ref_path)
        name = os.path.basename(ref_path)[: -len("_mean.JPG")]
        noisy = load(ref_path.replace("_mean.JPG", "_real.JPG"))
        shot, shift = inherited(noisy, ref)
        floor.append(psnr(np.mean(shot[INNER] ** 2)))
        shifts.append(shift)
        rows["noisy"].append(measures(noisy, ref, shot))
        for folder in sys.argv[2:]:
            out = load(os.path.join(folder, name + ".png"))
            rows.setdefault(folder, []).append(measures(out, ref, shot))
    print(f"{len(refs)} photos | PSNR | offset removed | shift removed | brightness MSE | colour MSE | coarse")
    for what, values in rows.items():
        m = np.mean(values, axis=0)
        print(f"{what} | " + " | ".join(f"{v:.2f}" for v in m))
    dx, dy = np.mean(shifts, axis=0)
    print(f"perfect denoiser (the shot's offset and shift only): {np.mean(floor):.2f} dB;"
          f" mean shift dx {dx:+.2f}, dy {dy:+.2f} px")


if __name__ == "__main__":
    main()
