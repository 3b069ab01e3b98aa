/* test-degrade.c — the training degradations (degrade.h): noise statistics
 * and reproducibility, JPEG round trips, bicubic downscaling, quantizing. */
#include <math.h>
#include <string.h>

#include "degrade.h"
#include "jpeg-trace.h"
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


/* Each curve of the camera and its inverse: exact round trips on [0, 1],
 * monotonic, fixed ends. */
static void
test_camera_curves(void)
{
  float prev_lin = -1, prev_tone = -1;
  for (int i = 0; i <= 1000; i++) {
    float v = i / 1000.0f;
    float lin = aenet_camera_srgb_to_linear(v), tone = aenet_camera_tone(v);
    g_assert_cmpfloat_with_epsilon(aenet_camera_linear_to_srgb(lin), v, 2e-6);
    g_assert_cmpfloat_with_epsilon(aenet_camera_tone_inverse(tone), v, 2e-4);
    g_assert_cmpfloat(lin, >, prev_lin);
    g_assert_cmpfloat(tone, >=, prev_tone);
    prev_lin = lin, prev_tone = tone;
  }
  g_assert_cmpfloat(aenet_camera_srgb_to_linear(0.5f), <, 0.22f); /* gamma darkens mid-grey */
  g_assert_cmpfloat(aenet_camera_tone(0.25f), <, 0.25f);          /* an S curve */
  g_assert_cmpfloat(aenet_camera_tone(0.75f), >, 0.75f);
  g_assert_cmpfloat(aenet_camera_tone(1.0f), ==, 1.0f);
}

/* Random cameras: matrices that keep white, invert exactly, and noise
 * levels in the published ranges, read noise rising with shot noise. */
static void
test_camera_random(void)
{
  AenetRng rng;
  aenet_rng_init(&rng, 7);
  double low_read = 0, high_read = 0;
  int n_low = 0, n_high = 0, n_blur = 0;
  for (int k = 0; k < 2000; k++) {
    AenetCamera cam;
    aenet_camera_random(&cam, &rng);
    float inv[9];
    g_assert_true(aenet_camera_invert3(inv, cam.cam2rgb));
    for (int i = 0; i < 3; i++) {
      g_assert_cmpfloat_with_epsilon(cam.cam2rgb[i * 3] + cam.cam2rgb[i * 3 + 1]
                                         + cam.cam2rgb[i * 3 + 2], 1.0f, 1e-5);
      for (int j = 0; j < 3; j++) {
        double dot = 0;
        for (int m = 0; m < 3; m++)
          dot += (double)inv[i * 3 + m] * cam.cam2rgb[m * 3 + j];
        g_assert_cmpfloat_with_epsilon(dot, i == j ? 1.0 : 0.0, 1e-5);
      }
    }
    g_assert_cmpfloat(cam.shot, >=, 1e-4 * 0.999);
    g_assert_cmpfloat(cam.shot, <=, 0.012 * 1.001);
    g_assert_cmpfloat(cam.rgb_gain, >=, 1.0f);
    g_assert_cmpfloat(cam.red_gain, >=, 1.9f);
    g_assert_cmpfloat(cam.blue_gain, <=, 1.9f);
    if (cam.shot < 5e-4)
      low_read += log(cam.read), n_low++;
    else if (cam.shot > 5e-3)
      high_read += log(cam.read), n_high++;
    n_blur += cam.noise_blur > 0;
  }
  g_assert_cmpint(n_low, >, 100);
  g_assert_cmpint(n_high, >, 100);
  g_assert_cmpfloat(high_read / n_high, >, low_read / n_low + 3.0); /* drawn together */
  g_assert_cmpint(n_blur, >, 1350); /* three in four */
  g_assert_cmpint(n_blur, <, 1650);
}

/* Bilinear demosaicking keeps each site's own colour and fills the others
 * with the mean of their neighbours: a flat mosaic stays flat, a mosaic
 * of a flat colour gives that colour, and a lone red site spreads as a
 * bilinear tent. */
