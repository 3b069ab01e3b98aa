/* test-job.c — the job (job.h): which model an automatic noise level uses
 * (the blind photo model when installed, else the noise-level model and
 * an estimate: the fallback), the level given reaching the network on the
 * 0–1 scale, strength blending, the one estimate policy, and the models
 * for JPEGs (the upscaler for any JPEG, the denoiser for strong ones).
 *
 * The models are tiny and written here, with outputs known in closed form:
 *   "denoise"        out = in + sigma / 255 (a 1×1 convolution that adds
 *                    the noise-level channel), so the output tells the
 *                    level the network got;
 *   "denoise-photo"  out = in / 2, blind (no noise_level op). */
#include "config.h"

#include <math.h>
#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "error.h"
#include "job.h"
#include "noise-estimate.h"
#include "testutil.h"

enum { W = 96, H = 80, C = 3 };

static char *dir; /* the test's model folder */

static void
save_task_model(const char *task, const char *name, const char *graph, const float *weights,
                gsize n)
{
  GError *error = NULL;
  AenetModel *m = aenet_model_new(task, graph, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(aenet_network_get_n_params(m->network), ==, n);
  memcpy(aenet_network_get_params(m->network), weights, n * sizeof(float));
  aenet_model_set_meta(m, "name", name);
  char *file = g_strdup_printf("%s/%s.safetensors", dir, name);
  g_assert_true(aenet_model_save(m, file, &error));
  g_assert_no_error(error);
  g_free(file);
  aenet_model_free(m);
}

static void
save_model(const char *name, const char *graph, const float *weights, gsize n)
{
  save_task_model("denoise", name, graph, weights, n);
}

static void
save_sigma_model(void)
{
  /* 4 inputs (R, G, B, level) to 3: identity plus the level. */
  float w[3 * 4] = { 0 };
  for (int o = 0; o < 3; o++)
    w[o * 4 + o] = w[o * 4 + 3] = 1.0f;
  save_model("denoise",
             "[{\"op\":\"input\",\"channels\":3},{\"op\":\"noise_level\"},"
             "{\"op\":\"concat\",\"in\":[0,1]},"
             "{\"op\":\"conv\",\"out\":3,\"k\":1,\"bias\":false}]",
             w, G_N_ELEMENTS(w));
}

/* A blind denoiser that gives gain · in. */
static void
save_gain_model(const char *name, float gain)
{
  float w[3 * 3] = { 0 };
  for (int o = 0; o < 3; o++)
    w[o * 3 + o] = gain;
  save_model(
      name,
      "[{\"op\":\"input\",\"channels\":3},{\"op\":\"conv\",\"out\":3,\"k\":1,\"bias\":false}]", w,
      G_N_ELEMENTS(w));
}

static void
save_blind_model(void)
{
  save_gain_model("denoise-photo", 0.5f);
}

/* A smooth pattern with Gaussian noise of sigma 12/255, planar (C, H, W). */
static float *
noisy_image(void)
{
  float *im = g_new(float, C *H *W);
  GRand *r = g_rand_new_with_seed(7);
  for (int c = 0; c < C; c++)
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++) {
        double u1 = g_rand_double_range(r, 1e-9, 1), u2 = g_rand_double(r);
        double n = 12.0 / 255 * sqrt(-2 * log(u1)) * cos(2 * G_PI * u2);
        im[(c * H + y) * W + x] = (float)(0.5 + 0.2 * sin(0.05 * x + 0.03 * y + c) + n);
      }
  g_rand_free(r);
  return im;
}

/* Interleaved (H, W, C) in memory as the job's image. */
typedef struct {
  float *in, *out;
} Mem;

static gboolean
mem_read(void *user, int x, int y, int w, int h, float *dst, GError **error)
{
  Mem *m = user;
  for (int r = 0; r < h; r++)
    memcpy(dst + (gsize)r * w * C, m->in + ((gsize)(y + r) * W + x) * C, sizeof(float) * w * C);
  return TRUE;
}

static gboolean
mem_write(void *user, int x, int y, int w, int h, const float *src, GError **error)
{
  Mem *m = user;
  for (int r = 0; r < h; r++)
    memcpy(m->out + ((gsize)(y + r) * W + x) * C, src + (gsize)r * w * C, sizeof(float) * w * C);
  return TRUE;
}

/* Runs a denoise job with these settings on the noisy image; returns the
 * largest difference of out from a * in + b, and the job's level. */
static double last_removed, last_expected_removed; /* the last run's, 0–255 */

