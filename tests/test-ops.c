/* test-ops.c — every kernel in ops.h against a naive reference written
 * here, and every backward against central finite differences of
 * L = sum (out * R) for a random R. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "ops.h"
#include "testutil.h"

/* ---- helpers ---- */

static float *
rand_array(AenetRng *rng, size_t n, float lo, float hi)
{
  float *x = g_new(float, n > 0 ? n : 1);
  test_fill_uniform(x, n, rng, lo, hi);
  return x;
}

/* Values with |x| in [0.05, 1.05): finite differences of a kink at 0 need
 * a margin. */
static float *
rand_away_from_zero(AenetRng *rng, size_t n)
{
  float *x = g_new(float, n);
  for (size_t i = 0; i < n; i++) {
    float u = 0.05f + (float)aenet_rng_uniform(rng);
    x[i] = aenet_rng_uniform(rng) < 0.5 ? -u : u;
  }
  return x;
}

static double
dot(const float *a, const float *b, size_t n)
{
  double s = 0.0;
  for (size_t i = 0; i < n; i++)
    s += (double)a[i] * b[i];
  return s;
}

static void
assert_close(const char *what, const float *got, const double *want, size_t n, double atol,
             double rtol)
{
  for (size_t i = 0; i < n; i++) {
    double err = fabs(got[i] - want[i]);
    double allowed = atol + rtol * fabs(want[i]);
    if (!(err <= allowed)) {
      g_printerr("%s: element %zu is %.9g, expected %.9g\n", what, i, got[i], want[i]);
      g_assert_cmpfloat(err, <=, allowed);
    }
  }
}

/* A scalar loss of some float array, for finite differences. */
typedef double (*LossFn)(void *ctx);

/* Compares an analytic gradient of fn with respect to x with central
 * differences, on every element or on max_checks random ones. */
static void
check_grad(const char *what, const float *analytic, float *x, size_t n, LossFn fn, void *ctx,
           float eps, double atol, double rtol, size_t max_checks, AenetRng *rng)
{
  size_t checks = n <= max_checks ? n : max_checks;
  for (size_t c = 0; c < checks; c++) {
    size_t i = n <= max_checks ? c : (size_t)aenet_rng_below(rng, n);
    float saved = x[i];
    x[i] = saved + eps;
    float up = x[i];
    double lp = fn(ctx);
    x[i] = saved - eps;
    float down = x[i];
    double lm = fn(ctx);
    x[i] = saved;
    double numeric = (lp - lm) / ((double)up - down);
    double err = fabs(numeric - analytic[i]);
    double allowed = atol + rtol * fmax(fabs(numeric), fabs(analytic[i]));
    if (!(err <= allowed)) {
      g_printerr("%s: gradient element %zu is %.9g, finite differences give %.9g\n", what, i,
                 analytic[i], numeric);
      g_assert_cmpfloat(err, <=, allowed);
    }
  }
}

/* ---- convolution ---- */

typedef struct {
  int cin, h, w, cout, k, stride;
  gboolean has_bias;
  gboolean several_bands; /* big enough that im2col works in several bands */
} ConvShape;

/* The last three are sized for ops.c's bands of about 256K floats; the
 * forward test checks through the scratch size that they still need more
 * than one band. */
static const ConvShape conv_shapes[] = {
  { 3, 7, 9, 5, 3, 1, TRUE, FALSE },    /* odd sizes, cin != cout */
  { 4, 8, 6, 3, 3, 2, TRUE, FALSE },    /* stride 2, even */
  { 5, 9, 7, 4, 3, 2, FALSE, FALSE },   /* stride 2, odd, no bias */
  { 2, 5, 5, 6, 1, 1, FALSE, FALSE },   /* 1x1: a plain matrix product */
  { 3, 7, 5, 4, 1, 2, TRUE, FALSE },    /* 1x1 stride 2: subsampling */
  { 1, 1, 1, 2, 3, 1, TRUE, FALSE },    /* a single pixel: all taps but one are padding */
  { 2, 2, 3, 3, 3, 2, TRUE, FALSE },    /* smaller than the kernel */
  { 3, 2, 1, 2, 3, 1, FALSE, FALSE },   /* one column */
  { 2, 3, 2, 3, 3, 1, TRUE, FALSE },    /* two columns: edges only */
  { 32, 40, 70, 4, 3, 1, TRUE, TRUE },  /* several bands, the last partial */
  { 32, 61, 141, 3, 3, 2, TRUE, TRUE }, /* stride 2 over several bands */
  { 64, 3, 600, 2, 3, 1, FALSE, TRUE }, /* rows wider than a band */
};