static void
test_camera_demosaic(void)
{
  const int h = 6, w = 8;
  float mosaic[6 * 8], rgb[3 * 6 * 8];
  const float colour[3] = { 0.8f, 0.5f, 0.2f };
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      mosaic[y * w + x] = colour[(y & 1) + (x & 1)];
  aenet_camera_demosaic(rgb, mosaic, h, w);
  for (int c = 0; c < 3; c++)
    for (int i = 0; i < h * w; i++)
      g_assert_cmpfloat_with_epsilon(rgb[c * h * w + i], colour[c], 1e-6);

  memset(mosaic, 0, sizeof mosaic);
  mosaic[2 * w + 2] = 1.0f; /* a red site */
  aenet_camera_demosaic(rgb, mosaic, h, w);
  g_assert_cmpfloat(rgb[2 * w + 2], ==, 1.0f);
  g_assert_cmpfloat_with_epsilon(rgb[2 * w + 3], 0.5f, 1e-6); /* green site between two reds */
  g_assert_cmpfloat_with_epsilon(rgb[3 * w + 3], 0.25f, 1e-6); /* blue site among four */
  g_assert_cmpfloat(rgb[2 * w + 4], ==, 0.0f);
  for (int i = 0; i < h * w; i++) /* no green or blue came from it */
    g_assert_cmpfloat(rgb[h * w + i] + rgb[2 * h * w + i], ==, 0.0f);
}

static float *
camera_test_image(int h, int w)
{
  float *image = g_new(float, (gsize)3 * h * w);
  for (int c = 0; c < 3; c++)
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) /* saturated colours, black and white too */
        image[((gsize)c * h + y) * w + x] =
            CLAMP(0.5f + 0.6f * sinf(0.11f * x * (c + 1) + 0.07f * y), 0.0f, 1.0f);
  return image;
}

/* Without noise the camera gives back its input exactly (the training
 * target stays the original); with noise, the noise is signal-dependent,
 * spatially correlated by the demosaicking, and reproducible. */
static void
test_camera_degrade(void)
{
  const int h = 64, w = 96;
  gsize n = (gsize)3 * h * w, plane = (gsize)h * w;
  float *clean = camera_test_image(h, w), *image = g_memdup2(clean, n * sizeof(float));
  float *scratch = g_new(float, aenet_degrade_camera_scratch_size(h, w) + 1);
  scratch[aenet_degrade_camera_scratch_size(h, w)] = -7.0f; /* guard */
  AenetRng rng, rng2;
  aenet_rng_init(&rng, 3);
  AenetCamera cam;
  aenet_camera_random(&cam, &rng);
  AenetCamera quiet = cam;
  quiet.shot = quiet.read = 0;
  aenet_degrade_camera(image, scratch, h, w, &quiet, &rng);
  for (gsize i = 0; i < n; i++)
    g_assert_cmpfloat_with_epsilon(image[i], clean[i], 3e-4);
  g_assert_cmpfloat(scratch[aenet_degrade_camera_scratch_size(h, w)], ==, -7.0f);

  /* A flat grey at two brightnesses: brighter means more noise in raw,
   * and neighbouring pixels' noise is correlated. */
  cam.shot = 0.01f, cam.read = 1e-5f, cam.noise_blur = 0;
  double std[2], corr = 0;
  for (int b = 0; b < 2; b++) {
    float level = b == 0 ? 0.15f : 0.7f;
    for (gsize i = 0; i < n; i++)
      image[i] = level;
    aenet_degrade_camera(image, scratch, h, w, &cam, &rng);
    double mean;
    mean_std(image + plane, plane, &mean, &std[b]); /* green */
    if (b == 1) {
      double c = 0, v = 0;
      for (int y = 0; y < h; y++)
        for (int x = 0; x + 1 < w; x++) {
          double a = image[plane + y * w + x] - mean, d = image[plane + y * w + x + 1] - mean;
          c += a * d, v += a * a;
        }
      corr = c / v;
    }
  }
  g_assert_cmpfloat(std[0], >, 0.005);
  g_assert_cmpfloat(corr, >, 0.2); /* white noise would give about 0 */

  /* Same seed, same noise. */
  float *again = g_memdup2(clean, n * sizeof(float));
  memcpy(image, clean, n * sizeof(float));
  aenet_rng_init(&rng, 11);
  aenet_rng_init(&rng2, 11);
  aenet_camera_random(&cam, &rng);
  aenet_degrade_camera(image, scratch, h, w, &cam, &rng);
  aenet_camera_random(&cam, &rng2);
  aenet_degrade_camera(again, scratch, h, w, &cam, &rng2);
  g_assert_cmpmem(image, n * sizeof(float), again, n * sizeof(float));
  g_free(again);
  g_free(clean);
  g_free(image);
  g_free(scratch);
}

