/* ops.c — the network's kernels. See ops.h for the layout rules: CHW
 * row-major tensors, (Cout, Cin, K, K) weights, outputs first, no
 * allocation, backward kernels accumulate.
 *
 * Convolution is im2col + sgemm. The column matrix of a whole tile is
 * large (Cin*K*K rows by Ho*Wo columns: 150 MB for 64 channels on
 * 256x256), so it is built in horizontal bands of whole output rows; each
 * band's product goes straight into its rows of the output through
 * sgemm's leading dimension, and the backward pass walks the same bands.
 * A 1x1 stride-1 convolution is a single sgemm on the input itself.
 *
 * Speed is mostly sgemm's: OpenBLAS must use kernels for this CPU (check
 * openblas_get_corename(); OPENBLAS_CORETYPE overrides its guess). */
#include "ops.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* An im2col band holds about this many floats (1 MB), so that it stays in
 * the core's 2 MB L2 cache between being written and being packed by
 * sgemm; but at least CONV_BAND_MIN_COLUMNS output pixels, below which
 * sgemm slows down. Measured on one core for 3x3 64->64 on 256x256:
 * bands of 256 to 1024 pixels run at about 90 GFLOPS, the whole tile at
 * about 52, as its 150 MB of columns go through main memory. */
#ifndef CONV_BAND_FLOATS
#define CONV_BAND_FLOATS (256 * 1024)
#endif
#define CONV_BAND_MIN_COLUMNS 256

static int
conv_out_size(int n, int stride)
{
  return (n - 1) / stride + 1;
}

/* Output rows per band for kk = cin * k * k column rows: whole rows, at
 * least one, at most all. */
static int
conv_band_rows(int kk, int ho, int wo)
{
  int columns = CONV_BAND_FLOATS / kk;
  if (columns < CONV_BAND_MIN_COLUMNS)
    columns = CONV_BAND_MIN_COLUMNS;
  int rows = columns / wo;
  if (rows < 1)
    rows = 1;
  if (rows > ho)
    rows = ho;
  return rows;
}

/* For kernel column kx, the output columns [*lo, *hi) whose input column
 * ox * stride + kx - pad lies inside [0, w); the others read padding. */
static void
conv_valid_range(int *lo, int *hi, int kx, int pad, int stride, int w, int wo)
{
  int first = pad - kx > 0 ? (pad - kx + stride - 1) / stride : 0;
  int last = w - 1 - kx + pad; /* largest ox * stride allowed */
  int end = last < 0 ? 0 : last / stride + 1;
  if (end > wo)
    end = wo;
  if (first > end)
    first = end;
  *lo = first;
  *hi = end;
}

/* Builds the columns of output rows [oy0, oy0 + nrows).
 * inp is (cin, h, w); col is (cin * k * k, nrows * wo). */
static void
im2col_band(float *restrict col, const float *restrict inp, int cin, int h, int w, int k,
            int stride, int oy0, int nrows, int wo)
{
  const int pad = k / 2;
  const size_t n = (size_t)nrows * wo;
  for (int ci = 0; ci < cin; ci++)
    for (int ky = 0; ky < k; ky++)
      for (int kx = 0; kx < k; kx++) {
        float *row = col + ((size_t)(ci * k + ky) * k + kx) * n;
        int lo, hi;
        conv_valid_range(&lo, &hi, kx, pad, stride, w, wo);
        const int shift = kx - pad;
        for (int r = 0; r < nrows; r++) {
          float *restrict dst = row + (size_t)r * wo;
          const int iy = (oy0 + r) * stride + ky - pad;
          if (iy < 0 || iy >= h) {
            memset(dst, 0, sizeof(float) * wo);
            continue;
          }
          const float *restrict src = inp + ((size_t)ci * h + iy) * w;
          for (int ox = 0; ox < lo; ox++)
            dst[ox] = 0.0f;
          if (stride == 1)
            memcpy(dst + lo, src + lo + shift, sizeof(float) * (hi - lo));
          else if (stride == 2) /* a constant stride lets GCC vectorize */
            for (int ox = lo; ox < hi; ox++)
              dst[ox] = src[2 * ox + shift];
          else
            for (int ox = lo; ox < hi; ox++)
              dst[ox] = src[ox * stride + shift];
          for (int ox = hi; ox < wo; ox++)
            dst[ox] = 0.0f;
        }
      }
}

