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

/* A backward kernel run with dout = R into grads[g], the gradient of
 * L = sum (out * R) with respect to the array of[g] (sizes[g] floats),
 * or NULL when that gradient is not wanted. */
typedef void (*BackwardFn)(void *ctx, float **grads);

#define MAX_GRADS 3

typedef struct {
  const char *what;
  LossFn loss; /* runs the forward */
  BackwardFn backward;
  void *ctx;
  int ngrads;
  float *of[MAX_GRADS]; /* inputs and parameters, perturbed in turn */
  size_t sizes[MAX_GRADS];
  const char *names[MAX_GRADS];
} BackwardCase;

static void
run_backward(const BackwardCase *b, float **grads)
{
  /* Finite differences leave the forward's output at a perturbed point:
   * a backward that reads that output must see the unperturbed one. */
  b->loss(b->ctx);
  b->backward(b->ctx, grads);
}

/* Checks a backward kernel three ways: each gradient against central
 * differences (on every element or max_checks random ones), added onto
 * non-zero gradients rather than assigned, and unchanged by any subset
 * of the others being NULL. */
static void
check_backward(const BackwardCase *b, float eps, double atol, double rtol, size_t max_checks,
               AenetRng *rng)
{
  float *fresh[MAX_GRADS] = { NULL }, *init[MAX_GRADS] = { NULL }, *acc[MAX_GRADS] = { NULL };
  for (int g = 0; g < b->ngrads; g++) {
    fresh[g] = g_new0(float, b->sizes[g]);
    init[g] = rand_array(rng, b->sizes[g], -1.0f, 1.0f);
    acc[g] = g_memdup2(init[g], sizeof(float) * b->sizes[g]);
  }
  run_backward(b, fresh);
  for (int g = 0; g < b->ngrads; g++) {
    char *what = g_strdup_printf("%s %s", b->what, b->names[g]);
    check_grad(what, fresh[g], b->of[g], b->sizes[g], b->loss, b->ctx, eps, atol, rtol, max_checks,
               rng);
    g_free(what);
  }

  run_backward(b, acc);
  for (int g = 0; g < b->ngrads; g++) {
    double *want = g_new(double, b->sizes[g]);
    for (size_t i = 0; i < b->sizes[g]; i++)
      want[i] = (double)init[g][i] + fresh[g][i];
    char *what = g_strdup_printf("%s %s accumulates", b->what, b->names[g]);
    assert_close(what, acc[g], want, b->sizes[g], 1e-5, 1e-5);
    g_free(what);
    g_free(want);
  }

  /* Every subset of NULL gradients, including all of them. */
  for (int mask = 0; mask < 1 << b->ngrads; mask++) {
    float *part[MAX_GRADS] = { NULL };
    for (int g = 0; g < b->ngrads; g++)
      if (mask & (1 << g))
        part[g] = g_new0(float, b->sizes[g]);
    run_backward(b, part);
    for (int g = 0; g < b->ngrads; g++)
      if (part[g] != NULL) {
        g_assert_cmpfloat(test_max_abs_diff(part[g], fresh[g], b->sizes[g]), ==, 0.0);
        g_free(part[g]);
      }
  }
  for (int g = 0; g < b->ngrads; g++) {
    g_free(fresh[g]);
    g_free(init[g]);
    g_free(acc[g]);
  }
}

/* ---- convolution ---- */

typedef struct {
  int cin, h, w, cout, k, stride;
  gboolean has_bias;
  gboolean several_bands; /* big enough that im2col works in several bands */
  /* aenet_depthwise_conv2d: one k x k filter per channel (groups = cin =
   * cout), stride 1 */
  gboolean depthwise;
} ConvShape;