static void
conv_shape_out(const ConvShape *s, int *ho, int *wo)
{
  *ho = (s->h - 1) / s->stride + 1;
  *wo = (s->w - 1) / s->stride + 1;
}

/* Direct convolution in double with explicit bounds checks. */
static void
conv_reference(double *out, const float *inp, const float *weight, const float *bias,
               const ConvShape *s)
{
  int ho, wo, pad = s->k / 2;
  conv_shape_out(s, &ho, &wo);
  for (int co = 0; co < s->cout; co++)
    for (int oy = 0; oy < ho; oy++)
      for (int ox = 0; ox < wo; ox++) {
        double acc = bias != NULL ? bias[co] : 0.0;
        for (int ci = 0; ci < s->cin; ci++)
          for (int ky = 0; ky < s->k; ky++)
            for (int kx = 0; kx < s->k; kx++) {
              int iy = oy * s->stride + ky - pad, ix = ox * s->stride + kx - pad;
              if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w)
                continue;
              acc += (double)weight[((co * s->cin + ci) * s->k + ky) * s->k + kx]
                     * inp[((size_t)ci * s->h + iy) * s->w + ix];
            }
        out[((size_t)co * ho + oy) * wo + ox] = acc;
      }
}

typedef struct {
  const ConvShape *s;
  float *out, *inp, *weight, *bias, *scratch, *r;
  size_t nout;
} ConvCtx;

static double
conv_loss(void *p)
{
  ConvCtx *c = p;
  const ConvShape *s = c->s;
  aenet_conv2d_forward(c->out, c->inp, c->weight, c->bias, c->scratch, s->cin, s->h, s->w, s->cout,
                       s->k, s->stride);
  return dot(c->out, c->r, c->nout);
}

static void
conv_ctx_init(ConvCtx *c, const ConvShape *s, AenetRng *rng)
{
  int ho, wo;
  conv_shape_out(s, &ho, &wo);
  c->s = s;
  c->nout = (size_t)s->cout * ho * wo;
  c->out = g_new(float, c->nout);
  c->inp = rand_array(rng, (size_t)s->cin * s->h * s->w, -1.0f, 1.0f);
  c->weight = rand_array(rng, (size_t)s->cout * s->cin * s->k * s->k, -0.5f, 0.5f);
  c->bias = s->has_bias ? rand_array(rng, s->cout, -0.5f, 0.5f) : NULL;
  c->r = rand_array(rng, c->nout, -1.0f, 1.0f);
  size_t ns = aenet_conv2d_scratch_size(s->cin, s->h, s->w, s->k, s->stride);
  c->scratch = g_new(float, ns > 0 ? ns : 1);
  /* NaN in the scratch catches any column the kernel forgets to write. */
  for (size_t i = 0; i < ns; i++)
    c->scratch[i] = NAN;
}

static void
conv_ctx_clear(ConvCtx *c)
{
  g_free(c->out);
  g_free(c->inp);
  g_free(c->weight);
  g_free(c->bias);
  g_free(c->r);
  g_free(c->scratch);
}

static void
test_conv_forward(void)
{
  AenetRng rng;
  aenet_rng_init(&rng, 11);
  for (guint t = 0; t < G_N_ELEMENTS(conv_shapes); t++) {
    const ConvShape *s = &conv_shapes[t];
    ConvCtx c;
    conv_ctx_init(&c, s, &rng);
    double *want = g_new(double, c.nout);
    conv_reference(want, c.inp, c.weight, c.bias, s);
    if (s->several_bands) {
      int ho, wo;
      conv_shape_out(s, &ho, &wo);
      g_assert_cmpuint(aenet_conv2d_scratch_size(s->cin, s->h, s->w, s->k, s->stride), <,
                       (size_t)s->cin * s->k * s->k * ho * wo);
    }
    /* Poison the output: the kernel must assign every element. */
    for (size_t i = 0; i < c.nout; i++)
      c.out[i] = NAN;
    aenet_conv2d_forward(c.out, c.inp, c.weight, c.bias, c.scratch, s->cin, s->h, s->w, s->cout,
                         s->k, s->stride);
    char *what = g_strdup_printf("conv forward %dx%dx%d -> %d, k%d s%d", s->cin, s->h, s->w,
                                 s->cout, s->k, s->stride);
    assert_close(what, c.out, want, c.nout, 1e-5, 1e-5);
    g_free(what);
    g_free(want);
    conv_ctx_clear(&c);
  }
}