static double
run_denoise(const char *model, double level, double strength, float a, float b, double *sigma,
            gboolean *fallback, const char **used)
{
  const AenetTask *task = aenet_task_find("denoise");
  AenetJobSettings s;
  GError *error = NULL;
  aenet_job_settings_init(&s, task);
  s.model = model;
  s.noise_level = level;
  s.strength = strength;
  AenetJob *job = aenet_job_new(task, &s, &error);
  g_assert_no_error(error);
  g_assert_nonnull(job);

  float *planar = noisy_image();
  Mem m = { g_new(float, C *H *W), g_new(float, C *H *W) };
  for (int c = 0; c < C; c++)
    for (int i = 0; i < H * W; i++)
      m.in[i * C + c] = planar[c * H * W + i];
  AenetImageIO io = { W, H, C, mem_read, mem_write, &m };
  g_assert_true(aenet_job_run(job, &io, NULL, &error));
  g_assert_no_error(error);
  *sigma = aenet_job_get_noise_level(job);
  *fallback = aenet_job_is_fallback(job);
  static char name[64];
  g_strlcpy(name, aenet_model_get_display_name(aenet_job_get_model(job)), sizeof name);
  *used = name;

  double worst = 0, removed = 0;
  for (int i = 0; i < C * H * W; i++) {
    worst = MAX(worst, fabs(m.out[i] - (a * m.in[i] + b)));
    removed += (m.out[i] - m.in[i]) * (m.out[i] - m.in[i]);
  }
  /* At full strength the network's change; the blend scales it. */
  last_expected_removed = 255 * sqrt(removed / (C * H * W)) / MAX(strength, 1e-9);
  last_removed = aenet_job_get_removed_level(job);
  g_free(planar);
  g_free(m.in);
  g_free(m.out);
  aenet_job_free(job);
  return worst;
}

/* No photo model installed: automatic uses the noise-level model with the
 * estimate, and says it fell back. */
static void
test_fallback(void)
{
  char *other = aenet_model_find("denoise-photo", NULL);
  if (other != NULL) {
    g_test_skip("a denoise-photo model is installed on this machine");
    g_free(other);
    return;
  }
  double sigma;
  gboolean fallback;
  const char *used;
  /* The level is not known before: run once to learn it, check the output. */
  run_denoise(NULL, -1, 1.0, 1, 0, &sigma, &fallback, &used);
  g_assert_true(fallback);
  g_assert_cmpstr(used, ==, "denoise");
  g_assert_cmpfloat(sigma, >, 8);
  g_assert_cmpfloat(sigma, <, 16);
  double d = run_denoise(NULL, -1, 1.0, 1, (float)(sigma / 255), &sigma, &fallback, &used);
  g_assert_cmpfloat(d, <, 1e-5);
}

/* With the photo model installed, automatic uses it (and still reports an
 * estimate); a level given uses the noise-level model at that level. */
static void
test_blind(void)
{
  save_blind_model();
  double sigma;
  gboolean fallback;
  const char *used;
  double d = run_denoise(NULL, -1, 1.0, 0.5f, 0, &sigma, &fallback, &used);
  g_assert_cmpfloat(d, <, 1e-5);
  g_assert_false(fallback);
  g_assert_cmpstr(used, ==, "denoise-photo");
  g_assert_cmpfloat(sigma, ==, -1); /* needs no level */
  /* What it removed is shown: the RMS of in / 2, about 0.5 · 255 / 2. */
  g_assert_cmpfloat_with_epsilon(last_removed, last_expected_removed, 1e-3);
  g_assert_cmpfloat(last_removed, >, 50);
  /* Strength 0.5: halfway between in and in / 2; the network removed as much. */
  double full = last_removed;
  d = run_denoise(NULL, -1, 0.5, 0.75f, 0, &sigma, &fallback, &used);
  g_assert_cmpfloat(d, <, 1e-5);
  g_assert_cmpfloat_with_epsilon(last_removed, full, 1e-3);
  g_assert_cmpfloat_with_epsilon(last_removed, last_expected_removed, 1e-3);
  /* Level 10: the noise-level model, which gets 10 / 255. */
  d = run_denoise(NULL, 10, 1.0, 1, 10.0f / 255, &sigma, &fallback, &used);
  g_assert_cmpfloat(d, <, 1e-5);
  g_assert_cmpstr(used, ==, "denoise");
  g_assert_cmpfloat(sigma, ==, 10);
  /* A model named: that one, whatever the level. */
  d = run_denoise("denoise", -1, 1.0, 1, (float)(sigma / 255), &sigma, &fallback, &used);
  g_assert_cmpstr(used, ==, "denoise");
  g_assert_false(fallback);
}

