/* test-network.c — graphs: parsing and its errors, the forward pass against
 * a naive interpreter written here, gradients against finite differences,
 * reach and workspace planning. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "network.h"
#include "presets.h"
#include "resize.h"
#include "testutil.h"

/* A small encoder–decoder with every operation in it. */
static const char *const small_unet = "[{\"op\": \"input\", \"channels\": 3},"
                                      " {\"op\": \"noise_level\"},"
                                      " {\"op\": \"concat\", \"in\": [0, 1]},"
                                      " {\"op\": \"unshuffle\", \"factor\": 2},"
                                      " {\"op\": \"conv\", \"out\": 6, \"k\": 3},"
                                      " {\"op\": \"prelu\"},"
                                      " {\"op\": \"conv\", \"out\": 8, \"k\": 3, \"stride\": 2},"
                                      " {\"op\": \"leaky_relu\", \"slope\": 0.1},"
                                      " {\"op\": \"conv\", \"out\": 8, \"k\": 1, \"bias\": false},"
                                      " {\"op\": \"relu\"},"
                                      " {\"op\": \"conv\", \"out\": 24, \"k\": 1},"
                                      " {\"op\": \"shuffle\", \"factor\": 2},"
                                      " {\"op\": \"add\", \"in\": [11, 5]},"
                                      " {\"op\": \"conv\", \"out\": 12, \"k\": 3},"
                                      " {\"op\": \"shuffle\", \"factor\": 2},"
                                      " {\"op\": \"add\", \"in\": [14, 0]}]";

static const char *const small_upscaler = "[{\"op\": \"input\", \"channels\": 3},"
                                          " {\"op\": \"conv\", \"out\": 5, \"k\": 3},"
                                          " {\"op\": \"relu\"},"
                                          " {\"op\": \"conv\", \"out\": 27, \"k\": 3},"
                                          " {\"op\": \"shuffle\", \"factor\": 3},"
                                          " {\"op\": \"bicubic\", \"in\": [0], \"factor\": 3},"
                                          " {\"op\": \"add\", \"in\": [4, 5]}]";

static AenetNetwork *
new_network(const char *json, guint64 seed)
{
  GError *error = NULL;
  AenetNetwork *net = aenet_network_new(json, strlen(json), &error);
  g_assert_no_error(error);
  aenet_network_init_params(net, seed);
  /* Non-zero biases and slopes, so every parameter matters. */
  AenetRng rng;
  aenet_rng_init(&rng, seed + 1);
  for (guint i = 0; i < aenet_network_get_n_param_tensors(net); i++) {
    const AenetParamInfo *p = aenet_network_get_param_info(net, i);
    if (p->n_dims == 1)
      test_fill_uniform(aenet_network_get_params(net) + p->offset, p->n_elements, &rng, -0.3f,
                        0.3f);
  }
  return net;
}

/* ---- a naive interpreter of the same graph language ---- */

typedef struct {
  int c, h, w;
  double *d;
} T;

static double
at(const T *t, int c, int y, int x)
{
  return t->d[((gsize)c * t->h + y) * t->w + x];
}

static T
tensor(int c, int h, int w)
{
  T t = { c, h, w, g_new0(double, (gsize)c *h *w) };
  return t;
}

static double
cubic(double x)
{
  double a = fabs(x);
  if (a <= 1)
    return 1.5 * a * a * a - 2.5 * a * a + 1;
  if (a < 2)
    return -0.5 * a * a * a + 2.5 * a * a - 4 * a + 2;
  return 0;
}

