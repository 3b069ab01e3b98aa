/* noise-estimate.c — noise level from the eigenvalues of the patch
 * covariance (Chen, Zhu & Heng, ICCV 2015); see noise-estimate.h.
 *
 * Layout: the image is planar (c, h, w), row-major. A patch is the vector
 * of its c·P·P samples, channel-major then row-major (r = c·P·P ≤ 147). */
#include "noise-estimate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "error.h"

#define PATCH 7
/* Enough patches for a stable covariance of up to 147 dimensions; larger
 * images are sampled on an even grid so the cost stays bounded. */
#define MAX_PATCHES 40000
/* Patches gathered per matrix product. */
#define BLOCK 512
#define MIN_SIDE 32
#define MAX_R (3 * PATCH * PATCH)

/* Reduces the symmetric n×n matrix a (row-major, destroyed) to a
 * tridiagonal one with the same eigenvalues by Householder reflections:
 * diagonal d (n), off-diagonal e (n - 1). v is scratch (2 n). */
static void
tridiagonalize(double *a, int n, double *d, double *e, double *v)
{
  double *p = v + n;
  for (int k = 0; k < n - 2; k++) {
    /* The reflection that zeroes column k below row k + 1. */
    int m = n - k - 1; /* length of x = a[k+1 .., k] */
    double norm = 0.0;
    for (int i = 0; i < m; i++) {
      v[i] = a[(k + 1 + i) * n + k];
      norm += v[i] * v[i];
    }
    norm = sqrt(norm);
    d[k] = a[k * n + k];
    if (norm == 0.0) {
      e[k] = 0.0;
      continue;
    }
    double alpha = v[0] > 0.0 ? -norm : norm;
    v[0] -= alpha;
    double vnorm = 0.0;
    for (int i = 0; i < m; i++)
      vnorm += v[i] * v[i];
    vnorm = sqrt(vnorm);
    e[k] = alpha;
    if (vnorm == 0.0)
      continue;
    for (int i = 0; i < m; i++)
      v[i] /= vnorm;
    /* B = H B H for the trailing block B, H = I - 2 v vᵀ:
     * p = B v, q = p - (vᵀp) v, B -= 2 (v qᵀ + q vᵀ). */
    double vp = 0.0;
    for (int i = 0; i < m; i++) {
      const double *row = a + (gsize)(k + 1 + i) * n + k + 1;
      double s = 0.0;
      for (int j = 0; j < m; j++)
        s += row[j] * v[j];
      p[i] = s;
      vp += v[i] * s;
    }
    for (int i = 0; i < m; i++)
      p[i] -= vp * v[i];
    for (int i = 0; i < m; i++) {
      double *row = a + (gsize)(k + 1 + i) * n + k + 1;
      for (int j = 0; j < m; j++)
        row[j] -= 2.0 * (v[i] * p[j] + p[i] * v[j]);
    }
  }
  if (n >= 2) {
    d[n - 2] = a[(n - 2) * n + n - 2];
    e[n - 2] = a[(n - 1) * n + n - 2];
  }
  d[n - 1] = a[(n - 1) * n + n - 1];
}

/* How many eigenvalues of the tridiagonal (d, e) are below x (Sturm
 * sequence: the signs of the pivots of T - x I). */
static int
count_below(const double *d, const double *e, int n, double x)
{
  int count = 0;
  double q = 1.0;
  for (int i = 0; i < n; i++) {
    double off = i > 0 ? e[i - 1] * e[i - 1] : 0.0;
    q = d[i] - x - (i > 0 ? off / q : 0.0);
    if (q == 0.0)
      q = -1e-300; /* an exact zero pivot: nudge it */
    count += q < 0.0;
  }
  return count;
}

/* All eigenvalues of the symmetric n×n matrix a (destroyed), ascending,
 * into eig: tridiagonal reduction, then bisection on Sturm counts inside
 * the Gershgorin bounds. scratch holds 4 n doubles. */
