/* jpeg-trace.c — see jpeg-trace.h. */
#include "config.h"

#include "jpeg-trace.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

#include "error.h"

#define N_FREQ 10
#define STEP_MIN 2
#define STEP_MAX 24
/* Coefficients are counted in bins of 1/8 within ±RANGE. */
#define BINS_PER_UNIT 8
#define RANGE 256
#define N_BINS (2 * RANGE * BINS_PER_UNIT)
/* Fewer coefficients than this farther than q / 2 from zero say nothing. */
#define MIN_COUNT 100

/* The first ten AC frequencies in JPEG's zigzag order, (vertical,
 * horizontal): the ones with the finest steps, nonzero most often. */
static const int freqs[N_FREQ][2] = { { 0, 1 }, { 1, 0 }, { 2, 0 }, { 1, 1 }, { 0, 2 },
                                      { 0, 3 }, { 1, 2 }, { 2, 1 }, { 3, 0 }, { 4, 0 } };

typedef struct {
  float basis[8][8];                          /* [k][x] = C(k) / 2 cos((2x + 1) k π / 16) */
  float cos_table[STEP_MAX + 1][N_BINS];      /* cos(2π c / q) at each bin's centre */
  guint32 hist[N_FREQ][N_BINS];
} Tables;

static void
tables_init(Tables *t)
{
  for (int k = 0; k < 8; k++)
    for (int x = 0; x < 8; x++)
      t->basis[k][x] = (float)((k == 0 ? M_SQRT1_2 : 1.0) / 2 * cos((2 * x + 1) * k * G_PI / 16));
  for (int q = STEP_MIN; q <= STEP_MAX; q++)
    for (int b = 0; b < N_BINS; b++) {
      double c = ((double)b + 0.5) / BINS_PER_UNIT - RANGE;
      t->cos_table[q][b] = (float)cos(2 * G_PI * c / q);
    }
}

/* The clustering of one grid placement's histograms: the best over
 * frequencies and steps with enough coefficients; 0 when none has. */
static double
best_clustering(const Tables *t)
{
  double best = 0;
  for (int f = 0; f < N_FREQ; f++)
    for (int q = STEP_MIN; q <= STEP_MAX; q++) {
      /* Bins wholly farther than q / 2 from zero. */
      int skip = RANGE * BINS_PER_UNIT - (q * BINS_PER_UNIT) / 2;
      double sum = 0;
      guint64 count = 0;
      for (int b = 0; b < skip; b++) {
        sum += (double)t->hist[f][b] * t->cos_table[q][b];
        count += t->hist[f][b];
      }
      for (int b = N_BINS - skip; b < N_BINS; b++) {
        sum += (double)t->hist[f][b] * t->cos_table[q][b];
        count += t->hist[f][b];
      }
      if (count >= MIN_COUNT)
        best = MAX(best, sum / count);
    }
  return best;
}

/* The histograms of the blocks of the 8×8 grid at offset (oy, ox) of
 * luma (ch × cw; negative marks a clipped pixel, and its block is left
 * out). */
static void
histograms(Tables *t, const float *luma, int ch, int cw, int oy, int ox)
{
  memset(t->hist, 0, sizeof t->hist);
  for (int by = oy; by + 8 <= ch; by += 8)
    for (int bx = ox; bx + 8 <= cw; bx += 8) {
      float block[8][8];
      gboolean clipped = FALSE;
      for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++) {
          block[y][x] = luma[(gsize)(by + y) * cw + bx + x];
          clipped |= block[y][x] < 0;
        }
      if (clipped)
        continue;
      /* Rows first: each row's horizontal frequencies 0–4. */
      float rows[8][5];
      for (int y = 0; y < 8; y++)
        for (int u = 0; u < 5; u++) {
          float s = 0;
          for (int x = 0; x < 8; x++)
            s += t->basis[u][x] * block[y][x];
          rows[y][u] = s;
        }
      for (int f = 0; f < N_FREQ; f++) {
        int v = freqs[f][0], u = freqs[f][1];
        float c = 0;
        for (int y = 0; y < 8; y++)
          c += t->basis[v][y] * rows[y][u];
        int b = (int)floorf((c + RANGE) * BINS_PER_UNIT);
        if (b >= 0 && b < N_BINS)
          t->hist[f][b]++;
      }
    }
}

/* The largest step on which the coefficients of hist cluster tightly:
 * four fifths of those farther than half a step from zero lie within 0.75
 * of a multiple of it (the decoder's rounding moves them by about 0.3).
 * Multiples of the true step also lie on its divisors; a step near the
 * true one misses its multiples. 0 when none does. */
static int
largest_step(const guint32 *hist)
{
  for (int q = AENET_JPEG_TRACE_STEP_MAX; q >= STEP_MIN; q--) {
    int skip = RANGE * BINS_PER_UNIT - (q * BINS_PER_UNIT) / 2;
    guint64 near = 0, count = 0;
    for (int b = 0; b < N_BINS; b++) {
      if (b >= skip && b < N_BINS - skip)
        continue;
      double r = fmod(fabs(((double)b + 0.5) / BINS_PER_UNIT - RANGE), q);
      near += MIN(r, q - r) <= 0.75 ? hist[b] : 0;
      count += hist[b];
    }
    if (count >= MIN_COUNT && near >= 0.8 * count)
      return q;
  }
  return 0;
}

double
aenet_jpeg_trace(const float *image, int channels, int height, int width, int *step,
                 GError **error)
{
  if (image == NULL || (channels != 1 && channels != 3) || height <= 0 || width <= 0) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                "internal error: a JPEG trace needs 1 or 3 channels and a size");
    return -2;
  }
  int cw = MIN(width, AENET_JPEG_TRACE_EDGE), ch = MIN(height, AENET_JPEG_TRACE_EDGE);
  int x0 = (width - cw) / 2, y0 = (height - ch) / 2;
  gsize plane = (gsize)height * width;
  /* Brightness as JPEG computes it (JFIF), on the 0–255 scale; -1 marks a
   * clipped pixel. */
  float *luma = g_new(float, (gsize)cw * ch);
  for (int y = 0; y < ch; y++)
    for (int x = 0; x < cw; x++) {
      gsize i = (gsize)(y0 + y) * width + x0 + x;
      float v[3];
      gboolean clipped = FALSE;
      for (int c = 0; c < channels; c++) {
        v[c] = image[c * plane + i];
        clipped |= v[c] <= 0.0f || v[c] >= 1.0f;
      }
      float yv = channels == 3 ? 0.299f * v[0] + 0.587f * v[1] + 0.114f * v[2] : v[0];
      luma[(gsize)y * cw + x] = clipped ? -1.0f : 255.0f * yv;
    }

  Tables *t = g_new(Tables, 1);
  tables_init(t);
  double best = 0;
  int best_oy = 0, best_ox = 0;
  for (int oy = 0; oy < 8; oy++)
    for (int ox = 0; ox < 8; ox++) {
      histograms(t, luma, ch, cw, oy, ox);
      double clustering = best_clustering(t);
      if (clustering > best)
        best = clustering, best_oy = oy, best_ox = ox;
    }
  if (step != NULL) {
    *step = 0;
    if (best > AENET_JPEG_TRACE_THRESHOLD) {
      histograms(t, luma, ch, cw, best_oy, best_ox);
      *step = largest_step(t->hist[0]);
    }
  }
  g_free(t);
  g_free(luma);
  return best;
}