/* MATLAB's bicubic enlargement by an integer factor, clamped edges. */
static T
naive_bicubic(const T *in, int r)
{
  T out = tensor(in->c, in->h * r, in->w * r);
  for (int c = 0; c < in->c; c++)
    for (int y = 0; y < out.h; y++)
      for (int x = 0; x < out.w; x++) {
        double sy = (y + 1) / (double)r + 0.5 * (1 - 1.0 / r) - 1;
        double sx = (x + 1) / (double)r + 0.5 * (1 - 1.0 / r) - 1;
        double sum = 0, wsum = 0;
        for (int j = (int)floor(sy) - 2; j <= (int)floor(sy) + 3; j++)
          for (int i = (int)floor(sx) - 2; i <= (int)floor(sx) + 3; i++) {
            double wgt = cubic(sy - j) * cubic(sx - i);
            sum += wgt * at(in, c, CLAMP(j, 0, in->h - 1), CLAMP(i, 0, in->w - 1));
            wsum += wgt;
          }
        out.d[((gsize)c * out.h + y) * out.w + x] = sum / wsum;
      }
  return out;
}

/* Runs the graph with plain loops in double precision. */
static T
naive_forward(const char *json, const float *params, const float *input, int h, int w, float sigma)
{
  GError *error = NULL;
  AenetNetwork *net = aenet_network_new(json, strlen(json), &error);
  g_assert_no_error(error);
  char *canon = aenet_network_to_json(net);
  /* Parameter offsets come from the engine's own list of tensors. */
  GHashTable *offsets = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < aenet_network_get_n_param_tensors(net); i++) {
    const AenetParamInfo *p = aenet_network_get_param_info(net, i);
    g_hash_table_insert(offsets, g_strdup(p->name), GSIZE_TO_POINTER(p->offset + 1));
  }
  /* Parse the canonical description by hand: one node per line. */
  char **lines = g_strsplit(canon, "\n", -1);
  T nodes[64];
  int n = 0;
  for (char **l = lines; *l != NULL; l++) {
    char *op = strstr(*l, "\"op\": \"");
    if (op == NULL)
      continue;
    op += 7;
    int in0 = -1, in1 = -1, out = 0, k = 0, stride = 1, factor = 0;
    double slope = 0;
    char *p;
    if ((p = strstr(*l, "\"in\": [")) != NULL)
      sscanf(p, "\"in\": [%d, %d", &in0, &in1);
    if ((p = strstr(*l, "\"out\": ")) != NULL)
      sscanf(p, "\"out\": %d, \"k\": %d, \"stride\": %d", &out, &k, &stride);
    if ((p = strstr(*l, "\"factor\": ")) != NULL)
      sscanf(p, "\"factor\": %d", &factor);
    if ((p = strstr(*l, "\"slope\": ")) != NULL)
      slope = g_ascii_strtod(p + 9, NULL);
    gboolean has_bias = strstr(*l, "\"bias\": true") != NULL;
    T *a = in0 >= 0 ? &nodes[in0] : NULL;
    T r;
    char *wname = g_strdup_printf("nodes.%d.weight", n);
    char *bname = g_strdup_printf("nodes.%d.bias", n);
    char *aname = g_strdup_printf("nodes.%d.alpha", n);
    gsize woff = GPOINTER_TO_SIZE(g_hash_table_lookup(offsets, wname)) - 1;
    gsize boff = GPOINTER_TO_SIZE(g_hash_table_lookup(offsets, bname)) - 1;
    gsize aoff = GPOINTER_TO_SIZE(g_hash_table_lookup(offsets, aname)) - 1;
    if (g_str_has_prefix(op, "input")) {
      r = tensor(3, h, w);
      for (gsize i = 0; i < (gsize)3 * h * w; i++)
        r.d[i] = input[i];
    } else if (g_str_has_prefix(op, "noise_level")) {
      r = tensor(1, h, w);
      for (gsize i = 0; i < (gsize)h * w; i++)
        r.d[i] = sigma;
    } else if (g_str_has_prefix(op, "conv")) {
      int oh = (a->h - 1) / stride + 1, ow = (a->w - 1) / stride + 1, pad = k / 2;
      r = tensor(out, oh, ow);
      for (int co = 0; co < out; co++)
        for (int y = 0; y < oh; y++)
          for (int x = 0; x < ow; x++) {
            double s = has_bias ? params[boff + co] : 0;
            for (int ci = 0; ci < a->c; ci++)
              for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++) {
                  int iy = y * stride + ky - pad, ix = x * stride + kx - pad;
                  if (iy >= 0 && iy < a->h && ix >= 0 && ix < a->w)
                    s += params[woff + ((gsize)(co * a->c + ci) * k + ky) * k + kx]
                         * at(a, ci, iy, ix);
                }
            r.d[((gsize)co * oh + y) * ow + x] = s;
          }
    } else if (g_str_has_prefix(op, "relu") || g_str_has_prefix(op, "leaky_relu")
               || g_str_has_prefix(op, "prelu")) {
      r = tensor(a->c, a->h, a->w);
      gsize plane = (gsize)a->h * a->w;
      for (gsize i = 0; i < a->c * plane; i++) {
        double s = op[0] == 'r' ? 0 : op[0] == 'l' ? slope : params[aoff + i / plane];
        r.d[i] = a->d[i] > 0 ? a->d[i] : s * a->d[i];
      }
    } else if (g_str_has_prefix(op, "add")) {
      r = tensor(a->c, a->h, a->w);
      for (gsize i = 0; i < (gsize)a->c * a->h * a->w; i++)
        r.d[i] = a->d[i] + nodes[in1].d[i];
    } else if (g_str_has_prefix(op, "concat")) {
      T *b = &nodes[in1];
      r = tensor(a->c + b->c, a->h, a->w);
      memcpy(r.d, a->d, sizeof(double) * a->c * a->h * a->w);
      memcpy(r.d + (gsize)a->c * a->h * a->w, b->d, sizeof(double) * b->c * b->h * b->w);
    } else if (g_str_has_prefix(op, "shuffle")) {
      int f = factor;
      r = tensor(a->c / (f * f), a->h * f, a->w * f);
      for (int c = 0; c < r.c; c++)
        for (int y = 0; y < r.h; y++)
          for (int x = 0; x < r.w; x++)
            r.d[((gsize)c * r.h + y) * r.w + x]
                = at(a, c * f * f + (y % f) * f + x % f, y / f, x / f);
    } else if (g_str_has_prefix(op, "unshuffle")) {
      int f = factor;
      r = tensor(a->c * f * f, a->h / f, a->w / f);
      for (int c = 0; c < a->c; c++)
        for (int y = 0; y < a->h; y++)
          for (int x = 0; x < a->w; x++)
            r.d[((gsize)(c * f * f + (y % f) * f + x % f) * r.h + y / f) * r.w + x / f]
                = at(a, c, y, x);
    } else if (g_str_has_prefix(op, "bicubic"))
      r = naive_bicubic(a, factor);
    else
      g_error("unknown op in %s", *l);
    nodes[n++] = r;
    g_free(wname), g_free(bname), g_free(aname);
  }
  T result = nodes[n - 1];
  for (int i = 0; i < n - 1; i++)
    g_free(nodes[i].d);
  g_strfreev(lines);
  g_hash_table_unref(offsets);
  g_free(canon);
  aenet_network_free(net);
  return result;
}

