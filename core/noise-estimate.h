/* noise-estimate.h — how noisy is this image?
 *
 * Estimates the standard deviation of additive white Gaussian noise in an
 * image, for choosing a denoising strength automatically. Method: the
 * statistical patch method of Chen, Zhu & Heng ("An Efficient Statistical
 * Method for Image Noise Level Estimation", ICCV 2015). Overlapping 7×7
 * patches (all channels together) are collected, the eigenvalues of their
 * covariance computed, and the noise variance taken as the mean of the
 * largest set of smallest eigenvalues whose mean equals their median —
 * eigenvalues of a noise-only subspace cluster symmetrically around σ².
 * At most 40 000 patches are used, on an even grid, so the result is
 * deterministic and a 12-megapixel image takes about 0.2 s.
 *
 * Noise in a saved 8-bit file is clipped at black and white, which hides
 * part of it; when the image has clipped samples, the estimate is redone
 * on the patches whose local means stay clear of 0 and 1.
 *
 * Measured on CBSD68 (tests/bench-noise-estimate.c), mean absolute error
 * for sigma = 5 … 50: ≤ 0.15 with noise added to the float image; with
 * the noisy image clipped and rounded to 8 bits, ≤ 0.35 up to sigma 25,
 * about 0.9 at 35 and 4 at 50 (an underestimate: heavy clipping). */
#ifndef AENET_NOISE_ESTIMATE_H
#define AENET_NOISE_ESTIMATE_H

#include <glib.h>

G_BEGIN_DECLS

/* image is planar (channels, height, width), values nominally in [0, 1],
 * channels 1 to 3 (gray or R'G'B'; pass no alpha). Returns σ on the
 * 0–255 scale (e.g. 25.0), or -1 with error set (AENET_ERROR_INVALID)
 * when the image is too small or the arguments are wrong. */
double aenet_noise_estimate(const float *image, int channels, int height, int width,
                            GError **error);

G_END_DECLS

#endif
