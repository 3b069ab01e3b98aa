/* test-tiler.c — tiled output equals whole-image output for every tile
 * size; alpha, gray, regions, budgets, cancelling and errors. */
#include <math.h>
#include <string.h>

#include "error.h"
#include "network.h"
#include "presets.h"
#include "resize.h"
#include "testutil.h"
#include "tiler.h"

/* An interleaved image in memory with a record of what was written. */
typedef struct {
  int w, h, nc, scale;
  float *in;  /* (h, w, nc) */
  float *out; /* (h*s, w*s, nc), NAN where never written */
  int reads, writes;
  int fail_read_after; /* -1 = never */
  volatile int *cancel_after_first_write;
} Image;

static gboolean
image_read(void *user, int x, int y, int w, int h, float *dst, GError **error)
{
  Image *im = user;
  g_assert_cmpint(x, >=, 0);
  g_assert_cmpint(y, >=, 0);
  g_assert_cmpint(x + w, <=, im->w);
  g_assert_cmpint(y + h, <=, im->h);
  if (im->fail_read_after >= 0 && im->reads >= im->fail_read_after) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_IO, "disk on fire");
    return FALSE;
  }
  im->reads++;
  for (int r = 0; r < h; r++)
    memcpy(dst + (gsize)r * w * im->nc, im->in + ((gsize)(y + r) * im->w + x) * im->nc,
           (gsize)w * im->nc * sizeof(float));
  return TRUE;
}

static gboolean
image_write(void *user, int x, int y, int w, int h, const float *src, GError **error)
{
  Image *im = user;
  int ow = im->w * im->scale;
  g_assert_cmpint(x + w, <=, ow);
  g_assert_cmpint(y + h, <=, im->h * im->scale);
  for (int r = 0; r < h; r++)
    memcpy(im->out + ((gsize)(y + r) * ow + x) * im->nc, src + (gsize)r * w * im->nc,
           (gsize)w * im->nc * sizeof(float));
  im->writes++;
  if (im->cancel_after_first_write != NULL)
    *im->cancel_after_first_write = 1;
  return TRUE;
}

static Image *
image_new(int w, int h, int nc, int scale, guint64 seed)
{
  Image *im = g_new0(Image, 1);
  im->w = w, im->h = h, im->nc = nc, im->scale = scale;
  im->fail_read_after = -1;
  gsize n = (gsize)w * h * nc, on = n * scale * scale;
  im->in = g_new(float, n);
  im->out = g_new(float, on);
  AenetRng rng;
  aenet_rng_init(&rng, seed);
  /* Smooth structure plus noise, so tiles see varied content. */
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < nc; c++)
        im->in[((gsize)y * w + x) * nc + c] = 0.5f + 0.3f * sinf(x * 0.11f + c) * cosf(y * 0.07f)
                                              + 0.1f * (float)aenet_rng_normal(&rng);
  for (gsize i = 0; i < on; i++)
    im->out[i] = NAN;
  return im;
}

static void
image_free(Image *im)
{
  g_free(im->in);
  g_free(im->out);
  g_free(im);
}

static AenetImageIO
image_io(Image *im)
{
  AenetImageIO io = { im->w, im->h, im->nc, image_read, image_write, im };
  return io;
}

static AenetNetwork *
preset_network(const char *name)
{
  GError *error = NULL;
  const AenetPreset *p = aenet_preset_find(name, &error);
  g_assert_no_error(error);
  char *json = aenet_preset_build_graph(p);
  AenetNetwork *net = aenet_network_new(json, strlen(json), &error);
  g_assert_no_error(error);
  g_free(json);
  aenet_network_init_params(net, 42);
  /* Random biases too, so the output is far from the identity. */
  AenetRng rng;
  aenet_rng_init(&rng, 43);
  for (guint i = 0; i < aenet_network_get_n_param_tensors(net); i++) {
    const AenetParamInfo *pi = aenet_network_get_param_info(net, i);
    if (pi->n_dims == 1)
      test_fill_uniform(aenet_network_get_params(net) + pi->offset, pi->n_elements, &rng, -0.1f,
                        0.1f);
  }
  return net;
}

/* Runs the network with the given tile edge, threads, budget and passes;
 * returns the output. */
