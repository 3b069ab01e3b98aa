/* winograd.c — F(4×4, 3×3) convolution. See winograd.h.
 *
 * With d a 6×6 input tile, g a 3×3 kernel and the matrices below, a 4×4
 * output tile is Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A, interpolating at the
 * points 0, ±1, ±2 and ∞ (the usual choice: the smallest constants, so the
 * smallest rounding errors for this tile size).
 *
 * Layouts: tiles are numbered row-major over a grid of ceil(h/4) ×
 * ceil(w/4); a band is a run of consecutive tile numbers, cut into
 * segments of one tile row each. In a band of at most nt tiles:
 *   V (36, cin, nt)  transformed input, column = tile in the band
 *   M (36, cout, nt) products U[ξ] V[ξ]
 * and a segment's input rows are split by column phase (x mod 4), so that
 * both transforms read and write contiguous runs of tiles, which the
 * compiler turns into vector code. */
#include "winograd.h"

#include <cblas.h>
#include <string.h>

/* V and M of a band take about this many floats (1 MB, half the L2 cache
 * of a core), so a band stays in cache from its input transform to its
 * output transform. Measured on one core (thread CPU time, 3×3 convs of
 * 64, 96 and 192 channels): 160, 215 and 254 GFLOPS effective with 1 MB
 * bands, all lower with 2 MB or 4 MB; bands below 16 tiles make sgemm's
 * products too narrow. */
#ifndef WINO_BAND_FLOATS
#define WINO_BAND_FLOATS (256 * 1024)
#endif
#define WINO_MIN_TILES 16
#define WINO_MAX_TILES 1024

/* The transforms are simple loops; built once per instruction set so they
 * use the widest vectors the processor has (the rest of the build targets
 * baseline x86-64). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define WINO_CLONES __attribute__((target_clones("default", "avx2", "avx512f")))
#else
#define WINO_CLONES
#endif
/* The runs of tiles a transform reads and writes never overlap; GCC cannot
 * prove it for a dozen pointers and would leave the loops scalar. */
#if defined(__GNUC__) && !defined(__clang__)
#define IVDEP _Pragma("GCC ivdep")
#else
#define IVDEP
#endif

static size_t
round16(size_t n)
{
  return (n + 15) & ~(size_t)15;
}

static int
band_tiles(int cin, int cout, int n_tiles)
{
  int nt = WINO_BAND_FLOATS / (36 * (cin + cout));
  if (nt < WINO_MIN_TILES)
    nt = WINO_MIN_TILES;
  if (nt > WINO_MAX_TILES)
    nt = WINO_MAX_TILES;
  nt = nt / 16 * 16;
  return nt < n_tiles ? nt : n_tiles;
}

size_t
aenet_winograd_weights_size(int cin, int cout)
{
  return (size_t)36 * cout * cin;
}

/* Runs of input channels transformed together, so the loops over them
 * are vector code: (G g Gᵀ) for WINO_WEIGHT_RUN kernels at once. Training
 * remakes the weights at every step. */
#define WINO_WEIGHT_RUN 32

WINO_CLONES void
aenet_winograd_weights(float *u, const float *weight, int cin, int cout)
{
  /* G (6, 3); U[ξ = 6i + j][co][ci] = (G g Gᵀ)[i][j], in double. */
  static const double G[6][3] = {
    { 1.0 / 4, 0, 0 },
    { -1.0 / 6, -1.0 / 6, -1.0 / 6 },
    { -1.0 / 6, 1.0 / 6, -1.0 / 6 },
    { 1.0 / 24, 1.0 / 12, 1.0 / 6 },
    { 1.0 / 24, -1.0 / 12, 1.0 / 6 },
    { 0, 0, 1 },
  };
  const size_t plane = (size_t)cout * cin;
  for (int co = 0; co < cout; co++)
    for (int c0 = 0; c0 < cin; c0 += WINO_WEIGHT_RUN) {
      const int nc = cin - c0 < WINO_WEIGHT_RUN ? cin - c0 : WINO_WEIGHT_RUN;
      double g[9][WINO_WEIGHT_RUN], gt[6][3][WINO_WEIGHT_RUN]; /* g, then G g */
      for (int c = 0; c < nc; c++)
        for (int k = 0; k < 9; k++)
          g[k][c] = weight[((size_t)co * cin + c0 + c) * 9 + k];
      for (int i = 0; i < 6; i++)
        for (int x = 0; x < 3; x++)
          for (int c = 0; c < nc; c++)
            gt[i][x][c] = G[i][0] * g[x][c] + G[i][1] * g[3 + x][c] + G[i][2] * g[6 + x][c];
      for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) {
          float *o = u + (size_t)(6 * i + j) * plane + (size_t)co * cin + c0;
          for (int c = 0; c < nc; c++)
            o[c] = (float)(gt[i][0][c] * G[j][0] + gt[i][1][c] * G[j][1] + gt[i][2][c] * G[j][2]);
        }
    }
}