/* The adjoint of im2col_band: adds each column entry back onto the input
 * pixel it was read from; padding entries are dropped.
 * col is (cin * k * k, nrows * wo); dinp is (cin, h, w). */
/* col2im for the common 3x3 stride-1 case: the three taps of a kernel
 * row land on the same input row shifted by -1, 0, +1, so they are
 * summed in one pass instead of three read-modify-writes of that row.
 * Here wo == w. */
static void
col2im_band_3x3s1(float *restrict dinp, const float *restrict col, int cin, int h, int w, int oy0,
                  int nrows)
{
  const size_t n = (size_t)nrows * w;
  for (int ci = 0; ci < cin; ci++)
    for (int ky = 0; ky < 3; ky++) {
      /* rows kx = 0, 1, 2 read input column ox - 1, ox, ox + 1 */
      const float *c0 = col + (size_t)(ci * 3 + ky) * 3 * n;
      const float *c1 = c0 + n, *c2 = c1 + n;
      for (int r = 0; r < nrows; r++) {
        const int iy = oy0 + r + ky - 1;
        if (iy < 0 || iy >= h)
          continue;
        const float *restrict a = c0 + (size_t)r * w;
        const float *restrict b = c1 + (size_t)r * w;
        const float *restrict c = c2 + (size_t)r * w;
        float *restrict dst = dinp + ((size_t)ci * h + iy) * w;
        if (w == 1) {
          dst[0] += b[0];
          continue;
        }
        dst[0] += a[1] + b[0];
        for (int x = 1; x < w - 1; x++)
          dst[x] += a[x + 1] + b[x] + c[x - 1];
        dst[w - 1] += b[w - 1] + c[w - 2];
      }
    }
}

static void
col2im_band(float *restrict dinp, const float *restrict col, int cin, int h, int w, int k,
            int stride, int oy0, int nrows, int wo)
{
  const int pad = k / 2;
  const size_t n = (size_t)nrows * wo;
  if (k == 3 && stride == 1) {
    col2im_band_3x3s1(dinp, col, cin, h, w, oy0, nrows);
    return;
  }
  for (int ci = 0; ci < cin; ci++)
    for (int ky = 0; ky < k; ky++)
      for (int kx = 0; kx < k; kx++) {
        const float *row = col + ((size_t)(ci * k + ky) * k + kx) * n;
        int lo, hi;
        conv_valid_range(&lo, &hi, kx, pad, stride, w, wo);
        const int shift = kx - pad;
        for (int r = 0; r < nrows; r++) {
          const int iy = (oy0 + r) * stride + ky - pad;
          if (iy < 0 || iy >= h)
            continue;
          const float *restrict src = row + (size_t)r * wo;
          float *restrict dst = dinp + ((size_t)ci * h + iy) * w;
          if (stride == 1) {
            float *restrict d = dst + shift;
            for (int ox = lo; ox < hi; ox++)
              d[ox] += src[ox];
          } else if (stride == 2)
            for (int ox = lo; ox < hi; ox++)
              dst[2 * ox + shift] += src[ox];
          else
            for (int ox = lo; ox < hi; ox++)
              dst[ox * stride + shift] += src[ox];
        }
      }
}

/* A 1x1 stride-1 convolution needs no im2col: its column matrix is the
 * input itself, (cin, h*w), read in place. */
static int
conv_is_direct(int k, int stride)
{
  return k == 1 && stride == 1;
}

size_t
aenet_conv2d_scratch_size(int cin, int h, int w, int k, int stride)
{
  if (conv_is_direct(k, stride))
    return 0;
  const int ho = conv_out_size(h, stride), wo = conv_out_size(w, stride);
  const int kk = cin * k * k;
  return (size_t)kk * conv_band_rows(kk, ho, wo) * wo;
}