static float *
run_passes_budget(const AenetNetwork *net, Image *im, int tile, int threads, gsize budget,
                  int passes)
{
  AenetImageIO io = image_io(im);
  AenetTilerOptions opt;
  aenet_tiler_options_init(&opt);
  opt.tile = tile;
  opt.memory_budget = budget;
  opt.n_threads = threads;
  opt.noise_level = 0.1f;
  opt.passes = passes;
  GError *error = NULL;
  gboolean ok = aenet_tiler_run(net, &io, &opt, &error);
  g_assert_no_error(error);
  g_assert_true(ok);
  gsize on = (gsize)im->w * im->h * im->nc * im->scale * im->scale;
  for (gsize i = 0; i < on; i++)
    if (isnan(im->out[i]))
      g_error("output sample %zu was never written (tile %d)", i, tile);
  float *copy = g_memdup2(im->out, on * sizeof(float));
  for (gsize i = 0; i < on; i++)
    im->out[i] = NAN;
  return copy;
}

static float *
run_budget(const AenetNetwork *net, Image *im, int tile, int threads, gsize budget)
{
  return run_passes_budget(net, im, tile, threads, budget, 1);
}

static float *
run_passes(const AenetNetwork *net, Image *im, int tile, int threads, int passes)
{
  return run_passes_budget(net, im, tile, threads, 0, passes);
}

static float *
run_tiled(const AenetNetwork *net, Image *im, int tile, int threads)
{
  return run_budget(net, im, tile, threads, 0);
}

static void
check_seamless(const char *preset, int w, int h, int nc)
{
  AenetNetwork *net = preset_network(preset);
  int s = aenet_network_get_scale(net);
  Image *im = image_new(w, h, nc, s, 7);
  gsize on = (gsize)w * h * nc * s * s;
  /* One tile covering everything is the whole-image result. */
  float *whole = run_tiled(net, im, MAX(w, h), 1);
  int align = aenet_network_get_alignment(net);
  int tiles[] = { align, 2 * align, 24, 40, 64, 100 };
  for (guint t = 0; t < G_N_ELEMENTS(tiles); t++)
    for (int threads = 1; threads <= 2; threads++) {
      float *tiled = run_tiled(net, im, tiles[t], threads);
      double diff = test_max_abs_diff(whole, tiled, on);
      g_test_message("%s %d×%d×%d tile %d threads %d: max difference %.2e", preset, w, h, nc,
                     tiles[t], threads, diff);
      if (diff > 1e-5)
        g_error("%s: tile %d with %d threads differs from the whole image by %g", preset, tiles[t],
                threads, diff);
      g_free(tiled);
    }
  /* Tiles chosen from a small budget are rectangles that split the image
   * evenly; the result is the same. */
  gsize budget = aenet_tiler_memory_for_tile(net, nc, 3 * align, 3 * align, 2, 1);
  int writes = im->writes;
  float *auto_tiled = run_budget(net, im, 0, 2, budget);
  g_assert_cmpint(im->writes - writes, >, 4);
  double diff = test_max_abs_diff(whole, auto_tiled, on);
  g_test_message("%s: tiles from a %zu KiB budget: max difference %.2e", preset, budget >> 10,
                 diff);
  g_assert_cmpfloat(diff, <=, 1e-5);
  g_free(auto_tiled);
  g_free(whole);
  image_free(im);
  aenet_network_free(net);
}

static void
test_seamless_denoise(void)
{
  check_seamless("unet-denoise-small", 101, 67, 3);
}

static void
test_seamless_upscale(void)
{
  check_seamless("unet-x3", 45, 38, 3);
}

/* NAFNet's blocks: layer norms, gates, depthwise convolutions. */
static void
test_seamless_naf(void)
{
  check_seamless("naf-denoise", 53, 38, 3);
  check_seamless("naf-photo", 50, 33, 3);
}

