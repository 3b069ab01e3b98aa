/* imageio.c — PNG, JPEG and TIFF files for the aenet command.
 *
 * Pixels are interleaved, row-major, in the file's own bit depth (8 or 16);
 * 16-bit samples are in host order. Every library error is turned into a
 * GError that names the file; nothing is printed. A file that is truncated
 * or corrupt gives an error, never a partly filled image.
 *
 * libpng and libjpeg report fatal errors through callbacks that longjmp
 * back here. To keep setjmp safe, all state that changes after setjmp
 * lives in a heap-allocated struct whose pointer itself never changes. */
#include "config.h"

#include "imageio.h"

#include "error.h"
#include "tiler.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <tiffio.h>

#define MAX_SIDE 65535
#define MAX_PIXEL_BYTES ((guint64)1 << 31)
#define JPEG_QUALITY 95
/* APP1 payload limit: a marker segment holds at most 65533 data bytes. */
#define JPEG_MAX_MARKER 65533

static const char exif_marker_id[6] = { 'E', 'x', 'i', 'f', 0, 0 };

typedef enum { FILE_OPEN, FILE_READ, FILE_WRITE } FileAction;

/* "Cannot <open|read|write> “path”: <detail>" */
G_GNUC_PRINTF(5, 6)
static void
file_error(GError **error, int code, FileAction action, const char *path, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  char *detail = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  char *name = g_filename_display_name(path);
  /* Whole sentences, so that translators need not assemble them. */
  if (action == FILE_OPEN)
    g_set_error(error, AENET_ERROR, code, _("Cannot open “%s”: %s"), name, detail);
  else if (action == FILE_READ)
    g_set_error(error, AENET_ERROR, code, _("Cannot read “%s”: %s"), name, detail);
  else
    g_set_error(error, AENET_ERROR, code, _("Cannot write “%s”: %s"), name, detail);
  g_free(name);
  g_free(detail);
}

/* ---- images ---- */

AenetImage *
aenet_image_new(int width, int height, int n_channels, int bit_depth, GError **error)
{
  if (n_channels < 1 || n_channels > 4 || (bit_depth != 8 && bit_depth != 16)) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
                _("Unsupported image layout: %d channels at %d bits (1 to 4 channels of 8 or "
                  "16 bits are supported)"),
                n_channels, bit_depth);
    return NULL;
  }
  if (width < 1 || height < 1 || width > MAX_SIDE || height > MAX_SIDE) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_NOMEM,
                _("Image size %d × %d is not supported (each side must be 1 to %d pixels)"), width,
                height, MAX_SIDE);
    return NULL;
  }
  gsize stride = (gsize)width * n_channels * (bit_depth / 8);
  guint64 bytes = (guint64)stride * (guint64)height;
  if (bytes > MAX_PIXEL_BYTES) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_NOMEM,
                _("Image of %d × %d pixels is too large (%.1f GB of pixel data, the limit is "
                  "2 GB)"),
                width, height, (double)bytes / 1e9);
    return NULL;
  }
  guint8 *data = g_try_malloc0((gsize)bytes);
  if (data == NULL) {
    g_set_error(error, AENET_ERROR, AENET_ERROR_NOMEM,
                _("Image of %d × %d pixels is too large: out of memory for %.1f MB"), width, height,
                (double)bytes / 1e6);
    return NULL;
  }
  AenetImage *image = g_new0(AenetImage, 1);
  image->width = width;
  image->height = height;
  image->n_channels = n_channels;
  image->bit_depth = bit_depth;
  image->stride = stride;
  image->data = data;
  return image;
}

void
aenet_image_free(AenetImage *image)
{
  if (image == NULL)
    return;
  g_free(image->data);
  if (image->icc_profile != NULL)
    g_bytes_unref(image->icc_profile);
  if (image->exif != NULL)
    g_bytes_unref(image->exif);
  g_free(image);
}

/* ---- PNG ---- */

typedef struct {
  jmp_buf jmp;
  char message[256];
  FILE *fp;
  png_structp png;
  png_infop info;
  AenetImage *image;
  png_bytep *rows;
} PngState;

static void
png_error_cb(png_structp png, png_const_charp msg)
{
  PngState *s = png_get_error_ptr(png);
  g_strlcpy(s->message, msg, sizeof s->message);
  longjmp(s->jmp, 1);
}

/* Warnings are benign (e.g. an inconsistent ICC profile is dropped). */
static void
png_warning_cb(png_structp png, png_const_charp msg)
{
}

/* Our own reader so that a short file says so in words. */
static void
png_read_cb(png_structp png, png_bytep data, png_size_t length)
{
  FILE *fp = png_get_io_ptr(png);
  if (fread(data, 1, length, fp) != length)
    png_error(png, feof(fp) ? _("the file ends too early (truncated or incomplete)")
                            : _("a read error occurred"));
}