void
aenet_conv2d_forward(float *out, const float *inp, const float *weight, const float *bias,
                     float *scratch, int cin, int h, int w, int cout, int k, int stride)
{
  /* weight is (cout, kk) as a matrix; out is (cout, ho*wo); each band is
   * out[:, oy0*wo : (oy0+nrows)*wo], rows hwo apart. */
  const int ho = conv_out_size(h, stride), wo = conv_out_size(w, stride);
  const int hwo = ho * wo;
  const int kk = cin * k * k;
  const int direct = conv_is_direct(k, stride);
  /* A direct product has no scratch to keep in cache: one sgemm is faster. */
  const int band = direct ? ho : conv_band_rows(kk, ho, wo);

  for (int oy0 = 0; oy0 < ho; oy0 += band) {
    const int nrows = oy0 + band <= ho ? band : ho - oy0;
    const int nb = nrows * wo;
    float *out_band = out + (size_t)oy0 * wo;
    const float *cols = scratch; /* (kk, nb), rows ldcols apart */
    int ldcols = nb;
    if (direct) {
      cols = inp + (size_t)oy0 * wo;
      ldcols = hwo;
    } else
      im2col_band(scratch, inp, cin, h, w, k, stride, oy0, nrows, wo);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout, nb, kk, 1.0f, weight, kk, cols,
                ldcols, 0.0f, out_band, hwo);
    /* Bias now, while the band is still in cache. */
    if (bias != NULL)
      for (int co = 0; co < cout; co++) {
        float *restrict o = out_band + (size_t)co * hwo;
        const float b = bias[co];
        for (int i = 0; i < nb; i++)
          o[i] += b;
      }
  }
}

void
aenet_conv2d_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                      const float *inp, const float *weight, float *scratch, int cin, int h, int w,
                      int cout, int k, int stride)
{
  /* dout is (cout, ho*wo); dweight (cout, kk); dinp (cin, h, w). Walks
   * the same bands as the forward pass. */
  const int ho = conv_out_size(h, stride), wo = conv_out_size(w, stride);
  const int hwo = ho * wo;
  const int kk = cin * k * k;
  const int direct = conv_is_direct(k, stride);
  /* A direct product has no scratch to keep in cache: one sgemm is faster. */
  const int band = direct ? ho : conv_band_rows(kk, ho, wo);

  for (int oy0 = 0; oy0 < ho; oy0 += band) {
    const int nrows = oy0 + band <= ho ? band : ho - oy0;
    const int nb = nrows * wo;
    const float *dout_band = dout + (size_t)oy0 * wo; /* (cout, nb), rows hwo apart */

    if (dbias != NULL)
      for (int co = 0; co < cout; co++) {
        const float *restrict d = dout_band + (size_t)co * hwo;
        float sum = 0.0f;
        for (int i = 0; i < nb; i++)
          sum += d[i];
        dbias[co] += sum;
      }

    /* dweight += dout_band x cols^T */
    if (dweight != NULL) {
      const float *cols = scratch;
      int ldcols = nb;
      if (direct) {
        cols = inp + (size_t)oy0 * wo;
        ldcols = hwo;
      } else
        im2col_band(scratch, inp, cin, h, w, k, stride, oy0, nrows, wo);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, cout, kk, nb, 1.0f, dout_band, hwo, cols,
                  ldcols, 1.0f, dweight, kk);
    }

    /* dcols = weight^T x dout_band, then dinp += col2im (dcols); a direct
     * convolution's dcols are its dinp band. */
    if (dinp != NULL) {
      if (direct)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kk, nb, cout, 1.0f, weight, kk,
                    dout_band, hwo, 1.0f, dinp + (size_t)oy0 * wo, hwo);
      else {
        /* The columns are no longer needed: the scratch takes dcols. */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kk, nb, cout, 1.0f, weight, kk,
                    dout_band, hwo, 0.0f, scratch, nb);
        col2im_band(dinp, scratch, cin, h, w, k, stride, oy0, nrows, wo);
      }
    }
  }
}

/* ---- sums over pixels ----
 * In SUM_LANES independent partial sums: GCC may not reorder a single
 * running sum, so it would leave the loop scalar, while separate lanes it
 * vectorises. In double, since the sums run over whole planes. */
#define SUM_LANES 8

