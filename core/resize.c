/* resize.c — bicubic resizing compatible with MATLAB's imresize(…,'bicubic').
 *
 * Layout: tensors are planar (c, h, w), row-major. Each axis gets a weight
 * table: for every output position, P taps, each stored as two floats
 * (source index, weight). Indices are small integers (< 2^24), so a float
 * holds them exactly; keeping them in the caller's float scratch lets the
 * kernel run without allocating.
 *
 * Like MATLAB, the axis with the smaller scale is resized first (vertical
 * first on a tie). MATLAB rounds 8-bit images to 8 bits between the two
 * passes; we keep floats, so results differ from it by at most about one
 * grey level. Calling this once per axis with rounding in between
 * reproduces MATLAB exactly (see tests/test-resize.c).
 *
 * Edges replicate the border pixel, as MATLAB does (resize.h's comment
 * says "symmetric"; MATLAB's own code and its published outputs say
 * otherwise). */
#include "resize.h"

#include <math.h>

/* Cubic convolution kernel with a = -0.5 (Keys). */
static double
cubic(double x)
{
  double ax = fabs(x);
  double ax2 = ax * ax;
  double ax3 = ax2 * ax;
  if (ax <= 1.0)
    return 1.5 * ax3 - 2.5 * ax2 + 1.0;
  if (ax <= 2.0)
    return -0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0;
  return 0.0;
}

/* Weight of a tap at distance d; when shrinking, the kernel is stretched by
 * 1/scale (antialiasing). */
static double
tap_weight(double d, double scale, int shrink)
{
  return shrink ? scale * cubic(scale * d) : cubic(d);
}

/* Taps per output position along an axis of scale out/in. */
static int
axis_taps(int in_len, int out_len)
{
  double scale = (double)out_len / (double)in_len;
  double width = scale < 1.0 ? 4.0 / scale : 4.0;
  return (int)ceil(width) + 2;
}

/* Floats needed for one axis table. */
static size_t
axis_table_size(int in_len, int out_len)
{
  return (size_t)out_len * (size_t)axis_taps(in_len, out_len) * 2;
}

/* Out-of-range taps take the nearest edge pixel (replicate). MATLAB's
 * imresize clamps its indices this way; the published Set5/Set14 images are
 * reproduced bit for bit with it, while a symmetric mirror misses their
 * border rows and columns by up to ten grey levels. */
static int
clamp_index(long i, int n)
{
  return i < 0 ? 0 : i >= n ? n - 1 : (int)i;
}

/* table is (out_len, taps, 2): (source index, weight) pairs. */
static void
axis_table_fill(float *table, int in_len, int out_len, int taps)
{
  double scale = (double)out_len / (double)in_len;
  int shrink = scale < 1.0;
  double width = shrink ? 4.0 / scale : 4.0;

  for (int u = 0; u < out_len; u++) {
    /* MATLAB's 1-based centre: x = u/s + 0.5 (1 - 1/s). */
    double x = (double)(u + 1) / scale + 0.5 * (1.0 - 1.0 / scale);
    long left = (long)floor(x - width / 2.0);
    /* Two passes (sum, then normalised weights) so that no per-tap
     * buffer is needed, however wide the shrinking kernel is. */
    double sum = 0.0;
    for (int k = 0; k < taps; k++)
      sum += tap_weight(x - (double)(left + k), scale, shrink);
    float *row = table + (size_t)u * taps * 2;
    for (int k = 0; k < taps; k++) {
      /* left + k is 1-based; clamp_index wants 0-based. */
      row[2 * k] = (float)clamp_index(left + k - 1, in_len);
      row[2 * k + 1] = (float)(tap_weight(x - (double)(left + k), scale, shrink) / sum);
    }
  }
}

/* out is (c, h, out_w), inp is (c, h, w). */
static void
resize_horizontal(float *out, const float *inp, const float *table, int taps, int c, int h, int w,
                  int out_w)
{
  for (long r = 0; r < (long)c * h; r++) {
    const float *src = inp + r * w;
    float *dst = out + r * out_w;
    for (int u = 0; u < out_w; u++) {
      const float *tap = table + (size_t)u * taps * 2;
      float acc = 0.0f;
      for (int k = 0; k < taps; k++)
        acc += tap[2 * k + 1] * src[(int)tap[2 * k]];
      dst[u] = acc;
    }
  }
}

/* out is (c, out_h, w), inp is (c, h, w). Whole rows at a time, so the inner
 * loop runs along contiguous memory. */
static void
resize_vertical(float *out, const float *inp, const float *table, int taps, int c, int h, int w,
                int out_h)
{
  for (int ch = 0; ch < c; ch++) {
    const float *plane = inp + (size_t)ch * h * w;
    for (int v = 0; v < out_h; v++) {
      float *dst = out + ((size_t)ch * out_h + v) * w;
      const float *tap = table + (size_t)v * taps * 2;
      for (int x = 0; x < w; x++)
        dst[x] = 0.0f;
      for (int k = 0; k < taps; k++) {
        float wt = tap[2 * k + 1];
        if (wt == 0.0f)
          continue;
        const float *src = plane + (size_t)tap[2 * k] * w;
        for (int x = 0; x < w; x++)
          dst[x] += wt * src[x];
      }
    }
  }
}

size_t
aenet_resize_scratch_size(int c, int h, int w, int out_h, int out_w)
{
  size_t tables = axis_table_size(h, out_h) + axis_table_size(w, out_w);
  size_t vert_first = (size_t)c * out_h * w;
  size_t horiz_first = (size_t)c * h * out_w;
  return tables + (vert_first > horiz_first ? vert_first : horiz_first);
}

void
aenet_resize_bicubic(float *out, const float *inp, float *scratch, int c, int h, int w, int out_h,
                     int out_w)
{
  int taps_v = axis_taps(h, out_h);
  int taps_h = axis_taps(w, out_w);
  float *table_v = scratch;                             /* (out_h, taps_v, 2) */
  float *table_h = table_v + axis_table_size(h, out_h); /* (out_w, taps_h, 2) */
  float *mid = table_h + axis_table_size(w, out_w);

  axis_table_fill(table_v, h, out_h, taps_v);
  axis_table_fill(table_h, w, out_w, taps_h);

  /* Compare out_h/h <= out_w/w without division. */
  if ((long long)out_h * w <= (long long)out_w * h) {
    resize_vertical(mid, inp, table_v, taps_v, c, h, w, out_h); /* mid is (c, out_h, w) */
    resize_horizontal(out, mid, table_h, taps_h, c, out_h, w, out_w);
  } else {
    resize_horizontal(mid, inp, table_h, taps_h, c, h, w, out_w); /* mid is (c, h, out_w) */
    resize_vertical(out, mid, table_v, taps_v, c, h, out_w, out_h);
  }
}