/* Per-band buffers carved from the scratch. */
typedef struct {
  int nt;
  float *v;      /* (36, cin, nt) */
  float *m;      /* (36, cout, nt) */
  float *ph;     /* (6, 4, nt + 1): the segment's 6 input rows by column phase */
  float *tmp;    /* (36, nt): half-transformed tiles */
  float *rowout; /* (4, 4 * nt): output rows of a segment cut by the image's edge */
} Band;

static size_t
band_layout(Band *b, float *scratch, int cin, int cout, int nt)
{
  size_t at = 0;
  size_t sizes[5] = { (size_t)36 * cin * nt, (size_t)36 * cout * nt, (size_t)24 * (nt + 1),
                      (size_t)36 * nt, (size_t)16 * nt };
  float **where[5] = { &b->v, &b->m, &b->ph, &b->tmp, &b->rowout };
  b->nt = nt;
  for (int i = 0; i < 5; i++) {
    if (scratch != NULL)
      *where[i] = scratch + at;
    at += round16(sizes[i]);
  }
  return at;
}

size_t
aenet_winograd_scratch_size(int cin, int h, int w, int cout)
{
  Band b;
  int n_tiles = ((h + 3) / 4) * ((w + 3) / 4);
  return band_layout(&b, NULL, cin, cout, band_tiles(cin, cout, n_tiles));
}

/* Splits a run of count groups of 4 floats by column phase:
 * ph[m * stride + q] = row[4q + m]. */
WINO_CLONES static void
deinterleave4(float *restrict ph, const float *restrict row, int count, int stride)
{
  for (int q = 0; q < count; q++) {
    ph[q] = row[4 * q];
    ph[stride + q] = row[4 * q + 1];
    ph[2 * stride + q] = row[4 * q + 2];
    ph[3 * stride + q] = row[4 * q + 3];
  }
}

/* Bᵀ d B for n tiles: ph holds the 6 input rows by phase, (6, 4, s) with
 * s = nt + 1; tile q of row r reads columns 4q .. 4q + 5 of that row. The
 * result goes to v[ξ * vstride + q]. tmp is (36, nt). */
/* o[k][q] = (Bᵀ d)_k with d_k = d[k][q], for n tiles q. */
static inline void
bt6(float *const o[6], const float *const d[6], int n)
{
  float *restrict o0 = o[0], *restrict o1 = o[1], *restrict o2 = o[2], *restrict o3 = o[3],
                  *restrict o4 = o[4], *restrict o5 = o[5];
  const float *restrict i0 = d[0], *restrict i1 = d[1], *restrict i2 = d[2], *restrict i3 = d[3],
                        *restrict i4 = d[4], *restrict i5 = d[5];
  IVDEP
  for (int q = 0; q < n; q++) {
    const float d0 = i0[q], d1 = i1[q], d2 = i2[q], d3 = i3[q], d4 = i4[q], d5 = i5[q];
    o0[q] = 4.0f * d0 - 5.0f * d2 + d4;
    o1[q] = -4.0f * (d1 + d2) + d3 + d4;
    o2[q] = 4.0f * (d1 - d2) - d3 + d4;
    o3[q] = 2.0f * (d3 - d1) - d2 + d4;
    o4[q] = 2.0f * (d1 - d3) - d2 + d4;
    o5[q] = 4.0f * d1 - 5.0f * d3 + d5;
  }
}