static AenetImage *
png_load(const char *path, FILE *fp, GError **error)
{
  PngState *s = g_new0(PngState, 1);
  AenetImage *result = NULL;
  s->fp = fp;
  s->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, s, png_error_cb, png_warning_cb);
  if (s->png != NULL)
    s->info = png_create_info_struct(s->png);
  if (s->png == NULL || s->info == NULL) {
    file_error(error, AENET_ERROR_NOMEM, FILE_READ, path, _("out of memory"));
    goto out;
  }
  if (setjmp(s->jmp)) {
    file_error(error, AENET_ERROR_FORMAT, FILE_READ, path, _("broken PNG file: %s"), s->message);
    aenet_image_free(s->image);
    s->image = NULL;
    goto out;
  }
  png_set_read_fn(s->png, fp, png_read_cb);
  png_set_user_limits(s->png, MAX_SIDE, MAX_SIDE);
  png_read_info(s->png, s->info);

  int color = png_get_color_type(s->png, s->info);
  int depth = png_get_bit_depth(s->png, s->info);
  if (color == PNG_COLOR_TYPE_PALETTE)
    png_set_palette_to_rgb(s->png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8)
    png_set_expand_gray_1_2_4_to_8(s->png);
  if (png_get_valid(s->png, s->info, PNG_INFO_tRNS))
    png_set_tRNS_to_alpha(s->png);
  if (depth == 16 && G_BYTE_ORDER == G_LITTLE_ENDIAN)
    png_set_swap(s->png); /* PNG is big-endian; memory is host order */
  png_set_interlace_handling(s->png);
  png_read_update_info(s->png, s->info);

  int width = png_get_image_width(s->png, s->info);
  int height = png_get_image_height(s->png, s->info);
  int channels = png_get_channels(s->png, s->info);
  depth = png_get_bit_depth(s->png, s->info);
  GError *local = NULL;
  s->image = aenet_image_new(width, height, channels, depth, &local);
  if (s->image == NULL) {
    file_error(error, local->code, FILE_READ, path, "%s", local->message);
    g_error_free(local);
    goto out;
  }
  if (png_get_rowbytes(s->png, s->info) != s->image->stride)
    png_error(s->png, _("unexpected row size"));
  s->rows = g_try_new(png_bytep, height);
  if (s->rows == NULL)
    png_error(s->png, _("out of memory"));
  for (int y = 0; y < height; y++)
    s->rows[y] = s->image->data + (gsize)y * s->image->stride;
  png_read_image(s->png, s->rows);
  /* Reads to IEND: a file cut after the pixels is still an error, and an
   * eXIf chunk placed after IDAT is picked up. */
  png_read_end(s->png, s->info);

  png_charp icc_name;
  int icc_compression;
  png_bytep icc;
  png_uint_32 icc_len;
  if (png_get_iCCP(s->png, s->info, &icc_name, &icc_compression, &icc, &icc_len) != 0
      && icc_len > 0)
    s->image->icc_profile = g_bytes_new(icc, icc_len);
  png_uint_32 exif_len = 0;
  png_bytep exif = NULL;
  if (png_get_eXIf_1(s->png, s->info, &exif_len, &exif) != 0 && exif_len > 0)
    s->image->exif = g_bytes_new(exif, exif_len);

  result = s->image;
out:
  if (s->png != NULL)
    png_destroy_read_struct(&s->png, s->info != NULL ? &s->info : NULL, NULL);
  g_free(s->rows);
  g_free(s);
  return result;
}

static void
png_write_cb(png_structp png, png_bytep data, png_size_t length)
{
  FILE *fp = png_get_io_ptr(png);
  if (fwrite(data, 1, length, fp) != length)
    png_error(png, g_strerror(errno));
}

static void
png_flush_cb(png_structp png)
{
  FILE *fp = png_get_io_ptr(png);
  if (fflush(fp) != 0)
    png_error(png, g_strerror(errno));
}

static gboolean
png_save(const AenetImage *image, const char *path, FILE *fp, GError **error)
{
  static const int color_types[5] = { 0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                      PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA };
  PngState *s = g_new0(PngState, 1);
  gboolean ok = FALSE;
  s->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, s, png_error_cb, png_warning_cb);
  if (s->png != NULL)
    s->info = png_create_info_struct(s->png);
  if (s->png == NULL || s->info == NULL) {
    file_error(error, AENET_ERROR_NOMEM, FILE_WRITE, path, _("out of memory"));
    goto out;
  }
  if (setjmp(s->jmp)) {
    file_error(error, AENET_ERROR_IO, FILE_WRITE, path, "%s", s->message);
    goto out;
  }
  png_set_write_fn(s->png, fp, png_write_cb, png_flush_cb);
  /* An ICC profile that libpng finds inconsistent with the image (e.g. an
   * RGB profile on a gray image) is dropped rather than failing the save. */
  png_set_benign_errors(s->png, 1);
  /* zlib level 3, not libpng's 6: a denoised 12 MP photo is written in
   * 1.25 s instead of 3.35 s, for a file 15% larger (levels 1 and 2: 0.7 s,
   * 19-23% larger). */
  png_set_compression_level(s->png, 3);
  png_set_IHDR(s->png, s->info, image->width, image->height, image->bit_depth,
               color_types[image->n_channels], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (image->icc_profile != NULL) {
    gsize len;
    const guint8 *icc = g_bytes_get_data(image->icc_profile, &len);
    if (len > 0 && len <= G_MAXUINT32)
      png_set_iCCP(s->png, s->info, "ICC profile", PNG_COMPRESSION_TYPE_BASE, icc, len);
  }
  if (image->exif != NULL) {
    gsize len;
    const guint8 *exif = g_bytes_get_data(image->exif, &len);
    if (len > 0 && len <= G_MAXUINT32)
      png_set_eXIf_1(s->png, s->info, len, (png_bytep)exif);
  }
  png_write_info(s->png, s->info);
  if (image->bit_depth == 16 && G_BYTE_ORDER == G_LITTLE_ENDIAN)
    png_set_swap(s->png);
  for (int y = 0; y < image->height; y++)
    png_write_row(s->png, image->data + (gsize)y * image->stride);
  /* No info here: libpng 1.6.39 would write the eXIf chunk a second time
   * (readers then drop it as a duplicate); nothing else goes after IDAT. */
  png_write_end(s->png, NULL);
  ok = TRUE;
out:
  if (s->png != NULL)
    png_destroy_write_struct(&s->png, s->info != NULL ? &s->info : NULL);
  g_free(s);
  return ok;
}