static void
test_conv_backward(void)
{
  AenetRng rng;
  aenet_rng_init(&rng, 12);
  for (guint t = 0; t < G_N_ELEMENTS(conv_shapes); t++) {
    const ConvShape *s = &conv_shapes[t];
    ConvCtx c;
    conv_ctx_init(&c, s, &rng);
    size_t nin = (size_t)s->cin * s->h * s->w;
    size_t nw = (size_t)s->cout * s->cin * s->k * s->k;
    float *dinp = g_new0(float, nin);
    float *dweight = g_new0(float, nw);
    float *dbias = g_new0(float, s->cout);
    aenet_conv2d_backward(dinp, dweight, s->has_bias ? dbias : NULL, c.r, c.inp, c.weight,
                          c.scratch, s->cin, s->h, s->w, s->cout, s->k, s->stride);
    char *what = g_strdup_printf("conv %dx%dx%d -> %d, k%d s%d", s->cin, s->h, s->w, s->cout, s->k,
                                 s->stride);
    /* L is linear in every argument, so a wide step has no truncation
     * error and little rounding error. */
    const float eps = 0.25f;
    check_grad(what, dinp, c.inp, nin, conv_loss, &c, eps, 1e-4, 1e-3, 300, &rng);
    check_grad(what, dweight, c.weight, nw, conv_loss, &c, eps, 1e-4, 1e-3, 300, &rng);
    if (s->has_bias)
      check_grad(what, dbias, c.bias, s->cout, conv_loss, &c, eps, 1e-4, 1e-3, 300, &rng);
    g_free(what);
    g_free(dinp);
    g_free(dweight);
    g_free(dbias);
    conv_ctx_clear(&c);
  }
}

/* Gradients are added onto what is there, and each may be NULL without
 * changing the others. */
static void
test_conv_accumulate_and_null(void)
{
  AenetRng rng;
  aenet_rng_init(&rng, 13);
  for (guint t = 0; t < G_N_ELEMENTS(conv_shapes); t++) {
    const ConvShape *s = &conv_shapes[t];
    ConvCtx c;
    conv_ctx_init(&c, s, &rng);
    size_t nin = (size_t)s->cin * s->h * s->w;
    size_t nw = (size_t)s->cout * s->cin * s->k * s->k;
    size_t sizes[3] = { nin, nw, (size_t)s->cout };
    float *fresh[3], *init[3], *acc[3];
    for (int g = 0; g < 3; g++) {
      fresh[g] = g_new0(float, sizes[g]);
      init[g] = rand_array(&rng, sizes[g], -1.0f, 1.0f);
      acc[g] = g_memdup2(init[g], sizeof(float) * sizes[g]);
    }
    aenet_conv2d_backward(fresh[0], fresh[1], fresh[2], c.r, c.inp, c.weight, c.scratch, s->cin,
                          s->h, s->w, s->cout, s->k, s->stride);
    aenet_conv2d_backward(acc[0], acc[1], acc[2], c.r, c.inp, c.weight, c.scratch, s->cin, s->h,
                          s->w, s->cout, s->k, s->stride);
    for (int g = 0; g < 3; g++) {
      double *want = g_new(double, sizes[g]);
      for (size_t i = 0; i < sizes[g]; i++)
        want[i] = (double)init[g][i] + fresh[g][i];
      assert_close("conv backward accumulates", acc[g], want, sizes[g], 1e-5, 1e-5);
      g_free(want);
    }

    /* Every subset of NULL gradients, including all three. */
    for (int mask = 0; mask < 8; mask++) {
      float *part[3];
      for (int g = 0; g < 3; g++)
        part[g] = (mask & (1 << g)) ? g_new0(float, sizes[g]) : NULL;
      aenet_conv2d_backward(part[0], part[1], part[2], c.r, c.inp, c.weight, c.scratch, s->cin,
                            s->h, s->w, s->cout, s->k, s->stride);
      for (int g = 0; g < 3; g++)
        if (part[g] != NULL) {
          g_assert_cmpfloat(test_max_abs_diff(part[g], fresh[g], sizes[g]), ==, 0.0);
          g_free(part[g]);
        }
    }
    for (int g = 0; g < 3; g++) {
      g_free(fresh[g]);
      g_free(init[g]);
      g_free(acc[g]);
    }
    conv_ctx_clear(&c);
  }
}