static void
test_alpha_and_gray(void)
{
  /* Denoising keeps alpha exactly; gray is the mean of the colour result. */
  AenetNetwork *net = preset_network("unet-denoise-small");
  Image *rgba = image_new(50, 41, 4, 1, 3);
  float *out = run_tiled(net, rgba, 24, 2);
  for (gsize i = 0; i < (gsize)50 * 41; i++)
    g_assert_cmpfloat(out[i * 4 + 3], ==, rgba->in[i * 4 + 3]);
  g_free(out);

  Image *gray = image_new(50, 41, 1, 1, 4);
  Image *rgb = image_new(50, 41, 3, 1, 4);
  for (gsize i = 0; i < (gsize)50 * 41; i++)
    for (int c = 0; c < 3; c++)
      rgb->in[i * 3 + c] = gray->in[i];
  float *g = run_tiled(net, gray, 32, 1), *c = run_tiled(net, rgb, 32, 1);
  for (gsize i = 0; i < (gsize)50 * 41; i++)
    g_assert_cmpfloat(fabs(g[i] - (c[i * 3] + c[i * 3 + 1] + c[i * 3 + 2]) / 3), <, 1e-6);
  g_free(g), g_free(c);
  image_free(gray), image_free(rgb), image_free(rgba);
  aenet_network_free(net);

  /* Upscaling resizes alpha with bicubic: away from the edges it equals the
   * whole-image bicubic, whose edge handling differs. */
  net = preset_network("unet-x2");
  Image *ya = image_new(30, 26, 2, 2, 5);
  out = run_tiled(net, ya, 16, 2);
  float *alpha = g_new(float, 30 * 26), *up = g_new(float, 60 * 52);
  for (gsize i = 0; i < 30 * 26; i++)
    alpha[i] = ya->in[i * 2 + 1];
  float *scratch = g_new(float, aenet_resize_scratch_size(1, 26, 30, 52, 60));
  aenet_resize_bicubic(up, alpha, scratch, 1, 26, 30, 52, 60);
  for (int y = 8; y < 52 - 8; y++)
    for (int x = 8; x < 60 - 8; x++)
      g_assert_cmpfloat(fabs(out[((gsize)y * 60 + x) * 2 + 1] - up[y * 60 + x]), <, 1e-5);
  g_free(scratch), g_free(up), g_free(alpha), g_free(out);
  image_free(ya);
  aenet_network_free(net);
}

static void
test_region(void)
{
  /* A region gives the whole-image pixels inside it and writes nothing else. */
  AenetNetwork *net = preset_network("unet-denoise-small");
  Image *im = image_new(90, 70, 3, 1, 6);
  float *whole = run_tiled(net, im, 96, 1);
  AenetImageIO io = image_io(im);
  AenetTilerOptions opt;
  aenet_tiler_options_init(&opt);
  opt.roi_x = 13, opt.roi_y = 21, opt.roi_width = 40, opt.roi_height = 30;
  opt.tile = 16;
  opt.noise_level = 0.1f;
  GError *error = NULL;
  g_assert_true(aenet_tiler_run(net, &io, &opt, &error));
  g_assert_no_error(error);
  for (int y = 0; y < 70; y++)
    for (int x = 0; x < 90; x++)
      for (int c = 0; c < 3; c++) {
        gsize i = ((gsize)y * 90 + x) * 3 + c;
        gboolean inside = x >= 13 && x < 53 && y >= 21 && y < 51;
        if (inside)
          g_assert_cmpfloat(fabs(im->out[i] - whole[i]), <=, 1e-5);
        else
          g_assert_true(isnan(im->out[i]));
      }
  /* A region outside the image is refused. */
  opt.roi_x = 80;
  g_assert_false(aenet_tiler_run(net, &io, &opt, &error));
  g_assert_error(error, AENET_ERROR, AENET_ERROR_INVALID);
  g_clear_error(&error);
  g_free(whole);
  image_free(im);
  aenet_network_free(net);
}

static void
test_tiny_images(void)
{
  /* Images smaller than the network's reach mirror repeatedly. */
  AenetNetwork *net = preset_network("unet-denoise-small");
  for (int w = 1; w <= 5; w += 2) {
    Image *im = image_new(w, 2, 3, 1, w);
    float *a = run_tiled(net, im, 8, 1), *b = run_tiled(net, im, 64, 2);
    g_assert_cmpfloat(test_max_abs_diff(a, b, (gsize)w * 2 * 3), <=, 1e-5);
    g_free(a), g_free(b);
    image_free(im);
  }
  aenet_network_free(net);
}