/* ---- JPEG ---- */

typedef struct {
  struct jpeg_error_mgr pub; /* first: libjpeg sees only this */
  jmp_buf jmp;
  char message[JMSG_LENGTH_MAX];
} JpegError;

typedef struct {
  JpegError err;
  struct jpeg_decompress_struct d;
  struct jpeg_compress_struct c;
  gboolean d_created, c_created;
  AenetImage *image;
  guint8 *row;    /* (width * channels) 8-bit samples, for saving */
  guint8 *marker; /* "Exif\0\0" + payload, for saving */
} JpegState;

static void
jpeg_error_exit_cb(j_common_ptr cinfo)
{
  JpegError *e = (JpegError *)cinfo->err;
  cinfo->err->format_message(cinfo, e->message);
  longjmp(e->jmp, 1);
}

/* Warnings that mean pixels are missing or garbage (the file is cut short
 * or its data is damaged) are fatal: libjpeg would otherwise fill in grey
 * and hand back a half image. Other warnings (e.g. extra bytes between
 * markers) are harmless. Trace messages are ignored; nothing is printed. */
static void
jpeg_emit_message_cb(j_common_ptr cinfo, int level)
{
  if (level >= 0)
    return;
  switch (cinfo->err->msg_code) {
  case JWRN_JPEG_EOF:
  case JWRN_HIT_MARKER:
  case JWRN_MUST_RESYNC:
  case JWRN_HUFF_BAD_CODE:
  case JWRN_NOT_SEQUENTIAL:
    jpeg_error_exit_cb(cinfo);
    break;
  default:
    cinfo->err->num_warnings++;
    break;
  }
}

static void
jpeg_error_init(JpegError *e)
{
  jpeg_std_error(&e->pub);
  e->pub.error_exit = jpeg_error_exit_cb;
  e->pub.emit_message = jpeg_emit_message_cb;
}

/* The luminance quantization table of the JPEG standard (ITU T.81,
 * Annex K), in natural order: libjpeg's quality q scales it by
 * 5000 / q (q < 50) or 200 - 2q percent. */
/* clang-format off */
static const int jpeg_std_luminance[64] = {
  16, 11, 10, 16, 24,  40,  51,  61,
  12, 12, 14, 19, 26,  58,  60,  55,
  14, 13, 16, 24, 40,  57,  69,  56,
  14, 17, 22, 29, 51,  87,  80,  62,
  18, 22, 37, 56, 68,  109, 103, 77,
  24, 35, 55, 64, 81,  104, 113, 92,
  49, 64, 78, 87, 103, 121, 120, 101,
  72, 92, 95, 98, 112, 100, 103, 99,
};
/* clang-format on */

/* The libjpeg quality (1–100) whose table is nearest the file's first
 * one, or 0 when the file has none. */
static int
jpeg_estimate_quality(const struct jpeg_decompress_struct *d)
{
  const JQUANT_TBL *t = d->quant_tbl_ptrs[0];
  if (t == NULL)
    return 0;
  int best = 0;
  double best_err = G_MAXDOUBLE;
  for (int q = 1; q <= 100; q++) {
    int scale = q < 50 ? 5000 / q : 200 - 2 * q;
    double err = 0;
    for (int i = 0; i < 64; i++) {
      int v = CLAMP((jpeg_std_luminance[i] * scale + 50) / 100, 1, 255);
      /* libjpeg keeps the table in natural order, as ours. */
      err += abs(v - (int)t->quantval[i]);
    }
    if (err < best_err)
      best_err = err, best = q;
  }
  return best;
}