static void
check_forward(const char *json, int h, int w, int scale)
{
  AenetNetwork *net = new_network(json, 7);
  AenetRng rng;
  aenet_rng_init(&rng, 3);
  gsize n_in = (gsize)3 * h * w, n_out = n_in * scale * scale;
  float *input = g_new(float, n_in);
  test_fill_uniform(input, n_in, &rng, 0, 1);
  GError *error = NULL;
  AenetWorkspace *ws = aenet_workspace_new(net, h, w, FALSE, &error);
  g_assert_no_error(error);
  aenet_network_forward(net, ws, input, 0.1f);
  const float *out = aenet_workspace_get_output(ws);
  T ref = naive_forward(json, aenet_network_get_params(net), input, h, w, 0.1f);
  g_assert_cmpint(ref.c * ref.h * ref.w, ==, n_out);
  double worst = 0;
  for (gsize i = 0; i < n_out; i++)
    worst = MAX(worst, fabs(out[i] - ref.d[i]));
  g_assert_cmpfloat(worst, <, 1e-4);

  /* A training workspace computes the same output. */
  AenetWorkspace *tws = aenet_workspace_new(net, h, w, TRUE, &error);
  g_assert_no_error(error);
  aenet_network_forward(net, tws, input, 0.1f);
  g_assert_cmpfloat(test_max_abs_diff(out, aenet_workspace_get_output(tws), n_out), <, 1e-6);
  g_assert_cmpuint(aenet_workspace_size(net, h, w, FALSE), <,
                   aenet_workspace_size(net, h, w, TRUE));
  aenet_workspace_free(tws);
  aenet_workspace_free(ws);
  g_free(ref.d);
  g_free(input);
  aenet_network_free(net);
}

