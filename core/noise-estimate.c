/* noise-estimate.c — noise level from the eigenvalues of the patch
 * covariance (Chen, Zhu & Heng, ICCV 2015); see noise-estimate.h.
 *
 * Layout: the image is planar (c, h, w), row-major. A patch is the vector
 * of its c·P·P samples, channel-major then row-major (r = c·P·P ≤ 147). */
#include "config.h"

#include "noise-estimate.h"

#include <glib/gi18n-lib.h>
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
/* Bins of the histogram of samples' distances to the clip, over [0, 0.5]. */
#define HIST_BINS 1024

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
  int step, gy, gx;       /* patch grid: gy × gx positions step pixels apart */
  int r;                  /* patch dimension c·P·P */
  double shift[3];        /* channel means, subtracted against cancellation */
  double *block;          /* (BLOCK, r) gathered patches */
  double *cov;            /* (r, r) */
  double *mean;           /* (r) */
  double *eig;            /* (r) */
  double hist[HIST_BINS]; /* the used samples' distances to the clip */
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

/* Adds to e->hist the distance to the clip (to the nearer of 0 and 1) of
 * every sample of the patch at (y, x), each measured on its 3×3 local
 * mean (clamped at the image border): a rough clean value. The patch's
 * own mean would miss its texture, and with it the samples that sit
 * closer to the clip than the mean and lose more of their noise. */
static void
histogram_add_patch(Estimator *e, int y, int x)
{
  for (int k = 0; k < e->c; k++) {
    const float *plane = e->image + (gsize)k * e->h * e->w;
    for (int i = 0; i < PATCH; i++)
      for (int j = 0; j < PATCH; j++) {
        float s = 0.0f;
        int n = 0;
        for (int yy = MAX(y + i - 1, 0); yy <= MIN(y + i + 1, e->h - 1); yy++)
          for (int xx = MAX(x + j - 1, 0); xx <= MIN(x + j + 1, e->w - 1); xx++) {
            s += plane[(gsize)yy * e->w + xx];
            n++;
          }
        s /= n;
        float d = MAX(MIN(s, 1.0f - s), 0.0f);
        e->hist[MIN((int)(d * (2 * HIST_BINS)), HIST_BINS - 1)] += 1.0;
      }
  }
}

/* The noise variance from the patches on the grid, leaving out those
 * near clipping when margin > 0, and histogramming the used samples'
 * distances to the clip into e->hist when histogram is set. Returns -1
 * when fewer than min_count patches remain. */