static AenetImage *
jpeg_load(const char *path, FILE *fp, GError **error)
{
  JpegState *s = g_new0(JpegState, 1);
  AenetImage *result = NULL;
  jpeg_error_init(&s->err);
  s->d.err = &s->err.pub;
  if (setjmp(s->err.jmp)) {
    file_error(error, AENET_ERROR_FORMAT, FILE_READ, path, _("broken JPEG file: %s"),
               s->err.message);
    aenet_image_free(s->image);
    s->image = NULL;
    goto out;
  }
  jpeg_create_decompress(&s->d);
  s->d_created = TRUE;
  jpeg_stdio_src(&s->d, fp);
  jpeg_save_markers(&s->d, JPEG_APP0 + 1, 0xFFFF); /* EXIF */
  jpeg_save_markers(&s->d, JPEG_APP0 + 2, 0xFFFF); /* ICC, for jpeg_read_icc_profile */
  jpeg_read_header(&s->d, TRUE);

  if (s->d.jpeg_color_space == JCS_CMYK || s->d.jpeg_color_space == JCS_YCCK) {
    file_error(error, AENET_ERROR_FORMAT, FILE_READ, path, _("CMYK JPEG is not supported"));
    goto out;
  }
  if (s->d.num_components == 1)
    s->d.out_color_space = JCS_GRAYSCALE;
  else if (s->d.num_components == 3)
    s->d.out_color_space = JCS_RGB;
  else {
    file_error(error, AENET_ERROR_FORMAT, FILE_READ, path,
               _("JPEG with %d colour components is not supported"), s->d.num_components);
    goto out;
  }

  jpeg_start_decompress(&s->d);
  GError *local = NULL;
  s->image
      = aenet_image_new(s->d.output_width, s->d.output_height, s->d.output_components, 8, &local);
  if (s->image == NULL) {
    file_error(error, local->code, FILE_READ, path, "%s", local->message);
    g_error_free(local);
    goto out;
  }
  while (s->d.output_scanline < s->d.output_height) {
    JSAMPROW row = s->image->data + (gsize)s->d.output_scanline * s->image->stride;
    if (jpeg_read_scanlines(&s->d, &row, 1) != 1) {
      file_error(error, AENET_ERROR_FORMAT, FILE_READ, path,
                 _("broken JPEG file: the image data ends too early"));
      aenet_image_free(s->image);
      s->image = NULL;
      goto out;
    }
  }

  JOCTET *icc = NULL;
  unsigned int icc_len = 0;
  if (jpeg_read_icc_profile(&s->d, &icc, &icc_len) && icc != NULL) {
    s->image->icc_profile = g_bytes_new(icc, icc_len);
    free(icc);
  }
  for (jpeg_saved_marker_ptr m = s->d.marker_list; m != NULL; m = m->next)
    if (m->marker == JPEG_APP0 + 1 && m->data_length > sizeof exif_marker_id
        && memcmp(m->data, exif_marker_id, sizeof exif_marker_id) == 0) {
      s->image->exif
          = g_bytes_new(m->data + sizeof exif_marker_id, m->data_length - sizeof exif_marker_id);
      break;
    }

  s->image->jpeg_quality = jpeg_estimate_quality(&s->d);
  jpeg_finish_decompress(&s->d);
  result = s->image;
out:
  if (s->d_created)
    jpeg_destroy_decompress(&s->d);
  g_free(s);
  return result;
}

/* JPEG holds no alpha: an alpha channel is dropped. 16-bit samples are
 * rounded to 8 bits. */
static gboolean
jpeg_save(const AenetImage *image, const char *path, FILE *fp, GError **error)
{
  JpegState *s = g_new0(JpegState, 1);
  gboolean ok = FALSE;
  int color = image->n_channels >= 3 ? 3 : 1;
  gsize exif_len = 0;
  const guint8 *exif = NULL;
  if (image->exif != NULL)
    exif = g_bytes_get_data(image->exif, &exif_len);
  /* EXIF larger than one marker segment cannot be stored; it is dropped. */
  if (exif_len == 0 || exif_len + sizeof exif_marker_id > JPEG_MAX_MARKER)
    exif = NULL;

  s->row = g_try_malloc((gsize)image->width * color);
  if (s->row == NULL) {
    file_error(error, AENET_ERROR_NOMEM, FILE_WRITE, path, _("out of memory"));
    goto out;
  }
  jpeg_error_init(&s->err);
  s->c.err = &s->err.pub;
  if (setjmp(s->err.jmp)) {
    file_error(error, AENET_ERROR_IO, FILE_WRITE, path, "%s", s->err.message);
    goto out;
  }
  jpeg_create_compress(&s->c);
  s->c_created = TRUE;
  jpeg_stdio_dest(&s->c, fp);
  s->c.image_width = image->width;
  s->c.image_height = image->height;
  s->c.input_components = color;
  s->c.in_color_space = color == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&s->c);
  jpeg_set_quality(
      &s->c, image->jpeg_quality > 0 ? CLAMP(image->jpeg_quality, 1, 100) : JPEG_QUALITY, TRUE);
  /* EXIF files put their APP1 first, in place of JFIF's APP0. */
  if (exif != NULL)
    s->c.write_JFIF_header = FALSE;
  jpeg_start_compress(&s->c, TRUE);
  if (exif != NULL) {
    s->marker = g_malloc(exif_len + sizeof exif_marker_id);
    memcpy(s->marker, exif_marker_id, sizeof exif_marker_id);
    memcpy(s->marker + sizeof exif_marker_id, exif, exif_len);
    jpeg_write_marker(&s->c, JPEG_APP0 + 1, s->marker, exif_len + sizeof exif_marker_id);
  }
  if (image->icc_profile != NULL) {
    gsize len;
    const guint8 *icc = g_bytes_get_data(image->icc_profile, &len);
    if (len > 0 && len <= G_MAXUINT)
      jpeg_write_icc_profile(&s->c, icc, len);
  }

  int nc = image->n_channels;
  for (int y = 0; y < image->height; y++) {
    const guint8 *src = image->data + (gsize)y * image->stride;
    for (int x = 0; x < image->width; x++)
      for (int k = 0; k < color; k++) {
        gsize i = (gsize)x * nc + k;
        if (image->bit_depth == 8)
          s->row[(gsize)x * color + k] = src[i];
        else {
          guint16 v;
          memcpy(&v, src + 2 * i, 2);
          s->row[(gsize)x * color + k] = (guint8)(((guint32)v * 255 + 32767) / 65535);
        }
      }
    JSAMPROW row = s->row;
    jpeg_write_scanlines(&s->c, &row, 1);
  }
  jpeg_finish_compress(&s->c);
  ok = TRUE;
