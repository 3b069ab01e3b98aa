/* test-degrade.c — the training degradations (degrade.h): noise statistics
 * and reproducibility, JPEG round trips, bicubic downscaling, quantizing. */
#include <math.h>
#include <string.h>

#include "degrade.h"
#include "error.h"
#include "metrics.h"
#include "testutil.h"

static void
mean_std(const float *x, gsize n, double *mean, double *std)
{
  double s = 0, s2 = 0;
  for (gsize i = 0; i < n; i++)
    s += x[i];
  *mean = s / n;
  for (gsize i = 0; i < n; i++)
    s2 += (x[i] - *mean) * (x[i] - *mean);
  *std = sqrt(s2 / (n - 1));
}

static void
test_gaussian(void)
{
  const gsize n = 400001; /* odd: the unpaired last sample is covered too */
  float *a = g_new(float, n), *b = g_new(float, n);
  for (gsize i = 0; i < n; i++)
    a[i] = b[i] = 0.5f;
  AenetRng r1, r2;
  aenet_rng_init(&r1, 42);
  aenet_rng_init(&r2, 42);
  aenet_degrade_gaussian(a, n, 25.0f, &r1);
  aenet_degrade_gaussian(b, n, 25.0f, &r2);
  g_assert_cmpmem(a, n * sizeof(float), b, n * sizeof(float));

  double mean, std, sigma = 25.0 / 255.0;
  mean_std(a, n, &mean, &std);
  /* 5 standard errors of the mean and of the standard deviation. */
  g_assert_cmpfloat(fabs(mean - 0.5), <, 5 * sigma / sqrt(n));
  g_assert_cmpfloat(fabs(std - sigma), <, 5 * sigma / sqrt(2.0 * n));
  /* The tails are Gaussian too. */
  gsize beyond = 0;
  for (gsize i = 0; i < n; i++)
    beyond += fabs(a[i] - 0.5) > 3 * sigma;
  /* P(|z| > 3) = 0.0027. */
  g_assert_cmpfloat(fabs((double)beyond / n - 0.0027), <, 0.0005);

  /* Another seed gives other noise. */
  aenet_rng_init(&r2, 43);
  for (gsize i = 0; i < n; i++)
    b[i] = 0.5f;
  aenet_degrade_gaussian(b, n, 25.0f, &r2);
  g_assert_true(memcmp(a, b, n * sizeof(float)) != 0);

  /* Near black, values go below zero: no clipping. */
  for (gsize i = 0; i < 1000; i++)
    b[i] = 0.0f;
  aenet_degrade_gaussian(b, 1000, 50.0f, &r2);
  float lo = 0;
  for (gsize i = 0; i < 1000; i++)
    lo = MIN(lo, b[i]);
  g_assert_cmpfloat(lo, <, -0.2f);
  g_free(a);
  g_free(b);
}

static void
test_poisson_gaussian(void)
{
  const gsize n = 200000;
  const float levels[] = { 0.0f, 0.1f, 0.5f, 0.9f };
  const float gain = 0.01f, read = 2.0f;
  float *x = g_new(float, n);
  double prev = -1;
  AenetRng rng;
  aenet_rng_init(&rng, 9);
  for (guint l = 0; l < G_N_ELEMENTS(levels); l++) {
    for (gsize i = 0; i < n; i++)
      x[i] = levels[l];
    aenet_degrade_poisson_gaussian(x, n, gain, read, &rng);
    double mean, std;
    mean_std(x, n, &mean, &std);
    double want = sqrt(gain * levels[l] + (read / 255.0) * (read / 255.0));
    g_assert_cmpfloat(fabs(mean - levels[l]), <, 5 * want / sqrt(n));
    g_assert_cmpfloat(fabs(std - want) / want, <, 0.01);
    g_assert_cmpfloat(std, >, prev); /* grows with the signal */
    prev = std;
  }
  g_free(x);
}

/* A (c, h, w) test image: smooth gradients plus sharp stripes and a
 * checkerboard, the kind of content JPEG has to work on. */
static float *
textured_image(int c, int h, int w, AenetRng *rng)
{
  float *im = g_new(float, (gsize)c *h *w);
  for (int k = 0; k < c; k++)
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        double v = 0.3 + 0.3 * x / w + 0.2 * y / h * (k + 1) / c;
        v += 0.12 * sin(x * 0.7) * cos(y * 0.3); /* the same in every channel */
        if (((x / 4) + (y / 4)) % 2 == 0 && x > w / 2)
          v += 0.1;
        v += 0.008 * aenet_rng_normal(rng); /* fine grain */
        im[((gsize)k * h + y) * w + x] = (float)CLAMP(v, 0.0, 1.0);
      }
  aenet_degrade_quantize(im, (gsize)c * h * w, 255);
  return im;
}