static void
test_budget(void)
{
  AenetNetwork *net = preset_network("unet-denoise");
  Image *im = image_new(4000, 3000, 3, 1, 1);
  AenetImageIO io = image_io(im);
  AenetTilerOptions opt;
  aenet_tiler_options_init(&opt);
  opt.n_threads = 2;
  GError *error = NULL;
  gsize budgets[] = { 64u << 20, 256u << 20, 1024u << 20 };
  double previous = G_MAXDOUBLE;
  int align = aenet_network_get_alignment(net);
  for (guint i = 0; i < G_N_ELEMENTS(budgets); i++) {
    opt.memory_budget = budgets[i];
    AenetTilePlan plan;
    g_assert_true(aenet_tiler_plan(net, &io, &opt, &plan, &error));
    g_assert_no_error(error);
    g_test_message("budget %zu MiB: %d×%d tiles of %d×%d, %zu MiB, work %.3f", budgets[i] >> 20,
                   plan.tiles_x, plan.tiles_y, plan.tile_width, plan.tile_height, plan.memory >> 20,
                   plan.work);
    g_assert_cmpuint(plan.memory, <=, budgets[i]);
    g_assert_cmpuint(plan.memory, ==,
                     aenet_tiler_memory_for_tile(net, 3, plan.tile_width, plan.tile_height, 2, 1));
    g_assert_cmpint(plan.tile_width % align, ==, 0);
    g_assert_cmpint(plan.tile_height % align, ==, 0);
    g_assert_cmpint(plan.tiles_x * plan.tile_width, >=, 4000);
    g_assert_cmpint(plan.tiles_y * plan.tile_height, >=, 3000);
    /* The work is the tiles' multiply-adds over the image's. */
    double tile_macs = aenet_network_get_tile_macs(net, plan.tile_height, plan.tile_width);
    g_assert_cmpfloat(fabs(plan.work
                           - plan.tiles_x * plan.tiles_y * tile_macs
                                 / (aenet_network_get_macs_per_pixel(net) * 4000 * 3000)),
                      <, 1e-9);
    /* More memory, less overlap. */
    g_assert_cmpfloat(plan.work, <, previous);
    previous = plan.work;
    /* No square tile within the budget does less work per thread: rounds
     * of tiles times a tile's multiply-adds. */
    for (int side = align; side <= 4000; side += align) {
      if (aenet_tiler_memory_for_tile(net, 3, side, side, 2, 1) > budgets[i])
        break;
      AenetTilerOptions sq = opt;
      sq.tile = side;
      AenetTilePlan sp;
      g_assert_true(aenet_tiler_plan(net, &io, &sq, &sp, &error));
      int rounds = (plan.tiles_x * plan.tiles_y + 1) / 2,
          sq_rounds = (sp.tiles_x * sp.tiles_y + 1) / 2;
      g_assert_cmpfloat(rounds * tile_macs, <=,
                        sq_rounds
                            * aenet_network_get_tile_macs(net, sp.tile_height, sp.tile_width));
    }
  }
  opt.memory_budget = 1 << 20;
  AenetTilePlan plan;
  g_assert_false(aenet_tiler_plan(net, &io, &opt, &plan, &error));
  g_assert_error(error, AENET_ERROR, AENET_ERROR_NOMEM);
  g_assert_nonnull(strstr(error->message, "budget"));
  g_clear_error(&error);
  image_free(im);
  aenet_network_free(net);
}

/* Winograd against im2col through the tiler, and rectangular tiles. */
static void
test_kernels_and_rectangles(void)
{
  AenetNetwork *net = preset_network("unet-denoise-small");
  Image *im = image_new(91, 77, 3, 1, 5);
  gsize on = (gsize)91 * 77 * 3;
  AenetImageIO io = image_io(im);
  AenetTilerOptions opt;
  aenet_tiler_options_init(&opt);
  opt.noise_level = 0.1f;
  opt.n_threads = 2;
  float *ref = NULL;
  int shapes[][2] = { { 96, 80 }, { 96, 16 }, { 16, 80 }, { 40, 24 } };
  for (int kernel = AENET_CONV_WINOGRAD; kernel <= AENET_CONV_IM2COL; kernel++)
    for (guint t = 0; t < G_N_ELEMENTS(shapes); t++) {
      opt.conv_kernel = kernel;
      opt.tile = shapes[t][0];
      opt.tile_height = shapes[t][1];
      GError *error = NULL;
      g_assert_true(aenet_tiler_run(net, &io, &opt, &error));
      g_assert_no_error(error);
      if (ref == NULL) {
        ref = g_memdup2(im->out, on * sizeof(float));
        continue;
      }
      double diff = test_max_abs_diff(ref, im->out, on);
      g_test_message("%s, tiles %d×%d: max difference %.2e", aenet_conv_kernel_name(kernel),
                     shapes[t][0], shapes[t][1], diff);
      g_assert_cmpfloat(diff, <=, 1e-5);
    }
  g_free(ref);
  image_free(im);
  aenet_network_free(net);
}