static void
test_forward_unet(void)
{
  check_forward(small_unet, 12, 20, 1);
}

static void
test_forward_upscaler(void)
{
  check_forward(small_upscaler, 7, 9, 3);
}

/* Every parameter gradient of L = Σ out · R against central differences,
 * the forward passes by the given kernel (Winograd's forward is made from
 * the parameters again at every pass, as they change). */
static void
check_gradients(const char *json, int h, int w, int scale, float sigma, AenetConvKernel kernel)
{
  AenetNetwork *net = new_network(json, 11);
  AenetRng rng;
  aenet_rng_init(&rng, 5);
  gsize n_in = (gsize)3 * h * w, n_out = n_in * scale * scale;
  gsize np = aenet_network_get_n_params(net);
  float *input = g_new(float, n_in), *r = g_new(float, n_out), *grads = g_new0(float, np);
  test_fill_uniform(input, n_in, &rng, 0, 1);
  test_fill_uniform(r, n_out, &rng, -1, 1);
  GError *error = NULL;
  AenetWorkspace *ws = aenet_workspace_new(net, h, w, TRUE, &error);
  g_assert_no_error(error);
  aenet_workspace_set_conv_kernel(ws, kernel);
  aenet_network_forward(net, ws, input, sigma);
  aenet_network_backward(net, ws, grads, r);

  float *params = aenet_network_get_params(net);
  double worst = 0;
  for (gsize i = 0; i < np; i++) {
    float saved = params[i];
    double loss[2];
    for (int side = 0; side < 2; side++) {
      params[i] = saved + (side ? 1e-3f : -1e-3f);
      aenet_network_forward(net, ws, input, sigma);
      const float *out = aenet_workspace_get_output(ws);
      double l = 0;
      for (gsize j = 0; j < n_out; j++)
        l += (double)out[j] * r[j];
      loss[side] = l;
    }
    params[i] = saved;
    double numeric = (loss[1] - loss[0]) / 2e-3;
    double err = fabs(numeric - grads[i]) / MAX(1.0, fabs(numeric));
    worst = MAX(worst, err);
    if (err > 1e-2)
      g_error("parameter %zu: backward %g, finite differences %g", i, grads[i], numeric);
  }
  g_test_message("%s forward: worst relative gradient error %.2e over %zu parameters",
                 aenet_conv_kernel_name(kernel), worst, np);

  /* Gradients accumulate: a second backward doubles them. */
  float *twice = g_memdup2(grads, np * sizeof(float));
  aenet_network_forward(net, ws, input, sigma);
  aenet_network_backward(net, ws, twice, r);
  for (gsize i = 0; i < np; i++)
    g_assert_cmpfloat(fabs(twice[i] - 2 * grads[i]), <=, 1e-4 * MAX(1.0, fabs(grads[i])));
  g_free(twice);
  aenet_workspace_free(ws);
  g_free(input), g_free(r), g_free(grads);
  aenet_network_free(net);
}