static void
test_conv_scratch_size(void)
{
  /* At least the columns of one output row (the smallest band), at most
   * the column matrix of the whole tile. */
  g_assert_cmpuint(aenet_conv2d_scratch_size(64, 256, 256, 3, 1), >=, 64 * 9 * 256);
  g_assert_cmpuint(aenet_conv2d_scratch_size(64, 256, 256, 3, 1), <=, 64 * 9 * 256 * 256);
  g_assert_cmpuint(aenet_conv2d_scratch_size(8, 3, 5000, 3, 1), >=, 8 * 9 * 5000);
  g_assert_cmpuint(aenet_conv2d_scratch_size(4, 10, 10, 1, 2), >=, 4 * 5);
}

/* ---- activations ---- */

typedef struct {
  int kind; /* 0 relu, 1 leaky relu, 2 prelu */
  float *out, *inp, *alpha, *r;
  float slope;
  int c;
  size_t hw;
} ActCtx;

static double
act_loss(void *p)
{
  ActCtx *a = p;
  size_t n = (size_t)a->c * a->hw;
  if (a->kind == 0)
    aenet_relu_forward(a->out, a->inp, n);
  else if (a->kind == 1)
    aenet_leaky_relu_forward(a->out, a->inp, a->slope, n);
  else
    aenet_prelu_forward(a->out, a->inp, a->alpha, a->c, a->hw);
  return dot(a->out, a->r, n);
}

static void
test_activations(void)
{
  AenetRng rng;
  aenet_rng_init(&rng, 21);
  const int c = 3;
  const size_t hw = 37, n = c * hw;
  for (int kind = 0; kind < 3; kind++) {
    ActCtx a = { kind,
                 g_new(float, n),
                 rand_away_from_zero(&rng, n),
                 rand_array(&rng, c, 0.0f, 0.5f),
                 rand_array(&rng, n, -1.0f, 1.0f),
                 0.1f,
                 c,
                 hw };
    /* Forward against the definition. */
    act_loss(&a);
    for (size_t i = 0; i < n; i++) {
      float x = a.inp[i];
      float slope = kind == 0 ? 0.0f : kind == 1 ? a.slope : a.alpha[i / hw];
      g_assert_cmpfloat(a.out[i], ==, x > 0.0f ? x : slope * x);
    }
    /* In place is allowed. */
    float *copy = g_memdup2(a.inp, sizeof(float) * n);
    if (kind == 0)
      aenet_relu_forward(copy, copy, n);
    else if (kind == 1)
      aenet_leaky_relu_forward(copy, copy, a.slope, n);
    else
      aenet_prelu_forward(copy, copy, a.alpha, c, hw);
    g_assert_cmpfloat(test_max_abs_diff(copy, a.out, n), ==, 0.0);
    g_free(copy);

    /* Backward onto non-zero initial values. */
    float *init = rand_array(&rng, n, -1.0f, 1.0f);
    float *dinp = g_memdup2(init, sizeof(float) * n);
    float dalpha_init[3] = { 0.5f, -0.25f, 1.0f };
    float dalpha[3];
    memcpy(dalpha, dalpha_init, sizeof dalpha);
    if (kind == 0)
      aenet_relu_backward(dinp, a.r, a.inp, n);
    else if (kind == 1)
      aenet_leaky_relu_backward(dinp, a.r, a.inp, a.slope, n);
    else
      aenet_prelu_backward(dinp, dalpha, a.r, a.inp, a.alpha, c, hw);
    for (size_t i = 0; i < n; i++)
      dinp[i] -= init[i];
    for (int ch = 0; ch < c; ch++)
      dalpha[ch] -= dalpha_init[ch];
    check_grad("activation dinp", dinp, a.inp, n, act_loss, &a, 1e-2f, 1e-5, 1e-4, n, &rng);
    if (kind == 2) {
      check_grad("prelu dalpha", dalpha, a.alpha, c, act_loss, &a, 1e-2f, 1e-5, 1e-4, c, &rng);
      /* Either gradient may be unwanted. */
      float *d2 = g_new0(float, n);
      aenet_prelu_backward(d2, NULL, a.r, a.inp, a.alpha, c, hw);
      g_assert_cmpfloat(test_max_abs_diff(d2, dinp, n), <=, 1e-6);
      float da2[3] = { 0 };
      aenet_prelu_backward(NULL, da2, a.r, a.inp, a.alpha, c, hw);
      g_assert_cmpfloat(test_max_abs_diff(da2, dalpha, c), <=, 1e-5);
      g_free(d2);
    }
    g_free(init);
    g_free(dinp);
    g_free(a.out);
    g_free(a.inp);
    g_free(a.alpha);
    g_free(a.r);
  }

  /* At exactly 0 the kink takes the negative side's slope: relu passes nothing. */
  float zero = 0.0f, one = 1.0f, d = 0.0f;
  aenet_relu_backward(&d, &one, &zero, 1);
  g_assert_cmpfloat(d, ==, 0.0f);
}