/* Statistics of processed noise on a flat or two-level image, away from
 * the edges: brightness and colour components at their sigmas, each
 * correlated with its neighbour as its blur says, colour noise leaving
 * brightness alone, variance following brightness when asked. */
typedef struct {
  double luma_std, chroma_std; /* (R+G+B)/3 and R - (R+G+B)/3 of the noise */
  double luma_corr, chroma_corr; /* with the right-hand neighbour */
  double luma_std_left, luma_std_right;
} NoiseStats;

static void
processed_noise_stats(NoiseStats *st, float left, float right, const AenetProcessedNoise *noise)
{
  const int h = 160, w = 160, border = 8;
  gsize plane = (gsize)h * w;
  float *image = g_new(float, 3 * plane);
  for (int c = 0; c < 3; c++)
    for (gsize i = 0; i < plane; i++)
      image[c * plane + i] = (int)(i % w) < w / 2 ? left : right;
  float *clean = g_memdup2(image, 3 * plane * sizeof(float));
  float *scratch = g_new(float, aenet_degrade_camera_scratch_size(h, w) + 1);
  scratch[aenet_degrade_camera_scratch_size(h, w)] = -7.0f; /* guard */
  AenetRng rng;
  aenet_rng_init(&rng, 11);
  aenet_degrade_processed_noise(image, scratch, h, w, noise, &rng);
  g_assert_cmpfloat(scratch[aenet_degrade_camera_scratch_size(h, w)], ==, -7.0f);

  double s[2] = { 0 }, s2[2] = { 0 }, sxy[2] = { 0 }, side[2] = { 0 };
  gsize count = 0, side_count[2] = { 0 };
  for (int y = border; y < h - border; y++)
    for (int x = border; x < w - border - 1; x++) {
      if (x >= w / 2 - border && x < w / 2 + border)
        continue; /* the step between the halves */
      double v[2][2]; /* [luma, chroma][here, right] */
      for (int k = 0; k < 2; k++) {
        gsize i = (gsize)y * w + x + k;
        double r = image[i] - clean[i], g = image[plane + i] - clean[plane + i];
        double b = image[2 * plane + i] - clean[2 * plane + i];
        v[0][k] = (r + g + b) / 3;
        v[1][k] = r - v[0][k];
      }
      for (int m = 0; m < 2; m++) {
        s[m] += v[m][0];
        s2[m] += v[m][0] * v[m][0];
        sxy[m] += v[m][0] * v[m][1];
      }
      side[x >= w / 2] += v[0][0] * v[0][0];
      side_count[x >= w / 2]++;
      count++;
    }
  for (int m = 0; m < 2; m++)
    g_assert_cmpfloat(fabs(s[m] / count), <, 0.2 * sqrt(s2[m] / count)); /* no offset */
  st->luma_std = sqrt(s2[0] / count) * 255;
  st->chroma_std = sqrt(s2[1] / count) * 255;
  st->luma_corr = sxy[0] / s2[0];
  st->chroma_corr = sxy[1] / s2[1];
  st->luma_std_left = sqrt(side[0] / side_count[0]) * 255;
  st->luma_std_right = sqrt(side[1] / side_count[1]) * 255;
  g_free(image);
  g_free(clean);
  g_free(scratch);
}