/* The three with several_bands are sized for ops.c's bands of about 256K
 * floats; the forward test checks through the scratch size that they
 * still need more than one band. */
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
  /* Depthwise: */
  { 3, 5, 7, 3, 3, 1, TRUE, FALSE, TRUE },  /* odd sizes */
  { 6, 7, 5, 6, 5, 1, FALSE, FALSE, TRUE }, /* 5x5, no bias */
  { 3, 5, 7, 3, 1, 1, TRUE, FALSE, TRUE },  /* 1x1: a scale and shift per channel */
  { 2, 9, 11, 2, 7, 1, TRUE, FALSE, TRUE }, /* 7x7 */
  { 2, 1, 1, 2, 3, 1, TRUE, FALSE, TRUE },  /* a single pixel */
  { 3, 2, 3, 3, 5, 1, TRUE, FALSE, TRUE },  /* smaller than the kernel */
  { 4, 4, 1, 4, 3, 1, FALSE, FALSE, TRUE }, /* one column */
  { 1, 1, 6, 1, 5, 1, FALSE, FALSE, TRUE }, /* one row */
};

static void
conv_shape_out(const ConvShape *s, int *ho, int *wo)
{
  *ho = (s->h - 1) / s->stride + 1;
  *wo = (s->w - 1) / s->stride + 1;
}

/* Input channels per filter: the weight is (cout, conv_group_size, k, k). */
static int
conv_group_size(const ConvShape *s)
{
  return s->depthwise ? 1 : s->cin;
}

static size_t
conv_weight_size(const ConvShape *s)
{
  return (size_t)s->cout * conv_group_size(s) * s->k * s->k;
}

/* Direct convolution in double with explicit bounds checks; a depthwise
 * filter co reads input channel co only. */
static void
conv_reference(double *out, const float *inp, const float *weight, const float *bias,
               const ConvShape *s)
{
  int ho, wo, pad = s->k / 2, group = conv_group_size(s);
  conv_shape_out(s, &ho, &wo);
  for (int co = 0; co < s->cout; co++)
    for (int oy = 0; oy < ho; oy++)
      for (int ox = 0; ox < wo; ox++) {
        double acc = bias != NULL ? bias[co] : 0.0;
        const int ci0 = s->depthwise ? co : 0;
        for (int ci = ci0; ci < ci0 + group; ci++)
          for (int ky = 0; ky < s->k; ky++)
            for (int kx = 0; kx < s->k; kx++) {
              int iy = oy * s->stride + ky - pad, ix = ox * s->stride + kx - pad;
              if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w)
                continue;
              acc += (double)weight[((co * group + ci - ci0) * s->k + ky) * s->k + kx]
                     * inp[((size_t)ci * s->h + iy) * s->w + ix];
            }
        out[((size_t)co * ho + oy) * wo + ox] = acc;
      }
}

typedef struct {
  const ConvShape *s;
  float *out, *inp, *weight, *bias, *scratch, *r;
  size_t nout;
  char *name; /* for messages */
} ConvCtx;

static double
conv_loss(void *p)
{
  ConvCtx *c = p;
  const ConvShape *s = c->s;
  if (s->depthwise)
    aenet_depthwise_conv2d_forward(c->out, c->inp, c->weight, c->bias, s->cin, s->h, s->w, s->k);
  else
    aenet_conv2d_forward(c->out, c->inp, c->weight, c->bias, c->scratch, s->cin, s->h, s->w,
                         s->cout, s->k, s->stride);
  return dot(c->out, c->r, c->nout);
}