out:
  if (s->c_created)
    jpeg_destroy_compress(&s->c);
  g_free(s->row);
  g_free(s->marker);
  g_free(s);
  return ok;
}

/* ---- TIFF ---- */

/* libtiff's handlers are process-wide; ours print nothing and keep the
 * first error of the current thread's operation, so concurrent loads in
 * different threads do not mix their messages. EXIF in TIFF (a sub-IFD,
 * not a blob) is not read or written. */
static _Thread_local char tiff_message[256];

static void
tiff_error_cb(const char *module, const char *fmt, va_list ap)
{
  if (tiff_message[0] == '\0')
    g_vsnprintf(tiff_message, sizeof tiff_message, fmt, ap);
}

static void
tiff_warning_cb(const char *module, const char *fmt, va_list ap)
{
}

static void
tiff_handlers_install(void)
{
  static gsize done = 0;
  if (g_once_init_enter(&done)) {
    TIFFSetErrorHandler(tiff_error_cb);
    TIFFSetWarningHandler(tiff_warning_cb);
    g_once_init_leave(&done, 1);
  }
  tiff_message[0] = '\0';
}

static const char *
tiff_last_error(void)
{
  return tiff_message[0] != '\0' ? tiff_message : _("the file is damaged");
}

/* Copies a decoded block (bh rows of row_bytes, block_spp samples per pixel,
 * the first being file sample first_sample) into the image at (x0, y0).
 * File samples beyond the image's channels (extra extra-samples) are
 * dropped. */
static void
tiff_scatter(AenetImage *image, const guint8 *block, int x0, int y0, int bw, int bh,
             gsize row_bytes, int block_spp, int first_sample)
{
  int bytes = image->bit_depth / 8;
  for (int r = 0; r < bh; r++) {
    const guint8 *src = block + (gsize)r * row_bytes;
    guint8 *dst = image->data + (gsize)(y0 + r) * image->stride;
    for (int x = 0; x < bw; x++)
      for (int k = 0; k < block_spp; k++) {
        int ch = first_sample + k;
        if (ch >= image->n_channels)
          continue;
        memcpy(dst + ((gsize)(x0 + x) * image->n_channels + ch) * bytes,
               src + ((gsize)x * block_spp + k) * bytes, bytes);
      }
  }
}

/* Associated (premultiplied) alpha to straight alpha. */
static void
tiff_unpremultiply(AenetImage *image)
{
  int nc = image->n_channels;
  guint32 maxv = image->bit_depth == 8 ? 255 : 65535;
  for (int y = 0; y < image->height; y++) {
    guint8 *row = image->data + (gsize)y * image->stride;
    for (int x = 0; x < image->width; x++) {
      gsize p = (gsize)x * nc;
      guint32 a, v;
      if (image->bit_depth == 8)
        a = row[p + nc - 1];
      else {
        guint16 a16;
        memcpy(&a16, row + 2 * (p + nc - 1), 2);
        a = a16;
      }
      if (a == 0 || a == maxv)
        continue;
      for (int k = 0; k < nc - 1; k++) {
        if (image->bit_depth == 8)
          v = row[p + k];
        else {
          guint16 v16;
          memcpy(&v16, row + 2 * (p + k), 2);
          v = v16;
        }
        guint32 u = (v * maxv + a / 2) / a;
        if (u > maxv)
          u = maxv;
        if (image->bit_depth == 8)
          row[p + k] = (guint8)u;
        else {
          guint16 u16 = (guint16)u;
          memcpy(row + 2 * (p + k), &u16, 2);
        }
      }
    }
  }
}

static void
tiff_invert_color(AenetImage *image, int color)
{
  int nc = image->n_channels;
  for (int y = 0; y < image->height; y++) {
    guint8 *row = image->data + (gsize)y * image->stride;
    for (int x = 0; x < image->width; x++)
      for (int k = 0; k < color; k++) {
        gsize i = (gsize)x * nc + k;
        if (image->bit_depth == 8)
          row[i] = 255 - row[i];
        else {
          guint16 v;
          memcpy(&v, row + 2 * i, 2);
          v = 65535 - v;
          memcpy(row + 2 * i, &v, 2);
        }
      }
  }
}