static void
test_gradients_unet(void)
{
  check_gradients(small_unet, 8, 12, 1, 0.2f, AENET_CONV_IM2COL);
  check_gradients(small_unet, 8, 12, 1, 0.2f, AENET_CONV_WINOGRAD);
}

static void
test_gradients_upscaler(void)
{
  check_gradients(small_upscaler, 5, 6, 3, 0, AENET_CONV_IM2COL);
  check_gradients(small_upscaler, 5, 6, 3, 0, AENET_CONV_WINOGRAD);
}

static void
expect_error(const char *json, const char *fragment)
{
  GError *error = NULL;
  AenetNetwork *net = aenet_network_new(json, strlen(json), &error);
  g_assert_null(net);
  g_assert_error(error, AENET_ERROR, AENET_ERROR_FORMAT);
  if (strstr(error->message, fragment) == NULL)
    g_error("message “%s” does not mention “%s”", error->message, fragment);
  g_error_free(error);
}

static void
test_parse_errors(void)
{
  expect_error("{", "network description");
  expect_error("[]", "list of 1 to");
  expect_error("[{\"op\": \"input\"}, {\"op\": \"teleport\"}]", "unknown operation");
  expect_error("[{\"op\": \"input\"}, {\"op\": \"conv\", \"out\": 3, \"kernel\": 3}]",
               "unknown field");
  expect_error("[{\"op\": \"input\"}, {\"op\": \"conv\", \"out\": 3, \"k\": 5}]", "“k”");
  expect_error("[{\"op\": \"input\"}, {\"op\": \"relu\", \"in\": [1]}]", "not an earlier node");
  expect_error("[{\"op\": \"input\"}, {\"op\": \"conv\", \"out\": 4}, {\"op\": \"add\", \"in\": "
               "[0, 1]}]",
               "differ in channels");
  expect_error("[{\"op\": \"input\"}, {\"op\": \"conv\", \"out\": 3, \"stride\": 2}]",
               "output must be");
  expect_error("[{\"op\": \"input\"}, {\"op\": \"conv\", \"out\": 5}]", "5 channels");
  expect_error("[{\"op\": \"input\"}, {\"op\": \"conv\", \"out\": 3}, {\"op\": \"relu\", \"in\": "
               "[0]}]",
               "never used");
  expect_error("[{\"op\": \"input\"}, {\"op\": \"conv\", \"out\": 3}, {\"op\": \"bicubic\"}]",
               "bicubic");
  expect_error("[{\"op\": \"input\"}, {\"op\": \"input\"}, {\"op\": \"add\", \"in\": [0, 1]}]",
               "only one input");
  expect_error("[{\"op\": \"noise_level\"}]", "no input");
}

