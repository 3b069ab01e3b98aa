/* test-metrics.c — PSNR and SSIM (metrics.h) against hand-computed cases
 * and a direct, unoptimised SSIM written here from the paper's formula. */
#include <math.h>
#include <string.h>

#include "metrics.h"
#include "testutil.h"

/* ---- a reference SSIM: the 2-D window applied at every valid position ---- */

static double
reference_ssim(const float *a, const float *b, int h, int w)
{
  double win[11][11], sum = 0.0;
  for (int i = 0; i < 11; i++)
    for (int j = 0; j < 11; j++) {
      win[i][j] = exp(-((i - 5) * (i - 5) + (j - 5) * (j - 5)) / (2.0 * 1.5 * 1.5));
      sum += win[i][j];
    }
  for (int i = 0; i < 11; i++)
    for (int j = 0; j < 11; j++)
      win[i][j] /= sum;
  const double c1 = (0.01 * 255) * (0.01 * 255), c2 = (0.03 * 255) * (0.03 * 255);
  double total = 0.0;
  int count = 0;
  for (int y = 0; y + 11 <= h; y++)
    for (int x = 0; x + 11 <= w; x++) {
      double ma = 0, mb = 0;
      for (int i = 0; i < 11; i++)
        for (int j = 0; j < 11; j++) {
          ma += win[i][j] * a[(y + i) * w + x + j];
          mb += win[i][j] * b[(y + i) * w + x + j];
        }
      double va = 0, vb = 0, cov = 0;
      for (int i = 0; i < 11; i++)
        for (int j = 0; j < 11; j++) {
          double da = a[(y + i) * w + x + j] - ma, db = b[(y + i) * w + x + j] - mb;
          va += win[i][j] * da * da;
          vb += win[i][j] * db * db;
          cov += win[i][j] * da * db;
        }
      total += (2 * ma * mb + c1) * (2 * cov + c2) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
      count++;
    }
  return total / count;
}

static void
test_round_8bit(void)
{
  const float in[] = { -0.5f, 0.0f, 0.4f / 255, 0.6f / 255, 127.5f / 255 + 1e-4f, 1.0f, 1.7f };
  const float want[] = { 0, 0, 0, 1, 128, 255, 255 };
  float out[G_N_ELEMENTS(in)];
  aenet_metrics_round_8bit(out, in, G_N_ELEMENTS(in));
  for (guint i = 0; i < G_N_ELEMENTS(in); i++)
    g_assert_cmpfloat(out[i], ==, want[i]);
}

static void
test_psnr_hand(void)
{
  /* Differences 0, 0, 2, 2 on the 0–255 scale: MSE = 2. */
  const float a[] = { 10, 20, 30, 40 }, b[] = { 10, 20, 32, 38 };
  g_assert_cmpfloat_with_epsilon(aenet_metrics_psnr_255(a, b, 4), 10 * log10(255.0 * 255.0 / 2.0),
                                 1e-9);
  /* One sample off by 255 out of 255 samples: MSE = 255, PSNR = 10 log10 255. */
  float x[255], y[255];
  for (int i = 0; i < 255; i++)
    x[i] = y[i] = 100;
  y[17] = 100 + 255;
  g_assert_cmpfloat_with_epsilon(aenet_metrics_psnr_255(x, y, 255), 10 * log10(255.0), 1e-9);
  g_assert_true(isinf(aenet_metrics_psnr_255(x, x, 255)));

  /* The denoise score rounds the output to 8 bits and clips it first:
   * 1.3 → 255 against 255 (no error), 0.5/255 + a bit → 1 against 0
   * (error 1), -0.2 → 0 against 0. MSE over 4 samples = 1/4. */
  const float out[] = { 1.3f, 0.6f / 255, -0.2f, 64.0f / 255 };
  const float clean[] = { 1.0f, 0.0f, 0.0f, 64.0f / 255 };
  double psnr;
  aenet_metrics_denoise(out, clean, 1, 2, 2, &psnr, NULL);
  g_assert_cmpfloat_with_epsilon(psnr, 10 * log10(255.0 * 255.0 * 4), 1e-9);
}

static void
test_ssim_identical(void)
{
  AenetRng rng;
  aenet_rng_init(&rng, 7);
  int h = 24, w = 31;
  float *a = g_new(float, h *w);
  test_fill_uniform(a, h * w, &rng, 0, 255);
  g_assert_cmpfloat_with_epsilon(aenet_metrics_ssim_plane_255(a, a, h, w), 1.0, 1e-12);
  g_assert_true(isnan(aenet_metrics_ssim_plane_255(a, a, 10, w)));
  g_assert_true(isnan(aenet_metrics_ssim_plane_255(a, a, h, 10)));
  g_free(a);
}

static void
test_ssim_reference(void)
{
  AenetRng rng;
  aenet_rng_init(&rng, 11);
  const int sizes[][2] = { { 11, 11 }, { 16, 23 }, { 40, 29 } };
  for (guint s = 0; s < G_N_ELEMENTS(sizes); s++) {
    int h = sizes[s][0], w = sizes[s][1];
    float *a = g_new(float, h *w), *b = g_new(float, h *w);
    test_fill_uniform(a, h * w, &rng, 0, 255);
    /* b: a plus noise, so SSIM is somewhere well inside (0, 1). */
    for (int i = 0; i < h * w; i++)
      b[i] = a[i] * 0.7f + 40.0f + 30.0f * (float)aenet_rng_normal(&rng);
    double got = aenet_metrics_ssim_plane_255(a, b, h, w);
    double want = reference_ssim(a, b, h, w);
    g_assert_cmpfloat(want, >, 0.05);
    g_assert_cmpfloat(want, <, 0.95);
    g_assert_cmpfloat_with_epsilon(got, want, 1e-9);
    g_free(a);
    g_free(b);
  }
}