/* sum of a[i] * b[i] */
static double
dot_floats(const float *restrict a, const float *restrict b, size_t n)
{
  double lane[SUM_LANES] = { 0 };
  size_t i = 0;
  for (; i + SUM_LANES <= n; i += SUM_LANES)
    for (int j = 0; j < SUM_LANES; j++)
      lane[j] += (double)a[i + j] * b[i + j];
  double sum = 0.0;
  for (; i < n; i++)
    sum += (double)a[i] * b[i];
  for (int j = 0; j < SUM_LANES; j++)
    sum += lane[j];
  return sum;
}

/* sum of a[i] */
static double
sum_floats(const float *restrict a, size_t n)
{
  double lane[SUM_LANES] = { 0 };
  size_t i = 0;
  for (; i + SUM_LANES <= n; i += SUM_LANES)
    for (int j = 0; j < SUM_LANES; j++)
      lane[j] += a[i + j];
  double sum = 0.0;
  for (; i < n; i++)
    sum += a[i];
  for (int j = 0; j < SUM_LANES; j++)
    sum += lane[j];
  return sum;
}

/* ---- depthwise convolution ---- */

/* Output row y of the correlation of one (h, w) plane src with the k x k
 * filter f, zero padding k/2, added onto o (w floats). With flip, f is
 * turned by 180 degrees: that is the correlation's adjoint, its backward
 * to the input. Tap by tap over whole rows, so each inner loop is one
 * contiguous multiply-add over a row that stays in L1. */
static void
depthwise_correlate_row(float *restrict o, const float *restrict src, const float *restrict f,
                        int flip, int y, int h, int w, int k)
{
  const int pad = k / 2;
  for (int ky = 0; ky < k; ky++) {
    const int iy = y + ky - pad;
    if (iy < 0 || iy >= h)
      continue;
    const float *restrict s = src + (size_t)iy * w;
    for (int kx = 0; kx < k; kx++) {
      const float tap = flip ? f[(k - 1 - ky) * k + (k - 1 - kx)] : f[ky * k + kx];
      const int shift = kx - pad;
      int lo, hi;
      conv_valid_range(&lo, &hi, kx, pad, 1, w, w);
      for (int x = lo; x < hi; x++)
        o[x] += tap * s[x + shift];
    }
  }
}

void
aenet_depthwise_conv2d_forward(float *out, const float *inp, const float *weight, const float *bias,
                               int c, int h, int w, int k)
{
  const size_t hw = (size_t)h * w;
  for (int ch = 0; ch < c; ch++) {
    const float b = bias != NULL ? bias[ch] : 0.0f;
    const float *f = weight + (size_t)ch * k * k;
    for (int y = 0; y < h; y++) {
      float *restrict o = out + ch * hw + (size_t)y * w;
      for (int x = 0; x < w; x++)
        o[x] = b;
      depthwise_correlate_row(o, inp + ch * hw, f, 0, y, h, w, k);
    }
  }
}

void
aenet_depthwise_conv2d_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                                const float *inp, const float *weight, int c, int h, int w, int k)
{
  const size_t hw = (size_t)h * w;
  const int pad = k / 2;
  for (int ch = 0; ch < c; ch++) {
    const float *d = dout + ch * hw; /* (h, w) */
    const float *x = inp + ch * hw;
    if (dbias != NULL)
      dbias[ch] += (float)sum_floats(d, hw);
    /* dweight (ky, kx) = sum over pixels of dout (y, x) * inp (y + ky - pad,
     * x + kx - pad), row by row over the valid columns. */
    if (dweight != NULL)
      for (int ky = 0; ky < k; ky++)
        for (int kx = 0; kx < k; kx++) {
          const int shift = kx - pad;
          int lo, hi;
          conv_valid_range(&lo, &hi, kx, pad, 1, w, w);
          if (lo >= hi) /* the tap reads only padding */
            continue;
          double sum = 0.0;
          for (int y = 0; y < h; y++) {
            const int iy = y + ky - pad;
            if (iy < 0 || iy >= h)
              continue;
            sum += dot_floats(d + (size_t)y * w + lo, x + (size_t)iy * w + lo + shift, hi - lo);
          }
          dweight[((size_t)ch * k + ky) * k + kx] += (float)sum;
        }
    if (dinp != NULL)
      for (int y = 0; y < h; y++)
        depthwise_correlate_row(dinp + ch * hw + (size_t)y * w, d, weight + (size_t)ch * k * k, 1,
                                y, h, w, k);
  }
}