static void
test_processed_noise(void)
{
  NoiseStats st;
  /* White brightness noise, smoothed colour noise half as strong (the
   * colour components sum to 0, so R - mean is R's colour noise). */
  AenetProcessedNoise noise = { 10.0f, 0.5f, 0.0f, 2.0f, 0.0f };
  processed_noise_stats(&st, 0.5f, 0.5f, &noise);
  g_assert_cmpfloat(fabs(st.luma_std - 10.0), <, 0.3);
  g_assert_cmpfloat(fabs(st.chroma_std - 5.0), <, 0.3);
  g_assert_cmpfloat(fabs(st.luma_corr), <, 0.05);
  g_assert_cmpfloat(st.chroma_corr, >, 0.85); /* exp(-1/16) = 0.94 for an uncut kernel */

  /* PolyU-like: fine correlated grain and stronger colour noise. */
  AenetProcessedNoise polyu = { 3.2f, 2.0f, 0.8f, 0.0f, 0.0f };
  processed_noise_stats(&st, 0.5f, 0.5f, &polyu);
  g_assert_cmpfloat(fabs(st.luma_std - 3.2), <, 0.15);
  g_assert_cmpfloat(fabs(st.chroma_std - 6.4), <, 0.3);
  g_assert_cmpfloat(fabs(st.luma_corr - exp(-1.0 / (4 * 0.64))), <, 0.05);
  g_assert_cmpfloat(fabs(st.chroma_corr), <, 0.05);

  /* Fully signal-dependent: variance 9 times larger at 0.9 than at 0.1,
   * or the other way round. */
  AenetProcessedNoise shot = { 10.0f, 1.0f, 0.0f, 0.0f, 1.0f };
  processed_noise_stats(&st, 0.1f, 0.9f, &shot);
  g_assert_cmpfloat(fabs(st.luma_std_right / st.luma_std_left - 3.0), <, 0.2);
  shot.signal_dependence = -1.0f;
  processed_noise_stats(&st, 0.1f, 0.9f, &shot);
  g_assert_cmpfloat(fabs(st.luma_std_left / st.luma_std_right - 3.0), <, 0.2);

  /* The random draws stay inside their ranges. */
  AenetRng rng;
  aenet_rng_init(&rng, 3);
  int shadows = 0; /* draws with the noise strongest in the shadows */
  for (int k = 0; k < 1000; k++) {
    aenet_processed_noise_random(&noise, &(AenetPhotoMix){ .sigma_max = 30.0f, .chroma_ratio_max = 4.0f },
                                 &rng);
    shadows += noise.signal_dependence < -0.5f;
    g_assert_cmpfloat(noise.luma_sigma, >=, 1.0f);
    g_assert_cmpfloat(noise.luma_sigma, <=, 30.0f);
    g_assert_cmpfloat(noise.chroma_ratio, >=, 0.25f);
    g_assert_cmpfloat(noise.chroma_ratio, <=, 4.0f);
    g_assert_cmpfloat(noise.luma_blur, <=, 1.2f);
    g_assert_cmpfloat(noise.chroma_blur, <=, 3.0f);
    g_assert_cmpfloat(noise.signal_dependence, >=, -1.0f);
    g_assert_cmpfloat(noise.signal_dependence, <=, 1.0f);
  }
  g_assert_cmpint(shadows, >, 150);
}

/* Banding: offsets the same along each row (or column), of the asked
 * sigma and correlation from one row to the next, brightness only; the
 * grain beside them as asked. */
static void
test_processed_banding(void)
{
  const int h = 400, w = 300;
  gsize plane = (gsize)h * w;
  float *image = g_new(float, 3 * plane);
  float *scratch = g_new(float, aenet_degrade_camera_scratch_size(h, w));
  for (int columns = 0; columns < 2; columns++) {
    AenetProcessedNoise noise = { 2.0f, 0.5f, 0.0f, 0.0f, 0.0f, 1.5f, 0.8f, columns };
    for (gsize i = 0; i < 3 * plane; i++)
      image[i] = 0.5f;
    AenetRng rng;
    aenet_rng_init(&rng, 9);
    aenet_degrade_processed_noise(image, scratch, h, w, &noise, &rng);
    /* The mean of each band (rows, or columns) over its length, and the
     * colour noise's energy. */
    int n = columns ? w : h, length = columns ? h : w;
    double *mean = g_new0(double, n), colour = 0;
    for (gsize i = 0; i < plane; i++) {
      double y = (image[i] + image[plane + i] + image[2 * plane + i]) / 3 - 0.5;
      mean[columns ? i % w : i / w] += 255 * y / length;
      for (int c = 0; c < 3; c++)
        colour += pow((image[c * plane + i] - 0.5 - y) * 255, 2) / (3 * plane);
    }
    double s2 = 0, lag = 0;
    for (int k = 0; k < n; k++) {
      s2 += mean[k] * mean[k];
      lag += k > 0 ? mean[k] * mean[k - 1] : 0;
    }
    /* The grain adds 2² / length to each band mean's variance. */
    double band_var = s2 / n - 4.0 / length;
    g_test_message("%s: band sigma %.2f, correlation %.2f", columns ? "columns" : "rows",
                   sqrt(band_var), lag / s2);
    g_assert_cmpfloat(fabs(sqrt(band_var) - 1.5), <, 0.3);
    g_assert_cmpfloat(fabs(lag / s2 - 0.8), <, 0.1);
    g_assert_cmpfloat(fabs(sqrt(colour) - 1.0), <, 0.05); /* the colour noise's own sigma */
    g_free(mean);
  }
  g_free(image);
  g_free(scratch);
}