static void
conv_ctx_init(ConvCtx *c, const ConvShape *s, AenetRng *rng)
{
  int ho, wo;
  conv_shape_out(s, &ho, &wo);
  c->s = s;
  c->nout = (size_t)s->cout * ho * wo;
  c->name = g_strdup_printf("%sconv %dx%dx%d -> %d, k%d s%d", s->depthwise ? "depthwise " : "",
                            s->cin, s->h, s->w, s->cout, s->k, s->stride);
  c->out = g_new(float, c->nout);
  c->inp = rand_array(rng, (size_t)s->cin * s->h * s->w, -1.0f, 1.0f);
  c->weight = rand_array(rng, conv_weight_size(s), -0.5f, 0.5f);
  c->bias = s->has_bias ? rand_array(rng, s->cout, -0.5f, 0.5f) : NULL;
  c->r = rand_array(rng, c->nout, -1.0f, 1.0f);
  size_t ns = s->depthwise ? 0 : aenet_conv2d_scratch_size(s->cin, s->h, s->w, s->k, s->stride);
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
  g_free(c->name);
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
    conv_loss(&c);
    char *what = g_strdup_printf("%s forward", c.name);
    assert_close(what, c.out, want, c.nout, 1e-5, 1e-5);
    g_free(what);
    g_free(want);
    conv_ctx_clear(&c);
  }
}