WINO_CLONES static void
input_transform(float *restrict v, size_t vstride, const float *restrict ph, float *restrict tmp,
                int n, int nt)
{
  const int s = nt + 1;
  /* Rows: T = d B, row by row; tile q reads phases 0-3 at q and, for its
   * last two columns, phases 0-1 at q + 1. */
  for (int r = 0; r < 6; r++) {
    const float *p = ph + (size_t)(4 * r) * s;
    const float *d[6] = { p, p + s, p + 2 * s, p + 3 * s, p + 1, p + s + 1 };
    float *t = tmp + (size_t)(6 * r) * nt;
    float *o[6] = { t, t + nt, t + 2 * nt, t + 3 * nt, t + 4 * nt, t + 5 * nt };
    bt6(o, d, n);
  }
  /* Columns: V = Bᵀ T. */
  for (int j = 0; j < 6; j++) {
    const float *t = tmp + (size_t)j * nt;
    const float *d[6] = { t, t + 6 * nt, t + 12 * nt, t + 18 * nt, t + 24 * nt, t + 30 * nt };
    float *w = v + (size_t)j * vstride;
    float *o[6] = {
      w, w + 6 * vstride, w + 12 * vstride, w + 18 * vstride, w + 24 * vstride, w + 30 * vstride
    };
    bt6(o, d, n);
  }
}

/* Aᵀ m A for n tiles of one output channel, plus bias and ReLU: m[ξ *
 * mstride + q]; output row i of the tiles goes to rows[i] (4n floats,
 * interleaved: column 4q + c). tmp is (24, nt). */
WINO_CLONES static void
output_transform(float *restrict const rows[4], const float *restrict m, size_t mstride,
                 float *restrict tmp, float bias, int relu, int n, int nt)
{
  /* Columns first: S = Aᵀ m, (4, 6). */
  for (int j = 0; j < 6; j++) {
    const float *m0 = m + (size_t)j * mstride, *m1 = m0 + 6 * mstride, *m2 = m1 + 6 * mstride,
                *m3 = m2 + 6 * mstride, *m4 = m3 + 6 * mstride, *m5 = m4 + 6 * mstride;
    float *s0 = tmp + (size_t)j * nt, *s1 = s0 + 6 * nt, *s2 = s1 + 6 * nt, *s3 = s2 + 6 * nt;
    IVDEP
    for (int q = 0; q < n; q++) {
      const float a = m1[q] + m2[q], b = m1[q] - m2[q];
      const float c = m3[q] + m4[q], d = m3[q] - m4[q];
      s0[q] = m0[q] + a + c;
      s1[q] = b + 2.0f * d;
      s2[q] = a + 4.0f * c;
      s3[q] = b + 8.0f * d + m5[q];
    }
  }
  /* Then rows: Y = S A, with the bias. */
  for (int i = 0; i < 4; i++) {
    const float *s0 = tmp + (size_t)(6 * i) * nt, *s1 = s0 + nt, *s2 = s1 + nt, *s3 = s2 + nt,
                *s4 = s3 + nt, *s5 = s4 + nt;
    float *restrict y = rows[i];
    IVDEP
    for (int q = 0; q < n; q++) {
      const float a = s1[q] + s2[q], b = s1[q] - s2[q];
      const float c = s3[q] + s4[q], d = s3[q] - s4[q];
      float y0 = s0[q] + a + c + bias, y1 = b + 2.0f * d + bias;
      float y2 = a + 4.0f * c + bias, y3 = b + 8.0f * d + s5[q] + bias;
      if (relu) {
        y0 = y0 > 0.0f ? y0 : 0.0f;
        y1 = y1 > 0.0f ? y1 : 0.0f;
        y2 = y2 > 0.0f ? y2 : 0.0f;
        y3 = y3 > 0.0f ? y3 : 0.0f;
      }
      y[4 * q] = y0;
      y[4 * q + 1] = y1;
      y[4 * q + 2] = y2;
      y[4 * q + 3] = y3;
    }
  }
}

/* Transforms the input of one segment: tile row ty, tile columns
 * [tx0, tx0 + n), into band columns [col, col + n). */