/* Perturbing one input pixel changes no output farther than the reach. */
static void
test_reach(void)
{
  const AenetPreset *presets = aenet_presets_get();
  for (const AenetPreset *p = presets; p->name != NULL; p++) {
    if (strcmp(p->name, "unet-denoise-small") != 0 && strcmp(p->name, "unet-x2") != 0)
      continue;
    char *json = aenet_preset_build_graph(p);
    AenetNetwork *net = new_network(json, 1);
    int reach = aenet_network_get_reach(net), s = aenet_network_get_scale(net);
    int side = 2 * ((reach + 20) / 16 * 16 + 16);
    gsize n_in = (gsize)3 * side * side, n_out = n_in * s * s;
    float *input = g_new0(float, n_in);
    AenetRng rng;
    aenet_rng_init(&rng, 9);
    test_fill_uniform(input, n_in, &rng, 0, 1);
    int cy = side / 2, cx = side / 2, os = side * s;
    /* The im2col path's output does not move at all beyond the reach; the
     * Winograd path's may, by rounding (its tiles sum terms that cancel). */
    for (int kernel = AENET_CONV_WINOGRAD; kernel <= AENET_CONV_IM2COL; kernel++) {
      GError *error = NULL;
      AenetWorkspace *ws = aenet_workspace_new(net, side, side, FALSE, &error);
      g_assert_no_error(error);
      aenet_workspace_set_conv_kernel(ws, kernel);
      aenet_network_forward(net, ws, input, 0.1f);
      float *before = g_memdup2(aenet_workspace_get_output(ws), n_out * sizeof(float));
      input[(gsize)cy * side + cx] += 0.5f;
      aenet_network_forward(net, ws, input, 0.1f);
      input[(gsize)cy * side + cx] -= 0.5f;
      const float *after = aenet_workspace_get_output(ws);
      int farthest = 0;
      double beyond = 0.0;
      for (int c = 0; c < 3; c++)
        for (int y = 0; y < os; y++)
          for (int x = 0; x < os; x++) {
            gsize o = ((gsize)c * os + y) * os + x;
            int d = MAX(abs(y / s - cy), abs(x / s - cx));
            if (after[o] != before[o])
              farthest = MAX(farthest, d);
            if (d > reach)
              beyond = MAX(beyond, fabs(after[o] - before[o]));
          }
      g_test_message("%s, %s: reach %d, farthest change %d, largest change beyond %.2g", p->name,
                     aenet_conv_kernel_name(kernel), reach, farthest, beyond);
      g_assert_cmpint(farthest, >, 0);
      if (kernel == AENET_CONV_IM2COL)
        g_assert_cmpint(farthest, <=, reach);
      g_assert_cmpfloat(beyond, <=, 1e-5); /* as tiled against whole */
      g_free(before);
      aenet_workspace_free(ws);
    }
    g_free(input);
    aenet_network_free(net);
    g_free(json);
  }
}

static void
test_presets_valid(void)
{
  for (const AenetPreset *p = aenet_presets_get(); p->name != NULL; p++) {
    char *json = aenet_preset_build_graph(p);
    GError *error = NULL;
    AenetNetwork *net = aenet_network_new(json, strlen(json), &error);
    g_assert_no_error(error);
    g_assert_cmpint(aenet_network_get_scale(net), ==, p->scale);
    g_assert_cmpint(aenet_network_takes_noise_level(net), ==, p->scale == 1 && !p->blind);
    /* The canonical description parses back to the same network. */
    char *canon = aenet_network_to_json(net);
    AenetNetwork *again = aenet_network_new(canon, strlen(canon), &error);
    g_assert_no_error(error);
    char *canon2 = aenet_network_to_json(again);
    g_assert_cmpstr(canon, ==, canon2);
    g_assert_cmpuint(aenet_network_get_n_params(net), ==, aenet_network_get_n_params(again));
    g_free(canon), g_free(canon2), g_free(json);
    aenet_network_free(again);
    aenet_network_free(net);
  }
}

static void
test_workspace_alignment(void)
{
  AenetNetwork *net = new_network(small_unet, 1);
  g_assert_cmpint(aenet_network_get_alignment(net), ==, 4);
  GError *error = NULL;
  g_assert_null(aenet_workspace_new(net, 10, 12, FALSE, &error));
  g_assert_error(error, AENET_ERROR, AENET_ERROR_INVALID);
  g_error_free(error);
  aenet_network_free(net);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/network/forward-unet", test_forward_unet);
  g_test_add_func("/network/forward-upscaler", test_forward_upscaler);
  g_test_add_func("/network/gradients-unet", test_gradients_unet);
  g_test_add_func("/network/gradients-upscaler", test_gradients_upscaler);
  g_test_add_func("/network/parse-errors", test_parse_errors);
  g_test_add_func("/network/reach", test_reach);
  g_test_add_func("/network/presets", test_presets_valid);
  g_test_add_func("/network/workspace-alignment", test_workspace_alignment);
  return g_test_run();
}