/* Mottle: brightness blotches of the asked sigma beside the grain, much
 * more correlated from one pixel to the next than the grain, no colour;
 * the mottle mix draws it for 70 % of its processed noise, within
 * its ranges, and the photo mix never. */
static void
test_processed_mottle(void)
{
  NoiseStats st;
  AenetProcessedNoise noise
      = { .luma_sigma = 1.0f, .chroma_ratio = 0.5f, .mottle_sigma = 4.0f, .mottle_blur = 4.0f };
  processed_noise_stats(&st, 0.5f, 0.5f, &noise);
  g_test_message("mottle: brightness sigma %.2f, neighbour correlation %.3f, colour %.3f",
                 st.luma_std, st.luma_corr, st.chroma_std);
  /* Grain 1 and mottle 4: sqrt(17), correlated 16 exp(-1 / 64) / 17. */
  g_assert_cmpfloat(fabs(st.luma_std - sqrt(17.0)), <, 0.4);
  g_assert_cmpfloat(fabs(st.luma_corr - 16 * exp(-1.0 / 64) / 17), <, 0.03);
  g_assert_cmpfloat(fabs(st.chroma_std - 0.5), <, 0.03); /* the colour noise's own */

  AenetRng rng;
  aenet_rng_init(&rng, 6);
  int mottled = 0;
  for (int k = 0; k < 400; k++) {
    aenet_processed_noise_random(&noise, &aenet_photo_mix_mottle, &rng);
    if (noise.mottle_sigma > 0) {
      mottled++;
      g_assert_cmpfloat(noise.mottle_sigma, <=, MIN(8.0f, 1.2f * noise.luma_sigma) + 1e-6f);
      g_assert_cmpfloat(noise.mottle_sigma, >=, MIN(8.0f, 0.3f * noise.luma_sigma) - 1e-6f);
      g_assert_cmpfloat(noise.mottle_blur, >=, 2.0f);
      g_assert_cmpfloat(noise.mottle_blur, <=, 6.0f);
    }
    aenet_processed_noise_random(&noise, &aenet_photo_mix_denoise, &rng);
    g_assert_cmpfloat(noise.mottle_sigma, ==, 0.0f);
  }
  g_assert_cmpint(mottled, >, 240);
  g_assert_cmpint(mottled, <, 320);
}

/* Soft scenes: about a quarter of the denoisers' clean patches come out
 * blurred (same mean, finer detail gone), the rest untouched; the
 * upscalers' never. */