static double
estimate_variance(Estimator *e, float margin, gint64 min_count, gboolean histogram)
{
  const int r = e->r;
  gint64 count = 0;
  int nb = 0;
  memset(e->cov, 0, sizeof(double) * r * r);
  memset(e->mean, 0, sizeof(double) * r);
  memset(e->hist, 0, sizeof e->hist);
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
      if (histogram)
        histogram_add_patch(e, y, x);
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

/* Variance of max(Z, -a) for Z ~ N(0, 1): how much of the noise survives
 * clipping at a distance of a standard deviations (censored normal). */
static double
clipped_variance(double a)
{
  if (a > 8.0)
    return 1.0;
  double phi = exp(-0.5 * a * a) / sqrt(2.0 * G_PI);
  double tail = 0.5 * erfc(a / sqrt(2.0)); /* Φ(−a) */
  double m1 = phi - a * tail;
  double m2 = a * a * tail + (1.0 - tail) - a * phi;
  return MAX(m2 - m1 * m1, 1e-6);
}

/* The noise variance v_true for which samples at the distances to the
 * clip in hist (bin b: distance (b + 1/2) / (2 HIST_BINS)) would show the
 * observed variance v_obs: a fixed point of v = v_obs / mean attenuation. */
static double
unclip_variance(double v_obs, const double *hist)
{
  double v = v_obs, n = 0.0;
  for (int b = 0; b < HIST_BINS; b++)
    n += hist[b];
  if (n <= 0.0)
    return v_obs;
  for (int it = 0; it < 30 && v > 0.0; it++) {
    double sd = sqrt(v), att = 0.0;
    for (int b = 0; b < HIST_BINS; b++)
      if (hist[b] > 0.0)
        att += hist[b] * clipped_variance((b + 0.5) / (2.0 * HIST_BINS) / sd);
    double next = v_obs / (att / n);
    if (fabs(next - v) <= 1e-6 * v) {
      v = next;
      break;
    }
    v = next;
  }
  return v;
}

static int
compare_by_texture(gconstpointer a, gconstpointer b, gpointer data)
{
  const double *s2 = data;
  double x = s2[*(const int *)a], y = s2[*(const int *)b];
  return x < y ? -1 : x > y;
}

/* k such that the 10 % and 50 % quantiles of a Gamma(k) distribution have
 * the ratio ratio (Wilson–Hilferty approximation), by bisection. */
static double
gamma_shape_from_quantiles(double ratio)
{
  double k0 = 0.5, k1 = 5000.0;
  for (int b = 0; b < 60; b++) {
    double k = sqrt(k0 * k1), a = 1.0 - 1.0 / (9.0 * k);
    double q = (a - 1.2816 / (3.0 * sqrt(k))) / a;
    if (q * q * q < ratio)
      k0 = k;
    else
      k1 = k;
  }
  return sqrt(k0 * k1);
}

/* Real photographs carry noise that demosaicking, in-camera processing
 * and compression have made spatially correlated: its fine-scale part,
 * which the smallest eigenvalues see, can be far weaker than what the
 * eye sees in flat areas. This measures the noise in the flattest
 * patches instead (Liu, Tanaka & Okutomi's weak-texture selection, with
 * a Gamma model of a noise-only patch's variance fitted to the data so
 * that correlated noise is allowed): s2[p] is patch p's variance about
 * its channel means, lo[p]/hi[p] its smallest/largest channel mean.
 * Patches are taken while s2 ≤ the 99.4 % quantile of the fitted Gamma,
 * until that stops changing. Fills *marginal (mean noise variance per
 * sample) and *median (median eigenvalue of the selected patches'
 * covariance: near σ² for white noise even when texture leaks in) and
 * returns TRUE, or FALSE when too few flat patches are clear of clipping. */
static gboolean
flat_patch_variance(Estimator *e, const double *s2, const double *lo, const double *hi,
                    double *marginal, double *median)
{
  const int np = e->gy * e->gx, n = PATCH * PATCH, r = e->r;
  int *order = g_new(int, np);
  double *sel = g_new(double, np);
  for (int i = 0; i < np; i++)
    order[i] = i;
  g_qsort_with_data(order, np, sizeof(int), compare_by_texture, (gpointer)s2);
  double tau = INFINITY, m = 0.0, margin = 0.0;
  int count = 0;
  for (int it = 0; it < 50; it++) {
    count = 0;
    margin = 2.0 * sqrt(m);
    for (int t = 0; t < np && s2[order[t]] <= tau; t++) {
      int p = order[t];
      if (lo[p] >= margin && hi[p] <= 1.0 - margin)
        sel[count++] = s2[p];
    }
    if (count < 8 * r)
      break;
    double q10 = sel[count / 10], q50 = sel[count / 2];
    if (q50 <= 0.0) { /* flat: no noise */
      m = 0.0;
      break;
    }
    double k = gamma_shape_from_quantiles(q10 / q50), a = 1.0 - 1.0 / (9.0 * k);
    double mean = q50 / (a * a * a), b = a + 2.5 / (3.0 * sqrt(k));
    tau = mean * b * b * b;
    gboolean done = fabs(mean - m) <= 1e-9 * mean;
    m = mean;
    if (done)
      break;
  }
  g_free(order);
  g_free(sel);
  if (count < 8 * r)
    return FALSE;
  *marginal = m;
  *median = 0.0;
  if (m <= 0.0)
    return TRUE;

  /* The covariance of the selected patches, each centred on its channel
   * means (which leaves c eigenvalues at zero). */
  memset(e->cov, 0, sizeof(double) * r * r);
  gint64 total = 0;
  int nb = 0;
  const gsize plane = (gsize)e->h * e->w;
  for (int p = 0; p <= np; p++) {
    gboolean take = p < np && s2[p] <= tau && lo[p] >= margin && hi[p] <= 1.0 - margin;
    if (take) {
      int y = p / e->gx * e->step, x = p % e->gx * e->step;
      double *dst = e->block + (gsize)nb * r;
      for (int k = 0; k < e->c; k++) {
        const float *base = e->image + k * plane + (gsize)y * e->w + x;
        double mean = 0.0;
        for (int i = 0; i < PATCH; i++)
          for (int j = 0; j < PATCH; j++)
            mean += base[(gsize)i * e->w + j];
        mean /= n;
        for (int i = 0; i < PATCH; i++)
          for (int j = 0; j < PATCH; j++)
            *dst++ = base[(gsize)i * e->w + j] - mean;
      }
      nb++;
    }
    if (nb == BLOCK || (p == np && nb > 0)) {
      cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, r, nb, 1.0, e->block, r, 1.0, e->cov, r);
      total += nb;
      nb = 0;
    }
  }
  for (int i = 0; i < r; i++)
    for (int j = i; j < r; j++)
      e->cov[i * r + j] = e->cov[j * r + i] = e->cov[i * r + j] / (double)total;
  symmetric_eigenvalues(e->cov, r, e->eig, e->block);
  /* Centring shrinks each channel's noise by (n − 1)/n. */
  *median = e->eig[e->c + (r - e->c) / 2] * n / (n - 1);
  return TRUE;
}

