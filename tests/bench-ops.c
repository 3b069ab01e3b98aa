/* bench-ops.c — convolution speed, in effective GFLOPS (2 * MACs / time),
 * with one thread and with two threads that each run their own call on
 * their own buffers, OpenBLAS itself at one thread, as the engine runs.
 * Prints the median over several runs. Not a test.
 *
 * usage: bench-ops [SIZE [RUNS [cpu]]]   (default 256 pixels square, 7 runs)
 * With "cpu", time is each thread's own CPU time (the slowest thread's),
 * which other programs running at the same time barely change. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops.h"
#include "testutil.h"
#include "winograd.h"

typedef struct {
  const char *name;
  int cin, cout, k, stride;
  gboolean winograd; /* F(4x4, 3x3), forward only */
} BenchCase;

typedef struct {
  const BenchCase *c;
  int h, w;
  gboolean backward;
  float *inp, *weight, *bias, *out, *dinp, *dweight, *dbias, *scratch;
  float *u;   /* transformed weights (winograd) */
  double cpu; /* CPU time of the last call, seconds */
} Worker;

static gboolean use_cpu_time;

static double
thread_cpu_seconds(void)
{
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void
worker_init(Worker *wk, const BenchCase *c, int h, int w, AenetRng *rng)
{
  int ho = (h - 1) / c->stride + 1, wo = (w - 1) / c->stride + 1;
  size_t nin = (size_t)c->cin * h * w, nout = (size_t)c->cout * ho * wo;
  size_t nw = (size_t)c->cout * c->cin * c->k * c->k;
  size_t ns = c->winograd ? aenet_winograd_scratch_size(c->cin, h, w, c->cout)
                          : aenet_conv2d_scratch_size(c->cin, h, w, c->k, c->stride);
  wk->c = c;
  wk->h = h;
  wk->w = w;
  wk->inp = g_new(float, nin);
  wk->dinp = g_new0(float, nin);
  wk->weight = g_new(float, nw);
  wk->dweight = g_new0(float, nw);
  wk->bias = g_new(float, c->cout);
  wk->dbias = g_new0(float, c->cout);
  wk->out = g_new(float, nout);
  wk->scratch = g_new0(float, ns > 0 ? ns : 1);
  test_fill_uniform(wk->inp, nin, rng, -1.0f, 1.0f);
  test_fill_uniform(wk->weight, nw, rng, -0.1f, 0.1f);
  test_fill_uniform(wk->bias, c->cout, rng, -0.1f, 0.1f);
  wk->u = NULL;
  if (c->winograd) {
    wk->u = g_new(float, aenet_winograd_weights_size(c->cin, c->cout));
    aenet_winograd_weights(wk->u, wk->weight, c->cin, c->cout);
  }
  /* The backward pass reads out as dout: any values will do. */
  test_fill_uniform(wk->out, nout, rng, -1.0f, 1.0f);
}

static void
worker_clear(Worker *wk)
{
  g_free(wk->inp);
  g_free(wk->dinp);
  g_free(wk->weight);
  g_free(wk->dweight);
  g_free(wk->bias);
  g_free(wk->dbias);
  g_free(wk->out);
  g_free(wk->scratch);
  g_free(wk->u);
}

static gpointer
worker_run(gpointer data)
{
  Worker *wk = data;
  const BenchCase *c = wk->c;
  double start = thread_cpu_seconds();
  if (c->winograd)
    aenet_winograd_forward(wk->out, wk->inp, wk->u, wk->bias, wk->scratch, c->cin, wk->h, wk->w,
                           c->cout, 0);
  else if (wk->backward)
    aenet_conv2d_backward(wk->dinp, wk->dweight, wk->dbias, wk->out, wk->inp, wk->weight,
                          wk->scratch, c->cin, wk->h, wk->w, c->cout, c->k, c->stride);
  else
    aenet_conv2d_forward(wk->out, wk->inp, wk->weight, wk->bias, wk->scratch, c->cin, wk->h, wk->w,
                         c->cout, c->k, c->stride);
  wk->cpu = thread_cpu_seconds() - start;
  return NULL;
}

static int
compare_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median seconds for one call in each of nthreads threads at once. */
static double
time_median(Worker *workers, int nthreads, gboolean backward, int runs)
{
  double *t = g_new(double, runs);
  for (int i = 0; i < nthreads; i++)
    workers[i].backward = backward;
  for (int r = -1; r < runs; r++) { /* run -1 warms up */
    GThread *threads[2] = { NULL, NULL };
    gint64 start = g_get_monotonic_time();
    for (int i = 1; i < nthreads; i++)
      threads[i] = g_thread_new("bench", worker_run, &workers[i]);
    worker_run(&workers[0]);
    for (int i = 1; i < nthreads; i++)
      g_thread_join(threads[i]);
    if (r >= 0)
      t[r] = (g_get_monotonic_time() - start) * 1e-6;
    if (r >= 0 && use_cpu_time)
      t[r] = MAX(workers[0].cpu, nthreads > 1 ? workers[1].cpu : 0.0);
  }
  qsort(t, runs, sizeof(double), compare_double);
  double median = t[runs / 2];
  g_free(t);
  return median;
}

int
main(int argc, char **argv)
{
  int size = argc > 1 ? atoi(argv[1]) : 256;
  int runs = argc > 2 ? atoi(argv[2]) : 7;
  use_cpu_time = argc > 3 && strcmp(argv[3], "cpu") == 0;
  if (size < 1 || runs < 1) {
    fprintf(stderr, "usage: %s [SIZE [RUNS]]\n", argv[0]);
    return 2;
  }
  openblas_set_num_threads(1);

  static const BenchCase cases[] = {
    { "3x3 64->64", 64, 64, 3, 1 },        { "3x3 s2 64->64", 64, 64, 3, 2 },
    { "3x3 3->64", 3, 64, 3, 1 },          { "1x1 64->64", 64, 64, 1, 1 },
    { "1x1 s2 64->64", 64, 64, 1, 2 },     { "3x3 96->96", 96, 96, 3, 1 },
    { "3x3 192->192", 192, 192, 3, 1 },    { "wino 64->64", 64, 64, 3, 1, TRUE },
    { "wino 96->96", 96, 96, 3, 1, TRUE }, { "wino 192->192", 192, 192, 3, 1, TRUE },
    { "wino 16->64", 16, 64, 3, 1, TRUE },
  };
  AenetRng rng;
  aenet_rng_init(&rng, 1);

  printf("conv2d on %dx%d, median of %d runs, GFLOPS = 2 * MACs / time "
         "(backward counts dinp and dweight: 2x forward MACs)\n",
         size, size, runs);
  printf("%-16s %12s %12s %12s %12s\n", "case", "fwd 1 thr", "fwd 2 thr", "bwd 1 thr", "bwd 2 thr");
  for (guint ci = 0; ci < G_N_ELEMENTS(cases); ci++) {
    const BenchCase *c = &cases[ci];
    Worker workers[2];
    for (int i = 0; i < 2; i++)
      worker_init(&workers[i], c, size, size, &rng);
    int ho = (size - 1) / c->stride + 1, wo = ho;
    double flops = 2.0 * c->cout * c->cin * c->k * c->k * (double)ho * wo;
    double g[4] = { 0, 0, 0, 0 };
    for (int pass = 0; pass < (c->winograd ? 1 : 2); pass++)
      for (int nthreads = 1; nthreads <= 2; nthreads++) {
        double t = time_median(workers, nthreads, pass == 1, runs);
        g[pass * 2 + nthreads - 1] = nthreads * flops * (pass == 1 ? 2 : 1) / t * 1e-9;
      }
    if (c->winograd) /* no backward */
      printf("%-16s %12.1f %12.1f %12s %12s\n", c->name, g[0], g[1], "-", "-");
    else
      printf("%-16s %12.1f %12.1f %12.1f %12.1f\n", c->name, g[0], g[1], g[2], g[3]);
    for (int i = 0; i < 2; i++)
      worker_clear(&workers[i]);
  }

  /* The ceiling: the same sgemm as one band of the 3x3 64->64 case. */
  {
    const int m = 64, n = 2048, k = 576;
    float *a = g_new(float, (size_t)m *k), *b = g_new(float, (size_t)k *n);
    float *cm = g_new(float, (size_t)m *n);
    test_fill_uniform(a, (size_t)m * k, &rng, -1.0f, 1.0f);
    test_fill_uniform(b, (size_t)k * n, &rng, -1.0f, 1.0f);
    double t[9];
    for (int r = 0; r < 9; r++) {
      gint64 start = g_get_monotonic_time();
      for (int i = 0; i < 10; i++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, cm,
                    n);
      t[r] = (g_get_monotonic_time() - start) * 1e-6 / 10;
    }
    qsort(t, 9, sizeof(double), compare_double);
    printf("sgemm %dx%dx%d alone, 1 thread: %.1f GFLOPS\n", m, n, k, 2.0 * m * n * k / t[4] * 1e-9);
    g_free(a);
    g_free(b);
    g_free(cm);
  }
  return 0;
}
