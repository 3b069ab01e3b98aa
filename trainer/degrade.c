/* degrade.c — training and evaluation degradations (see degrade.h).
 *
 * Layout: images are planar (c, h, w) floats, row-major. */
#include "config.h"

#include "degrade.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <setjmp.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>

#include "error.h"
#include "resize.h"

/* Two independent standard normals from two uniforms (Box–Muller, both
 * outputs used: noise for a whole image is the hot path in training). */
static void
normal_pair(AenetRng *rng, double *z0, double *z1)
{
  double u1 = 1.0 - aenet_rng_uniform(rng); /* (0, 1]: log is finite */
  double u2 = aenet_rng_uniform(rng);
  double r = sqrt(-2.0 * log(u1));
  *z0 = r * cos(2.0 * G_PI * u2);
  *z1 = r * sin(2.0 * G_PI * u2);
}

void
aenet_degrade_gaussian(float *image, gsize n, float sigma, AenetRng *rng)
{
  double s = sigma / 255.0;
  gsize i;
  for (i = 0; i + 1 < n; i += 2) {
    double z0, z1;
    normal_pair(rng, &z0, &z1);
    image[i] += (float)(s * z0);
    image[i + 1] += (float)(s * z1);
  }
  if (i < n)
    image[i] += (float)(s * aenet_rng_normal(rng));
}

void
aenet_degrade_poisson_gaussian(float *image, gsize n, float gain, float read_sigma, AenetRng *rng)
{
  double read_var = (read_sigma / 255.0) * (read_sigma / 255.0);
  gsize i;
  for (i = 0; i < n; i += 2) {
    double z[2];
    normal_pair(rng, &z[0], &z[1]);
    for (gsize k = 0; k < 2 && i + k < n; k++) {
      double x = image[i + k] > 0.0f ? image[i + k] : 0.0;
      image[i + k] += (float)(sqrt(gain * x + read_var) * z[k]);
    }
  }
}

void
aenet_degrade_quantize(float *image, gsize n, int levels)
{
  float l = (float)levels;
  for (gsize i = 0; i < n; i++) {
    float v = image[i];
    v = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
    image[i] = rintf(v * l) / l;
  }
}

/* ---- JPEG ------------------------------------------------------------ */

/* libjpeg's default error handler calls exit(); ours jumps back and keeps
 * the message for the GError. */
typedef struct {
  struct jpeg_error_mgr mgr;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
} JpegErrorMgr;

static void
jpeg_error_exit_cb(j_common_ptr cinfo)
{
  JpegErrorMgr *err = (JpegErrorMgr *)cinfo->err;
  err->mgr.format_message(cinfo, err->message);
  longjmp(err->jump, 1);
}

static void
jpeg_silent_cb(j_common_ptr cinfo, int level)
{
  (void)cinfo;
  (void)level;
}

/* Encodes pixels (h rows of w * c bytes) and decodes them back in place.
 * Kept apart from the float conversion so the setjmp frame holds no
 * variables that longjmp could leave stale. */
static gboolean
jpeg_round_trip_bytes(guint8 *pixels, int c, int h, int w, int quality, GError **error)
{
  struct jpeg_compress_struct cinfo;
  struct jpeg_decompress_struct dinfo;
  JpegErrorMgr jerr;
  unsigned char *volatile buffer = NULL;
  unsigned long size = 0;
  volatile int have_c = 0, have_d = 0;

  memset(&cinfo, 0, sizeof cinfo);
  memset(&dinfo, 0, sizeof dinfo);
  cinfo.err = jpeg_std_error(&jerr.mgr);
  dinfo.err = cinfo.err;
  jerr.mgr.error_exit = jpeg_error_exit_cb;
  jerr.mgr.emit_message = jpeg_silent_cb;
  jerr.message[0] = '\0';

  if (setjmp(jerr.jump)) {
    if (have_c)
      jpeg_destroy_compress(&cinfo);
    if (have_d)
      jpeg_destroy_decompress(&dinfo);
    free(buffer);
    g_set_error(error, AENET_ERROR, AENET_ERROR_FORMAT,
                _("JPEG compression of a %d×%d image failed: %s"), w, h, jerr.message);
    return FALSE;
  }

  jpeg_create_compress(&cinfo);
  have_c = 1;
  {
    unsigned char *buf = NULL;
    jpeg_mem_dest(&cinfo, &buf, &size);
    cinfo.image_width = (JDIMENSION)w;
    cinfo.image_height = (JDIMENSION)h;
    cinfo.input_components = c;
    cinfo.in_color_space = c == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
      JSAMPROW row = pixels + (gsize)cinfo.next_scanline * w * c;
      jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    buffer = buf;
  }
  jpeg_destroy_compress(&cinfo);
  have_c = 0;

  jpeg_create_decompress(&dinfo);
  have_d = 1;
  jpeg_mem_src(&dinfo, buffer, size);
  jpeg_read_header(&dinfo, TRUE);
  dinfo.out_color_space = c == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_start_decompress(&dinfo);
  if ((int)dinfo.output_width != w || (int)dinfo.output_height != h
      || dinfo.output_components != c) {
    g_strlcpy(jerr.message, _("the decoded image has a different size"), sizeof jerr.message);
    longjmp(jerr.jump, 1);
  }
  while (dinfo.output_scanline < dinfo.output_height) {
    JSAMPROW row = pixels + (gsize)dinfo.output_scanline * w * c;
    jpeg_read_scanlines(&dinfo, &row, 1);
  }
  jpeg_finish_decompress(&dinfo);
  jpeg_destroy_decompress(&dinfo);
  have_d = 0;
  free(buffer);
  return TRUE;
}

gboolean
aenet_degrade_jpeg(float *image, int c, int h, int w, int quality, GError **error)
{
  if (c != 1 && c != 3) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                _("JPEG degradation needs a gray or RGB image, not %d channels"), c);
    return FALSE;
  }
  if (h <= 0 || w <= 0 || h > JPEG_MAX_DIMENSION || w > JPEG_MAX_DIMENSION) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                _("JPEG degradation cannot handle a %d×%d image"), w, h);
    return FALSE;
  }
  if (quality < 1 || quality > 100) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                _("JPEG quality must be between 1 and 100, not %d"), quality);
    return FALSE;
  }

  gsize plane = (gsize)h * w;
  guint8 *pixels = g_try_malloc(plane * c); /* (h, w, c) interleaved */
  if (!pixels) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_NOMEM,
                _("not enough memory for JPEG degradation of a %d×%d image"), w, h);
    return FALSE;
  }
  for (int k = 0; k < c; k++)
    for (gsize i = 0; i < plane; i++) {
      float v = image[k * plane + i];
      v = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
      pixels[i * c + k] = (guint8)lrintf(v * 255.0f);
    }
  gboolean ok = jpeg_round_trip_bytes(pixels, c, h, w, quality, error);
  if (ok)
    for (int k = 0; k < c; k++)
      for (gsize i = 0; i < plane; i++)
        image[k * plane + i] = pixels[i * c + k] / 255.0f;
  g_free(pixels);
  return ok;
}

/* ---- Downscaling ------------------------------------------------------- */

gsize
aenet_degrade_downscale_scratch_size(int c, int h, int w, int scale)
{
  return aenet_resize_scratch_size(c, h, w, h / scale, w / scale);
}

void
aenet_degrade_downscale(float *lr, const float *hr, float *scratch, int c, int h, int w, int scale)
{
  aenet_resize_bicubic(lr, hr, scratch, c, h, w, h / scale, w / scale);
}