static void
test_photo_scene(void)
{
  const int h = 32, w = 48;
  gsize n = (gsize)3 * h * w;
  float *clean = camera_test_image(h, w), *image = g_new(float, n);
  float *scratch = g_new(float, aenet_degrade_camera_scratch_size(h, w));
  AenetRng rng;
  aenet_rng_init(&rng, 6);
  int soft = 0;
  for (int k = 0; k < 400; k++) {
    memcpy(image, clean, n * sizeof(float));
    aenet_degrade_photo_scene(image, scratch, h, w, &aenet_photo_mix_denoise, &rng);
    if (memcmp(image, clean, n * sizeof(float)) == 0)
      continue;
    soft++;
    double mean_in, std_in, mean_out, std_out;
    mean_std(clean, n, &mean_in, &std_in);
    mean_std(image, n, &mean_out, &std_out);
    g_assert_cmpfloat(fabs(mean_out - mean_in), <, 0.01);
    g_assert_cmpfloat(std_out, <, std_in);
  }
  /* The mix's fraction, within about 3 standard deviations of 400 draws. */
  g_assert_cmpfloat(fabs(soft / 400.0 - aenet_photo_mix_denoise.p_soft), <, 0.075);
  memcpy(image, clean, n * sizeof(float));
  aenet_degrade_photo_scene(image, scratch, h, w, &aenet_photo_mix_upscale, &rng);
  g_assert_cmpmem(image, n * sizeof(float), clean, n * sizeof(float));
  g_free(clean);
  g_free(image);
  g_free(scratch);
}

/* The photo mix ends as files end: 8-bit values in [0, 1]; over many
 * draws it leaves some images clean, compresses some, and the average
 * error sits between light and heavy noise. */
static void
test_photo(void)
{
  const int h = 32, w = 48;
  gsize n = (gsize)3 * h * w;
  float *clean = camera_test_image(h, w), *image = g_new(float, n);
  float *scratch = g_new(float, aenet_degrade_camera_scratch_size(h, w));
  AenetRng rng;
  aenet_rng_init(&rng, 5);
  GError *error = NULL;
  int n_exact = 0, n_noisy = 0;
  for (int k = 0; k < 200; k++) {
    memcpy(image, clean, n * sizeof(float));
    g_assert_true(aenet_degrade_photo(image, scratch, h, w, &aenet_photo_mix_denoise, &rng, &error));
    g_assert_no_error(error);
    double err = 0;
    for (gsize i = 0; i < n; i++) {
      g_assert_cmpfloat(image[i], >=, 0.0f);
      g_assert_cmpfloat(image[i], <=, 1.0f);
      g_assert_cmpfloat_with_epsilon(image[i] * 255.0f, rintf(image[i] * 255.0f), 1e-3);
      err += fabs(image[i] - clean[i]);
    }
    err /= n;
    n_exact += err < 0.5 / 255; /* only rounded: no noise, no JPEG */
    n_noisy += err > 2.0 / 255;
  }
  g_assert_cmpint(n_exact, >, 0);
  g_assert_cmpint(n_exact, <, 20);
  g_assert_cmpint(n_noisy, >, 100);
  g_free(clean);
  g_free(image);
  g_free(scratch);
}

/* JPEG qualities stay in the mix's range; the denoisers' mix draws low
 * ones most (median at 30 % of the range), the upscalers' uniformly. */
static void
test_photo_jpeg_quality(void)
{
  const AenetPhotoMix *mixes[] = { &aenet_photo_mix_denoise, &aenet_photo_mix_upscale };
  for (int m = 0; m < 2; m++) {
    const AenetPhotoMix *mix = mixes[m];
    AenetRng rng;
    aenet_rng_init(&rng, 11);
    enum { N = 4000 };
    int below_middle = 0, lowest = 100, highest = 0;
    double middle = 0.5 * (mix->jpeg_min + mix->jpeg_max);
    for (int k = 0; k < N; k++) {
      int q = aenet_photo_mix_jpeg_quality(mix, &rng);
      lowest = MIN(lowest, q);
      highest = MAX(highest, q);
      below_middle += q < middle;
    }
    g_assert_cmpint(lowest, ==, mix->jpeg_min);
    g_assert_cmpint(highest, <=, mix->jpeg_max);
    g_assert_cmpint(highest, >=, mix->jpeg_max - 5); /* the top is rare when falling */
    /* Falling linearly: 75 % below the middle; uniform: 50 %. */
    double expected = mix->jpeg_low_most ? 0.75 : 0.5;
    g_assert_cmpfloat(fabs((double)below_middle / N - expected), <, 0.03);
  }
}

/* Noisy samples written as a camera writes them: the same noise, then a
 * high-quality JPEG, whose 8×8 quantization core/jpeg-trace.c finds in
 * them and not in the same samples without it. */
