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

/* n standard normals into dst, in pairs (the last one's partner unused). */
static void
fill_normals(float *dst, gsize n, AenetRng *rng)
{
  for (gsize i = 0; i < n; i += 2) {
    double z0, z1;
    normal_pair(rng, &z0, &z1);
    dst[i] = (float)z0;
    if (i + 1 < n)
      dst[i + 1] = (float)z1;
  }
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

/* ---- A camera ---------------------------------------------------------- */

float
aenet_camera_srgb_to_linear(float v)
{
  v = CLAMP(v, 0.0f, 1.0f);
  return v <= 0.04045f ? v / 12.92f : powf((v + 0.055f) / 1.055f, 2.4f);
}

float
aenet_camera_linear_to_srgb(float v)
{
  v = CLAMP(v, 0.0f, 1.0f);
  return v <= 0.0031308f ? v * 12.92f : 1.055f * powf(v, 1.0f / 2.4f) - 0.055f;
}

float
aenet_camera_tone(float v)
{
  v = CLAMP(v, 0.0f, 1.0f);
  return v * v * (3.0f - 2.0f * v);
}

float
aenet_camera_tone_inverse(float v)
{
  v = CLAMP(v, 0.0f, 1.0f);
  return 0.5f - sinf(asinf(1.0f - 2.0f * v) / 3.0f);
}

gboolean
aenet_camera_invert3(float inv[9], const float m[9])
{
  double c00 = (double)m[4] * m[8] - (double)m[5] * m[7];
  double c01 = (double)m[5] * m[6] - (double)m[3] * m[8];
  double c02 = (double)m[3] * m[7] - (double)m[4] * m[6];
  double det = m[0] * c00 + m[1] * c01 + m[2] * c02;
  if (fabs(det) < 1e-9)
    return FALSE;
  inv[0] = c00 / det;
  inv[1] = ((double)m[2] * m[7] - (double)m[1] * m[8]) / det;
  inv[2] = ((double)m[1] * m[5] - (double)m[2] * m[4]) / det;
  inv[3] = c01 / det;
  inv[4] = ((double)m[0] * m[8] - (double)m[2] * m[6]) / det;
  inv[5] = ((double)m[2] * m[3] - (double)m[0] * m[5]) / det;
  inv[6] = c02 / det;
  inv[7] = ((double)m[1] * m[6] - (double)m[0] * m[7]) / det;
  inv[8] = ((double)m[0] * m[4] - (double)m[1] * m[3]) / det;
  return TRUE;
}

void
aenet_camera_random(AenetCamera *cam, AenetRng *rng)
{
  /* Colour correction: a saturating matrix, as cameras' sensors see
   * broader, overlapping colour responses than sRGB primaries. Each row
   * keeps its sum at 1 (white stays white) and its diagonal dominant, so
   * the matrix is invertible. */
  for (int i = 0; i < 3; i++) {
    float d = 1.2f + 1.0f * (float)aenet_rng_uniform(rng);
    float a = 0.1f + 0.8f * (float)aenet_rng_uniform(rng);
    cam->cam2rgb[i * 3 + i] = d;
    cam->cam2rgb[i * 3 + (i + 1) % 3] = -(d - 1.0f) * a;
    cam->cam2rgb[i * 3 + (i + 2) % 3] = -(d - 1.0f) * (1.0f - a);
  }
  double brightness = 0.8 + 0.1 * aenet_rng_normal(rng); /* once: CLAMP evaluates twice */
  brightness = CLAMP(brightness, 0.5, 1.0);
  cam->rgb_gain = (float)(1.0 / brightness);
  cam->red_gain = 1.9f + 0.5f * (float)aenet_rng_uniform(rng);
  cam->blue_gain = 1.5f + 0.4f * (float)aenet_rng_uniform(rng);
  /* Shot and read noise from Brooks et al.'s fit over real sensors:
   * log read = 2.18 log shot + 1.2 + N(0, 0.26²). */
  double log_shot = log(1e-4) + (log(0.012) - log(1e-4)) * aenet_rng_uniform(rng);
  double log_read = 2.18 * log_shot + 1.20 + 0.26 * aenet_rng_normal(rng);
  cam->shot = (float)exp(log_shot);
  cam->read = (float)exp(log_read);
  /* Most cameras smooth their noise (noise reduction, demosaicking better
   * than bilinear), which leaves it coarser: the noise a white Gaussian
   * estimate misses in real JPEGs. Real ISO 1600–6400 JPEGs (PolyU) show
   * a correlation of 0.64–0.87 between horizontal neighbours' noise;
   * bilinear demosaicking alone gives about 0.6, a blur of 1.2 px 0.86. */
  cam->noise_blur = aenet_rng_uniform(rng) < 0.25 ? 0.0f : 0.4f + 1.2f * (float)aenet_rng_uniform(rng);
}

/* The camera's two composite curves as tables with linear interpolation:
 * sRGB -> linear (inverse tone curve, inverse gamma) and back. Computing
 * them per pixel took most of a training patch's time. Errors are below
 * 2e-5; the inverse near 0 has a square-root shape that a table cannot
 * follow, so it is computed there. */
#define CURVE_TABLE_SIZE 4096
#define CURVE_EXACT_BELOW 0.02f

typedef struct {
  float to_linear[CURVE_TABLE_SIZE + 1];
  float to_srgb[CURVE_TABLE_SIZE + 1];
} CurveTables;

static const CurveTables *
curve_tables(void)
{
  static CurveTables tables;
  static gsize ready = 0;
  if (g_once_init_enter(&ready)) {
    for (int i = 0; i <= CURVE_TABLE_SIZE; i++) {
      float v = i / (float)CURVE_TABLE_SIZE;
      tables.to_linear[i] = aenet_camera_srgb_to_linear(aenet_camera_tone_inverse(v));
      tables.to_srgb[i] = aenet_camera_tone(aenet_camera_linear_to_srgb(v));
    }
    g_once_init_leave(&ready, 1);
  }
  return &tables;
}

static inline float
curve_lookup(const float *table, float v)
{
  v = CLAMP(v, 0.0f, 1.0f) * CURVE_TABLE_SIZE;
  int i = MIN((int)v, CURVE_TABLE_SIZE - 1);
  float f = v - i;
  return table[i] + f * (table[i + 1] - table[i]);
}

static inline float
srgb_to_raw_linear(const CurveTables *tables, float v)
{
  return v < CURVE_EXACT_BELOW ? aenet_camera_srgb_to_linear(aenet_camera_tone_inverse(v))
                               : curve_lookup(tables->to_linear, v);
}

/* RGGB: which colour a sensor site sees. */
static inline int
bayer_channel(int y, int x)
{
  return (y & 1) == 0 ? ((x & 1) == 0 ? 0 : 1) : ((x & 1) == 0 ? 1 : 2);
}

void
aenet_camera_demosaic(float *rgb, const float *mosaic, int h, int w)
{
  /* Normalised convolution: each channel is the weighted mean of the sites
   * of that colour in the 3×3 neighbourhood. The weights give bilinear
   * interpolation and keep a site's own value; the image edge needs no
   * special case. */
  static const float weight_rb[9] = { 1, 2, 1, 2, 4, 2, 1, 2, 1 };
  static const float weight_g[9] = { 0, 1, 0, 1, 4, 1, 0, 1, 0 };
  gsize plane = (gsize)h * w;
  for (int c = 0; c < 3; c++) {
    const float *k = c == 1 ? weight_g : weight_rb;
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        float sum = 0, norm = 0;
        for (int dy = -1; dy <= 1; dy++)
          for (int dx = -1; dx <= 1; dx++) {
            int yy = y + dy, xx = x + dx;
            if (yy < 0 || yy >= h || xx < 0 || xx >= w || bayer_channel(yy, xx) != c)
              continue;
            float kw = k[(dy + 1) * 3 + dx + 1];
            sum += kw * mosaic[(gsize)yy * w + xx];
            norm += kw;
          }
        rgb[c * plane + (gsize)y * w + x] = norm > 0 ? sum / norm : 0.0f;
      }
  }
}

