/* test-network.c — graphs: parsing and its errors, the forward pass against
 * a naive interpreter written here, gradients against finite differences,
 * reach and workspace planning, and tile workspaces against whole passes. */
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

/* Readers of one tensor (node 2) that need less of it than another: the
 * 1×1 conv and the PReLU read crops of it, copied since the concat reads
 * it later, and the concat cuts it as it copies; and a leaky ReLU. */
static const char *const branches = "[{\"op\": \"input\", \"channels\": 3},"
                                    " {\"op\": \"conv\", \"out\": 4, \"k\": 3},"
                                    " {\"op\": \"leaky_relu\", \"slope\": 0.2},"
                                    " {\"op\": \"conv\", \"in\": [2], \"out\": 4, \"k\": 1},"
                                    " {\"op\": \"conv\", \"in\": [2], \"out\": 4, \"k\": 3},"
                                    " {\"op\": \"add\", \"in\": [4, 3]},"
                                    " {\"op\": \"prelu\", \"in\": [2]},"
                                    " {\"op\": \"concat\", \"in\": [5, 6, 2]},"
                                    " {\"op\": \"conv\", \"out\": 3, \"k\": 3},"
                                    " {\"op\": \"add\", \"in\": [8, 0]}]";

/* A NAFNet-style block at half resolution (layer norm, expanding 1×1
 * conv, depthwise conv, gate, pixel attention by sigmoid and mul, scaled
 * residual), then a 5×5 depthwise conv without bias squared by a mul of a
 * node with itself. */
static const char *const naf_block = "[{\"op\": \"input\", \"channels\": 3},"
                                     " {\"op\": \"noise_level\"},"
                                     " {\"op\": \"concat\", \"in\": [0, 1]},"
                                     " {\"op\": \"unshuffle\", \"factor\": 2},"
                                     " {\"op\": \"conv\", \"out\": 8, \"k\": 3},"
                                     " {\"op\": \"layernorm\"},"
                                     " {\"op\": \"conv\", \"out\": 16, \"k\": 1},"
                                     " {\"op\": \"dwconv\", \"k\": 3},"
                                     " {\"op\": \"gate\"},"
                                     " {\"op\": \"conv\", \"out\": 8, \"k\": 1},"
                                     " {\"op\": \"sigmoid\"},"
                                     " {\"op\": \"mul\", \"in\": [8, 10]},"
                                     " {\"op\": \"conv\", \"out\": 8, \"k\": 1},"
                                     " {\"op\": \"scale\"},"
                                     " {\"op\": \"add\", \"in\": [4, 13]},"
                                     " {\"op\": \"dwconv\", \"k\": 5, \"bias\": false},"
                                     " {\"op\": \"mul\", \"in\": [15, 15]},"
                                     " {\"op\": \"conv\", \"out\": 12, \"k\": 3},"
                                     " {\"op\": \"shuffle\", \"factor\": 2},"
                                     " {\"op\": \"add\", \"in\": [18, 0]}]";

/* Gates whose input a tile workspace must cut: gate 3 is the last reader
 * of node 1, which dwconv 2 reads more of (cut in place); gate 4 reads
 * less of node 2 than dwconv 5 does later (cut into the crop buffer). */