static AenetImage *
tiff_load(const char *path, GError **error)
{
  tiff_handlers_install();
  TIFF *tif = TIFFOpen(path, "r");
  if (tif == NULL) {
    file_error(error, AENET_ERROR_FORMAT, FILE_READ, path, _("broken TIFF file: %s"),
               tiff_last_error());
    return NULL;
  }
  AenetImage *image = NULL;
  guint8 *block = NULL;
  uint32_t width = 0, height = 0;
  uint16_t spp = 1, bps = 1, planar = PLANARCONFIG_CONTIG, format = SAMPLEFORMAT_UINT;
  uint16_t photometric, compression = COMPRESSION_NONE;
  if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &width)
      || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &height)) {
    file_error(error, AENET_ERROR_FORMAT, FILE_READ, path,
               _("broken TIFF file: the image size is missing"));
    goto out;
  }
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
  TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
  TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &format);
  TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &compression);
  if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric))
    photometric = spp >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;
  if (photometric == PHOTOMETRIC_YCBCR && compression == COMPRESSION_JPEG) {
    /* Let the JPEG codec convert to RGB. */
    TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
    photometric = PHOTOMETRIC_RGB;
  }
  if (photometric != PHOTOMETRIC_MINISBLACK && photometric != PHOTOMETRIC_MINISWHITE
      && photometric != PHOTOMETRIC_RGB) {
    file_error(error, AENET_ERROR_FORMAT, FILE_READ, path,
               _("this kind of TIFF (photometric interpretation %u: palette, CMYK, Lab …) is "
                 "not supported; only gray and RGB are"),
               photometric);
    goto out;
  }
  if ((bps != 8 && bps != 16) || format != SAMPLEFORMAT_UINT) {
    file_error(error, AENET_ERROR_FORMAT, FILE_READ, path,
               format == SAMPLEFORMAT_IEEEFP
                   ? _("TIFF with %u-bit floating-point samples is not supported; only 8 and "
                       "16-bit integers are")
                   : _("TIFF with %u-bit samples is not supported; only 8 and 16-bit integers "
                       "are"),
               bps);
    goto out;
  }
  int color = photometric == PHOTOMETRIC_RGB ? 3 : 1;
  if (spp < color) {
    file_error(error, AENET_ERROR_FORMAT, FILE_READ, path,
               color == 3 ? _("broken TIFF file: %u samples per pixel for a RGB image")
                          : _("broken TIFF file: %u samples per pixel for a gray image"),
               spp);
    goto out;
  }
  int has_alpha = spp > color;
  gboolean associated = FALSE;
  uint16_t n_extra = 0;
  uint16_t *extra_types = NULL;
  if (has_alpha && TIFFGetField(tif, TIFFTAG_EXTRASAMPLES, &n_extra, &extra_types) && n_extra > 0)
    associated = extra_types[0] == EXTRASAMPLE_ASSOCALPHA;
  if (width > MAX_SIDE || height > MAX_SIDE) {
    file_error(error, AENET_ERROR_NOMEM, FILE_READ, path,
               _("the image is too large (%u × %u pixels; at most %d per side)"), width, height,
               MAX_SIDE);
    goto out;
  }
  GError *local = NULL;
  image = aenet_image_new(width, height, color + has_alpha, bps, &local);
  if (image == NULL) {
    file_error(error, local->code, FILE_READ, path, "%s", local->message);
    g_error_free(local);
    goto out;
  }

  int bytes = bps / 8;
  int n_planes = planar == PLANARCONFIG_SEPARATE ? spp : 1;
  int block_spp = planar == PLANARCONFIG_SEPARATE ? 1 : spp;
  gboolean tiled = TIFFIsTiled(tif);
  tmsize_t block_size = tiled ? TIFFTileSize(tif) : TIFFStripSize(tif);
  if (block_size <= 0 || (block = g_try_malloc(block_size)) == NULL) {
    file_error(error, AENET_ERROR_FORMAT, FILE_READ, path, _("broken TIFF file: %s"),
               block_size <= 0 ? tiff_last_error() : _("out of memory for a strip"));
    goto fail;
  }
  if (tiled) {
    uint32_t tw = 0, th = 0;
    TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
    TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
    gsize row_bytes = (gsize)tw * block_spp * bytes;
    if (tw == 0 || th == 0 || (guint64)row_bytes * th > (guint64)block_size) {
      file_error(error, AENET_ERROR_FORMAT, FILE_READ, path,
                 _("broken TIFF file: bad tile size %u × %u"), tw, th);
      goto fail;
    }
    for (int p = 0; p < n_planes; p++)
      for (uint32_t y = 0; y < height; y += th)
        for (uint32_t x = 0; x < width; x += tw) {
          uint32_t tile = TIFFComputeTile(tif, x, y, 0, p);
          if (TIFFReadEncodedTile(tif, tile, block, block_size) < 0) {
            file_error(error, AENET_ERROR_FORMAT, FILE_READ, path, _("broken TIFF file: %s"),
                       tiff_last_error());
            goto fail;
          }
          tiff_scatter(image, block, x, y, MIN(tw, width - x), MIN(th, height - y), row_bytes,
                       block_spp, p * block_spp);
        }
  } else {
    uint32_t rps = height;
    TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rps);
    if (rps == 0 || rps > height)
      rps = height;
    gsize row_bytes = (gsize)width * block_spp * bytes;
    for (int p = 0; p < n_planes; p++)
      for (uint32_t y = 0; y < height; y += rps) {
        uint32_t rows = MIN(rps, height - y);
        uint32_t strip = TIFFComputeStrip(tif, y, p);
        tmsize_t n = TIFFReadEncodedStrip(tif, strip, block, block_size);
        if (n < 0 || (guint64)n < (guint64)row_bytes * rows) {
          file_error(error, AENET_ERROR_FORMAT, FILE_READ, path, _("broken TIFF file: %s"),
                     n < 0 ? tiff_last_error() : _("a strip of pixels is too short"));
          goto fail;
        }
        tiff_scatter(image, block, 0, y, width, rows, row_bytes, block_spp, p * block_spp);
      }
  }
  if (photometric == PHOTOMETRIC_MINISWHITE)
    tiff_invert_color(image, color);
  if (has_alpha && associated)
    tiff_unpremultiply(image);

  uint32_t icc_len = 0;
  void *icc = NULL;
  if (TIFFGetField(tif, TIFFTAG_ICCPROFILE, &icc_len, &icc) && icc != NULL && icc_len > 0)
    image->icc_profile = g_bytes_new(icc, icc_len);
  goto out;