static void
segment_input(Band *b, const float *inp, int cin, int h, int w, int ty, int tx0, int n, int col)
{
  const size_t vstride = (size_t)cin * b->nt;
  const int x0 = 4 * tx0 - 1; /* image column of entry 0 of the segment's rows */
  const int len = 4 * (n + 1), stride = b->nt + 1;
  /* Entries [lo, hi) of a row are inside the image; groups [qa, qb) of 4
   * lie wholly inside and are split straight from the input row, the few
   * others (at the image's left and right edges) one by one. */
  const int lo = x0 < 0 ? -x0 : 0;
  const int hi = w - x0 < len ? w - x0 : len;
  const int qa = (lo + 3) / 4, qb = hi / 4 > qa ? hi / 4 : qa;
  for (int ci = 0; ci < cin; ci++) {
    for (int r = 0; r < 6; r++) {
      const int y = 4 * ty - 1 + r;
      float *ph = b->ph + (size_t)(4 * r) * stride;
      if (y < 0 || y >= h) {
        for (int m = 0; m < 4; m++)
          memset(ph + (size_t)m * stride, 0, sizeof(float) * (n + 1));
        continue;
      }
      const float *row = inp + ((size_t)ci * h + y) * w; /* image columns */
      deinterleave4(ph + qa, row + x0 + 4 * qa, qb - qa, stride);
      for (int q = 0; q <= n; q++) {
        if (q == qa)
          q = qb; /* done above */
        if (q > n)
          break;
        for (int m = 0; m < 4; m++) {
          const int c = 4 * q + m;
          ph[(size_t)m * stride + q] = c >= lo && c < hi ? row[x0 + c] : 0.0f;
        }
      }
    }
    input_transform(b->v + (size_t)ci * b->nt + col, vstride, b->ph, b->tmp, n, b->nt);
  }
}

/* Writes one segment's output tiles (band columns [col, col + n)). */
static void
segment_output(Band *b, float *out, const float *bias, int relu, int h, int w, int cout, int ty,
               int tx0, int n, int col)
{
  const size_t mstride = (size_t)cout * b->nt;
  const int x0 = 4 * tx0;
  const int count = w - x0 < 4 * n ? w - x0 : 4 * n;
  for (int co = 0; co < cout; co++) {
    /* Whole rows go straight to the output; a row cut by the right edge
     * (or below the image) goes through rowout. */
    float *rows[4];
    for (int i = 0; i < 4; i++) {
      const int y = 4 * ty + i;
      rows[i] = y < h && count == 4 * n ? out + ((size_t)co * h + y) * w + x0
                                        : b->rowout + (size_t)i * 4 * b->nt;
    }
    output_transform(rows, b->m + (size_t)co * b->nt + col, mstride, b->tmp,
                     bias != NULL ? bias[co] : 0.0f, relu, n, b->nt);
    for (int i = 0; i < 4 && 4 * ty + i < h; i++)
      if (count < 4 * n)
        memcpy(out + ((size_t)co * h + 4 * ty + i) * w + x0, rows[i], sizeof(float) * count);
  }
}

void
aenet_winograd_forward(float *out, const float *inp, const float *u, const float *bias,
                       float *scratch, int cin, int h, int w, int cout, int relu)
{
  const int tiles_x = (w + 3) / 4, tiles_y = (h + 3) / 4;
  const int n_tiles = tiles_x * tiles_y;
  Band b;
  band_layout(&b, scratch, cin, cout, band_tiles(cin, cout, n_tiles));
  const size_t uplane = (size_t)cout * cin;

  for (int t0 = 0; t0 < n_tiles; t0 += b.nt) {
    const int nb = t0 + b.nt <= n_tiles ? b.nt : n_tiles - t0;
    for (int t = t0; t < t0 + nb;) {
      const int ty = t / tiles_x, tx = t % tiles_x;
      const int n = tiles_x - tx < t0 + nb - t ? tiles_x - tx : t0 + nb - t;
      segment_input(&b, inp, cin, h, w, ty, tx, n, t - t0);
      t += n;
    }
    for (int xi = 0; xi < 36; xi++)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout, nb, cin, 1.0f,
                  u + (size_t)xi * uplane, cin, b.v + (size_t)xi * cin * b.nt, b.nt, 0.0f,
                  b.m + (size_t)xi * cout * b.nt, b.nt);
    for (int t = t0; t < t0 + nb;) {
      const int ty = t / tiles_x, tx = t % tiles_x;
      const int n = tiles_x - tx < t0 + nb - t ? tiles_x - tx : t0 + nb - t;
      segment_output(&b, out, bias, relu, h, w, cout, ty, tx, n, t - t0);
      t += n;
    }
  }
}