static const char *const gates = "[{\"op\": \"input\", \"channels\": 3},"
                                 " {\"op\": \"conv\", \"out\": 8, \"k\": 3},"
                                 " {\"op\": \"dwconv\", \"in\": [1], \"k\": 3},"
                                 " {\"op\": \"gate\", \"in\": [1]},"
                                 " {\"op\": \"gate\", \"in\": [2]},"
                                 " {\"op\": \"dwconv\", \"in\": [2], \"k\": 7},"
                                 " {\"op\": \"gate\", \"in\": [5]},"
                                 " {\"op\": \"mul\", \"in\": [3, 4]},"
                                 " {\"op\": \"add\", \"in\": [7, 6]},"
                                 " {\"op\": \"conv\", \"out\": 3, \"k\": 3},"
                                 " {\"op\": \"add\", \"in\": [9, 0]}]";

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
    if ((p = strstr(*l, "\"k\": ")) != NULL)
      sscanf(p, "\"k\": %d", &k);
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
    char *sname = g_strdup_printf("nodes.%d.scale", n);
    gsize woff = GPOINTER_TO_SIZE(g_hash_table_lookup(offsets, wname)) - 1;
    gsize boff = GPOINTER_TO_SIZE(g_hash_table_lookup(offsets, bname)) - 1;
    gsize aoff = GPOINTER_TO_SIZE(g_hash_table_lookup(offsets, aname)) - 1;
    gsize soff = GPOINTER_TO_SIZE(g_hash_table_lookup(offsets, sname)) - 1;
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
    else if (g_str_has_prefix(op, "dwconv")) {
      int pad = k / 2;
      r = tensor(a->c, a->h, a->w);
      for (int c = 0; c < a->c; c++)
        for (int y = 0; y < a->h; y++)
          for (int x = 0; x < a->w; x++) {
            double sum = has_bias ? params[boff + c] : 0;
            for (int ky = 0; ky < k; ky++)
              for (int kx = 0; kx < k; kx++) {
                int iy = y + ky - pad, ix = x + kx - pad;
                if (iy >= 0 && iy < a->h && ix >= 0 && ix < a->w)
                  sum += params[woff + ((gsize)c * k + ky) * k + kx] * at(a, c, iy, ix);
              }
            r.d[((gsize)c * a->h + y) * a->w + x] = sum;
          }
    } else if (g_str_has_prefix(op, "gate")) {
      gsize half = (gsize)a->c / 2 * a->h * a->w;
      r = tensor(a->c / 2, a->h, a->w);
      for (gsize i = 0; i < half; i++)
        r.d[i] = a->d[i] * a->d[half + i];
    } else if (g_str_has_prefix(op, "layernorm")) {
      r = tensor(a->c, a->h, a->w);
      gsize plane = (gsize)a->h * a->w;
      for (gsize px = 0; px < plane; px++) {
        double mean = 0, var = 0;
        for (int c = 0; c < a->c; c++)
          mean += a->d[c * plane + px] / a->c;
        for (int c = 0; c < a->c; c++)
          var += (a->d[c * plane + px] - mean) * (a->d[c * plane + px] - mean) / a->c;
        for (int c = 0; c < a->c; c++)
          r.d[c * plane + px] = (a->d[c * plane + px] - mean) / sqrt(var + 1e-6) * params[woff + c]
                                + params[boff + c];
      }
    } else if (g_str_has_prefix(op, "sigmoid") || g_str_has_prefix(op, "scale")) {
      r = tensor(a->c, a->h, a->w);
      gsize plane = (gsize)a->h * a->w;
      for (gsize i = 0; i < a->c * plane; i++)
        r.d[i] = op[1] == 'i' ? 1 / (1 + exp(-a->d[i])) : a->d[i] * params[soff + i / plane];
    } else if (g_str_has_prefix(op, "mul")) {
      r = tensor(a->c, a->h, a->w);
      for (gsize i = 0; i < (gsize)a->c * a->h * a->w; i++)
        r.d[i] = a->d[i] * nodes[in1].d[i];
    } else
      g_error("unknown op in %s", *l);
    nodes[n++] = r;
    g_free(wname), g_free(bname), g_free(aname), g_free(sname);
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

  /* A training workspace computes the same output by the same kernels
   * (Winograd's rounding differs from im2col's by about 1e-6, more after
   * a layer norm, which divides by the spread of its input). */
  AenetWorkspace *tws = aenet_workspace_new(net, h, w, TRUE, &error);
  g_assert_no_error(error);
  aenet_workspace_set_conv_kernel(tws, AENET_CONV_WINOGRAD);
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