fail:
  aenet_image_free(image);
  image = NULL;
out:
  g_free(block);
  TIFFClose(tif);
  return image;
}

/* Takes ownership of fd (TIFFClose closes it). */
static gboolean
tiff_save(const AenetImage *image, const char *path, int fd, GError **error)
{
  tiff_handlers_install();
  TIFF *tif = TIFFFdOpen(fd, path, "w");
  if (tif == NULL) {
    close(fd);
    file_error(error, AENET_ERROR_IO, FILE_WRITE, path, "%s", tiff_last_error());
    return FALSE;
  }
  gboolean ok = FALSE;
  int color = image->n_channels >= 3 ? 3 : 1;
  gsize row_bytes = image->stride;
  guint8 *row = g_try_malloc(row_bytes);
  if (row == NULL) {
    file_error(error, AENET_ERROR_NOMEM, FILE_WRITE, path, _("out of memory"));
    goto out;
  }
  uint16_t compression = TIFFIsCODECConfigured(COMPRESSION_ADOBE_DEFLATE)
                             ? COMPRESSION_ADOBE_DEFLATE
                             : COMPRESSION_LZW;
  TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t)image->width);
  TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t)image->height);
  TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (uint16_t)image->bit_depth);
  TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)image->n_channels);
  TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, color == 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
  TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_UINT);
  TIFFSetField(tif, TIFFTAG_COMPRESSION, compression);
  TIFFSetField(tif, TIFFTAG_PREDICTOR, PREDICTOR_HORIZONTAL);
  if (image->n_channels > color) {
    uint16_t extra = EXTRASAMPLE_UNASSALPHA;
    TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, 1, &extra);
  }
  TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, TIFFDefaultStripSize(tif, 0));
  if (image->icc_profile != NULL) {
    gsize len;
    const guint8 *icc = g_bytes_get_data(image->icc_profile, &len);
    if (len > 0 && len <= G_MAXUINT32)
      TIFFSetField(tif, TIFFTAG_ICCPROFILE, (uint32_t)len, icc);
  }
  for (int y = 0; y < image->height; y++) {
    /* A copy: the predictor may rewrite the buffer it is given. */
    memcpy(row, image->data + (gsize)y * image->stride, row_bytes);
    if (TIFFWriteScanline(tif, row, y, 0) < 0) {
      file_error(error, AENET_ERROR_IO, FILE_WRITE, path, "%s", tiff_last_error());
      goto out;
    }
  }
  if (!TIFFFlush(tif)) {
    file_error(error, AENET_ERROR_IO, FILE_WRITE, path, "%s", tiff_last_error());
    goto out;
  }
  ok = TRUE;
out:
  g_free(row);
  TIFFClose(tif);
  return ok;
}

/* ---- by type ---- */

gboolean
aenet_file_type_from_name(const char *path, AenetFileType *type, GError **error)
{
  static const struct {
    const char *ext;
    AenetFileType type;
  } known[] = {
    { ".png", AENET_FILE_PNG },  { ".jpg", AENET_FILE_JPEG },  { ".jpeg", AENET_FILE_JPEG },
    { ".tif", AENET_FILE_TIFF }, { ".tiff", AENET_FILE_TIFF },
  };
  char *base = g_path_get_basename(path);
  const char *dot = strrchr(base, '.');
  for (gsize i = 0; dot != NULL && i < G_N_ELEMENTS(known); i++)
    if (g_ascii_strcasecmp(dot, known[i].ext) == 0) {
      *type = known[i].type;
      g_free(base);
      return TRUE;
    }
  g_free(base);
  char *name = g_filename_display_name(path);
  g_set_error(error, AENET_ERROR, AENET_ERROR_INVALID,
              _("Cannot tell the image type of “%s” from its name: use .png, .jpg, .jpeg, .tif "
                "or .tiff"),
              name);
  g_free(name);
  return FALSE;
}

AenetImage *
aenet_image_load(const char *path, GError **error)
{
  g_return_val_if_fail(path != NULL, NULL);
  FILE *fp = g_fopen(path, "rb");
  if (fp == NULL) {
    int saved = errno;
    file_error(error, AENET_ERROR_IO, FILE_OPEN, path, "%s", g_strerror(saved));
    return NULL;
  }
  guint8 sig[8] = { 0 };
  size_t n = fread(sig, 1, sizeof sig, fp);
  if (ferror(fp)) {
    int saved = errno;
    fclose(fp);
    file_error(error, AENET_ERROR_IO, FILE_READ, path, "%s", g_strerror(saved));
    return NULL;
  }
  if (n == 0) {
    fclose(fp);
    file_error(error, AENET_ERROR_FORMAT, FILE_READ, path, _("the file is empty"));
    return NULL;
  }
  static const guint8 png_sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  AenetImage *image = NULL;
  if (n == 8 && memcmp(sig, png_sig, 8) == 0) {
    rewind(fp);
    image = png_load(path, fp, error);
    fclose(fp);
  } else if (n >= 3 && sig[0] == 0xff && sig[1] == 0xd8 && sig[2] == 0xff) {
    rewind(fp);
    image = jpeg_load(path, fp, error);
    fclose(fp);
  } else if (n >= 4
             && ((sig[0] == 'I' && sig[1] == 'I' && (sig[2] == 42 || sig[2] == 43) && sig[3] == 0)
                 || (sig[0] == 'M' && sig[1] == 'M' && sig[2] == 0
                     && (sig[3] == 42 || sig[3] == 43)))) {
    fclose(fp);
    image = tiff_load(path, error);
  } else {
    fclose(fp);
    file_error(error, AENET_ERROR_FORMAT, FILE_READ, path, _("not a PNG, JPEG or TIFF file"));
  }
  return image;
}