static void
test_cancel_and_errors(void)
{
  AenetNetwork *net = preset_network("unet-denoise-small");
  Image *im = image_new(200, 150, 3, 1, 2);
  AenetImageIO io = image_io(im);
  AenetTilerOptions opt;
  aenet_tiler_options_init(&opt);
  opt.tile = 16;
  opt.n_threads = 2;
  volatile int cancel = 0;
  opt.cancel = &cancel;
  im->cancel_after_first_write = &cancel;
  GError *error = NULL;
  g_assert_false(aenet_tiler_run(net, &io, &opt, &error));
  g_assert_error(error, AENET_ERROR, AENET_ERROR_CANCELLED);
  g_clear_error(&error);
  /* Stopped promptly: at most one tile per thread after the flag. */
  g_assert_cmpint(im->writes, <=, 3);
  g_assert_cmpint(im->writes, <, 13 * 10);

  im->cancel_after_first_write = NULL;
  cancel = 0;
  im->fail_read_after = 5;
  g_assert_false(aenet_tiler_run(net, &io, &opt, &error));
  g_assert_error(error, AENET_ERROR, AENET_ERROR_IO);
  g_assert_cmpstr(error->message, ==, "disk on fire");
  g_clear_error(&error);

  AenetImageIO empty = io;
  empty.width = 0;
  g_assert_false(aenet_tiler_run(net, &empty, &opt, &error));
  g_assert_error(error, AENET_ERROR, AENET_ERROR_INVALID);
  g_clear_error(&error);
  image_free(im);
  aenet_network_free(net);
}

/* Interleaved (h, w, nc) pixels mirrored left–right and/or top–bottom
 * into dst. */
static void
mirror_pixels(float *dst, const float *src, int w, int h, int nc, gboolean mx, gboolean my)
{
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      memcpy(dst + ((gsize)y * w + x) * nc,
             src + ((gsize)(my ? h - 1 - y : y) * w + (mx ? w - 1 - x : x)) * nc,
             (gsize)nc * sizeof(float));
}

/* With passes, the output is the mean of the network's outputs for the
 * image and its mirror images, mirrored back, and does not depend on the
 * tiles. (The image's size is a multiple of the alignment, so a mirrored
 * whole image keeps its down-sampling phase.) */
static void
check_passes(const char *preset)
{
  AenetNetwork *net = preset_network(preset);
  int s = aenet_network_get_scale(net), align = aenet_network_get_alignment(net);
  int w = align * (40 / align + 1), h = align * (24 / align + 1), nc = 3;
  Image *im = image_new(w, h, nc, s, 11);
  gsize n = (gsize)w * h * nc, on = n * s * s;
  float *original = g_memdup2(im->in, n * sizeof(float));
  float *mean = g_new0(float, on), *back = g_new(float, on);
  const gboolean mirrors[4][2]
      = { { FALSE, FALSE }, { TRUE, FALSE }, { TRUE, TRUE }, { FALSE, TRUE } };
  for (int p = 0; p < 4; p++) {
    mirror_pixels(im->in, original, w, h, nc, mirrors[p][0], mirrors[p][1]);
    float *out = run_passes(net, im, MAX(w, h), 1, 1);
    mirror_pixels(back, out, w * s, h * s, nc, mirrors[p][0], mirrors[p][1]);
    for (gsize i = 0; i < on; i++)
      mean[i] += back[i];
    g_free(out);
    memcpy(im->in, original, n * sizeof(float));
    if (p != 1 && p != 3)
      continue;
    /* After 2 and 4 runs: the tiler's passes, whole and tiled. */
    int passes = p + 1;
    float *expected = g_memdup2(mean, on * sizeof(float));
    for (gsize i = 0; i < on; i++)
      expected[i] /= (float)passes;
    float *whole = run_passes(net, im, MAX(w, h), 1, passes);
    float *tiled = run_passes(net, im, 2 * align, 2, passes);
    double d_whole = test_max_abs_diff(expected, whole, on),
           d_tiled = test_max_abs_diff(whole, tiled, on);
    g_test_message("%s, %d passes: %.2e from the mean of mirrored runs, tiled %.2e from whole",
                   preset, passes, d_whole, d_tiled);
    if (d_whole > 1e-5 || d_tiled > 1e-5)
      g_error("%s, %d passes: differs from the mirrored runs' mean by %g, tiled from whole by %g",
              preset, passes, d_whole, d_tiled);
    g_free(expected), g_free(whole), g_free(tiled);
  }
  /* More passes need the sum of the outputs beside each tile. */
  g_assert_cmpuint(aenet_tiler_memory_for_tile(net, nc, 2 * align, 2 * align, 2, 4), >,
                   aenet_tiler_memory_for_tile(net, nc, 2 * align, 2 * align, 2, 1));
  g_free(original), g_free(mean), g_free(back);
  image_free(im);
  aenet_network_free(net);
}

