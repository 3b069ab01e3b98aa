/* dataset.c — training images found in a folder, decoded once. */
#include "config.h"

#include "dataset.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "degrade.h"
#include "error.h"
#include "imageio.h"

typedef struct {
  char *path;
  int width, height; /* high resolution, cropped to a multiple of the scale */
  AenetImage *hr;    /* NULL when not cached */
  AenetImage *lr;    /* 8-bit RGB, scale > 1 only */
} Entry;

struct AenetDataset {
  int scale;
  GArray *entries; /* Entry */
};

static gboolean
has_image_extension(const char *name)
{
  static const char *const exts[] = { ".png", ".jpg", ".jpeg", ".tif", ".tiff" };
  char *lower = g_ascii_strdown(name, -1);
  gboolean ok = FALSE;
  for (guint i = 0; !ok && i < G_N_ELEMENTS(exts); i++)
    ok = g_str_has_suffix(lower, exts[i]);
  g_free(lower);
  return ok;
}

static int
compare_paths(gconstpointer a, gconstpointer b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends image files below dir, depth first, in sorted order. */
static void
collect_files(const char *dir, GPtrArray *files, int depth)
{
  GDir *d = g_dir_open(dir, 0, NULL);
  if (d == NULL || depth > 32) {
    if (d != NULL)
      g_dir_close(d);
    return;
  }
  GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
  const char *name;
  while ((name = g_dir_read_name(d)) != NULL)
    if (name[0] != '.')
      g_ptr_array_add(names, g_strdup(name));
  g_dir_close(d);
  g_ptr_array_sort(names, compare_paths);
  for (guint i = 0; i < names->len; i++) {
    char *path = g_build_filename(dir, g_ptr_array_index(names, i), NULL);
    if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
      collect_files(path, files, depth + 1);
      g_free(path);
    } else if (has_image_extension(path))
      g_ptr_array_add(files, path);
    else
      g_free(path);
  }
  g_ptr_array_unref(names);
}

/* The colour channels of a rectangle as planar RGB (3, h, w). */
static void
image_to_planar_rgb(const AenetImage *image, int x, int y, int w, int h, float *rgb, float *scratch)
{
  aenet_image_get_rect(image, x, y, w, h, scratch);
  int nc = image->n_channels, gray = nc <= 2;
  gsize plane = (gsize)w * h;
  for (gsize i = 0; i < plane; i++)
    for (int c = 0; c < 3; c++)
      rgb[c * plane + i] = scratch[i * nc + (gray ? 0 : c)];
}

/* Decodes one file; for upscaling also makes its 8-bit low-resolution copy. */
static gboolean
load_entry(const char *path, int scale, AenetImage **hr_out, AenetImage **lr_out, int *width,
           int *height, GError **error)
{
  AenetImage *hr = aenet_image_load(path, error);
  if (hr == NULL)
    return FALSE;
  int w = hr->width / scale * scale, h = hr->height / scale * scale;
  *lr_out = NULL;
  if (scale > 1 && w > 0 && h > 0) {
    gsize plane = (gsize)w * h;
    float *rgb = g_try_new(float, 3 * plane + plane * hr->n_channels);
    float *lr = g_try_new(float, 3 * plane / (scale * scale));
    float *scratch = g_try_new(float, aenet_degrade_downscale_scratch_size(3, h, w, scale));
    AenetImage *lr_image
        = rgb && lr && scratch ? aenet_image_new(w / scale, h / scale, 3, 8, error) : NULL;
    if (lr_image == NULL) {
      if (rgb == NULL || lr == NULL || scratch == NULL)
        g_set_error(error, AENET_ERROR, AENET_ERROR_NOMEM, _("%s is too large"), path);
      g_free(rgb), g_free(lr), g_free(scratch);
      aenet_image_free(hr);
      return FALSE;
    }
    image_to_planar_rgb(hr, 0, 0, w, h, rgb, rgb + 3 * plane);
    aenet_degrade_downscale(lr, rgb, scratch, 3, h, w, scale);
    /* Back to interleaved for the image: reuse rgb as the buffer. */
    gsize lplane = plane / (scale * scale);
    for (gsize i = 0; i < lplane; i++)
      for (int c = 0; c < 3; c++)
        rgb[i * 3 + c] = lr[c * lplane + i];
    aenet_image_set_rect(lr_image, 0, 0, w / scale, h / scale, rgb);
    g_free(rgb), g_free(lr), g_free(scratch);
    *lr_out = lr_image;
  }
  *hr_out = hr;
  *width = w;
  *height = h;
  return TRUE;
}