/* ---- activations ---- */

void
aenet_relu_forward(float *out, const float *inp, size_t n)
{
  for (size_t i = 0; i < n; i++)
    out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void
aenet_relu_backward(float *dinp, const float *dout, const float *inp, size_t n)
{
  if (dinp == NULL)
    return;
  for (size_t i = 0; i < n; i++)
    dinp[i] += inp[i] > 0.0f ? dout[i] : 0.0f;
}

void
aenet_leaky_relu_forward(float *out, const float *inp, float slope, size_t n)
{
  for (size_t i = 0; i < n; i++)
    out[i] = inp[i] > 0.0f ? inp[i] : slope * inp[i];
}

void
aenet_leaky_relu_backward(float *dinp, const float *dout, const float *inp, float slope, size_t n)
{
  if (dinp == NULL)
    return;
  for (size_t i = 0; i < n; i++)
    dinp[i] += inp[i] > 0.0f ? dout[i] : slope * dout[i];
}

void
aenet_prelu_forward(float *out, const float *inp, const float *alpha, int c, size_t hw)
{
  for (int ch = 0; ch < c; ch++)
    aenet_leaky_relu_forward(out + (size_t)ch * hw, inp + (size_t)ch * hw, alpha[ch], hw);
}

void
aenet_prelu_backward(float *dinp, float *dalpha, const float *dout, const float *inp,
                     const float *alpha, int c, size_t hw)
{
  for (int ch = 0; ch < c; ch++) {
    const float *restrict x = inp + (size_t)ch * hw;
    const float *restrict d = dout + (size_t)ch * hw;
    if (dinp != NULL)
      aenet_leaky_relu_backward(dinp + (size_t)ch * hw, d, x, alpha[ch], hw);
    if (dalpha != NULL) {
      /* d out / d alpha = x where x <= 0; sum in double: hw is large. */
      double sum = 0.0;
      for (size_t i = 0; i < hw; i++)
        sum += x[i] > 0.0f ? 0.0f : d[i] * x[i];
      dalpha[ch] += (float)sum;
    }
  }
}

void
aenet_sigmoid_forward(float *out, const float *inp, size_t n)
{
  /* exp (-x) overflows to inf for x below about -88: out is then 0, as it
   * should be. */
  for (size_t i = 0; i < n; i++)
    out[i] = 1.0f / (1.0f + expf(-inp[i]));
}

void
aenet_sigmoid_backward(float *dinp, const float *dout, const float *out, size_t n)
{
  if (dinp == NULL)
    return;
  for (size_t i = 0; i < n; i++)
    dinp[i] += dout[i] * out[i] * (1.0f - out[i]);
}

/* ---- element-wise ---- */

void
aenet_add_forward(float *out, const float *a, const float *b, size_t n)
{
  for (size_t i = 0; i < n; i++)
    out[i] = a[i] + b[i];
}

void
aenet_accumulate(float *restrict d, const float *restrict src, size_t n)
{
  for (size_t i = 0; i < n; i++)
    d[i] += src[i];
}

void
aenet_mul_forward(float *out, const float *a, const float *b, size_t n)
{
  for (size_t i = 0; i < n; i++)
    out[i] = a[i] * b[i];
}

void
aenet_mul_backward(float *da, float *db, const float *dout, const float *a, const float *b,
                   size_t n)
{
  if (da != NULL)
    for (size_t i = 0; i < n; i++)
      da[i] += dout[i] * b[i];
  if (db != NULL)
    for (size_t i = 0; i < n; i++)
      db[i] += dout[i] * a[i];
}

void
aenet_simple_gate_forward(float *out, const float *inp, int c, size_t hw)
{
  const size_t half = (size_t)c * hw;
  aenet_mul_forward(out, inp, inp + half, half);
}

void
aenet_simple_gate_backward(float *dinp, const float *dout, const float *inp, int c, size_t hw)
{
  if (dinp == NULL)
    return;
  const size_t half = (size_t)c * hw;
  aenet_mul_backward(dinp, dinp + half, dout, inp, inp + half, half);
}

void
aenet_channel_scale_forward(float *out, const float *inp, const float *scale, int c, size_t hw)
{
  for (int ch = 0; ch < c; ch++) {
    float *o = out + ch * hw;
    const float *x = inp + ch * hw;
    const float s = scale[ch];
    for (size_t i = 0; i < hw; i++)
      o[i] = x[i] * s;
  }
}

void
aenet_channel_scale_backward(float *dinp, float *dscale, const float *dout, const float *inp,
                             const float *scale, int c, size_t hw)
{
  for (int ch = 0; ch < c; ch++) {
    const float *restrict d = dout + ch * hw;
    if (dinp != NULL) {
      float *restrict di = dinp + ch * hw;
      const float s = scale[ch];
      for (size_t i = 0; i < hw; i++)
        di[i] += d[i] * s;
    }
    if (dscale != NULL)
      dscale[ch] += (float)dot_floats(d, inp + ch * hw, hw);
  }
}

/* ---- layer norm over channels ----
 * The statistics of a pixel run across planes hw apart, so pixels go in
 * blocks of LAYER_NORM_BLOCK: channels outer, the block's pixels inner,
 * each pass a contiguous row per channel, the block's statistics on the
 * stack (no scratch), and its c rows (c KB) in L2 between passes. */
#define LAYER_NORM_BLOCK 256

/* mean and rstd = 1 / sqrt (var + eps) of the n pixels at inp, whose c
 * channels are hw apart. The variance is taken about the mean (two
 * passes): the mean of squares less the squared mean loses all precision
 * when the mean is large against the spread. */
static void
layer_norm_stats(float *restrict mean, float *restrict rstd, const float *restrict inp, int c,
                 size_t hw, size_t n)
{
  const float inv_c = 1.0f / (float)c;
  for (size_t p = 0; p < n; p++)
    mean[p] = 0.0f;
  for (int ch = 0; ch < c; ch++) {
    const float *restrict x = inp + ch * hw;
    for (size_t p = 0; p < n; p++)
      mean[p] += x[p];
  }
  for (size_t p = 0; p < n; p++) {
    mean[p] *= inv_c;
    rstd[p] = 0.0f;
  }
  for (int ch = 0; ch < c; ch++) {
    const float *restrict x = inp + ch * hw;
    for (size_t p = 0; p < n; p++) {
      const float dev = x[p] - mean[p];
      rstd[p] += dev * dev;
    }
  }
  for (size_t p = 0; p < n; p++)
    rstd[p] = 1.0f / sqrtf(rstd[p] * inv_c + AENET_LAYER_NORM_EPS);
}

void
aenet_layer_norm_channels_forward(float *out, const float *inp, const float *weight,
                                  const float *bias, int c, size_t hw)
{
  float mean[LAYER_NORM_BLOCK], rstd[LAYER_NORM_BLOCK];
  for (size_t p0 = 0; p0 < hw; p0 += LAYER_NORM_BLOCK) {
    const size_t n = hw - p0 < LAYER_NORM_BLOCK ? hw - p0 : LAYER_NORM_BLOCK;
    layer_norm_stats(mean, rstd, inp + p0, c, hw, n);
    /* The statistics are all read: out may now overwrite inp. */
    for (int ch = 0; ch < c; ch++) {
      const float *x = inp + ch * hw + p0;
      float *o = out + ch * hw + p0;
      const float wt = weight[ch], b = bias[ch];
      for (size_t p = 0; p < n; p++)
        o[p] = (x[p] - mean[p]) * rstd[p] * wt + b;
    }
  }
}

void
aenet_layer_norm_channels_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                                   const float *inp, const float *weight, int c, size_t hw)
{
  /* With xhat = (x - mean) * rstd and g = dout * weight, the gradient
   * through mean and variance is
   *   dinp = rstd * (g - mean over channels (g) - xhat * mean over channels (g * xhat)). */
  float mean[LAYER_NORM_BLOCK], rstd[LAYER_NORM_BLOCK], xhat[LAYER_NORM_BLOCK];
  float mean_g[LAYER_NORM_BLOCK], mean_gxhat[LAYER_NORM_BLOCK];
  const float inv_c = 1.0f / (float)c;
  for (size_t p0 = 0; p0 < hw; p0 += LAYER_NORM_BLOCK) {
    const size_t n = hw - p0 < LAYER_NORM_BLOCK ? hw - p0 : LAYER_NORM_BLOCK;
    layer_norm_stats(mean, rstd, inp + p0, c, hw, n);
    for (size_t p = 0; p < n; p++)
      mean_g[p] = mean_gxhat[p] = 0.0f;
    for (int ch = 0; ch < c; ch++) {
      const float *restrict x = inp + ch * hw + p0;
      const float *restrict d = dout + ch * hw + p0;
      const float wt = weight[ch];
      for (size_t p = 0; p < n; p++)
        xhat[p] = (x[p] - mean[p]) * rstd[p];
      if (dweight != NULL)
        dweight[ch] += (float)dot_floats(d, xhat, n);
      if (dbias != NULL)
        dbias[ch] += (float)sum_floats(d, n);
      if (dinp != NULL)
        for (size_t p = 0; p < n; p++) {
          const float g = d[p] * wt;
          mean_g[p] += g;
          mean_gxhat[p] += g * xhat[p];
        }
    }
    if (dinp == NULL)
      continue;
    for (size_t p = 0; p < n; p++) {
      mean_g[p] *= inv_c;
      mean_gxhat[p] *= inv_c;
    }
    for (int ch = 0; ch < c; ch++) {
      const float *restrict x = inp + ch * hw + p0;
      const float *restrict d = dout + ch * hw + p0;
      float *restrict di = dinp + ch * hw + p0;
      const float wt = weight[ch];
      for (size_t p = 0; p < n; p++) {
        const float xh = (x[p] - mean[p]) * rstd[p];
        di[p] += rstd[p] * (d[p] * wt - mean_g[p] - xh * mean_gxhat[p]);
      }
    }
  }
}