static void
conv_backward(void *p, float **grads)
{
  ConvCtx *c = p;
  const ConvShape *s = c->s;
  if (s->depthwise)
    aenet_depthwise_conv2d_backward(grads[0], grads[1], grads[2], c->r, c->inp, c->weight, s->cin,
                                    s->h, s->w, s->k);
  else
    aenet_conv2d_backward(grads[0], grads[1], grads[2], c->r, c->inp, c->weight, c->scratch, s->cin,
                          s->h, s->w, s->cout, s->k, s->stride);
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
    BackwardCase b = { c.name,
                       conv_loss,
                       conv_backward,
                       &c,
                       s->has_bias ? 3 : 2,
                       { c.inp, c.weight, c.bias },
                       { (size_t)s->cin * s->h * s->w, conv_weight_size(s), (size_t)s->cout },
                       { "dinp", "dweight", "dbias" } };
    /* L is linear in every argument, so a wide step has no truncation
     * error and little rounding error. */
    check_backward(&b, 0.25f, 1e-4, 1e-3, 300, &rng);
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

/* ---- sigmoid and products: pixel attention, SimpleGate, channel scale ---- */

typedef enum {
  ELEM_SIGMOID,       /* a (c, hw) */
  ELEM_MUL,           /* a * b, both (c, hw) */
  ELEM_SIMPLE_GATE,   /* a (2c, hw) */
  ELEM_CHANNEL_SCALE, /* a (c, hw) times scale (c) */
} ElemKind;

static const char *const elem_names[] = { "sigmoid", "mul", "simple gate", "channel scale" };

typedef struct {
  ElemKind kind;
  int c;
  size_t hw;
  float *out, *a, *b, *scale, *r; /* out and r are (c, hw) */
} ElemCtx;

/* The kernel's forward into out, which may be one of its inputs. */
static void
elem_forward(ElemCtx *e, float *out)
{
  const size_t n = (size_t)e->c * e->hw;
  switch (e->kind) {
  case ELEM_SIGMOID:
    aenet_sigmoid_forward(out, e->a, n);
    break;
  case ELEM_MUL:
    aenet_mul_forward(out, e->a, e->b, n);
    break;
  case ELEM_SIMPLE_GATE:
    aenet_simple_gate_forward(out, e->a, e->c, e->hw);
    break;
  case ELEM_CHANNEL_SCALE:
    aenet_channel_scale_forward(out, e->a, e->scale, e->c, e->hw);
    break;
  }
}

/* The definitions in ops.h, in double. */
static double
elem_reference(const ElemCtx *e, size_t i)
{
  const size_t n = (size_t)e->c * e->hw;
  switch (e->kind) {
  case ELEM_SIGMOID:
    return 1.0 / (1.0 + exp(-(double)e->a[i]));
  case ELEM_MUL:
    return (double)e->a[i] * e->b[i];
  case ELEM_SIMPLE_GATE:
    return (double)e->a[i] * e->a[i + n];
  default:
    return (double)e->a[i] * e->scale[i / e->hw];
  }
}

static double
elem_loss(void *p)
{
  ElemCtx *e = p;
  elem_forward(e, e->out);
  return dot(e->out, e->r, (size_t)e->c * e->hw);
}

static void
elem_backward(void *p, float **grads)
{
  ElemCtx *e = p;
  const size_t n = (size_t)e->c * e->hw;
  switch (e->kind) {
  case ELEM_SIGMOID: /* from the output, which run_backward has just computed */
    aenet_sigmoid_backward(grads[0], e->r, e->out, n);
    break;
  case ELEM_MUL:
    aenet_mul_backward(grads[0], grads[1], e->r, e->a, e->b, n);
    break;
  case ELEM_SIMPLE_GATE:
    aenet_simple_gate_backward(grads[0], e->r, e->a, e->c, e->hw);
    break;
  case ELEM_CHANNEL_SCALE:
    aenet_channel_scale_backward(grads[0], grads[1], e->r, e->a, e->scale, e->c, e->hw);
    break;
  }
}

/* The forward written over one of its inputs (size floats) gives what it
 * gave into e->out; the input is then put back. */
static void
check_elem_in_place(ElemCtx *e, float *inp, size_t size)
{
  float *saved = g_memdup2(inp, sizeof(float) * size);
  elem_forward(e, inp);
  g_assert_cmpfloat(test_max_abs_diff(inp, e->out, (size_t)e->c * e->hw), ==, 0.0);
  memcpy(inp, saved, sizeof(float) * size);
  g_free(saved);
}

static void
test_elementwise_products(void)
{
  AenetRng rng;
  aenet_rng_init(&rng, 32);
  const int channels[] = { 3, 6 };
  for (ElemKind kind = ELEM_SIGMOID; kind <= ELEM_CHANNEL_SCALE; kind++)
    for (guint ci = 0; ci < G_N_ELEMENTS(channels); ci++) {
      const int c = channels[ci];
      const size_t hw = 5 * 7, n = (size_t)c * hw;
      const size_t na = kind == ELEM_SIMPLE_GATE ? 2 * n : n;
      ElemCtx e = { kind,
                    c,
                    hw,
                    g_new(float, n),
                    rand_array(&rng, na, -4.0f, 4.0f),
                    rand_array(&rng, n, -2.0f, 2.0f),
                    rand_array(&rng, c, -2.0f, 2.0f),
                    rand_array(&rng, n, -1.0f, 1.0f) };
      char *what = g_strdup_printf("%s, %d channels", elem_names[kind], c);

      double *want = g_new(double, n);
      for (size_t i = 0; i < n; i++) {
        want[i] = elem_reference(&e, i);
        e.out[i] = NAN; /* the kernel must assign every element */
      }
      elem_loss(&e);
      assert_close(what, e.out, want, n, 1e-6, 1e-6);

      /* In place, as ops.h allows: over the (first) input, and mul over b too. */
      check_elem_in_place(&e, e.a, na);
      if (kind == ELEM_MUL)
        check_elem_in_place(&e, e.b, n);

      BackwardCase b = { what, elem_loss, elem_backward, &e, 1, { e.a }, { na }, { "dinp" } };
      if (kind == ELEM_MUL) {
        b.ngrads = 2;
        b.of[1] = e.b;
        b.sizes[1] = n;
        b.names[0] = "da";
        b.names[1] = "db";
      } else if (kind == ELEM_CHANNEL_SCALE) {
        b.ngrads = 2;
        b.of[1] = e.scale;
        b.sizes[1] = c;
        b.names[1] = "dscale";
      }
      if (kind == ELEM_SIGMOID)
        /* Curved: a small step; central differences are off by up to 4e-6. */
        check_backward(&b, 1e-2f, 2e-5, 1e-3, na, &rng);
      else
        /* Linear in each element (SimpleGate too: an element meets only
         * its partner in the other half), so a wide step. */
        check_backward(&b, 0.25f, 1e-5, 1e-4, na, &rng);
      g_free(want);
      g_free(what);
      g_free(e.out);
      g_free(e.a);
      g_free(e.b);
      g_free(e.scale);
      g_free(e.r);
    }
}

/* Far from 0 the sigmoid saturates to exactly 0 and 1, with no NaN from
 * exp overflowing, and its gradient to 0. */
static void
test_sigmoid_saturates(void)
{
  const float x[] = { -INFINITY, -1e30f, -200.0f, -89.0f, 0.0f, 89.0f, 200.0f, 1e30f, INFINITY };
  const size_t n = G_N_ELEMENTS(x);
  float out[G_N_ELEMENTS(x)], dinp[G_N_ELEMENTS(x)] = { 0 }, ones[G_N_ELEMENTS(x)];
  for (size_t i = 0; i < n; i++)
    ones[i] = 1.0f;
  aenet_sigmoid_forward(out, x, n);
  aenet_sigmoid_backward(dinp, ones, out, n);
  for (size_t i = 0; i < n; i++) {
    const float want = x[i] < 0.0f ? 0.0f : x[i] > 0.0f ? 1.0f : 0.5f;
    g_assert_cmpfloat(out[i], ==, want);
    g_assert_cmpfloat(dinp[i], ==, x[i] == 0.0f ? 0.25f : 0.0f);
  }
}

/* ---- layer norm over channels ---- */

typedef struct {
  int c;
  size_t hw;
  float offset; /* added to every input: a mean large against the spread */
  double forward_atol;
  gboolean check_backward;
} LayerNormShape;

static const LayerNormShape layer_norm_shapes[] = {
  { 3, 5 * 7, 0.0f, 1e-5, TRUE },
  { 6, 5 * 7, 0.0f, 1e-5, TRUE },
  { 1, 5 * 7, 0.0f, 1e-5, TRUE }, /* one channel: out is the bias */
  { 3, 2 * 256 + 37, 0.0f, 1e-5,
    TRUE }, /* several of ops.c's blocks of 256 pixels, the last partial */
  /* Float sums of inputs near 100 are good to about 1e-5 of the spread;
   * the mean of squares less the squared mean would be off by 1e-3. */
  { 6, 5 * 7, 100.0f, 1e-4, FALSE },
};

/* The mean and the biased variance, in double, of pixel p's c channels. */
static void
pixel_mean_var(double *mean, double *var, const float *inp, int c, size_t hw, size_t p)
{
  double sum = 0.0, sum_dev2 = 0.0;
  for (int ch = 0; ch < c; ch++)
    sum += inp[ch * hw + p];
  *mean = sum / c;
  for (int ch = 0; ch < c; ch++)
    sum_dev2 += (inp[ch * hw + p] - *mean) * (inp[ch * hw + p] - *mean);
  *var = sum_dev2 / c;
}

/* Inputs in offset +- 1 whose channels at each pixel spread with a
 * standard deviation of at least 0.3: where they nearly agree, 1 / std is
 * large, and so is the curvature that central differences must follow. */
static float *
layer_norm_input(AenetRng *rng, int c, size_t hw, float offset)
{
  float *x = g_new(float, (size_t)c *hw);
  for (size_t p = 0; p < hw; p++) {
    double mean, var;
    do {
      for (int ch = 0; ch < c; ch++)
        x[ch * hw + p] = offset - 1.0f + 2.0f * (float)aenet_rng_uniform(rng);
      pixel_mean_var(&mean, &var, x, c, hw, p);
    } while (c > 1 && var < 0.3 * 0.3);
  }
  return x;
}

static void
layer_norm_reference(double *out, const float *inp, const float *weight, const float *bias, int c,
                     size_t hw)
{
  for (size_t p = 0; p < hw; p++) {
    double mean, var;
    pixel_mean_var(&mean, &var, inp, c, hw, p);
    for (int ch = 0; ch < c; ch++)
      out[ch * hw + p]
          = (inp[ch * hw + p] - mean) / sqrt(var + AENET_LAYER_NORM_EPS) * weight[ch] + bias[ch];
  }
}

typedef struct {
  int c;
  size_t hw;
  float *out, *inp, *weight, *bias, *r;
} LayerNormCtx;

static double
layer_norm_loss(void *p)
{
  LayerNormCtx *l = p;
  aenet_layer_norm_channels_forward(l->out, l->inp, l->weight, l->bias, l->c, l->hw);
  return dot(l->out, l->r, (size_t)l->c * l->hw);
}

static void
layer_norm_backward(void *p, float **grads)
{
  LayerNormCtx *l = p;
  aenet_layer_norm_channels_backward(grads[0], grads[1], grads[2], l->r, l->inp, l->weight, l->c,
                                     l->hw);
}

static void
test_layer_norm_channels(void)
{
  AenetRng rng;
  aenet_rng_init(&rng, 71);
  for (guint t = 0; t < G_N_ELEMENTS(layer_norm_shapes); t++) {
    const LayerNormShape *s = &layer_norm_shapes[t];
    const size_t n = (size_t)s->c * s->hw;
    LayerNormCtx l = { s->c,
                       s->hw,
                       g_new(float, n),
                       layer_norm_input(&rng, s->c, s->hw, s->offset),
                       rand_array(&rng, s->c, 0.5f, 1.5f),
                       rand_array(&rng, s->c, -0.5f, 0.5f),
                       rand_array(&rng, n, -1.0f, 1.0f) };
    char *what
        = g_strdup_printf("layer norm %d channels x %zu pixels, offset %g", s->c, s->hw, s->offset);

    double *want = g_new(double, n);
    layer_norm_reference(want, l.inp, l.weight, l.bias, s->c, s->hw);
    for (size_t i = 0; i < n; i++)
      l.out[i] = NAN; /* the kernel must assign every element */
    layer_norm_loss(&l);
    assert_close(what, l.out, want, n, s->forward_atol, 1e-5);

    /* In place, as ops.h allows. */
    float *x = g_memdup2(l.inp, sizeof(float) * n);
    aenet_layer_norm_channels_forward(x, x, l.weight, l.bias, s->c, s->hw);
    g_assert_cmpfloat(test_max_abs_diff(x, l.out, n), ==, 0.0);
    g_free(x);

    if (s->check_backward) {
      BackwardCase b = { what,
                         layer_norm_loss,
                         layer_norm_backward,
                         &l,
                         3,
                         { l.inp, l.weight, l.bias },
                         { n, (size_t)s->c, (size_t)s->c },
                         { "dinp", "dweight", "dbias" } };
      /* Curved: a small step. On these inputs central differences are
       * off by up to 1e-4; the gradients are of order 1. */
      check_backward(&b, 1e-2f, 3e-4, 1e-3, n, &rng);
    }
    g_free(want);
    g_free(what);
    g_free(l.out);
    g_free(l.inp);
    g_free(l.weight);
    g_free(l.bias);
    g_free(l.r);
  }
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
  g_test_add_func("/ops/conv2d/scratch-size", test_conv_scratch_size);
  g_test_add_func("/ops/activations", test_activations);
  g_test_add_func("/ops/add-accumulate", test_add_accumulate);
  g_test_add_func("/ops/elementwise-products", test_elementwise_products);
  g_test_add_func("/ops/sigmoid-saturates", test_sigmoid_saturates);
  g_test_add_func("/ops/layer-norm-channels", test_layer_norm_channels);
  g_test_add_func("/ops/crop", test_crop);
  g_test_add_func("/ops/pixel-shuffle", test_pixel_shuffle);
  g_test_add_func("/ops/losses", test_losses);
  g_test_add_func("/ops/adam", test_adam);
  return g_test_run();
}