#define BLUR_MAX_RADIUS 4
#define MOTTLE_MAX_RADIUS 18

/* A normalised Gaussian kernel of 2 r + 1 taps, r = min(max_radius,
 * ceil(3 sigma)); returns r. The photo degradations' blurs are cut at
 * BLUR_MAX_RADIUS (wider sigmas give a flatter kernel); mottle's go to
 * MOTTLE_MAX_RADIUS. */
static int
blur_kernel(float k[2 * MOTTLE_MAX_RADIUS + 1], float sigma, int max_radius)
{
  int r = MIN(max_radius, (int)ceilf(3.0f * sigma));
  float sum = 0;
  for (int i = -r; i <= r; i++)
    sum += k[i + r] = expf(-0.5f * i * i / (sigma * sigma));
  for (int i = 0; i < 2 * r + 1; i++)
    k[i] /= sum;
  return r;
}

/* Separable blur of one (h, w) plane with blur_kernel(sigma, max_radius),
 * edges clamped; tmp is (h, w). */
static void
blur_plane_wide(float *plane, float *tmp, int h, int w, float sigma, int max_radius)
{
  float k[2 * MOTTLE_MAX_RADIUS + 1];
  int r = blur_kernel(k, sigma, max_radius);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      float s = 0;
      for (int i = -r; i <= r; i++)
        s += k[i + r] * plane[(gsize)y * w + CLAMP(x + i, 0, w - 1)];
      tmp[(gsize)y * w + x] = s;
    }
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      float s = 0;
      for (int i = -r; i <= r; i++)
        s += k[i + r] * tmp[(gsize)CLAMP(y + i, 0, h - 1) * w + x];
      plane[(gsize)y * w + x] = s;
    }
}