gboolean
aenet_image_save(const AenetImage *image, const char *path, GError **error)
{
  g_return_val_if_fail(image != NULL && path != NULL, FALSE);
  AenetFileType type;
  if (!aenet_file_type_from_name(path, &type, error))
    return FALSE;

  /* A temporary file in the same folder, renamed over the target only once
   * complete, so a failure never leaves a half-written or clobbered file. */
  char *tmp = g_strdup_printf("%s.tmp-XXXXXX", path);
  int fd = g_mkstemp_full(tmp, O_RDWR, 0666);
  if (fd < 0) {
    int saved = errno;
    file_error(error, AENET_ERROR_IO, FILE_WRITE, path, "%s", g_strerror(saved));
    g_free(tmp);
    return FALSE;
  }
  gboolean ok;
  if (type == AENET_FILE_TIFF)
    ok = tiff_save(image, path, fd, error);
  else {
    FILE *fp = fdopen(fd, "wb");
    if (fp == NULL) {
      int saved = errno;
      close(fd);
      file_error(error, AENET_ERROR_IO, FILE_WRITE, path, "%s", g_strerror(saved));
      ok = FALSE;
    } else {
      if (type == AENET_FILE_PNG)
        ok = png_save(image, path, fp, error);
      else
        ok = jpeg_save(image, path, fp, error);
      /* fclose flushes: a full disk shows up here. */
      if (fclose(fp) != 0 && ok) {
        int saved = errno;
        file_error(error, AENET_ERROR_IO, FILE_WRITE, path, "%s", g_strerror(saved));
        ok = FALSE;
      }
    }
  }
  if (ok && g_rename(tmp, path) != 0) {
    int saved = errno;
    file_error(error, AENET_ERROR_IO, FILE_WRITE, path, "%s", g_strerror(saved));
    ok = FALSE;
  }
  if (!ok)
    g_unlink(tmp);
  g_free(tmp);
  return ok;
}

/* ---- floats ---- */

void
aenet_image_get_rect(const AenetImage *image, int x, int y, int w, int h, float *dst)
{
  g_return_if_fail(x >= 0 && y >= 0 && w >= 0 && h >= 0 && x + w <= image->width
                   && y + h <= image->height);
  int nc = image->n_channels;
  gsize n = (gsize)w * nc;
  for (int r = 0; r < h; r++) {
    const guint8 *row = image->data + (gsize)(y + r) * image->stride;
    float *out = dst + (gsize)r * n;
    if (image->bit_depth == 8) {
      const guint8 *src = row + (gsize)x * nc;
      for (gsize i = 0; i < n; i++)
        out[i] = src[i] / 255.0f;
    } else {
      const guint8 *src = row + (gsize)x * nc * 2;
      for (gsize i = 0; i < n; i++) {
        guint16 v;
        memcpy(&v, src + 2 * i, 2);
        out[i] = v / 65535.0f;
      }
    }
  }
}

void
aenet_image_set_rect(AenetImage *image, int x, int y, int w, int h, const float *src)
{
  g_return_if_fail(x >= 0 && y >= 0 && w >= 0 && h >= 0 && x + w <= image->width
                   && y + h <= image->height);
  int nc = image->n_channels;
  gsize n = (gsize)w * nc;
  float maxv = image->bit_depth == 8 ? 255.0f : 65535.0f;
  for (int r = 0; r < h; r++) {
    guint8 *row = image->data + (gsize)(y + r) * image->stride;
    const float *in = src + (gsize)r * n;
    for (gsize i = 0; i < n; i++) {
      float v = in[i];
      /* NaN and negatives go to 0. */
      v = v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f;
      guint32 q = (guint32)(v * maxv + 0.5f);
      if (image->bit_depth == 8)
        row[(gsize)x * nc + i] = (guint8)q;
      else {
        guint16 q16 = (guint16)q;
        memcpy(row + ((gsize)x * nc + i) * 2, &q16, 2);
      }
    }
  }
}

float *
aenet_image_load_planar(const char *path, int *channels, int *width, int *height, GError **error)
{
  AenetImage *image = aenet_image_load(path, error);
  if (image == NULL)
    return NULL;
  int n = image->n_channels, c = n >= 3 ? 3 : 1;
  gsize plane = (gsize)image->width * image->height;
  float *inter = g_try_new(float, plane *n); /* (h, w, n) */
  float *data = g_try_new(float, plane *c);  /* (c, h, w) */
  if (inter == NULL || data == NULL) {
    g_free(data);
    data = NULL;
    g_set_error(error, AENET_ERROR, AENET_ERROR_NOMEM, _("%s is too large to load"), path);
  } else {
    aenet_image_get_rect(image, 0, 0, image->width, image->height, inter);
    aenet_pixels_deinterleave(data, plane, inter, plane, n, c);
    *channels = c, *width = image->width, *height = image->height;
  }
  g_free(inter);
  aenet_image_free(image);
  return data;
}