static void
test_photo_camera_jpeg(void)
{
  const int h = 128, w = 128;
  gsize n = (gsize)3 * h * w;
  /* Colours away from 0 and 1: the trace leaves out clipped blocks. */
  float *clean = g_new(float, n), *plain = g_new(float, n), *camera = g_new(float, n);
  for (int c = 0; c < 3; c++)
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        clean[((gsize)c * h + y) * w + x] = 0.5f + 0.25f * sinf(0.11f * x * (c + 1) + 0.07f * y);
  float *scratch = g_new(float, aenet_degrade_camera_scratch_size(h, w));
  AenetPhotoMix mix = { .p_processed = 1.0f, .sigma_max = 8.0f, .p_camera_jpeg = 0.0f,
                        .camera_jpeg_min = 88, .camera_jpeg_max = 92 };
  GError *error = NULL;
  for (int seed = 0; seed < 4; seed++) {
    AenetRng rng;
    memcpy(plain, clean, n * sizeof(float));
    memcpy(camera, clean, n * sizeof(float));
    mix.p_camera_jpeg = 0.0f;
    aenet_rng_init(&rng, 20 + seed);
    g_assert_true(aenet_degrade_photo(plain, scratch, h, w, &mix, &rng, &error));
    mix.p_camera_jpeg = 1.0f;
    aenet_rng_init(&rng, 20 + seed);
    g_assert_true(aenet_degrade_photo(camera, scratch, h, w, &mix, &rng, &error));
    g_assert_no_error(error);
    double diff = 0;
    for (gsize i = 0; i < n; i++)
      diff += fabsf(camera[i] - plain[i]);
    g_test_message("seed %d: the camera's JPEG changed the noisy image by %.2f levels", seed,
                   diff / n * 255);
    g_assert_cmpfloat(diff / n * 255, >, 0.1);
    g_assert_cmpfloat(aenet_jpeg_trace(plain, 3, h, w, NULL, &error), <, AENET_JPEG_TRACE_THRESHOLD);
    g_assert_cmpfloat(aenet_jpeg_trace(camera, 3, h, w, NULL, &error), >, AENET_JPEG_TRACE_THRESHOLD);
    g_assert_no_error(error);
  }
  g_free(clean);
  g_free(plain);
  g_free(camera);
  g_free(scratch);
}

/* The strong-JPEG mix: every sample a JPEG whose first horizontal step
 * is libjpeg's at quality 75 (6) or coarser, the kind of image the job
 * gives its denoiser. */
static void
test_photo_strong_jpeg(void)
{
  const int h = 256, w = 256;
  gsize n = (gsize)3 * h * w;
  float *clean = g_new(float, n), *image = g_new(float, n);
  AenetRng rng;
  aenet_rng_init(&rng, 5);
  for (int c = 0; c < 3; c++)
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        clean[((gsize)c * h + y) * w + x] = 0.5f + 0.2f * sinf(0.3f * x + 0.2f * y + c)
                                            + 0.1f * (float)aenet_rng_uniform(&rng);
  float *scratch = g_new(float, aenet_degrade_camera_scratch_size(h, w));
  GError *error = NULL;
  for (int seed = 0; seed < 8; seed++) {
    memcpy(image, clean, n * sizeof(float));
    aenet_rng_init(&rng, 40 + seed);
    g_assert_true(aenet_degrade_photo(image, scratch, h, w, &aenet_photo_mix_strong_jpeg, &rng,
                                      &error));
    g_assert_no_error(error);
    int step;
    double trace = aenet_jpeg_trace(image, 3, h, w, &step, &error);
    g_assert_no_error(error);
    g_test_message("seed %d: trace %.3f, step %d", seed, trace, step);
    g_assert_cmpfloat(trace, >, AENET_JPEG_TRACE_THRESHOLD);
    g_assert_cmpint(step, >=, 6);
  }
  g_free(clean);
  g_free(image);
  g_free(scratch);
}

/* The share of brightness (the same change in R, G and B) in what a mix
 * adds to a smooth patch, over many samples. */