static void
blur_plane(float *plane, float *tmp, int h, int w, float sigma)
{
  blur_plane_wide(plane, tmp, h, w, sigma, BLUR_MAX_RADIUS);
}

/* The standard deviation blur_plane_wide leaves of unit white noise
 * (away from the edges): the L2 norm of the 2-D kernel k kᵀ, which is
 * sum k². */
static float
blur_noise_gain(float sigma, int max_radius)
{
  float k[2 * MOTTLE_MAX_RADIUS + 1];
  int r = blur_kernel(k, sigma, max_radius);
  float sum = 0;
  for (int i = 0; i < 2 * r + 1; i++)
    sum += k[i] * k[i];
  return sum;
}

gsize
aenet_degrade_camera_scratch_size(int h, int w)
{
  return (gsize)6 * h * w;
}

void
aenet_degrade_camera(float *image, float *scratch, int h, int w, const AenetCamera *cam,
                     AenetRng *rng)
{
  gsize plane = (gsize)h * w;
  float *noise = scratch;             /* (3, h, w): the demosaicked noise */
  float *mosaic = scratch + 3 * plane; /* (h, w) */
  float *tmp = mosaic + plane;         /* (h, w) */
  float rgb2cam[9];
  if (!aenet_camera_invert3(rgb2cam, cam->cam2rgb))
    return; /* aenet_camera_random never makes a singular matrix */
  const float gain[3] = { cam->rgb_gain * cam->red_gain, cam->rgb_gain, cam->rgb_gain * cam->blue_gain };

  const CurveTables *tables = curve_tables();
  /* Back to the sensor: image becomes raw values per channel (3, h, w). */
  for (gsize i = 0; i < plane; i++) {
    float lin[3];
    for (int c = 0; c < 3; c++)
      lin[c] = srgb_to_raw_linear(tables, image[c * plane + i]);
    for (int c = 0; c < 3; c++)
      image[c * plane + i] =
          (rgb2cam[c * 3] * lin[0] + rgb2cam[c * 3 + 1] * lin[1] + rgb2cam[c * 3 + 2] * lin[2])
          / gain[c];
  }
  /* The sensor: one colour per site, shot and read noise, saturation at 0
   * and 1. The mosaic keeps only the noise (what the reading adds). */
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      gsize i = (gsize)y * w + x;
      float clean = image[bayer_channel(y, x) * plane + i];
      float var = cam->shot * MAX(clean, 0.0f) + cam->read;
      float noisy = clean + sqrtf(var) * (float)aenet_rng_normal(rng);
      /* Clip only what the noise pushes out: colours outside the sensor's
       * range in the clean image must come back unchanged. */
      mosaic[i] = CLAMP(noisy, MIN(clean, 0.0f), MAX(clean, 1.0f)) - clean;
    }
  aenet_camera_demosaic(noise, mosaic, h, w);
  if (cam->noise_blur > 0)
    for (int c = 0; c < 3; c++)
      blur_plane(noise + c * plane, tmp, h, w, cam->noise_blur);

  /* Forward again: white balance, colour correction, gamma, tone curve. */
  for (gsize i = 0; i < plane; i++) {
    float raw[3];
    for (int c = 0; c < 3; c++)
      raw[c] = (image[c * plane + i] + noise[c * plane + i]) * gain[c];
    for (int c = 0; c < 3; c++) {
      const float *m = cam->cam2rgb + c * 3;
      float lin = m[0] * raw[0] + m[1] * raw[1] + m[2] * raw[2];
      image[c * plane + i] = curve_lookup(tables->to_srgb, lin);
    }
  }
}

