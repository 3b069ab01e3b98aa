/* metrics.c — PSNR and SSIM as the papers compute them (see metrics.h for
 * the exact definitions).
 *
 * Layout: images are planar (c, h, w) floats, row-major. */
#include "metrics.h"

#include <math.h>

#define SSIM_WIN 11
#define SSIM_SIGMA 1.5
#define SSIM_L 255.0
#define SSIM_C1 ((0.01 * SSIM_L) * (0.01 * SSIM_L))
#define SSIM_C2 ((0.03 * SSIM_L) * (0.03 * SSIM_L))

void
aenet_metrics_round_8bit(float *dst, const float *src, gsize n)
{
  for (gsize i = 0; i < n; i++) {
    float v = rintf(src[i] * 255.0f);
    dst[i] = v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v);
  }
}

double
aenet_metrics_psnr_255(const float *a, const float *b, gsize n)
{
  double sum = 0.0;
  for (gsize i = 0; i < n; i++) {
    double d = (double)a[i] - (double)b[i];
    sum += d * d;
  }
  if (n == 0)
    return NAN;
  if (sum == 0.0)
    return INFINITY;
  return 10.0 * log10(255.0 * 255.0 / (sum / (double)n));
}

/* The 1-D factor of the separable window; fspecial('gaussian', 11, 1.5)
 * is the outer product of this normalised vector with itself. */
static void
ssim_window(double *g)
{
  double sum = 0.0;
  for (int i = 0; i < SSIM_WIN; i++) {
    double x = i - SSIM_WIN / 2;
    g[i] = exp(-x * x / (2.0 * SSIM_SIGMA * SSIM_SIGMA));
    sum += g[i];
  }
  for (int i = 0; i < SSIM_WIN; i++)
    g[i] /= sum;
}

double
aenet_metrics_ssim_plane_255(const float *a, const float *b, int h, int w)
{
  if (h < SSIM_WIN || w < SSIM_WIN)
    return NAN;
  double g[SSIM_WIN];
  ssim_window(g);
  int vw = w - SSIM_WIN + 1, vh = h - SSIM_WIN + 1;

  /* rows is (5, h, vw): a, b, a², b², ab filtered along rows. */
  gsize plane = (gsize)h * vw;
  double *rows = g_new(double, 5 * plane);
  for (int y = 0; y < h; y++) {
    const float *ra = a + (gsize)y * w, *rb = b + (gsize)y * w;
    for (int x = 0; x < vw; x++) {
      double s[5] = { 0, 0, 0, 0, 0 };
      for (int k = 0; k < SSIM_WIN; k++) {
        double va = ra[x + k], vb = rb[x + k];
        s[0] += g[k] * va;
        s[1] += g[k] * vb;
        s[2] += g[k] * va * va;
        s[3] += g[k] * vb * vb;
        s[4] += g[k] * va * vb;
      }
      for (int q = 0; q < 5; q++)
        rows[q * plane + (gsize)y * vw + x] = s[q];
    }
  }

  /* Then along columns, one valid position at a time. */
  double total = 0.0;
  for (int y = 0; y < vh; y++)
    for (int x = 0; x < vw; x++) {
      double s[5] = { 0, 0, 0, 0, 0 };
      for (int k = 0; k < SSIM_WIN; k++)
        for (int q = 0; q < 5; q++)
          s[q] += g[k] * rows[q * plane + (gsize)(y + k) * vw + x];
      double mu_a = s[0], mu_b = s[1];
      double var_a = s[2] - mu_a * mu_a;
      double var_b = s[3] - mu_b * mu_b;
      double cov = s[4] - mu_a * mu_b;
      total += ((2.0 * mu_a * mu_b + SSIM_C1) * (2.0 * cov + SSIM_C2))
               / ((mu_a * mu_a + mu_b * mu_b + SSIM_C1) * (var_a + var_b + SSIM_C2));
    }
  g_free(rows);
  return total / ((double)vh * vw);
}

void
aenet_metrics_rgb_to_y(float *y, const float *image_255, int c, int h, int w)
{
  gsize plane = (gsize)h * w;
  for (gsize i = 0; i < plane; i++) {
    double r, gr, bl;
    r = image_255[i] / 255.0;
    gr = c == 3 ? image_255[plane + i] / 255.0 : r;
    bl = c == 3 ? image_255[2 * plane + i] / 255.0 : r;
    y[i] = (float)(16.0 + 65.481 * r + 128.553 * gr + 24.966 * bl);
  }
}

void
aenet_metrics_denoise(const float *output, const float *clean, int c, int h, int w, double *psnr,
                      double *ssim)
{
  gsize plane = (gsize)h * w, n = plane * c;
  float *qa = g_new(float, n); /* (c, h, w), 0–255 */
  float *qb = g_new(float, n);
  aenet_metrics_round_8bit(qa, output, n);
  aenet_metrics_round_8bit(qb, clean, n);
  if (psnr)
    *psnr = aenet_metrics_psnr_255(qa, qb, n);
  if (ssim) {
    double sum = 0.0;
    for (int k = 0; k < c; k++)
      sum += aenet_metrics_ssim_plane_255(qa + k * plane, qb + k * plane, h, w);
    *ssim = sum / c;
  }
  g_free(qa);
  g_free(qb);
}

/* Copies the inner (h - 2 border, w - 2 border) part of a (h, w) plane. */
static void
crop_plane(float *dst, const float *src, int h, int w, int border)
{
  int ch = h - 2 * border, cw = w - 2 * border;
  for (int y = 0; y < ch; y++)
    for (int x = 0; x < cw; x++)
      dst[(gsize)y * cw + x] = src[(gsize)(y + border) * w + x + border];
}

void
aenet_metrics_upscale(const float *output, const float *hr, int c, int h, int w, int border,
                      double *psnr, double *ssim)
{
  int ch = h - 2 * border, cw = w - 2 * border;
  if (border < 0 || ch <= 0 || cw <= 0) {
    if (psnr)
      *psnr = NAN;
    if (ssim)
      *ssim = NAN;
    return;
  }
  gsize plane = (gsize)h * w, n = plane * c, cplane = (gsize)ch * cw;
  float *q = g_new(float, n);             /* (c, h, w), 0–255 */
  float *ya = g_new(float, plane);        /* (h, w) */
  float *yb = g_new(float, plane);        /* (h, w) */
  float *crop = g_new(float, 2 * cplane); /* (2, ch, cw) */

  aenet_metrics_round_8bit(q, output, n);
  aenet_metrics_rgb_to_y(ya, q, c, h, w);
  aenet_metrics_round_8bit(q, hr, n);
  aenet_metrics_rgb_to_y(yb, q, c, h, w);
  crop_plane(crop, ya, h, w, border);
  crop_plane(crop + cplane, yb, h, w, border);
  if (psnr)
    *psnr = aenet_metrics_psnr_255(crop, crop + cplane, cplane);
  if (ssim)
    *ssim = aenet_metrics_ssim_plane_255(crop, crop + cplane, ch, cw);
  g_free(q);
  g_free(ya);
  g_free(yb);
  g_free(crop);
}