/* ---- The models for JPEGs -------------------------------------------------
 *
 * "upscale-x2" repeats each pixel 2 × 2 times, "upscale-x2-photo" does the
 * same at half the value, so the output tells which ran; the denoisers'
 * gains tell theirs. */
enum { UW = 160, UH = 128 };

static void
save_upscaler(const char *name, float gain)
{
  /* Sub-pixel k of colour c is output channel 4c + k (channel-major shuffle). */
  float w[12 * 3] = { 0 };
  for (int c = 0; c < 3; c++)
    for (int k = 0; k < 4; k++)
      w[(4 * c + k) * 3 + c] = gain;
  save_task_model("upscale", name,
                  "[{\"op\":\"input\",\"channels\":3},"
                  "{\"op\":\"conv\",\"out\":12,\"k\":1,\"bias\":false},"
                  "{\"op\":\"shuffle\",\"in\":[1],\"factor\":2}]",
                  w, G_N_ELEMENTS(w));
}

/* A gray image (R = G = B) of smooth shapes and fine noise, interleaved
 * (UH, UW, 3), 8-bit; with a step, each 8×8 block's DCT coefficients
 * rounded to its multiples first, as a JPEG encoder does. */
static float *
blocks_test_image(int step)
{
  float basis[8][8];
  for (int k = 0; k < 8; k++)
    for (int x = 0; x < 8; x++)
      basis[k][x] = (float)((k == 0 ? M_SQRT1_2 : 1.0) / 2 * cos((2 * x + 1) * k * G_PI / 16));
  GRand *r = g_rand_new_with_seed(3);
  float *gray = g_new(float, UW * UH);
  for (int y = 0; y < UH; y++)
    for (int x = 0; x < UW; x++)
      gray[y * UW + x] = (float)(128 + 60 * sin(0.07 * x) * cos(0.05 * y)
                                 + g_rand_double_range(r, -20, 20));
  g_rand_free(r);
  for (int by = 0; step > 0 && by < UH; by += 8)
    for (int bx = 0; bx < UW; bx += 8) {
      float f[8][8] = { { 0 } };
      for (int v = 0; v < 8; v++)
        for (int u = 0; u < 8; u++) {
          for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++)
              f[v][u] += basis[v][y] * basis[u][x] * gray[(by + y) * UW + bx + x];
          f[v][u] = step * rintf(f[v][u] / step);
        }
      for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++) {
          float p = 0;
          for (int v = 0; v < 8; v++)
            for (int u = 0; u < 8; u++)
              p += basis[v][y] * basis[u][x] * f[v][u];
          gray[(by + y) * UW + bx + x] = p;
        }
    }
  float *im = g_new(float, UW * UH * 3);
  for (int i = 0; i < UW * UH; i++)
    im[i * 3] = im[i * 3 + 1] = im[i * 3 + 2] = CLAMP(rintf(gray[i]), 1.0f, 254.0f) / 255;
  g_free(gray);
  return im;
}

typedef struct {
  const float *in;
  float *out;
  int scale; /* of out */
} BlocksMem;

static gboolean
blocks_read(void *user, int x, int y, int w, int h, float *dst, GError **error)
{
  const BlocksMem *m = user;
  for (int r = 0; r < h; r++)
    memcpy(dst + (gsize)r * w * 3, m->in + ((gsize)(y + r) * UW + x) * 3, sizeof(float) * w * 3);
  return TRUE;
}

static gboolean
blocks_write(void *user, int x, int y, int w, int h, const float *src, GError **error)
{
  BlocksMem *m = user;
  for (int r = 0; r < h; r++)
    memcpy(m->out + ((gsize)(y + r) * m->scale * UW + x) * 3, src + (gsize)r * w * 3,
           sizeof(float) * w * 3);
  return TRUE;
}

/* Runs the task with the job on the image of blocks_test_image(step), at
 * the noise level given (denoising; -1 automatic); returns out / in at the
 * first pixel (the gain of the model that ran) and whether a JPEG was
 * found. */