/* ---- Noise as a camera's processing leaves it ---------------------------- */

void
aenet_processed_noise_random(AenetProcessedNoise *noise, const AenetPhotoMix *mix,
                             AenetRng *rng)
{
  noise->luma_sigma = (float)exp(log(MAX(mix->sigma_max, 1.0f)) * aenet_rng_uniform(rng));
  noise->chroma_ratio = (float)exp(log(0.25)
                                   + (log(MAX(mix->chroma_ratio_max, 0.25f)) - log(0.25))
                                         * aenet_rng_uniform(rng));
  /* PolyU's brightness noise matches a blur of about 0.8 px, its colour
   * noise 1.7–2.4 px (correlation exp(-d² / 4 sigma²) at distance d). */
  noise->luma_blur = aenet_rng_uniform(rng) < 0.3 ? 0.0f : 0.3f + 0.9f * (float)aenet_rng_uniform(rng);
  noise->chroma_blur = aenet_rng_uniform(rng) < 0.2 ? 0.0f : 0.5f + 2.5f * (float)aenet_rng_uniform(rng);
  noise->signal_dependence = (float)(2 * aenet_rng_uniform(rng) - 1);
  noise->band_sigma = noise->band_correlation = 0.0f;
  noise->band_columns = FALSE;
  noise->mottle_sigma = noise->mottle_blur = 0.0f;
  /* No draw without banding or mottle, so older runs resume exactly. */
  if (mix->p_banding > 0 && aenet_rng_uniform(rng) < mix->p_banding) {
    noise->band_sigma = noise->luma_sigma * (0.05f + 0.3f * (float)aenet_rng_uniform(rng));
    noise->band_correlation = 0.95f * (float)aenet_rng_uniform(rng);
    noise->band_columns = aenet_rng_uniform(rng) < 1.0 / 3;
  }
  if (mix->p_mottle > 0 && aenet_rng_uniform(rng) < mix->p_mottle) {
    float ratio = 0.3f + 0.9f * (float)aenet_rng_uniform(rng); /* not inside MIN: one draw */
    noise->mottle_sigma = MIN(8.0f, noise->luma_sigma * ratio);
    noise->mottle_blur = 2.0f + 4.0f * (float)aenet_rng_uniform(rng);
  }
}

