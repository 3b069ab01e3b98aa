/* metrics.h — image quality as the denoising and super-resolution papers
 * measure it.
 *
 * Images are planar (c, h, w) floats, row-major, in [0, 1] unless a
 * function says it works on the 0–255 scale.
 *
 * Definitions (what the functions below compute, exactly):
 *
 *   8-bit rounding  q(x) = min(255, max(0, round(255 x))): what saving the
 *                   output as an 8-bit file does. Both images are rounded
 *                   (rounding the 8-bit clean image changes nothing).
 *
 *   PSNR            10 log10(255^2 / MSE), MSE the mean of the squared
 *                   differences over every sample compared (all pixels of
 *                   all channels together, not per channel). +inf when the
 *                   images are equal.
 *
 *   SSIM            Wang, Bovik, Sheikh & Simoncelli (2004), as their
 *                   ssim_index.m: 11×11 Gaussian window with sigma 1.5
 *                   normalised to sum 1, K1 = 0.01, K2 = 0.03, L = 255,
 *                   C1 = (K1 L)^2, C2 = (K2 L)^2; local means, variances and
 *                   covariance are window-weighted (biased, no n/(n-1)),
 *                   computed only where the window fits inside the image
 *                   ('valid'), no downsampling; the result is the mean of
 *                   the SSIM map. A colour image is scored per channel and
 *                   the three values averaged. NAN when a side is < 11.
 *
 *   denoise         PSNR over R, G, B (or the gray plane) of q(output) vs
 *                   q(clean), whole image; SSIM per channel, averaged.
 *
 *   upscale         Y of ITU-R BT.601 YCbCr (MATLAB rgb2ycbcr), not rounded:
 *                   Y = 16 + 65.481 R + 128.553 G + 24.966 B, R, G, B in
 *                   [0, 1] after 8-bit rounding, so Y is in [16, 235].
 *                   `border` pixels (normally the scale) are cropped from
 *                   every side, then PSNR and SSIM of Y.
 *                   A gray image (c = 1) is treated as R = G = B = gray,
 *                   i.e. Y = 16 + 219 gray — what Python evaluation code
 *                   does, since it loads every image as RGB. (Some MATLAB
 *                   scripts instead score the gray values themselves,
 *                   which gives a PSNR 20 log10(255/219) ≈ 1.32 dB higher
 *                   for the one gray image of Set14.) */
#ifndef AENET_METRICS_H
#define AENET_METRICS_H

#include <glib.h>

G_BEGIN_DECLS

/* dst[i] = q(src[i]) on the 0–255 scale (as floats). dst may be src. */
void aenet_metrics_round_8bit(float *dst, const float *src, gsize n);

/* PSNR (peak 255) of n samples already on the 0–255 scale. */
double aenet_metrics_psnr_255(const float *a, const float *b, gsize n);

/* SSIM of one plane (h, w) on the 0–255 scale. Allocates its own work
 * memory (about 5 h w doubles); NAN when h or w is < 11. */
double aenet_metrics_ssim_plane_255(const float *a, const float *b, int h, int w);

/* y (h, w) = Y of the (c, h, w) image on the 0–255 scale, c = 1 (gray as
 * R = G = B) or 3, as defined above (input not rounded here). */
void aenet_metrics_rgb_to_y(float *y, const float *image_255, int c, int h, int w);

/* The denoising scores of `output` against `clean`, both (c, h, w) in
 * [0, 1], c = 1 or 3. Either result pointer may be NULL (SSIM is the slow
 * one). */
void aenet_metrics_denoise(const float *output, const float *clean, int c, int h, int w,
                           double *psnr, double *ssim);

/* The super-resolution scores, Y channel, `border` pixels cropped from
 * each side; output and hr are (c, h, w) in [0, 1], c = 1 or 3. NAN when
 * the border leaves nothing. */
void aenet_metrics_upscale(const float *output, const float *hr, int c, int h, int w, int border,
                           double *psnr, double *ssim);

G_END_DECLS

#endif
