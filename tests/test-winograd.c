/* test-winograd.c — the F(4×4, 3×3) convolution against a direct sum in
 * double, on random data, for many shapes: sizes not multiples of 4 (cut
 * tiles on the right and bottom), one row or column, channel counts that
 * are multiples of nothing, several bands, with and without bias and ReLU.
 *
 * Rounding: Winograd's error grows with the size of the terms it cancels,
 * so each output is checked against a bound scaled by Σ |w| |x| over its
 * 3×3×cin window (the same sum with absolute values), not by the output. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "ops.h"
#include "testutil.h"
#include "winograd.h"

typedef struct {
  int cin, h, w, cout;
  gboolean bias, relu;
} Shape;

static const Shape shapes[] = {
  { 1, 1, 1, 1, TRUE, FALSE },     /* one pixel: all taps but one are padding */
  { 3, 7, 9, 5, TRUE, FALSE },     /* odd sizes, cut tiles right and bottom */
  { 2, 1, 13, 3, FALSE, TRUE },    /* one row */
  { 5, 11, 1, 2, TRUE, TRUE },     /* one column */
  { 4, 4, 4, 4, TRUE, FALSE },     /* exactly one tile */
  { 7, 5, 6, 11, FALSE, FALSE },   /* a tile and a bit */
  { 13, 23, 37, 17, TRUE, TRUE },  /* primes everywhere */
  { 64, 40, 70, 64, TRUE, TRUE },  /* several bands, the last partial */
  { 16, 9, 300, 24, TRUE, FALSE }, /* tile rows wider than a band */
  { 96, 18, 22, 96, TRUE, TRUE },  /* the denoiser's middle level */
  { 4, 130, 3, 64, TRUE, TRUE },   /* a tall narrow input: many short segments */
};

/* want = conv (x, w) + b, mag = conv (|x|, |w|) + |b|, both in double;
 * relu applied to want. */
static void
reference(double *want, double *mag, const float *x, const float *wt, const float *b,
          const Shape *s)
{
  for (int co = 0; co < s->cout; co++)
    for (int y = 0; y < s->h; y++)
      for (int xx = 0; xx < s->w; xx++) {
        double sum = s->bias ? b[co] : 0.0, abs_sum = s->bias ? fabs(b[co]) : 0.0;
        for (int ci = 0; ci < s->cin; ci++)
          for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++) {
              int iy = y + ky - 1, ix = xx + kx - 1;
              if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w)
                continue;
              double a = x[((size_t)ci * s->h + iy) * s->w + ix];
              double k = wt[(((size_t)co * s->cin + ci) * 3 + ky) * 3 + kx];
              sum += a * k;
              abs_sum += fabs(a * k);
            }
        size_t o = ((size_t)co * s->h + y) * s->w + xx;
        want[o] = s->relu && sum < 0.0 ? 0.0 : sum;
        mag[o] = abs_sum;
      }
}

static void
check_shape(const Shape *s, AenetRng *rng)
{
  size_t nin = (size_t)s->cin * s->h * s->w, nout = (size_t)s->cout * s->h * s->w;
  size_t nw = (size_t)s->cout * s->cin * 9;
  float *x = g_new(float, nin), *wt = g_new(float, nw), *b = g_new(float, s->cout);
  test_fill_uniform(x, nin, rng, -1.0f, 1.0f);
  test_fill_uniform(wt, nw, rng, -0.5f, 0.5f);
  test_fill_uniform(b, s->cout, rng, -0.5f, 0.5f);
  float *u = g_new(float, aenet_winograd_weights_size(s->cin, s->cout));
  aenet_winograd_weights(u, wt, s->cin, s->cout);
  /* Scratch with a guard after it: the kernel must stay inside its size. */
  size_t ns = aenet_winograd_scratch_size(s->cin, s->h, s->w, s->cout);
  float *scratch = g_new(float, ns + 64);
  for (int i = 0; i < 64; i++)
    scratch[ns + i] = 12345.0f;
  float *out = g_new(float, nout);
  for (size_t i = 0; i < nout; i++)
    out[i] = NAN; /* every element must be assigned */
  aenet_winograd_forward(out, x, u, s->bias ? b : NULL, scratch, s->cin, s->h, s->w, s->cout,
                         s->relu);
  for (int i = 0; i < 64; i++)
    g_assert_cmpfloat(scratch[ns + i], ==, 12345.0f);

  double *want = g_new(double, nout), *mag = g_new(double, nout);
  reference(want, mag, x, wt, b, s);
  double worst = 0.0;
  for (size_t i = 0; i < nout; i++) {
    /* F(4×4, 3×3) in float: errors up to a few 1e-6 of the magnitude. */
    double allowed = 2e-5 * mag[i] + 1e-7;
    double err = fabs(out[i] - want[i]);
    worst = MAX(worst, err / (mag[i] + 1e-30));
    if (!(err <= allowed)) {
      g_printerr("winograd %dx%dx%d -> %d: element %zu is %.9g, expected %.9g (magnitude %g)\n",
                 s->cin, s->h, s->w, s->cout, i, out[i], want[i], mag[i]);
      g_assert_cmpfloat(err, <=, allowed);
    }
  }
  g_test_message("%dx%dx%d -> %d: largest error %.2e of the magnitude", s->cin, s->h, s->w, s->cout,
                 worst);

  /* The im2col path agrees too, the way the network compares them. */
  float *ref = g_new(float, nout);
  float *cs = g_new(float, aenet_conv2d_scratch_size(s->cin, s->h, s->w, 3, 1));
  aenet_conv2d_forward(ref, x, wt, s->bias ? b : NULL, cs, s->cin, s->h, s->w, s->cout, 3, 1);
  if (s->relu)
    aenet_relu_forward(ref, ref, nout);
  for (size_t i = 0; i < nout; i++)
    g_assert_cmpfloat(fabs(out[i] - ref[i]), <=, 2e-5 * mag[i] + 1e-7);

  g_free(ref);
  g_free(cs);
  g_free(want);
  g_free(mag);
  g_free(out);
  g_free(scratch);
  g_free(u);
  g_free(x);
  g_free(wt);
  g_free(b);
}

static void
test_shapes(void)
{
  AenetRng rng;
  aenet_rng_init(&rng, 2024);
  for (guint i = 0; i < G_N_ELEMENTS(shapes); i++)
    check_shape(&shapes[i], &rng);
}

/* Random shapes on top of the listed ones. */
static void
test_random_shapes(void)
{
  AenetRng rng;
  aenet_rng_init(&rng, 77);
  for (int t = 0; t < 40; t++) {
    Shape s = { 1 + (int)aenet_rng_below(&rng, 40), 1 + (int)aenet_rng_below(&rng, 50),
                1 + (int)aenet_rng_below(&rng, 90), 1 + (int)aenet_rng_below(&rng, 40),
                aenet_rng_below(&rng, 2),           aenet_rng_below(&rng, 2) };
    check_shape(&s, &rng);
  }
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  openblas_set_num_threads(1);
  g_test_add_func("/winograd/shapes", test_shapes);
  g_test_add_func("/winograd/random-shapes", test_random_shapes);
  return g_test_run();
}