static void
symmetric_eigenvalues(double *a, int n, double *eig, double *scratch)
{
  double *d = scratch, *e = scratch + n, *v = scratch + 2 * n;
  tridiagonalize(a, n, d, e, v);
  double lo = INFINITY, hi = -INFINITY;
  for (int i = 0; i < n; i++) {
    double r = (i > 0 ? fabs(e[i - 1]) : 0.0) + (i < n - 1 ? fabs(e[i]) : 0.0);
    lo = MIN(lo, d[i] - r);
    hi = MAX(hi, d[i] + r);
  }
  double tol = 1e-15 * MAX(fabs(lo), fabs(hi)) + 1e-300;
  for (int k = 0; k < n; k++) {
    /* The k-th smallest: the least x with more than k eigenvalues below. */
    double a0 = lo, b0 = hi;
    while (b0 - a0 > tol) {
      double mid = 0.5 * (a0 + b0);
      if (mid <= a0 || mid >= b0)
        break;
      if (count_below(d, e, n, mid) > k)
        b0 = mid;
      else
        a0 = mid;
    }
    eig[k] = 0.5 * (a0 + b0);
    lo = a0; /* the next one is not smaller */
  }
}

/* The noise variance from ascending eigenvalues: the mean of the largest
 * set of smallest eigenvalues whose mean is also their median (as many
 * above the mean as below). */
static double
variance_from_eigenvalues(const double *eig, int n)
{
  double sum = 0.0;
  for (int i = 0; i < n; i++)
    sum += eig[i];
  for (int k = n; k >= 1; k--) {
    double tau = sum / k;
    int above = 0, below = 0;
    for (int i = 0; i < k; i++) {
      above += eig[i] > tau;
      below += eig[i] < tau;
    }
    if (above == below)
      return tau;
    sum -= eig[k - 1];
  }
  return eig[0];
}

typedef struct {
  const float *image; /* (c, h, w) */
  int c, h, w;
  int step, gy, gx; /* patch grid: gy × gx positions step pixels apart */
  int r;            /* patch dimension c·P·P */
  double shift[3];  /* channel means, subtracted against cancellation */
  double *block;    /* (BLOCK, r) gathered patches */
  double *cov;      /* (r, r) */
  double *mean;     /* (r) */
  double *eig;      /* (r) */
} Estimator;

/* Whether the patch at (y, x) stays clear of clipping: the 3×3 local
 * means of every channel (a rough clean value that depends little on any
 * single noise sample) lie at least `margin` from 0 and from 1. Selecting
 * on the samples themselves would drop exactly the large noise values and
 * bias the estimate down. */
static gboolean
patch_is_clear(const Estimator *e, int y, int x, float margin)
{
  for (int k = 0; k < e->c; k++) {
    const float *base = e->image + ((gsize)k * e->h + y) * e->w + x;
    for (int i = 1; i < PATCH - 1; i++)
      for (int j = 1; j < PATCH - 1; j++) {
        float s = 0.0f;
        for (int di = -1; di <= 1; di++) {
          const float *row = base + (gsize)(i + di) * e->w + j;
          s += row[-1] + row[0] + row[1];
        }
        s *= 1.0f / 9.0f;
        if (s < margin || s > 1.0f - margin)
          return FALSE;
      }
  }
  return TRUE;
}

/* The noise variance from the patches on the grid, leaving out those
 * near clipping when margin > 0. Returns -1 when fewer than min_count
 * patches remain. */