AenetDataset *
aenet_dataset_open(const char *dir, int scale, int min_side, guint min_images, gsize cache_bytes,
                   GPtrArray *warnings, GError **error)
{
  /* Several folders may be given, separated by colons. */
  char **dirs = g_strsplit(dir, G_SEARCHPATH_SEPARATOR_S, -1);
  GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
  for (char **d = dirs; *d != NULL; d++) {
    if (!g_file_test(*d, G_FILE_TEST_IS_DIR)) {
      g_set_error(error, AENET_ERROR, AENET_ERROR_IO, _("%s is not a folder"), *d);
      g_strfreev(dirs);
      g_ptr_array_unref(files);
      return NULL;
    }
    collect_files(*d, files, 0);
  }
  g_strfreev(dirs);
  AenetDataset *ds = g_new0(AenetDataset, 1);
  ds->scale = scale;
  ds->entries = g_array_new(FALSE, TRUE, sizeof(Entry));
  gsize cached = 0;
  guint too_small = 0;
  for (guint i = 0; i < files->len; i++) {
    const char *path = g_ptr_array_index(files, i);
    Entry e = { 0 };
    GError *local = NULL;
    if (!load_entry(path, scale, &e.hr, &e.lr, &e.width, &e.height, &local)) {
      if (warnings != NULL)
        g_ptr_array_add(warnings, g_strdup_printf(_("skipping %s: %s"), path, local->message));
      g_error_free(local);
      continue;
    }
    if (e.width < min_side || e.height < min_side) {
      too_small++;
      if (warnings != NULL)
        g_ptr_array_add(warnings, g_strdup_printf(_("skipping %s: %d × %d is smaller than %d × %d"),
                                                  path, e.width, e.height, min_side, min_side));
      aenet_image_free(e.hr);
      aenet_image_free(e.lr);
      continue;
    }
    gsize bytes = e.hr->stride * e.hr->height + (e.lr ? e.lr->stride * e.lr->height : 0);
    if (cached + bytes > cache_bytes) {
      /* Over the cap: decode again when used. */
      aenet_image_free(e.hr);
      aenet_image_free(e.lr);
      e.hr = e.lr = NULL;
    } else
      cached += bytes;
    e.path = g_strdup(path);
    g_array_append_val(ds->entries, e);
  }
  guint found = files->len;
  g_ptr_array_unref(files);
  if (ds->entries->len < min_images) {
    if (found == 0)
      g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID, _("%s has no PNG, JPEG or TIFF images"),
                  dir);
    else
      g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                  _("%s has %u usable images (%u found, %u smaller than %d × %d pixels); "
                    "at least %u are needed"),
                  dir, ds->entries->len, found, too_small, min_side, min_side, min_images);
    aenet_dataset_free(ds);
    return NULL;
  }
  return ds;
}

void
aenet_dataset_free(AenetDataset *ds)
{
  if (ds == NULL)
    return;
  for (guint i = 0; i < ds->entries->len; i++) {
    Entry *e = &g_array_index(ds->entries, Entry, i);
    g_free(e->path);
    aenet_image_free(e->hr);
    aenet_image_free(e->lr);
  }
  g_array_free(ds->entries, TRUE);
  g_free(ds);
}