void
aenet_degrade_processed_noise(float *image, float *scratch, int h, int w,
                              const AenetProcessedNoise *noise, AenetRng *rng)
{
  gsize plane = (gsize)h * w;
  float *luma = scratch, *chroma1 = scratch + plane, *chroma2 = scratch + 2 * plane;
  float *tmp = scratch + 3 * plane;
  fill_normals(scratch, 3 * plane, rng);
  /* Each component back to the asked sigma after its smoothing. */
  float luma_sigma = noise->luma_sigma / 255.0f, chroma_sigma = luma_sigma * noise->chroma_ratio;
  if (noise->luma_blur > 0) {
    blur_plane(luma, tmp, h, w, noise->luma_blur);
    luma_sigma /= blur_noise_gain(noise->luma_blur, BLUR_MAX_RADIUS);
  }
  if (noise->chroma_blur > 0) {
    blur_plane(chroma1, tmp, h, w, noise->chroma_blur);
    blur_plane(chroma2, tmp, h, w, noise->chroma_blur);
    chroma_sigma /= blur_noise_gain(noise->chroma_blur, BLUR_MAX_RADIUS);
  }
  /* Colour noise along two orthonormal directions that leave brightness
   * (R + G + B) alone, scaled so each channel's colour noise has
   * chroma_sigma: (1, -1, 0) / sqrt 2 and (1, 1, -2) / sqrt 6, times
   * sqrt(3 / 2). */
  const float a = 0.8660254f, b = 0.5f; /* sqrt(3/2) / sqrt 2, sqrt(3/2) / sqrt 6 */
  /* Banding: one offset a row (or column), an AR(1) sequence of unit
   * variance correlated band_correlation from one to the next. */
  float band_sigma = noise->band_sigma / 255.0f, *band = scratch + 4 * plane;
  float rho = noise->band_correlation, innovation = sqrtf(1.0f - rho * rho);
  for (int k = 0; band_sigma > 0 && k < (noise->band_columns ? w : h); k++) {
    double z0, z1;
    normal_pair(rng, &z0, &z1);
    band[k] = k == 0 ? (float)z0 : rho * band[k - 1] + innovation * (float)z0;
  }
  /* Mottle: white noise smoothed wide, back to unit variance. */
  float mottle_sigma = noise->mottle_sigma / 255.0f, *mottle = scratch + 5 * plane;
  if (mottle_sigma > 0) {
    fill_normals(mottle, plane, rng);
    blur_plane_wide(mottle, tmp, h, w, noise->mottle_blur, MOTTLE_MAX_RADIUS);
    mottle_sigma /= blur_noise_gain(noise->mottle_blur, MOTTLE_MAX_RADIUS);
  }
  const float colour[3][2] = { { a, b }, { -a, b }, { 0.0f, -2.0f * b } };
  float d = noise->signal_dependence;
  for (gsize i = 0; i < plane; i++) {
    /* Variance times 1 + d (2 brightness - 1): 1 at mid grey, 0 to 2. */
    float brightness = (image[i] + image[plane + i] + image[2 * plane + i]) / 3.0f;
    float scale = sqrtf(MAX(1.0f + d * (2.0f * brightness - 1.0f), 0.0f));
    float y = luma_sigma * luma[i];
    if (band_sigma > 0)
      y += band_sigma * band[noise->band_columns ? i % w : i / w];
    if (mottle_sigma > 0)
      y += mottle_sigma * mottle[i];
    float c1 = chroma_sigma * chroma1[i], c2 = chroma_sigma * chroma2[i];
    for (int c = 0; c < 3; c++)
      image[c * plane + i] += scale * (y + colour[c][0] * c1 + colour[c][1] * c2);
  }
}

/* ---- What photographs go through --------------------------------------- */