/* ---- crops ---- */

void
aenet_crop_forward(float *out, const float *inp, int c, int h, int w, int border)
{
  const int oh = h - 2 * border, ow = w - 2 * border;
  if (border == 0) {
    if (out != inp)
      memcpy(out, inp, sizeof(float) * c * h * w);
    return;
  }
  /* Rows in increasing order: in place, a row's destination never lies
   * past its source, so memmove leaves the rows still to move intact. */
  for (int ch = 0; ch < c; ch++)
    for (int y = 0; y < oh; y++)
      memmove(out + ((size_t)ch * oh + y) * ow, inp + ((size_t)ch * h + y + border) * w + border,
              sizeof(float) * ow);
}

/* ---- resolution changes ---- */

void
aenet_pixel_shuffle_forward(float *restrict out, const float *restrict inp, int c, int h, int w,
                            int r)
{
  /* inp is (c*r*r, h, w); out is (c, h*r, w*r). */
  const size_t hw = (size_t)h * w, wr = (size_t)w * r;
  for (int ch = 0; ch < c; ch++)
    for (int y = 0; y < h; y++)
      for (int i = 0; i < r; i++) {
        float *restrict o = out + ((size_t)ch * h * r + (size_t)y * r + i) * wr;
        for (int j = 0; j < r; j++) {
          const float *restrict s = inp + (size_t)(ch * r * r + i * r + j) * hw + (size_t)y * w;
          for (int x = 0; x < w; x++)
            o[(size_t)x * r + j] = s[x];
        }
      }
}

