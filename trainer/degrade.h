/* degrade.h — the degradations used to make training and evaluation inputs.
 *
 * Images are planar (c, h, w) floats, row-major, nominally in [0, 1].
 * Random numbers come from the caller's AenetRng, so a training run that
 * saves and restores the generator replays the same noise.
 *
 * Noise levels are on the 0–255 scale (sigma = 25 means a standard
 * deviation of 25/255 in [0, 1] units), as in the denoising literature. */
#ifndef AENET_DEGRADE_H
#define AENET_DEGRADE_H

#include <glib.h>

#include "rng.h"

G_BEGIN_DECLS

/* image (n floats) += N(0, (sigma/255)^2), independently per sample.
 * Not clipped: values may leave [0, 1]. */
void aenet_degrade_gaussian(float *image, gsize n, float sigma, AenetRng *rng);

/* Signal-dependent (heteroscedastic) noise, the normal approximation of
 * Poisson–Gaussian sensor noise: each sample x gets N(0, v) added, with
 * v = gain * max(x, 0) + (read_sigma/255)^2. gain is in [0, 1] units
 * (e.g. 0.01); not clipped. */
void aenet_degrade_poisson_gaussian(float *image, gsize n, float gain, float read_sigma,
                                    AenetRng *rng);

/* Round trip through an in-memory baseline JPEG at quality 1..100
 * (4:2:0 chroma subsampling for colour, libjpeg defaults). image is
 * (c, h, w) with c = 1 or 3 and is replaced by the decoded result, which
 * is quantized to 8 bits. Values are clipped to [0, 1] on the way in.
 * FALSE with error on a bad argument or a libjpeg failure. */
gboolean aenet_degrade_jpeg(float *image, int c, int h, int w, int quality, GError **error);

/* Bicubic downscaling by an integer factor, MATLAB imresize style
 * (antialiased; aenet_resize_bicubic). hr is (c, h, w); lr is
 * (c, h / scale, w / scale) (integer division: callers normally crop h and
 * w to multiples of scale first). scratch holds
 * aenet_degrade_downscale_scratch_size() floats. Never allocates. */
gsize aenet_degrade_downscale_scratch_size(int c, int h, int w, int scale);
void aenet_degrade_downscale(float *lr, const float *hr, float *scratch, int c, int h, int w,
                             int scale);

/* What saving to a file does: clip to [0, 1] and round to the nearest of
 * `levels` + 1 values k / levels (levels = 255 for 8 bits). */
void aenet_degrade_quantize(float *image, gsize n, int levels);

G_END_DECLS

#endif