static float
run_on_blocks(const char *task_name, const char *model, double level, int step, gboolean *jpeg,
              const char **used)
{
  const AenetTask *task = aenet_task_find(task_name);
  AenetJobSettings s;
  GError *error = NULL;
  aenet_job_settings_init(&s, task);
  s.model = model;
  if (aenet_task_get_param(task, AENET_PARAM_NOISE_LEVEL) != NULL)
    s.noise_level = level;
  AenetJob *job = aenet_job_new(task, &s, &error);
  g_assert_no_error(error);
  float *in = blocks_test_image(step);
  int scale = aenet_job_get_scale(job);
  BlocksMem m = { in, g_new(float, UW * UH * 3 * scale * scale), scale };
  AenetImageIO io = { UW, UH, 3, blocks_read, blocks_write, &m };
  g_assert_true(aenet_job_run(job, &io, NULL, &error));
  g_assert_no_error(error);
  *jpeg = aenet_job_jpeg_input(job);
  static char name[64];
  g_strlcpy(name, aenet_model_get_display_name(aenet_job_get_model(job)), sizeof name);
  *used = name;
  float gain = m.out[0] / in[0];
  g_free(in);
  g_free(m.out);
  aenet_job_free(job);
  return gain;
}

/* The upscale test's run: "upscale", no level, JPEG's step 12 or none. */
static float
run_upscale(const char *model, gboolean quantize, gboolean *jpeg, const char **used)
{
  return run_on_blocks("upscale", model, -1, quantize ? 12 : 0, jpeg, used);
}

/* Images that show JPEG's quantization go to the JPEG upscaler when it is
 * installed; clean ones, a named model, or no JPEG upscaler: the default. */
static void
test_jpeg_upscaler(void)
{
  gboolean jpeg;
  const char *used;
  save_upscaler("upscale-x2", 1.0f);
  char *other = aenet_model_find("upscale-x2-photo", NULL);
  if (other == NULL) {
    g_assert_cmpfloat(run_upscale(NULL, TRUE, &jpeg, &used), ==, 1.0f); /* none installed yet */
    g_assert_cmpstr(used, ==, "upscale-x2");
  }
  g_free(other);
  save_upscaler("upscale-x2-photo", 0.5f);
  g_assert_cmpfloat(run_upscale(NULL, FALSE, &jpeg, &used), ==, 1.0f);
  g_assert_false(jpeg);
  g_assert_cmpfloat(run_upscale(NULL, TRUE, &jpeg, &used), ==, 0.5f);
  g_assert_true(jpeg);
  g_assert_cmpstr(used, ==, "upscale-x2-photo");
  g_assert_cmpfloat(run_upscale("upscale-x2", TRUE, &jpeg, &used), ==, 1.0f);
  g_assert_false(jpeg);
  /* A broken JPEG upscaler is an error, not silently skipped. */
  char *file = g_build_filename(dir, "upscale-x2-photo.safetensors", NULL);
  g_assert_true(g_file_set_contents(file, "not a model", -1, NULL));
  const AenetTask *task = aenet_task_find("upscale");
  AenetJobSettings s;
  aenet_job_settings_init(&s, task);
  GError *error = NULL;
  g_assert_null(aenet_job_new(task, &s, &error));
  g_assert_nonnull(error);
  g_clear_error(&error);
  g_unlink(file);
  g_free(file);
}

/* Automatic denoising of a strongly compressed JPEG (step 12 and more)
 * uses the JPEG denoiser when it is installed; lighter JPEGs, clean
 * images, a level given by hand or a model named do not. "denoise-jpeg"
 * gives in / 4 (blind), "denoise-photo" in / 2, "denoise" in + level. */
static void
test_jpeg_denoiser(void)
{
  gboolean jpeg;
  const char *used;
  save_blind_model();
  save_gain_model("denoise-jpeg", 0.25f);
  g_assert_cmpfloat(run_on_blocks("denoise", NULL, -1, 12, &jpeg, &used), ==, 0.25f);
  g_assert_true(jpeg);
  g_assert_cmpstr(used, ==, "denoise-jpeg");
  g_assert_cmpfloat(run_on_blocks("denoise", NULL, -1, 16, &jpeg, &used), ==, 0.25f);
  /* Step 4 (libjpeg's quality 82): the photo model, as for no JPEG. */
  g_assert_cmpfloat(run_on_blocks("denoise", NULL, -1, 4, &jpeg, &used), ==, 0.5f);
  g_assert_false(jpeg);
  g_assert_cmpfloat(run_on_blocks("denoise", NULL, -1, 0, &jpeg, &used), ==, 0.5f);
  g_assert_cmpstr(used, ==, "denoise-photo");
  /* A level by hand: the noise-level model, which adds it. */
  g_assert_cmpfloat(run_on_blocks("denoise", NULL, 10, 12, &jpeg, &used), >, 1.0f);
  g_assert_false(jpeg);
  g_assert_cmpstr(used, ==, "denoise");
  g_assert_cmpfloat(run_on_blocks("denoise", "denoise-photo", -1, 12, &jpeg, &used), ==, 0.5f);
  g_assert_false(jpeg);
  /* With a level by hand the JPEG model is not even read: a damaged one
   * fails automatic jobs only. */
  char *file = g_build_filename(dir, "denoise-jpeg.safetensors", NULL);
  g_assert_true(g_file_set_contents(file, "not a model", -1, NULL));
  g_assert_cmpfloat(run_on_blocks("denoise", NULL, 10, 12, &jpeg, &used), >, 1.0f);
  AenetJobSettings settings;
  aenet_job_settings_init(&settings, aenet_task_find("denoise"));
  GError *error = NULL;
  g_assert_null(aenet_job_new(aenet_task_find("denoise"), &settings, &error));
  g_assert_error(error, AENET_ERROR, AENET_ERROR_FORMAT);
  g_clear_error(&error);
  g_unlink(file);
  g_free(file);
}

