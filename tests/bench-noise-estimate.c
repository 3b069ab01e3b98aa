/* bench-noise-estimate.c — accuracy and speed of aenet_noise_estimate.
 *
 *   bench-noise-estimate [DIR]
 *
 * For every PNG/JPEG in DIR (default: $AENET_SHARED_DATA/test/cbsd68) and
 * sigma = 5, 10, 15, 25, 35, 50, adds Gaussian noise (fixed seeds) and
 * prints the mean and largest absolute error of the estimate, for noise on
 * the float image (not clipped, as the papers test) and for the same noisy
 * image saved as 8 bits (clipped and rounded, what users have). Then times
 * one 12-megapixel RGB image. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "imageio.h"
#include "noise-estimate.h"
#include "rng.h"

static const double sigmas[] = { 5, 10, 15, 25, 35, 50 };
#define N_SIGMAS G_N_ELEMENTS(sigmas)

static int
compare_names(gconstpointer a, gconstpointer b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Planar (c, h, w) floats of an image file, alpha dropped; NULL on error. */
static float *
load_planar(const char *path, int *c, int *h, int *w)
{
  GError *error = NULL;
  AenetImage *image = aenet_image_load(path, &error);
  if (image == NULL) {
    fprintf(stderr, "skipping %s: %s\n", path, error->message);
    g_error_free(error);
    return NULL;
  }
  int n = image->n_channels;
  *c = n >= 3 ? 3 : 1;
  *h = image->height;
  *w = image->width;
  gsize plane = (gsize)*h * *w;
  float *inter = g_new(float, plane *n), *im = g_new(float, plane **c);
  aenet_image_get_rect(image, 0, 0, *w, *h, inter);
  for (int k = 0; k < *c; k++)
    for (gsize i = 0; i < plane; i++)
      im[k * plane + i] = inter[i * n + k];
  g_free(inter);
  aenet_image_free(image);
  return im;
}

int
main(int argc, char **argv)
{
  char *dir;
  if (argc > 1)
    dir = g_strdup(argv[1]);
  else {
    const char *root = g_getenv("AENET_SHARED_DATA");
    dir = g_build_filename(root && *root ? root : "../shared/data", "test", "cbsd68", NULL);
  }
  GDir *d = g_dir_open(dir, 0, NULL);
  if (d == NULL) {
    fprintf(stderr, "bench-noise-estimate: cannot open %s\n", dir);
    return 1;
  }
  GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
  const char *name;
  while ((name = g_dir_read_name(d)) != NULL)
    if (g_str_has_suffix(name, ".png") || g_str_has_suffix(name, ".jpg"))
      g_ptr_array_add(names, g_strdup(name));
  g_dir_close(d);
  g_ptr_array_sort(names, compare_names);

  double mae[2][N_SIGMAS] = { { 0 } }, worst[2][N_SIGMAS] = { { 0 } };
  double bias[2][N_SIGMAS] = { { 0 } };
  int count = 0;
  double seconds = 0;
  gsize pixels = 0;
  for (guint f = 0; f < names->len; f++) {
    char *path = g_build_filename(dir, names->pdata[f], NULL);
    int c, h, w;
    float *clean = load_planar(path, &c, &h, &w);
    g_free(path);
    if (clean == NULL)
      continue;
    gsize n = (gsize)c * h * w;
    float *noisy = g_new(float, n);
    for (guint s = 0; s < N_SIGMAS; s++) {
      AenetRng rng;
      aenet_rng_init(&rng, 7919 * f + s);
      for (gsize i = 0; i < n; i++)
        noisy[i] = clean[i] + (float)(sigmas[s] / 255.0 * aenet_rng_normal(&rng));
      for (int q = 0; q < 2; q++) {
        if (q == 1) /* the same noise, saved as an 8-bit file */
          for (gsize i = 0; i < n; i++)
            noisy[i] = CLAMP(rintf(noisy[i] * 255.0f), 0.0f, 255.0f) / 255.0f;
        gint64 t0 = g_get_monotonic_time();
        double est = aenet_noise_estimate(noisy, c, h, w, NULL);
        seconds += (g_get_monotonic_time() - t0) / 1e6;
        pixels += (gsize)h * w;
        double err = est - sigmas[s];
        mae[q][s] += fabs(err);
        bias[q][s] += err;
        worst[q][s] = MAX(worst[q][s], fabs(err));
      }
    }
    g_free(noisy);
    g_free(clean);
    count++;
  }
  if (count == 0) {
    fprintf(stderr, "bench-noise-estimate: no images in %s\n", dir);
    return 1;
  }

  printf("Noise estimation on %d images of %s\n\n", count, dir);
  printf("%6s | %28s | %28s\n", "", "float, not clipped", "8-bit, clipped + rounded");
  printf("%6s | %8s %8s %9s | %8s %8s %9s\n", "sigma", "MAE", "max", "bias", "MAE", "max", "bias");
  for (guint s = 0; s < N_SIGMAS; s++)
    printf("%6.0f | %8.3f %8.3f %+9.3f | %8.3f %8.3f %+9.3f\n", sigmas[s], mae[0][s] / count,
           worst[0][s], bias[0][s] / count, mae[1][s] / count, worst[1][s], bias[1][s] / count);
  printf("\nmean time per estimate %.1f ms (%.2f megapixels on average)\n",
         1e3 * seconds / (2.0 * N_SIGMAS * count), pixels / 1e6 / (2.0 * N_SIGMAS * count));

  /* A 12-megapixel photo-like image: one of the test images tiled with
   * mirroring (so no seams), plus noise. */
  int c, h, w, W = 4000, H = 3000;
  char *path = g_build_filename(dir, names->pdata[0], NULL);
  float *src = load_planar(path, &c, &h, &w);
  g_free(path);
  if (src != NULL) {
    float *big = g_new(float, (gsize)c *H *W);
    AenetRng rng;
    aenet_rng_init(&rng, 12);
    for (int k = 0; k < c; k++)
      for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
          int sy = y % (2 * h), sx = x % (2 * w);
          sy = sy < h ? sy : 2 * h - 1 - sy;
          sx = sx < w ? sx : 2 * w - 1 - sx;
          float v
              = src[((gsize)k * h + sy) * w + sx] + (float)(20 / 255.0 * aenet_rng_normal(&rng));
          big[((gsize)k * H + y) * W + x] = CLAMP(rintf(v * 255.0f), 0.0f, 255.0f) / 255.0f;
        }
    const int runs = 3;
    double best = INFINITY, est = 0;
    for (int r = 0; r < runs; r++) {
      gint64 t0 = g_get_monotonic_time();
      est = aenet_noise_estimate(big, c, H, W, NULL);
      best = MIN(best, (g_get_monotonic_time() - t0) / 1e6);
    }
    printf("12 MP (%d×%d, %d channels, 8-bit, sigma 20): estimated %.2f in %.3f s (best of %d)\n",
           W, H, c, est, best, runs);
    g_free(big);
    g_free(src);
  }
  g_ptr_array_unref(names);
  g_free(dir);
  return 0;
}