guint
aenet_dataset_get_n_images(const AenetDataset *ds)
{
  return ds->entries->len;
}

const char *
aenet_dataset_get_path(const AenetDataset *ds, guint index)
{
  return g_array_index(ds->entries, Entry, index).path;
}

void
aenet_dataset_get_size(const AenetDataset *ds, guint index, int *width, int *height)
{
  const Entry *e = &g_array_index(ds->entries, Entry, index);
  *width = e->width;
  *height = e->height;
}

/* The entry's images, decoding them when they are not cached. */
static gboolean
entry_images(const AenetDataset *ds, const Entry *e, AenetImage **hr, AenetImage **lr,
             gboolean *owned, GError **error)
{
  *owned = e->hr == NULL;
  if (!*owned) {
    *hr = e->hr;
    *lr = e->lr;
    return TRUE;
  }
  int w, h;
  return load_entry(e->path, ds->scale, hr, lr, &w, &h, error);
}

/* dst (3, n, n) = src (3, n, n) under one of the 8 flips and rotations. */
static void
transform_patch(float *dst, const float *src, int n, int t)
{
  gsize plane = (gsize)n * n;
  for (int c = 0; c < 3; c++)
    for (int y = 0; y < n; y++)
      for (int x = 0; x < n; x++) {
        int sx = t & 1 ? n - 1 - x : x;
        int sy = t & 2 ? n - 1 - y : y;
        if (t & 4) {
          int tmp = sx;
          sx = sy;
          sy = tmp;
        }
        dst[c * plane + (gsize)y * n + x] = src[c * plane + (gsize)sy * n + sx];
      }
}

gboolean
aenet_dataset_get_patch(AenetDataset *ds, guint index, int x, int y, int size, int transform,
                        float *hr, float *lr, GError **error)
{
  const Entry *e = &g_array_index(ds->entries, Entry, index);
  int s = ds->scale, hs = size * s;
  g_return_val_if_fail(
      x >= 0 && y >= 0 && (x + size) * s <= e->width && (y + size) * s <= e->height, FALSE);
  AenetImage *hri, *lri;
  gboolean owned;
  if (!entry_images(ds, e, &hri, &lri, &owned, error))
    return FALSE;
  gsize hplane = (gsize)hs * hs;
  float *tmp = g_new(float, 3 * hplane + hplane * 4);
  image_to_planar_rgb(hri, x * s, y * s, hs, hs, tmp, tmp + 3 * hplane);
  transform_patch(hr, tmp, hs, transform);
  if (s > 1 && lr != NULL) {
    image_to_planar_rgb(lri, x, y, size, size, tmp, tmp + 3 * hplane);
    transform_patch(lr, tmp, size, transform);
  }
  g_free(tmp);
  if (owned) {
    aenet_image_free(hri);
    aenet_image_free(lri);
  }
  return TRUE;
}

gboolean
aenet_dataset_get_image(AenetDataset *ds, guint index, float **hr, float **lr, GError **error)
{
  const Entry *e = &g_array_index(ds->entries, Entry, index);
  int s = ds->scale;
  AenetImage *hri, *lri;
  gboolean owned;
  if (!entry_images(ds, e, &hri, &lri, &owned, error))
    return FALSE;
  gsize plane = (gsize)e->width * e->height;
  float *tmp = g_new(float, plane * 4);
  *hr = g_new(float, 3 * plane);
  image_to_planar_rgb(hri, 0, 0, e->width, e->height, *hr, tmp);
  if (lr != NULL)
    *lr = NULL;
  if (s > 1 && lr != NULL) {
    *lr = g_new(float, 3 * plane / (s * s));
    image_to_planar_rgb(lri, 0, 0, e->width / s, e->height / s, *lr, tmp);
  }
  g_free(tmp);
  if (owned) {
    aenet_image_free(hri);
    aenet_image_free(lri);
  }
  return TRUE;
}