/* The estimate is the estimator's on the region's central crop. */
static void
test_estimate_policy(void)
{
  float *planar = noisy_image();
  Mem m = { g_new(float, C *H *W), NULL };
  for (int c = 0; c < C; c++)
    for (int i = 0; i < H * W; i++)
      m.in[i * C + c] = planar[c * H * W + i];
  AenetImageIO io = { W, H, C, mem_read, mem_write, &m };
  AenetJobRegion region;
  aenet_job_region_init(&region);
  region.roi_x = 10, region.roi_y = 6, region.roi_width = 64, region.roi_height = 60;
  GError *error = NULL;
  double got = aenet_job_estimate_noise(&io, &region, &error);
  g_assert_no_error(error);
  float *crop = g_new(float, C * 64 * 60);
  for (int c = 0; c < C; c++)
    for (int y = 0; y < 60; y++)
      for (int x = 0; x < 64; x++)
        crop[(c * 60 + y) * 64 + x] = CLAMP(planar[(c * H + y + 6) * W + x + 10], 0.0f, 1.0f);
  double want = aenet_noise_estimate(crop, C, 60, 64, &error);
  g_assert_no_error(error);
  g_assert_cmpfloat(got, ==, want);
  g_free(crop);
  g_free(planar);
  g_free(m.in);
}

/* Values out of the task's ranges are refused with the row's message. */
static void
test_settings_check(void)
{
  const AenetTask *task = aenet_task_find("denoise");
  AenetJobSettings s;
  GError *error = NULL;
  aenet_job_settings_init(&s, task);
  g_assert_cmpfloat(s.noise_level, <, 0);
  g_assert_true(aenet_job_settings_check(&s, task, &error));
  s.noise_level = 80;
  g_assert_false(aenet_job_settings_check(&s, task, &error));
  g_assert_error(error, AENET_ERROR, AENET_ERROR_INVALID);
  g_assert_nonnull(strstr(error->message, "The noise level 80 is out of range"));
  g_clear_error(&error);
  s.noise_level = 75;
  s.strength = NAN;
  g_assert_false(aenet_job_settings_check(&s, task, &error));
  g_clear_error(&error);
  s.strength = 1;
  g_assert_cmpint(s.passes, ==, 1);
  s.passes = AENET_MAX_PASSES;
  g_assert_true(aenet_job_settings_check(&s, task, &error));
  for (int passes = 0; passes <= AENET_MAX_PASSES + 1; passes += AENET_MAX_PASSES + 1) {
    s.passes = passes;
    g_assert_false(aenet_job_settings_check(&s, task, &error));
    g_assert_nonnull(strstr(error->message, "number of passes"));
    g_clear_error(&error);
  }
  task = aenet_task_find("upscale");
  aenet_job_settings_init(&s, task);
  g_assert_cmpint(s.scale, ==, 2);
  s.scale = 5;
  g_assert_false(aenet_job_settings_check(&s, task, &error));
  g_clear_error(&error);
  char *name = aenet_task_default_model(task, 3);
  g_assert_cmpstr(name, ==, "upscale-x3");
  g_free(name);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  dir = test_tmpdir_new();
  g_setenv("AENET_MODEL_PATH", dir, TRUE);
  g_setenv("XDG_DATA_HOME", dir, TRUE);
  save_sigma_model();
  g_test_add_func("/job/settings-check", test_settings_check);
  g_test_add_func("/job/estimate-policy", test_estimate_policy);
  g_test_add_func("/job/automatic-falls-back", test_fallback);
  g_test_add_func("/job/automatic-uses-blind-model", test_blind);
  g_test_add_func("/job/jpeg-upscaler", test_jpeg_upscaler);
  g_test_add_func("/job/jpeg-denoiser", test_jpeg_denoiser);
  int status = g_test_run();
  test_tmpdir_remove(dir);
  g_free(dir);
  return status;
}