void
aenet_pixel_shuffle_backward(float *restrict dinp, const float *restrict dout, int c, int h, int w,
                             int r)
{
  if (dinp == NULL)
    return;
  const size_t hw = (size_t)h * w, wr = (size_t)w * r;
  for (int ch = 0; ch < c; ch++)
    for (int y = 0; y < h; y++)
      for (int i = 0; i < r; i++) {
        const float *restrict o = dout + ((size_t)ch * h * r + (size_t)y * r + i) * wr;
        for (int j = 0; j < r; j++) {
          float *restrict s = dinp + (size_t)(ch * r * r + i * r + j) * hw + (size_t)y * w;
          for (int x = 0; x < w; x++)
            s[x] += o[(size_t)x * r + j];
        }
      }
}

void
aenet_pixel_unshuffle_forward(float *restrict out, const float *restrict inp, int c, int h, int w,
                              int r)
{
  /* inp is (c, h, w); out is (c*r*r, h/r, w/r). */
  const int hs = h / r, ws = w / r;
  const size_t hws = (size_t)hs * ws;
  for (int ch = 0; ch < c; ch++)
    for (int y = 0; y < hs; y++)
      for (int i = 0; i < r; i++) {
        const float *restrict s = inp + ((size_t)ch * h + (size_t)y * r + i) * w;
        for (int j = 0; j < r; j++) {
          float *restrict o = out + (size_t)(ch * r * r + i * r + j) * hws + (size_t)y * ws;
          for (int x = 0; x < ws; x++)
            o[x] = s[(size_t)x * r + j];
        }
      }
}