static void
test_jpeg(void)
{
  AenetRng rng;
  aenet_rng_init(&rng, 1);
  for (int c = 1; c <= 3; c += 2) {
    int h = 64, w = 80;
    gsize n = (gsize)c * h * w;
    float *im = textured_image(c, h, w, &rng);
    float *orig = g_memdup2(im, n * sizeof(float));
    GError *error = NULL;
    g_assert_true(aenet_degrade_jpeg(im, c, h, w, 75, &error));
    g_assert_no_error(error);
    double psnr;
    aenet_metrics_denoise(im, orig, c, h, w, &psnr, NULL);
    g_test_message("JPEG q75, %d channel(s): PSNR %.2f dB", c, psnr);
    g_assert_cmpfloat(psnr, >, 30.0);
    g_assert_cmpfloat(psnr, <, 50.0);
    for (gsize i = 0; i < n; i++) /* decoded 8-bit values */
      g_assert_cmpfloat(fabsf(im[i] * 255 - rintf(im[i] * 255)), <, 1e-3f);

    /* Higher quality is closer. */
    float *hq = g_memdup2(orig, n * sizeof(float));
    g_assert_true(aenet_degrade_jpeg(hq, c, h, w, 98, &error));
    double psnr_hq;
    aenet_metrics_denoise(hq, orig, c, h, w, &psnr_hq, NULL);
    g_assert_cmpfloat(psnr_hq, >, psnr + 3);
    g_free(hq);
    g_free(im);
    g_free(orig);
  }

  float small[3 * 8 * 8] = { 0 };
  GError *error = NULL;
  g_assert_false(aenet_degrade_jpeg(small, 2, 8, 8, 75, &error));
  g_assert_error(error, AENET_ERROR, AENET_ERROR_INVALID);
  g_clear_error(&error);
  g_assert_false(aenet_degrade_jpeg(small, 3, 8, 8, 0, &error));
  g_assert_error(error, AENET_ERROR, AENET_ERROR_INVALID);
  g_clear_error(&error);
  /* Odd sizes and a 1×1 image survive. */
  g_assert_true(aenet_degrade_jpeg(small, 3, 1, 1, 50, &error));
  g_assert_true(aenet_degrade_jpeg(small, 3, 7, 5, 50, &error));
  g_assert_no_error(error);
}

static void
test_downscale(void)
{
  const int c = 3, h = 48, w = 36;
  for (int scale = 2; scale <= 4; scale++) {
    int lh = h / scale, lw = w / scale;
    gsize ln = (gsize)c * lh * lw;
    float *hr = g_new(float, (gsize)c *h *w);
    for (int k = 0; k < c; k++)
      for (gsize i = 0; i < (gsize)h * w; i++)
        hr[k * h * w + i] = 0.2f + 0.3f * k;
    gsize ns = aenet_degrade_downscale_scratch_size(c, h, w, scale);
    g_assert_cmpuint(ns, >, 0);
    float *scratch = g_new(float, ns);
    /* One guard float after the output: the size must be exactly right. */
    float *lr = g_new(float, ln + 1);
    lr[ln] = -123.0f;
    aenet_degrade_downscale(lr, hr, scratch, c, h, w, scale);
    g_assert_cmpfloat(lr[ln], ==, -123.0f);
    for (int k = 0; k < c; k++)
      for (gsize i = 0; i < (gsize)lh * lw; i++)
        g_assert_cmpfloat_with_epsilon(lr[k * lh * lw + i], 0.2f + 0.3f * k, 1e-5);
    g_free(hr);
    g_free(lr);
    g_free(scratch);
  }

  /* A ×2 downscale of a horizontal ramp is a ramp at half the size, its
   * values the means of the pixel pairs (the ramp is linear, the kernel
   * symmetric and normalised; edges mirror, so check the inside). */
  int H = 16, W = 32;
  float *hr = g_new(float, H *W), *lr = g_new(float, (H / 2) * (W / 2));
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      hr[y * W + x] = x / (float)W;
  float *scratch = g_new(float, aenet_degrade_downscale_scratch_size(1, H, W, 2));
  aenet_degrade_downscale(lr, hr, scratch, 1, H, W, 2);
  for (int y = 0; y < H / 2; y++)
    for (int x = 3; x < W / 2 - 3; x++)
      g_assert_cmpfloat_with_epsilon(lr[y * (W / 2) + x], (2 * x + 0.5f) / W, 1e-5);
  g_free(hr);
  g_free(lr);
  g_free(scratch);
}

static void
test_quantize(void)
{
  float x[] = { -0.3f, 0.0f, 0.001f, 0.5f, 0.999f, 1.0f, 2.0f };
  const float want[] = { 0, 0, 0, 128, 255, 255, 255 };
  aenet_degrade_quantize(x, G_N_ELEMENTS(x), 255);
  for (guint i = 0; i < G_N_ELEMENTS(x); i++)
    g_assert_cmpfloat_with_epsilon(x[i], want[i] / 255.0f, 1e-7);
  float y[] = { 0.3f, 0.6f };
  aenet_degrade_quantize(y, 2, 1); /* 1 level: black or white */
  g_assert_cmpfloat(y[0], ==, 0.0f);
  g_assert_cmpfloat(y[1], ==, 1.0f);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/degrade/gaussian", test_gaussian);
  g_test_add_func("/degrade/poisson-gaussian", test_poisson_gaussian);
  g_test_add_func("/degrade/jpeg", test_jpeg);
  g_test_add_func("/degrade/downscale", test_downscale);
  g_test_add_func("/degrade/quantize", test_quantize);
  return g_test_run();
}