static void
test_forward_naf(void)
{
  check_forward(naf_block, 12, 20, 1);
  check_forward(gates, 9, 11, 1);
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
test_gradients_naf(void)
{
  check_gradients(naf_block, 8, 12, 1, 0.2f, AENET_CONV_IM2COL);
  check_gradients(naf_block, 8, 12, 1, 0.2f, AENET_CONV_WINOGRAD);
  check_gradients(gates, 6, 7, 1, 0, AENET_CONV_IM2COL);
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

  /* The NAFNet ops. */
  expect_error("[{\"op\": \"input\"}, {\"op\": \"gate\"}, {\"op\": \"conv\", \"out\": 3}]",
               "node 1 (gate): its input, node 0, has 3 channels, not an even number");
  expect_error("[{\"op\": \"input\"}, {\"op\": \"conv\", \"out\": 4}, {\"op\": \"mul\", \"in\": "
               "[0, 1]}]",
               "node 2 (mul): inputs 0 and 1 differ in channels (3 and 4)");
  expect_error("[{\"op\": \"input\"}, {\"op\": \"unshuffle\"}, {\"op\": \"conv\", \"out\": 3}, "
               "{\"op\": \"mul\", \"in\": [0, 2]}]",
               "node 3 (mul): inputs 0 and 2 differ in size");
  expect_error("[{\"op\": \"input\"}, {\"op\": \"mul\", \"in\": [0]}]",
               "node 1 (mul): “in” must list 2 to 2");
  expect_error("[{\"op\": \"input\"}, {\"op\": \"mul\"}]", "node 1 (mul): “in” is required");
  expect_error("[{\"op\": \"input\"}, {\"op\": \"dwconv\", \"k\": 4}]",
               "node 1 (dwconv): “k” must be odd");
  expect_error("[{\"op\": \"input\"}, {\"op\": \"dwconv\", \"k\": 9}]",
               "node 1: “k” must be an integer from 1 to 7");
  expect_error("[{\"op\": \"input\"}, {\"op\": \"dwconv\", \"bias\": 1}]",
               "node 1: “bias” must be true or false");
  expect_error("[{\"op\": \"input\"}, {\"op\": \"dwconv\", \"out\": 3}]",
               "node 1: unknown field “out”");
  expect_error("[{\"op\": \"input\"}, {\"op\": \"layernorm\", \"eps\": 1e-5}]",
               "node 1: unknown field “eps”");
  expect_error("[{\"op\": \"input\"}, {\"op\": \"scale\", \"bias\": true}]",
               "node 1: unknown field “bias”");
  expect_error("[{\"op\": \"input\"}, {\"op\": \"sigmoid\", \"in\": [0, 0]}]",
               "node 1 (sigmoid): “in” must list 1 to 1");
}

/* Checks that parameter tensor index of net was drawn with the given
 * variance (its standard deviation within 20%). */
static void
check_weight_std(AenetNetwork *net, guint index, double variance)
{
  const AenetParamInfo *p = aenet_network_get_param_info(net, index);
  const float *w = aenet_network_get_params(net) + p->offset;
  double sum2 = 0;
  for (gsize j = 0; j < p->n_elements; j++)
    sum2 += (double)w[j] * w[j];
  double std = sqrt(sum2 / p->n_elements);
  g_test_message("%s: standard deviation %.3f, expected %.3f", p->name, std, sqrt(variance));
  g_assert_cmpfloat(fabs(std / sqrt(variance) - 1), <, 0.2);
}

/* The parameters of the NAFNet ops: their tensors and shapes in the
 * documented order, and their start (layer norms the identity, scales 0,
 * depthwise filters scaled for their fan-in k·k). */
static void
test_naf_params(void)
{
  GError *error = NULL;
  AenetNetwork *net = aenet_network_new(naf_block, strlen(naf_block), &error);
  g_assert_no_error(error);
  aenet_network_init_params(net, 5);
  static const struct {
    const char *name;
    int n_dims;
    gint64 shape[4];
  } expected[] = {
    { "nodes.4.weight", 4, { 8, 16, 3, 3 } },
    { "nodes.4.bias", 1, { 8 } },
    { "nodes.5.weight", 1, { 8 } },
    { "nodes.5.bias", 1, { 8 } },
    { "nodes.6.weight", 4, { 16, 8, 1, 1 } },
    { "nodes.6.bias", 1, { 16 } },
    { "nodes.7.weight", 4, { 16, 1, 3, 3 } },
    { "nodes.7.bias", 1, { 16 } },
    { "nodes.9.weight", 4, { 8, 8, 1, 1 } },
    { "nodes.9.bias", 1, { 8 } },
    { "nodes.12.weight", 4, { 8, 8, 1, 1 } },
    { "nodes.12.bias", 1, { 8 } },
    { "nodes.13.scale", 1, { 8 } },
    { "nodes.15.weight", 4, { 8, 1, 5, 5 } },
    { "nodes.17.weight", 4, { 12, 8, 3, 3 } },
    { "nodes.17.bias", 1, { 12 } },
  };
  g_assert_cmpuint(aenet_network_get_n_param_tensors(net), ==, G_N_ELEMENTS(expected));
  const float *params = aenet_network_get_params(net);
  gsize offset = 0;
  for (guint i = 0; i < G_N_ELEMENTS(expected); i++) {
    const AenetParamInfo *p = aenet_network_get_param_info(net, i);
    g_assert_cmpstr(p->name, ==, expected[i].name);
    g_assert_cmpint(p->n_dims, ==, expected[i].n_dims);
    gsize count = 1;
    for (int d = 0; d < p->n_dims; d++) {
      g_assert_cmpint(p->shape[d], ==, expected[i].shape[d]);
      count *= p->shape[d];
    }
    g_assert_cmpuint(p->n_elements, ==, count);
    g_assert_cmpuint(p->offset, ==, offset); /* one after the other, in node order */
    offset += count;
  }
  g_assert_cmpuint(aenet_network_get_n_params(net), ==, offset);
  /* Tensors 2, 3 and 12: the layer norm's weight and bias, the scale. */
  for (int j = 0; j < 8; j++) {
    g_assert_cmpfloat(params[aenet_network_get_param_info(net, 2)->offset + j], ==, 1.0f);
    g_assert_cmpfloat(params[aenet_network_get_param_info(net, 3)->offset + j], ==, 0.0f);
    g_assert_cmpfloat(params[aenet_network_get_param_info(net, 12)->offset + j], ==, 0.0f);
  }
  /* Weights keep the variance of what flows through: the 16 3×3
   * depthwise filters (tensor 6), read by a gate, and the 3×3 conv 4, read
   * by a layer norm and an add, have a standard deviation of √(1 / fan-in);
   * small_unet's 1×1 conv 8 (8 inputs), read by a ReLU, of √(2 / 8). */
  check_weight_std(net, 6, 1.0 / 9);
  check_weight_std(net, 0, 1.0 / 144);

  /* Multiply-adds per image pixel at half resolution: convs 16·8·9,
   * 8·16, 8·8, 8·8 and 8·12·9, depthwise 16·9 and 8·25. */
  g_assert_cmpfloat(aenet_network_get_macs_per_pixel(net), ==,
                    (16 * 8 * 9 + 8 * 16 + 8 * 8 + 8 * 8 + 8 * 12 * 9 + 16 * 9 + 8 * 25) / 4.0);
  /* Reach: unshuffle 1, the 3×3 convs and dwconv 2 each, the 5×5 dwconv 4. */
  g_assert_cmpint(aenet_network_get_reach(net), ==, 1 + 2 + 2 + 4 + 2);
  aenet_network_free(net);

  net = aenet_network_new(small_unet, strlen(small_unet), &error);
  g_assert_no_error(error);
  aenet_network_init_params(net, 5);
  g_assert_cmpstr(aenet_network_get_param_info(net, 5)->name, ==, "nodes.8.weight");
  check_weight_std(net, 5, 2.0 / 8);
  aenet_network_free(net);
}

/* Perturbing one input pixel changes no output farther than the reach. */
static void
check_reach(const char *name, const char *json)
{
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
    g_test_message("%s, %s: reach %d, farthest change %d, largest change beyond %.2g", name,
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
}

static void
test_reach(void)
{
  const char *names[] = { "unet-denoise-small", "unet-x2" };
  for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
    char *json = aenet_preset_build_graph(aenet_preset_find(names[i], NULL));
    check_reach(names[i], json);
    g_free(json);
  }
  check_reach("naf_block", naf_block);
  check_reach("gates", gates);
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

/* ---- tile workspaces ---- */

static int
round_up(int x, int a)
{
  return (x + a - 1) / a * a;
}

static void
expect_margins(const AenetNetwork *net, const char *what, const int *nodes, const int *expected,
               int n)
{
  for (int i = 0; i < n; i++) {
    int got = aenet_network_get_node_margin(net, nodes != NULL ? nodes[i] : i);
    if (got != expected[i])
      g_error("%s: node %d has a margin of %d pixels, not %d", what, nodes != NULL ? nodes[i] : i,
              got, expected[i]);
  }
}

static void
test_tile_margins(void)
{
  /* small_unet from the output back, in each node's pixels (3 to 5 and 11
   * to 13 at half resolution, 6 to 10 at a quarter): the add and shuffle
   * at the end need 0; conv 13 reads 1 more, rounded up to 2 for add 12,
   * which reads shuffle 11 (whole pixels of its input); so node 5 needs 2
   * and shuffle 11 reads 1 of 10; 10 to 7 need 1 (1×1 convs and
   * activations); stride-2 conv 6 reads 2·1 + 1 of node 5, rounded up to
   * the stride: 4; conv 4 reads 5 of unshuffle 3, which reads 10 of the
   * full-resolution nodes 2 to 0. */
  AenetNetwork *net = new_network(small_unet, 1);
  static const int unet[] = { 10, 10, 10, 5, 4, 4, 1, 1, 1, 1, 1, 2, 2, 0, 0, 0 };
  expect_margins(net, "small_unet", NULL, unet, G_N_ELEMENTS(unet));
  g_assert_cmpint(aenet_network_get_tile_margin(net), ==, 10);
  aenet_network_free(net);

  /* Conv 3, PReLU 6 and concat 7 read 1 of node 2, the 3×3 conv 4 reads 2. */
  net = new_network(branches, 1);
  static const int branch[] = { 3, 2, 2, 1, 1, 1, 1, 1, 0, 0 };
  expect_margins(net, "branches", NULL, branch, G_N_ELEMENTS(branch));
  aenet_network_free(net);

  /* gates from the output back: conv 9 reads 1 of add 8, so add 8, mul 7
   * and gates 6, 4 and 3 need 1; dwconv 5 reads 1 + 3 of node 2, more
   * than gate 4 does; gate 3 reads 1 of node 1 and dwconv 2 reads 4 + 1;
   * conv 1 reads 6 of the input. */
  net = new_network(gates, 1);
  static const int gate[] = { 6, 5, 4, 1, 1, 1, 1, 1, 1, 0, 0 };
  expect_margins(net, "gates", NULL, gate, G_N_ELEMENTS(gate));
  aenet_network_free(net);

  /* The shipped denoiser's architecture: its convs need 42, 40, 36, 32,
   * 24, 16, 8, 8, 4, 4, 2 and 0 image pixels, at 1/2, 1/4, 1/8 and back. */
  const AenetPreset *p = aenet_preset_find("unet-denoise-wide", NULL);
  char *json = aenet_preset_build_graph(p);
  net = new_network(json, 1);
  char *canon = aenet_network_to_json(net);
  char **lines = g_strsplit(canon, "\n", -1);
  int convs[16], n_convs = 0;
  for (int l = 1; lines[l] != NULL; l++) /* node l - 1 on line l */
    if (strstr(lines[l], "\"op\": \"conv\"") != NULL && n_convs < 16)
      convs[n_convs++] = l - 1;
  static const int wide[] = { 21, 20, 9, 8, 3, 2, 1, 1, 1, 1, 1, 0 };
  g_assert_cmpint(n_convs, ==, G_N_ELEMENTS(wide));
  expect_margins(net, "unet-denoise-wide", convs, wide, n_convs);
  g_assert_cmpint(aenet_network_get_tile_margin(net), ==, 44);
  g_strfreev(lines);
  g_free(canon);
  g_free(json);
  aenet_network_free(net);

  /* Never more than the tiler read around tiles before: the reach rounded
   * up to the alignment. */
  for (p = aenet_presets_get(); p->name != NULL; p++) {
    json = aenet_preset_build_graph(p);
    net = new_network(json, 1);
    int margin = aenet_network_get_tile_margin(net);
    int pad = round_up(aenet_network_get_reach(net), aenet_network_get_alignment(net));
    g_test_message("%s: tile margin %d, reach rounded up to the alignment %d", p->name, margin,
                   pad);
    g_assert_cmpint(margin, <=, pad);
    aenet_network_free(net);
    g_free(json);
  }
}

/* A tile workspace computes the centre of a whole pass over its core grown
 * by the reach rounded up to the alignment, where the zero padding at the
 * whole input's edges cannot reach: equal up to Winograd's rounding, which
 * differs with the position of its 4×4 tiles. */
static void
check_tile(const char *name, const char *json)
{
  AenetNetwork *net = new_network(json, 3);
  int align = aenet_network_get_alignment(net), s = aenet_network_get_scale(net);
  int margin = aenet_network_get_tile_margin(net);
  int pad = round_up(aenet_network_get_reach(net), align);
  int cin = aenet_network_get_in_channels(net), cout = aenet_network_get_out_channels(net);
  g_assert_cmpint(margin, <=, pad);
  int cores[][2] = { { align, align },
                     { round_up(13, align), round_up(37, align) },
                     { round_up(30, align), round_up(9, align) } };
  AenetRng rng;
  aenet_rng_init(&rng, 17);
  for (guint c = 0; c < G_N_ELEMENTS(cores); c++) {
    int h = cores[c][0], w = cores[c][1];
    int wh = h + 2 * pad, ww = w + 2 * pad, th = h + 2 * margin, tw = w + 2 * margin;
    float *whole_in = g_new(float, (gsize)cin *wh *ww);
    float *tile_in = g_new(float, (gsize)cin *th *tw);
    float *other = g_new(float, (gsize)cin *th *tw);
    test_fill_uniform(whole_in, (gsize)cin * wh * ww, &rng, 0, 1);
    test_fill_uniform(other, (gsize)cin * th * tw, &rng, -1, 2);
    for (int ch = 0; ch < cin; ch++)
      for (int y = 0; y < th; y++)
        memcpy(tile_in + ((gsize)ch * th + y) * tw,
               whole_in + ((gsize)ch * wh + y + pad - margin) * ww + pad - margin,
               (gsize)tw * sizeof(float));
    for (int kernel = AENET_CONV_WINOGRAD; kernel <= AENET_CONV_IM2COL; kernel++) {
      GError *error = NULL;
      AenetWorkspace *whole = aenet_workspace_new(net, wh, ww, FALSE, &error);
      g_assert_no_error(error);
      AenetWorkspace *tile = aenet_workspace_new_tile(net, h, w, &error);
      g_assert_no_error(error);
      aenet_workspace_set_conv_kernel(whole, kernel);
      aenet_workspace_set_conv_kernel(tile, kernel);
      aenet_network_forward(net, whole, whole_in, 0.1f);
      /* A pass on other pixels first: nothing of it may remain. */
      aenet_network_forward(net, tile, other, 0.3f);
      aenet_network_forward(net, tile, tile_in, 0.1f);
      const float *a = aenet_workspace_get_output(whole), *b = aenet_workspace_get_output(tile);
      int wos = ww * s, wohs = wh * s, os = w * s, ohs = h * s;
      double worst = 0;
      for (int ch = 0; ch < cout; ch++)
        for (int y = 0; y < ohs; y++)
          for (int x = 0; x < os; x++) {
            double d = fabs(a[((gsize)ch * wohs + y + pad * s) * wos + x + pad * s]
                            - b[((gsize)ch * ohs + y) * os + x]);
            worst = isnan(d) ? INFINITY : MAX(worst, d);
          }
      g_test_message("%s, %s, core %d×%d, margin %d: largest difference from the whole pass "
                     "%.2e; memory %zu against %zu bytes",
                     name, aenet_conv_kernel_name(kernel), w, h, margin, worst,
                     aenet_workspace_tile_size(net, h, w),
                     aenet_workspace_size(net, wh, ww, FALSE));
      if (worst > 1e-5)
        g_error("%s (%s, core %d×%d): the tile differs from the whole pass by %g", name,
                aenet_conv_kernel_name(kernel), w, h, worst);
      aenet_workspace_free(tile);
      aenet_workspace_free(whole);
    }
    g_free(whole_in), g_free(tile_in), g_free(other);
  }
  aenet_network_free(net);
}

static void
test_tile_small_graphs(void)
{
  check_tile("small_unet", small_unet);
  check_tile("small_upscaler", small_upscaler);
  check_tile("branches", branches);
  check_tile("naf_block", naf_block);
  check_tile("gates", gates);
}

static void
test_tile_presets(void)
{
  const char *names[]
      = { "unet-x2",    "unet-x3",           "unet-x4",     "res-x2",   "unet-res-x2",
          "unet-photo", "unet-denoise-wide", "naf-denoise", "naf-photo" };
  for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
    char *json = aenet_preset_build_graph(aenet_preset_find(names[i], NULL));
    check_tile(names[i], json);
    g_free(json);
  }
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/network/forward-unet", test_forward_unet);
  g_test_add_func("/network/forward-upscaler", test_forward_upscaler);
  g_test_add_func("/network/forward-naf", test_forward_naf);
  g_test_add_func("/network/gradients-unet", test_gradients_unet);
  g_test_add_func("/network/gradients-upscaler", test_gradients_upscaler);
  g_test_add_func("/network/gradients-naf", test_gradients_naf);
  g_test_add_func("/network/parse-errors", test_parse_errors);
  g_test_add_func("/network/naf-params", test_naf_params);
  g_test_add_func("/network/reach", test_reach);
  g_test_add_func("/network/presets", test_presets_valid);
  g_test_add_func("/network/workspace-alignment", test_workspace_alignment);
  g_test_add_func("/network/tile-margins", test_tile_margins);
  g_test_add_func("/network/tile-small-graphs", test_tile_small_graphs);
  g_test_add_func("/network/tile-presets", test_tile_presets);
  return g_test_run();
}