static double
estimate_variance(Estimator *e, float margin, gint64 min_count)
{
  const int r = e->r;
  gint64 count = 0;
  int nb = 0;
  memset(e->cov, 0, sizeof(double) * r * r);
  memset(e->mean, 0, sizeof(double) * r);
  for (int iy = 0; iy < e->gy; iy++)
    for (int ix = 0; ix < e->gx; ix++) {
      int y = iy * e->step, x = ix * e->step;
      if (margin > 0.0f && !patch_is_clear(e, y, x, margin))
        continue;
      double *dst = e->block + (gsize)nb * r;
      for (int k = 0; k < e->c; k++)
        for (int i = 0; i < PATCH; i++) {
          const float *row = e->image + ((gsize)k * e->h + y + i) * e->w + x;
          for (int j = 0; j < PATCH; j++)
            *dst++ = row[j] - e->shift[k];
        }
      if (++nb == BLOCK || (iy == e->gy - 1 && ix == e->gx - 1)) {
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, r, nb, 1.0, e->block, r, 1.0, e->cov, r);
        for (int b = 0; b < nb; b++)
          for (int d = 0; d < r; d++)
            e->mean[d] += e->block[(gsize)b * r + d];
        count += nb;
        nb = 0;
      }
    }
  if (nb > 0) /* the last grid position was skipped */
  {
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, r, nb, 1.0, e->block, r, 1.0, e->cov, r);
    for (int b = 0; b < nb; b++)
      for (int d = 0; d < r; d++)
        e->mean[d] += e->block[(gsize)b * r + d];
    count += nb;
  }
  if (count < min_count || count == 0)
    return -1.0;

  /* Covariance = E[p pᵀ] − E[p] E[p]ᵀ, mirrored into the lower half. */
  for (int d = 0; d < r; d++)
    e->mean[d] /= (double)count;
  for (int i = 0; i < r; i++)
    for (int j = i; j < r; j++) {
      double v = e->cov[i * r + j] / (double)count - e->mean[i] * e->mean[j];
      e->cov[i * r + j] = e->cov[j * r + i] = v;
    }
  symmetric_eigenvalues(e->cov, r, e->eig, e->block);
  double v = variance_from_eigenvalues(e->eig, r);
  return v > 0.0 ? v : 0.0;
}

double
aenet_noise_estimate(const float *image, int channels, int height, int width, GError **error)
{
  if (channels < 1 || channels > 3) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                "noise can be estimated on gray or RGB images only, not on %d channels", channels);
    return -1.0;
  }
  if (height < MIN_SIDE || width < MIN_SIDE) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                "the image (%d×%d pixels) is too small to estimate its noise level; "
                "it needs at least %d×%d pixels",
                width, height, MIN_SIDE, MIN_SIDE);
    return -1.0;
  }

  Estimator e = { .image = image, .c = channels, .h = height, .w = width };
  e.r = channels * PATCH * PATCH;
  const int ny = height - PATCH + 1, nx = width - PATCH + 1;
  /* An even grid of patch positions with the same step in both axes. */
  e.step = 1;
  while ((gint64)((ny + e.step - 1) / e.step) * ((nx + e.step - 1) / e.step) > MAX_PATCHES)
    e.step++;
  e.gy = (ny + e.step - 1) / e.step;
  e.gx = (nx + e.step - 1) / e.step;

  /* Channel means, and how many samples sit exactly at 0 or 1: a file's
   * pixels that were clipped when the noise was already there. */
  gsize plane = (gsize)height * width, clipped = 0;
  for (int k = 0; k < channels; k++) {
    double s = 0.0;
    const float *p = image + k * plane;
    for (gsize i = 0; i < plane; i++) {
      s += p[i];
      clipped += p[i] == 0.0f || p[i] == 1.0f;
    }
    e.shift[k] = s / plane;
    if (!isfinite(s)) {
      g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                  "the image has pixel values that are not finite numbers; "
                  "its noise level cannot be estimated");
      return -1.0;
    }
  }

  e.block = g_new(double, (gsize)BLOCK *e.r);
  e.cov = g_new(double, (gsize)e.r *e.r);
  e.mean = g_new(double, e.r);
  e.eig = g_new(double, e.r);

  double variance = estimate_variance(&e, 0.0f, 1);
  /* Clipping flattens the noise near black and white, which pulls the
   * first estimate down. When the image has clipped samples (a noisy
   * 8-bit file), estimate again from the patches whose local means stay
   * 1.5 σ away from 0 and 1, if enough of them remain for a stable
   * covariance. (Measured on CBSD68: a larger margin leaves too few
   * patches at high noise, a smaller one lets clipping back in.) */
  if (clipped > plane * channels / 1000 && variance > 0.0) {
    float margin = (float)(1.5 * sqrt(variance));
    double v2 = estimate_variance(&e, margin, 8 * (gint64)e.r);
    if (v2 >= 0.0)
      variance = v2;
  }

  g_free(e.block);
  g_free(e.cov);
  g_free(e.mean);
  g_free(e.eig);
  return 255.0 * sqrt(variance);
}