/* ---- element-wise ---- */

static void
test_add_accumulate(void)
{
  AenetRng rng;
  aenet_rng_init(&rng, 31);
  const size_t n = 101;
  float *a = rand_array(&rng, n, -1.0f, 1.0f), *b = rand_array(&rng, n, -1.0f, 1.0f);
  float *out = g_new(float, n);
  aenet_add_forward(out, a, b, n);
  for (size_t i = 0; i < n; i++)
    g_assert_cmpfloat(out[i], ==, a[i] + b[i]);
  float *d = g_memdup2(a, sizeof(float) * n);
  aenet_accumulate(d, b, n);
  g_assert_cmpfloat(test_max_abs_diff(d, out, n), ==, 0.0);
  /* out may alias an input. */
  aenet_add_forward(a, a, b, n);
  g_assert_cmpfloat(test_max_abs_diff(a, out, n), ==, 0.0);
  g_free(a);
  g_free(b);
  g_free(out);
  g_free(d);
}

/* ---- crops ---- */

static void
test_crop(void)
{
  AenetRng rng;
  aenet_rng_init(&rng, 37);
  const int c = 3, h = 9, w = 14;
  float *inp = rand_array(&rng, (size_t)c * h * w, -1.0f, 1.0f);
  for (int border = 0; border <= 3; border++) {
    int oh = h - 2 * border, ow = w - 2 * border;
    float *out = g_new(float, (size_t)c *oh *ow);
    float *in_place = g_memdup2(inp, sizeof(float) * c * h * w);
    aenet_crop_forward(out, inp, c, h, w, border);
    aenet_crop_forward(in_place, in_place, c, h, w, border);
    for (int ch = 0; ch < c; ch++)
      for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
          size_t o = ((size_t)ch * oh + y) * ow + x;
          float want = inp[((size_t)ch * h + y + border) * w + x + border];
          if (out[o] != want || in_place[o] != want)
            g_error("crop by %d: (%d, %d, %d) is %g (in place %g), not %g", border, ch, y, x,
                    out[o], in_place[o], want);
        }
    g_free(out);
    g_free(in_place);
  }
  g_free(inp);
}

/* ---- pixel shuffle ---- */

typedef struct {
  gboolean unshuffle;
  float *out, *inp, *r;
  int c, h, w, f;
  size_t n;
} ShuffleCtx;

static double
shuffle_loss(void *p)
{
  ShuffleCtx *s = p;
  if (s->unshuffle)
    aenet_pixel_unshuffle_forward(s->out, s->inp, s->c, s->h, s->w, s->f);
  else
    aenet_pixel_shuffle_forward(s->out, s->inp, s->c, s->h, s->w, s->f);
  return dot(s->out, s->r, s->n);
}