double
aenet_noise_estimate(const float *image, int channels, int height, int width, GError **error)
{
  if (channels < 1 || channels > 3) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                _("noise can be estimated on gray or RGB images only, not on %d channels"),
                channels);
    return -1.0;
  }
  if (height < MIN_SIDE || width < MIN_SIDE) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                _("the image (%d×%d pixels) is too small to estimate its noise level; "
                  "it needs at least %d×%d pixels"),
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
                  _("the image has pixel values that are not finite numbers; "
                    "its noise level cannot be estimated"));
      return -1.0;
    }
  }

  e.block = g_new(double, (gsize)BLOCK *e.r);
  e.cov = g_new(double, (gsize)e.r *e.r);
  e.mean = g_new(double, e.r);
  e.eig = g_new(double, e.r);

  double variance = estimate_variance(&e, 0.0f, 1, FALSE);
  /* Clipping flattens the noise near black and white, which pulls the
   * first estimate down. When the image has clipped samples (a noisy
   * 8-bit file), estimate again from the patches whose local means stay
   * a standard deviation away from 0 and 1, and undo what clipping still
   * takes from them with the censored-normal variance at each sample's
   * distance from the clip. A dark or bright image at strong noise may
   * have too few such patches: then half, or a quarter of, a standard
   * deviation away, where the correction is larger. The estimate moves
   * the margin, so repeat; when that swings between two patch selections
   * instead of settling, take the mean of the last two estimates. */
  if (clipped > plane * channels / 1000 && variance > 0.0) {
    double previous = -1.0;
    gboolean settled = FALSE;
    for (int round = 0; round < 4 && !settled; round++) {
      double v2 = -1.0;
      for (double f = 1.0; f >= 0.25 && v2 <= 0.0; f *= 0.5)
        v2 = estimate_variance(&e, (float)(f * sqrt(variance)), 8 * (gint64)e.r, TRUE);
      if (v2 <= 0.0)
        break;
      double v3 = unclip_variance(v2, e.hist);
      settled = fabs(v3 - variance) <= 1e-3 * variance;
      previous = variance;
      variance = v3;
    }
    if (!settled && previous > 0.0)
      variance = 0.5 * (variance + previous);
  }

  /* Correlated noise: compare with the flattest patches. White noise
   * gives a median eigenvalue there close to the estimate above (within
   * 20 % on CBSD68, texture and all); correlated noise gives one several
   * times larger. Between 1.5 and 3 times, move linearly from the white
   * estimate to the flat patches' mean noise variance. */
  const int np = e.gy * e.gx;
  double *s2 = g_new(double, 3 * (gsize)np), *lo = s2 + np, *hi = lo + np;
  for (int p = 0; p < np; p++) {
    int y = p / e.gx * e.step, x = p % e.gx * e.step;
    double sum = 0.0, mn = 1.0, mx = 0.0;
    const int n = PATCH * PATCH;
    for (int k = 0; k < channels; k++) {
      const float *base = image + k * plane + (gsize)y * width + x;
      double s = 0.0, ss = 0.0;
      for (int i = 0; i < PATCH; i++)
        for (int j = 0; j < PATCH; j++) {
          double v = base[(gsize)i * width + j];
          s += v;
          ss += v * v;
        }
      double mean = s / n;
      sum += MAX(ss - s * mean, 0.0) / (n - 1);
      mn = MIN(mn, mean);
      mx = MAX(mx, mean);
    }
    s2[p] = sum / channels;
    lo[p] = mn;
    hi[p] = mx;
  }
  double marginal, median;
  /* Below 0.1 on the 0–255 scale, less than even 8-bit rounding leaves
   * (0.29), the image is noise-free (synthetic or rendered): whatever the
   * flat patches vary by is then detail, not noise. */
  const double noise_free = (0.1 / 255.0) * (0.1 / 255.0);
  if (variance >= noise_free && flat_patch_variance(&e, s2, lo, hi, &marginal, &median)
      && median > 0.0) {
    double ratio = variance > 0.0 ? sqrt(median / variance) : INFINITY;
    double t = CLAMP((ratio - 1.5) / 1.5, 0.0, 1.0);
    double sd = (1.0 - t) * sqrt(variance) + t * sqrt(MAX(marginal, variance));
    variance = sd * sd;
  }
  g_free(s2);

  g_free(e.block);
  g_free(e.cov);
  g_free(e.mean);
  g_free(e.eig);
  return 255.0 * sqrt(variance);
}
