/* imageio.h — image files for the aenet command: PNG (8/16-bit), JPEG,
 * TIFF (8/16-bit), gray or colour, with or without alpha.
 *
 * Pixels stay in the file's own bit depth in memory (a 40-megapixel photo
 * is 120 MB at 8 bits, not 480 MB as floats) and are converted to floats in
 * [0, 1] a rectangle at a time. Samples are interleaved, row-major:
 * n_channels = 1 (Y'), 2 (Y'A), 3 (R'G'B') or 4 (R'G'B'A), straight
 * (not premultiplied) alpha. The ICC profile and EXIF block of the file are
 * kept, so saving can carry them over where the format allows. */
#ifndef AENET_IMAGEIO_H
#define AENET_IMAGEIO_H

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  AENET_FILE_PNG,
  AENET_FILE_JPEG,
  AENET_FILE_TIFF,
} AenetFileType;

typedef struct {
  int width, height;
  int n_channels;      /* 1 to 4 */
  int bit_depth;       /* 8 or 16 */
  gsize stride;        /* bytes per row */
  guint8 *data;        /* height * stride bytes; 16-bit samples in host order */
  GBytes *icc_profile; /* or NULL */
  GBytes *exif;        /* EXIF payload starting at the TIFF header, or NULL */
  /* JPEG quality: loading a JPEG sets the quality its tables were made
   * with (1–100), others 0; saving as JPEG uses it, or 95 when 0. */
  int jpeg_quality;
} AenetImage;

/* A new image with zeroed pixels; NULL with error when too large. */
AenetImage *aenet_image_new(int width, int height, int n_channels, int bit_depth, GError **error);
void aenet_image_free(AenetImage *image); /* NULL is fine */

/* The type from the file name's extension (.png, .jpg/.jpeg, .tif/.tiff). */
gboolean aenet_file_type_from_name(const char *path, AenetFileType *type, GError **error);
/* Loads by content (signature), not by name. */
AenetImage *aenet_image_load(const char *path, GError **error);
/* Saves by the name's extension; JPEG is 8-bit (16-bit images are rounded),
 * at image->jpeg_quality (95 when 0). Atomic: a temporary file, then a rename. */
gboolean aenet_image_save(const AenetImage *image, const char *path, GError **error);

/* Rectangle (x, y, w, h) inside the image to/from interleaved floats
 * (h rows of w * n_channels). Writing clamps to [0, 1] and rounds. */
void aenet_image_get_rect(const AenetImage *image, int x, int y, int w, int h, float *dst);
void aenet_image_set_rect(AenetImage *image, int x, int y, int w, int h, const float *src);

/* A file as planar floats (c, h, w) in [0, 1], c = 1 (gray) or 3 (colour),
 * alpha dropped: what evaluation scores. Free with g_free; NULL with error
 * when the file cannot be read or does not fit in memory. */
float *aenet_image_load_planar(const char *path, int *channels, int *width, int *height,
                               GError **error);

G_END_DECLS

#endif