static void
test_passes(void)
{
  check_passes("unet-denoise-small");
  check_passes("unet-x2");
  /* An image whose size is not a multiple of the alignment: tiled still
   * equals whole. */
  AenetNetwork *net = preset_network("unet-denoise-small");
  Image *im = image_new(53, 37, 4, 1, 12);
  float *whole = run_passes(net, im, 64, 1, 4), *tiled = run_passes(net, im, 16, 2, 4);
  g_assert_cmpfloat(test_max_abs_diff(whole, tiled, (gsize)53 * 37 * 4), <=, 1e-5);
  g_free(whole), g_free(tiled);
  image_free(im);
  aenet_network_free(net);
}

static void
progress_count(void *user, double fraction)
{
  double *last = user;
  g_assert_cmpfloat(fraction, >=, *last);
  *last = fraction;
}

static void
test_planar_and_progress(void)
{
  AenetNetwork *net = preset_network("unet-x2");
  Image *im = image_new(33, 20, 3, 2, 8);
  float *ref = run_tiled(net, im, 64, 1);
  float *planar = g_new(float, 3 * 33 * 20), *out = g_new(float, 3 * 66 * 40);
  for (gsize i = 0; i < 33 * 20; i++)
    for (int c = 0; c < 3; c++)
      planar[c * 33 * 20 + i] = im->in[i * 3 + c];
  AenetTilerOptions opt;
  aenet_tiler_options_init(&opt);
  opt.tile = 8;
  double last = -1;
  opt.progress = progress_count;
  opt.progress_user = &last;
  GError *error = NULL;
  g_assert_true(aenet_tiler_run_planar(net, planar, 3, 20, 33, out, &opt, &error));
  g_assert_no_error(error);
  g_assert_cmpfloat(last, ==, 1.0);
  for (gsize i = 0; i < 66 * 40; i++)
    for (int c = 0; c < 3; c++)
      g_assert_cmpfloat(fabs(out[c * 66 * 40 + i] - ref[i * 3 + c]), <=, 1e-5);
  g_free(planar), g_free(out), g_free(ref);
  image_free(im);
  aenet_network_free(net);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/tiler/seamless-denoise", test_seamless_denoise);
  g_test_add_func("/tiler/seamless-upscale", test_seamless_upscale);
  g_test_add_func("/tiler/seamless-naf", test_seamless_naf);
  g_test_add_func("/tiler/alpha-and-gray", test_alpha_and_gray);
  g_test_add_func("/tiler/region", test_region);
  g_test_add_func("/tiler/tiny-images", test_tiny_images);
  g_test_add_func("/tiler/budget", test_budget);
  g_test_add_func("/tiler/kernels-and-rectangles", test_kernels_and_rectangles);
  g_test_add_func("/tiler/cancel-and-errors", test_cancel_and_errors);
  g_test_add_func("/tiler/planar-and-progress", test_planar_and_progress);
  g_test_add_func("/tiler/passes", test_passes);
  return g_test_run();
}
