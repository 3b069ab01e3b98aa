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
 * deterministic and its cost bounded.
 *
 * Noise in a saved 8-bit file is clipped at black and white, which hides
 * part of it; when the image has clipped samples, the estimate is redone
 * on the patches whose means stay a standard deviation clear of 0 and 1,
 * corrected by the censored-normal variance at their distance from the clip.
 *
 * Real photographs have spatially correlated noise, whose finest-scale
 * part (all that the smallest eigenvalues see) is weak. The flattest
 * patches (weak-texture selection with a fitted Gamma model) tell how
 * strong it is per pixel; when their median eigenvalue is well above the
 * white-noise estimate (1.5 to 3 times), the result moves to the flat
 * patches' noise level. The result is then the noise's per-pixel
 * standard deviation, as measured in flat areas.
 *
 * Measured on CBSD68 (tests/bench-noise-estimate.c) for sigma 5 … 50:
 * see that program's output; on the real RNI15 photographs the estimates
 * follow the noise seen in flat areas. */
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