const AenetPhotoMix aenet_photo_mix_denoise = { 0.20f, 0.10f, 0.35f, 50.0f, 0.75f, 85, 98, 0.65f, 30, 95, TRUE, 0.50f, 4.0f, 0.0f };
const AenetPhotoMix aenet_photo_mix_upscale = { 0.80f, 0.0f, 0.20f, 10.0f, 0.0f, 0, 0, 1.0f, 30, 92, FALSE, 0.0f, 4.0f, 0.0f };
const AenetPhotoMix aenet_photo_mix_strong_jpeg = { 0.70f, 0.0f, 0.30f, 10.0f, 0.0f, 0, 0, 1.0f, 15, 75, FALSE, 0.50f, 4.0f, 0.0f };
const AenetPhotoMix aenet_photo_mix_camera_grain = { 0.20f, 0.05f, 0.60f, 50.0f, 0.75f, 85, 98, 0.65f, 30, 95, TRUE, 0.50f, 1.0f, 0.5f };
const AenetPhotoMix aenet_photo_mix_mottle = { 0.20f, 0.10f, 0.35f, 50.0f, 0.75f, 85, 98, 0.65f, 30, 95, TRUE, 0.50f, 4.0f, 0.0f, 0.7f };

int
aenet_photo_mix_jpeg_quality(const AenetPhotoMix *mix, AenetRng *rng)
{
  int range = mix->jpeg_max - mix->jpeg_min + 1;
  if (!mix->jpeg_low_most)
    return mix->jpeg_min + aenet_rng_below(rng, range);
  /* Strong compression, the hard case for denoisers, comes up most:
   * median at 30 % of the range. */
  int step = (int)(range * (1.0 - sqrt(aenet_rng_uniform(rng)))); /* one draw: not inside MIN */
  return mix->jpeg_min + MIN(step, range - 1);
}

void
aenet_degrade_photo_scene(float *image, float *scratch, int h, int w, const AenetPhotoMix *mix,
                          AenetRng *rng)
{
  /* No draw without soft scenes, so older runs resume exactly. */
  if (mix->p_soft <= 0 || aenet_rng_uniform(rng) >= mix->p_soft)
    return;
  float sigma = 0.5f + 1.5f * (float)aenet_rng_uniform(rng);
  for (int c = 0; c < 3; c++)
    blur_plane(image + (gsize)c * h * w, scratch, h, w, sigma);
}

gboolean
aenet_degrade_photo(float *image, float *scratch, int h, int w, const AenetPhotoMix *mix,
                    AenetRng *rng, GError **error)
{
  gsize n = (gsize)3 * h * w;
  double kind = aenet_rng_uniform(rng);
  gboolean camera_or_processed = kind >= mix->p_clean + mix->p_gaussian;
  if (kind >= mix->p_clean + mix->p_gaussian + mix->p_processed) {
    AenetCamera cam;
    aenet_camera_random(&cam, rng);
    aenet_degrade_camera(image, scratch, h, w, &cam, rng);
  } else if (camera_or_processed) {
    AenetProcessedNoise noise;
    aenet_processed_noise_random(&noise, mix, rng);
    aenet_degrade_processed_noise(image, scratch, h, w, &noise, rng);
  } else if (kind >= mix->p_clean)
    aenet_degrade_gaussian(image, n, mix->sigma_max * (float)aenet_rng_uniform(rng), rng);
  aenet_degrade_quantize(image, n, 255);
  /* Cameras write their noisy pictures as JPEGs of high quality, where
   * the noise survives but blocky (PolyU's photos): without this, noisy
   * inputs were nearly all strongly compressed and the model left such
   * noise alone. No draw without it, so older runs resume exactly. */
  if (camera_or_processed && mix->p_camera_jpeg > 0 && aenet_rng_uniform(rng) < mix->p_camera_jpeg) {
    int quality = mix->camera_jpeg_min
                  + aenet_rng_below(rng, mix->camera_jpeg_max - mix->camera_jpeg_min + 1);
    if (!aenet_degrade_jpeg(image, 3, h, w, quality, error))
      return FALSE;
  }
  if (aenet_rng_uniform(rng) < mix->p_jpeg)
    return aenet_degrade_jpeg(image, 3, h, w, aenet_photo_mix_jpeg_quality(mix, rng), error);
  return TRUE;
}