static void
test_pixel_shuffle(void)
{
  AenetRng rng;
  aenet_rng_init(&rng, 41);
  const int factors[] = { 2, 3 };
  for (guint fi = 0; fi < G_N_ELEMENTS(factors); fi++) {
    const int r = factors[fi], c = 2, h = 3, w = 5;
    const size_t n = (size_t)c * r * r * h * w;
    float *small = rand_array(&rng, n, -1.0f, 1.0f); /* (c*r*r, h, w) */
    float *big = g_new(float, n);                    /* (c, h*r, w*r) */
    float *back = g_new(float, n);

    /* The index mapping written in ops.h. */
    aenet_pixel_shuffle_forward(big, small, c, h, w, r);
    for (int ch = 0; ch < c; ch++)
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          for (int i = 0; i < r; i++)
            for (int j = 0; j < r; j++)
              g_assert_cmpfloat(big[((size_t)ch * h * r + y * r + i) * w * r + x * r + j], ==,
                                small[((size_t)(ch * r * r + i * r + j) * h + y) * w + x]);

    /* Unshuffle inverts it, both ways round. */
    aenet_pixel_unshuffle_forward(back, big, c, h * r, w * r, r);
    g_assert_cmpfloat(test_max_abs_diff(back, small, n), ==, 0.0);
    float *big2 = rand_array(&rng, n, -1.0f, 1.0f);
    aenet_pixel_unshuffle_forward(small, big2, c, h * r, w * r, r);
    aenet_pixel_shuffle_forward(back, small, c, h, w, r);
    g_assert_cmpfloat(test_max_abs_diff(back, big2, n), ==, 0.0);

    /* Backwards, onto non-zero values, against finite differences. */
    for (int un = 0; un < 2; un++) {
      ShuffleCtx s = { un,
                       g_new(float, n),
                       rand_array(&rng, n, -1.0f, 1.0f),
                       rand_array(&rng, n, -1.0f, 1.0f),
                       c,
                       un ? h * r : h,
                       un ? w * r : w,
                       r,
                       n };
      float *init = rand_array(&rng, n, -1.0f, 1.0f);
      float *dinp = g_memdup2(init, sizeof(float) * n);
      if (un)
        aenet_pixel_unshuffle_backward(dinp, s.r, c, s.h, s.w, r);
      else
        aenet_pixel_shuffle_backward(dinp, s.r, c, s.h, s.w, r);
      for (size_t i = 0; i < n; i++)
        dinp[i] -= init[i];
      check_grad(un ? "pixel unshuffle" : "pixel shuffle", dinp, s.inp, n, shuffle_loss, &s, 0.25f,
                 1e-5, 1e-4, n, &rng);
      g_free(init);
      g_free(dinp);
      g_free(s.out);
      g_free(s.inp);
      g_free(s.r);
    }
    g_free(small);
    g_free(big);
    g_free(big2);
    g_free(back);
  }
}

/* ---- losses ---- */

typedef struct {
  int kind; /* 0 L1, 1 L2, 2 Charbonnier */
  float *pred, *target;
  float eps;
  size_t n;
} LossCtx;

static double
loss_value(void *p)
{
  LossCtx *l = p;
  switch (l->kind) {
  case 0:
    return aenet_loss_l1(NULL, l->pred, l->target, l->n);
  case 1:
    return aenet_loss_l2(NULL, l->pred, l->target, l->n);
  default:
    return aenet_loss_charbonnier(NULL, l->pred, l->target, l->eps, l->n);
  }
}

static void
test_losses(void)
{
  AenetRng rng;
  aenet_rng_init(&rng, 51);
  const size_t n = 50;
  for (int kind = 0; kind < 3; kind++) {
    LossCtx l = { kind, g_new(float, n), rand_array(&rng, n, -1.0f, 1.0f), 1e-3f, n };
    /* pred - target kept away from 0 so L1's kink is not crossed. */
    float *diff = rand_away_from_zero(&rng, n);
    for (size_t i = 0; i < n; i++)
      l.pred[i] = l.target[i] + diff[i];

    double want = 0.0;
    for (size_t i = 0; i < n; i++) {
      double d = (double)l.pred[i] - l.target[i];
      want += kind == 0 ? fabs(d) : kind == 1 ? d * d : sqrt(d * d + 1e-6);
    }
    want /= n;

    float *grad = g_new(float, n);
    for (size_t i = 0; i < n; i++)
      grad[i] = NAN; /* assigned, not accumulated */
    float got;
    if (kind == 0)
      got = aenet_loss_l1(grad, l.pred, l.target, n);
    else if (kind == 1)
      got = aenet_loss_l2(grad, l.pred, l.target, n);
    else
      got = aenet_loss_charbonnier(grad, l.pred, l.target, l.eps, n);
    g_assert_cmpfloat_with_epsilon(got, want, 1e-5 * (1.0 + want));
    g_assert_cmpfloat_with_epsilon(loss_value(&l), want, 1e-5 * (1.0 + want));
    check_grad("loss", grad, l.pred, n, loss_value, &l, 1e-2f, 1e-5, 1e-3, n, &rng);
    g_free(grad);
    g_free(diff);
    g_free(l.pred);
    g_free(l.target);
  }

  /* L1's gradient at a zero difference is 0; Charbonnier's is smooth there. */
  float p[2] = { 0.5f, 0.5f }, t[2] = { 0.5f, 0.0f }, g[2];
  aenet_loss_l1(g, p, t, 2);
  g_assert_cmpfloat(g[0], ==, 0.0f);
  g_assert_cmpfloat(g[1], ==, 0.5f);
  float c = aenet_loss_charbonnier(g, p, t, 1e-3f, 2);
  g_assert_cmpfloat(g[0], ==, 0.0f);
  g_assert_cmpfloat_with_epsilon(c, (1e-3 + sqrt(0.25 + 1e-6)) / 2, 1e-6);
}