void
aenet_pixel_unshuffle_backward(float *restrict dinp, const float *restrict dout, int c, int h,
                               int w, int r)
{
  if (dinp == NULL)
    return;
  const int hs = h / r, ws = w / r;
  const size_t hws = (size_t)hs * ws;
  for (int ch = 0; ch < c; ch++)
    for (int y = 0; y < hs; y++)
      for (int i = 0; i < r; i++) {
        float *restrict s = dinp + ((size_t)ch * h + (size_t)y * r + i) * w;
        for (int j = 0; j < r; j++) {
          const float *restrict o = dout + (size_t)(ch * r * r + i * r + j) * hws + (size_t)y * ws;
          for (int x = 0; x < ws; x++)
            s[(size_t)x * r + j] += o[x];
        }
      }
}

/* ---- losses: sums in double, since n is a whole batch of pixels ---- */

float
aenet_loss_l1(float *grad, const float *pred, const float *target, size_t n)
{
  if (n == 0)
    return 0.0f;
  const float g = 1.0f / (float)n;
  double sum = 0.0;
  for (size_t i = 0; i < n; i++) {
    const float d = pred[i] - target[i];
    sum += fabsf(d);
    if (grad != NULL)
      grad[i] = d > 0.0f ? g : (d < 0.0f ? -g : 0.0f);
  }
  return (float)(sum / (double)n);
}

float
aenet_loss_l2(float *grad, const float *pred, const float *target, size_t n)
{
  if (n == 0)
    return 0.0f;
  const float g = 2.0f / (float)n;
  double sum = 0.0;
  for (size_t i = 0; i < n; i++) {
    const float d = pred[i] - target[i];
    sum += (double)d * d;
    if (grad != NULL)
      grad[i] = g * d;
  }
  return (float)(sum / (double)n);
}

float
aenet_loss_charbonnier(float *grad, const float *pred, const float *target, float eps, size_t n)
{
  if (n == 0)
    return 0.0f;
  const float g = 1.0f / (float)n;
  const float eps2 = eps * eps;
  double sum = 0.0;
  for (size_t i = 0; i < n; i++) {
    const float d = pred[i] - target[i];
    const float s = sqrtf(d * d + eps2);
    sum += s;
    if (grad != NULL)
      grad[i] = s > 0.0f ? g * d / s : 0.0f;
  }
  return (float)(sum / (double)n);
}

/* ---- optimizer ---- */

void
aenet_adam_update(float *restrict param, float *restrict m, float *restrict v,
                  const float *restrict grad, size_t n, float lr, float beta1, float beta2,
                  float eps, float weight_decay, long t)
{
  /* Bias corrections folded into the step size and eps, in double since
   * beta^t is close to 1 early on. */
  const double c1 = 1.0 - pow(beta1, (double)t);
  const double c2 = 1.0 - pow(beta2, (double)t);
  const float step = (float)(lr / c1);
  const float sqrt_c2 = (float)sqrt(c2);
  const float decay = weight_decay > 0.0f ? 1.0f - lr * weight_decay : 1.0f;
  const float b1 = beta1, b2 = beta2, a1 = 1.0f - beta1, a2 = 1.0f - beta2;
  for (size_t i = 0; i < n; i++) {
    const float g = grad[i];
    const float mi = b1 * m[i] + a1 * g;
    const float vi = b2 * v[i] + a2 * g * g;
    m[i] = mi;
    v[i] = vi;
    /* m_hat / (sqrt (v_hat) + eps) = (m / c1) / (sqrt (v) / sqrt (c2) + eps) */
    param[i] = param[i] * decay - step * mi / (sqrtf(vi) / sqrt_c2 + eps);
  }
}