static double
photo_mix_luma_share(const AenetPhotoMix *mix)
{
  const int h = 64, w = 64;
  gsize plane = (gsize)h * w;
  float *clean = g_new(float, 3 * plane), *image = g_new(float, 3 * plane);
  for (int c = 0; c < 3; c++)
    for (gsize i = 0; i < plane; i++)
      clean[c * plane + i] = 0.3f + 0.1f * c + 0.2f * (float)(i % w) / w;
  float *scratch = g_new(float, aenet_degrade_camera_scratch_size(h, w));
  AenetRng rng;
  aenet_rng_init(&rng, 11);
  double luma = 0, total = 0;
  for (int k = 0; k < 400; k++) {
    memcpy(image, clean, 3 * plane * sizeof(float));
    GError *error = NULL;
    g_assert_true(aenet_degrade_photo(image, scratch, h, w, mix, &rng, &error));
    g_assert_no_error(error);
    for (gsize i = 0; i < plane; i++) {
      double d[3], mean = 0;
      for (int c = 0; c < 3; c++)
        mean += (d[c] = image[c * plane + i] - clean[c * plane + i]) / 3;
      for (int c = 0; c < 3; c++) {
        luma += mean * mean;
        total += d[c] * d[c];
      }
    }
  }
  g_free(clean);
  g_free(image);
  g_free(scratch);
  return luma / total;
}

/* Cameras' grain: mostly brightness, where the photo mix's noise is mostly
 * colour; the colour noise of its processed part at most as strong, half
 * of that part banded. */
static void
test_photo_camera_grain(void)
{
  double grain = photo_mix_luma_share(&aenet_photo_mix_camera_grain);
  double task = photo_mix_luma_share(&aenet_photo_mix_denoise);
  g_test_message("brightness share: camera grain %.2f, photo mix %.2f", grain, task);
  g_assert_cmpfloat(grain, >, task + 0.1);
  AenetRng rng;
  aenet_rng_init(&rng, 4);
  const AenetPhotoMix *mix = &aenet_photo_mix_camera_grain;
  int banded = 0, columns = 0;
  for (int k = 0; k < 400; k++) {
    AenetProcessedNoise noise;
    aenet_processed_noise_random(&noise, mix, &rng);
    g_assert_cmpfloat(noise.chroma_ratio, >=, 0.25f);
    g_assert_cmpfloat(noise.chroma_ratio, <=, 1.0f);
    g_assert_cmpfloat(noise.band_sigma, <=, 0.35f * noise.luma_sigma + 1e-6f);
    g_assert_cmpfloat(noise.band_correlation, <=, 0.95f);
    banded += noise.band_sigma > 0;
    columns += noise.band_columns;
  }
  g_assert_cmpint(banded, >, 160);
  g_assert_cmpint(banded, <, 240);
  g_assert_cmpint(columns, >, banded / 5);
  g_assert_cmpint(columns, <, banded / 2);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/degrade/gaussian", test_gaussian);
  g_test_add_func("/degrade/poisson-gaussian", test_poisson_gaussian);
  g_test_add_func("/degrade/jpeg", test_jpeg);
  g_test_add_func("/degrade/photo-jpeg-quality", test_photo_jpeg_quality);
  g_test_add_func("/degrade/photo-camera-jpeg", test_photo_camera_jpeg);
  g_test_add_func("/degrade/photo-strong-jpeg", test_photo_strong_jpeg);
  g_test_add_func("/degrade/photo-camera-grain", test_photo_camera_grain);
  g_test_add_func("/degrade/processed-mottle", test_processed_mottle);
  g_test_add_func("/degrade/downscale", test_downscale);
  g_test_add_func("/degrade/quantize", test_quantize);
  g_test_add_func("/degrade/camera-curves", test_camera_curves);
  g_test_add_func("/degrade/camera-random", test_camera_random);
  g_test_add_func("/degrade/camera-demosaic", test_camera_demosaic);
  g_test_add_func("/degrade/camera", test_camera_degrade);
  g_test_add_func("/degrade/processed-noise", test_processed_noise);
  g_test_add_func("/degrade/processed-banding", test_processed_banding);
  g_test_add_func("/degrade/photo-scene", test_photo_scene);
  g_test_add_func("/degrade/photo", test_photo);
  return g_test_run();
}