/* ---- Adam ---- */

static void
test_adam(void)
{
  AenetRng rng;
  aenet_rng_init(&rng, 61);
  const size_t n = 40;
  const float lr = 1e-2f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
  const float decays[] = { 0.0f, 0.05f };
  for (guint di = 0; di < G_N_ELEMENTS(decays); di++) {
    const float wd = decays[di];
    float *param = rand_array(&rng, n, -1.0f, 1.0f);
    float *start = g_memdup2(param, sizeof(float) * n);
    float *m = g_new0(float, n), *v = g_new0(float, n);
    double *rp = g_new(double, n), *rm = g_new0(double, n), *rv = g_new0(double, n);
    for (size_t i = 0; i < n; i++)
      rp[i] = param[i];
    for (long t = 1; t <= 2; t++) {
      float *grad = rand_array(&rng, n, -1.0f, 1.0f);
      aenet_adam_update(param, m, v, grad, n, lr, b1, b2, eps, wd, t);
      for (size_t i = 0; i < n; i++) {
        double g = grad[i];
        rm[i] = b1 * rm[i] + (1.0 - b1) * g;
        rv[i] = b2 * rv[i] + (1.0 - b2) * g * g;
        double mhat = rm[i] / (1.0 - pow(b1, t));
        double vhat = rv[i] / (1.0 - pow(b2, t));
        rp[i] -= (double)lr * wd * rp[i]; /* decoupled decay (AdamW) */
        rp[i] -= lr * mhat / (sqrt(vhat) + eps);
      }
      assert_close("adam m", m, rm, n, 1e-7, 1e-5);
      assert_close("adam v", v, rv, n, 1e-9, 1e-5);
      assert_close("adam param", param, rp, n, 1e-6, 1e-5);
      /* Adam's first step moves every parameter by lr (m_hat / sqrt
       * (v_hat) is the gradient's sign): the update is no silent no-op. */
      if (t == 1)
        for (size_t i = 0; i < n; i++)
          g_assert_cmpfloat(fabs(param[i] - start[i]), >, 0.9 * lr);
      g_free(grad);
    }
    g_free(start);
    g_free(param);
    g_free(m);
    g_free(v);
    g_free(rp);
    g_free(rm);
    g_free(rv);
  }
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  /* As the engine runs it: its own threads, OpenBLAS at one. */
  openblas_set_num_threads(1);
  g_test_add_func("/ops/conv2d/forward", test_conv_forward);
  g_test_add_func("/ops/conv2d/backward", test_conv_backward);
  g_test_add_func("/ops/conv2d/accumulate-and-null", test_conv_accumulate_and_null);
  g_test_add_func("/ops/conv2d/scratch-size", test_conv_scratch_size);
  g_test_add_func("/ops/activations", test_activations);
  g_test_add_func("/ops/add-accumulate", test_add_accumulate);
  g_test_add_func("/ops/crop", test_crop);
  g_test_add_func("/ops/pixel-shuffle", test_pixel_shuffle);
  g_test_add_func("/ops/losses", test_losses);
  g_test_add_func("/ops/adam", test_adam);
  return g_test_run();
}