static void
test_ssim_denoise_averages_channels(void)
{
  AenetRng rng;
  aenet_rng_init(&rng, 3);
  int h = 20, w = 22;
  gsize plane = h * w;
  float *a = g_new(float, 3 * plane), *b = g_new(float, 3 * plane);
  test_fill_uniform(a, 3 * plane, &rng, 0, 1);
  test_fill_uniform(b, 3 * plane, &rng, 0, 1);
  for (gsize i = 0; i < 3 * plane; i++)
    a[i] = rintf(a[i] * 255) / 255; /* already 8-bit: rounding is a no-op */
  for (gsize i = 0; i < 3 * plane; i++)
    b[i] = rintf(b[i] * 255) / 255;
  double ssim;
  aenet_metrics_denoise(a, b, 3, h, w, NULL, &ssim);
  double want = 0.0;
  float *pa = g_new(float, plane), *pb = g_new(float, plane);
  for (int k = 0; k < 3; k++) {
    for (gsize i = 0; i < plane; i++) {
      pa[i] = rintf(a[k * plane + i] * 255);
      pb[i] = rintf(b[k * plane + i] * 255);
    }
    want += reference_ssim(pa, pb, h, w) / 3;
  }
  g_assert_cmpfloat_with_epsilon(ssim, want, 1e-9);
  g_free(pa);
  g_free(pb);
  g_free(a);
  g_free(b);
}

static void
test_y_known_colours(void)
{
  /* (3, 1, 5): black, white, red, green, blue, on the 0–255 scale. */
  const float rgb[] = { 0, 255, 255, 0, 0, 0, 255, 0, 255, 0, 0, 255, 0, 0, 255 };
  const double want[] = { 16.0, 235.0, 16 + 65.481, 16 + 128.553, 16 + 24.966 };
  float y[5];
  aenet_metrics_rgb_to_y(y, rgb, 3, 1, 5);
  for (int i = 0; i < 5; i++)
    g_assert_cmpfloat_with_epsilon(y[i], want[i], 1e-4);
  /* Gray is treated as R = G = B. */
  const float gray[] = { 0, 128, 255 };
  aenet_metrics_rgb_to_y(y, gray, 1, 1, 3);
  g_assert_cmpfloat_with_epsilon(y[0], 16.0, 1e-4);
  g_assert_cmpfloat_with_epsilon(y[1], 16 + 219 * 128 / 255.0, 1e-4);
  g_assert_cmpfloat_with_epsilon(y[2], 235.0, 1e-4);
}

static void
test_upscale_border_crop(void)
{
  int h = 20, w = 24, border = 3;
  gsize plane = h * w;
  float *hr = g_new(float, 3 * plane), *out = g_new(float, 3 * plane);
  AenetRng rng;
  aenet_rng_init(&rng, 5);
  test_fill_uniform(hr, 3 * plane, &rng, 0, 1);
  for (gsize i = 0; i < 3 * plane; i++)
    hr[i] = rintf(hr[i] * 255) / 255;
  memcpy(out, hr, sizeof(float) * 3 * plane);
  /* Damage the outer 3 pixels only: the score with border 3 is perfect. */
  for (int k = 0; k < 3; k++)
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        if (y < border || x < border || y >= h - border || x >= w - border)
          out[k * plane + y * w + x] = 1.0f - hr[k * plane + y * w + x];
  double psnr, ssim;
  aenet_metrics_upscale(out, hr, 3, h, w, border, &psnr, &ssim);
  g_assert_true(isinf(psnr));
  g_assert_cmpfloat_with_epsilon(ssim, 1.0, 1e-12);
  aenet_metrics_upscale(out, hr, 3, h, w, border - 1, &psnr, &ssim);
  g_assert_true(isfinite(psnr));
  g_assert_cmpfloat(ssim, <, 1.0);

  /* One interior pixel with +10 in R, G and B changes Y by 10·219/255;
   * MSE = that squared over the (h - 6)(w - 6) cropped pixels. */
  memcpy(out, hr, sizeof(float) * 3 * plane);
  int p = 10 * w + 12;
  for (int k = 0; k < 3; k++) {
    hr[k * plane + p] = 100.0f / 255;
    out[k * plane + p] = 110.0f / 255;
  }
  aenet_metrics_upscale(out, hr, 3, h, w, border, &psnr, NULL);
  double dy = 10.0 * 219.0 / 255.0;
  double mse = dy * dy / ((h - 2 * border) * (w - 2 * border));
  g_assert_cmpfloat_with_epsilon(psnr, 10 * log10(255.0 * 255.0 / mse), 1e-4);

  /* Nothing left after the crop. */
  aenet_metrics_upscale(out, hr, 3, h, w, 10, &psnr, &ssim);
  g_assert_true(isnan(psnr) && isnan(ssim));
  g_free(hr);
  g_free(out);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/metrics/round-8bit", test_round_8bit);
  g_test_add_func("/metrics/psnr-hand", test_psnr_hand);
  g_test_add_func("/metrics/ssim-identical", test_ssim_identical);
  g_test_add_func("/metrics/ssim-reference", test_ssim_reference);
  g_test_add_func("/metrics/ssim-channels", test_ssim_denoise_averages_channels);
  g_test_add_func("/metrics/y-colours", test_y_known_colours);
  g_test_add_func("/metrics/upscale-border", test_upscale_border_crop);
  return g_test_run();
}
