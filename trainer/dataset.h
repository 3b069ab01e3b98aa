/* dataset.h — a folder of photos as training or validation data.
 *
 * Images are found recursively in one folder or several separated by
 * colons (PNG, JPEG, TIFF; 8 or 16-bit; gray or
 * colour; alpha ignored), in sorted path order so runs are reproducible.
 * Unreadable or too small files are skipped with a warning naming them.
 * Decoded images are kept in memory up to a cap, in their own bit depth;
 * beyond the cap they are decoded again each time they are used.
 * For upscaling, each image is cropped to a multiple of the scale and its
 * low-resolution version is made once with MATLAB-style bicubic
 * downscaling and rounded to 8 bits, like a saved file. */
#ifndef AENET_DATASET_H
#define AENET_DATASET_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct AenetDataset AenetDataset;

/* min_side: the smallest width and height an image needs (high-resolution
 * pixels). Warnings (char *) are appended to `warnings` when not NULL.
 * Fails when the folder has fewer than min_images usable images. */
AenetDataset *aenet_dataset_open(const char *dir, int scale, int min_side, guint min_images,
                                 gsize cache_bytes, GPtrArray *warnings, GError **error);
void aenet_dataset_free(AenetDataset *ds); /* NULL is fine */

guint aenet_dataset_get_n_images(const AenetDataset *ds);
const char *aenet_dataset_get_path(const AenetDataset *ds, guint index);
/* High-resolution size (after cropping to the scale). */
void aenet_dataset_get_size(const AenetDataset *ds, guint index, int *width, int *height);

/* Copies a patch as planar RGB floats in [0, 1]: hr is (3, size*scale,
 * size*scale) from high-resolution position (x*scale, y*scale); lr (may be
 * NULL; ignored when scale is 1) is (3, size, size) from (x, y) of the
 * low-resolution image. transform 0–7 applies one of the eight flips and
 * rotations to both. x, y and size are in low-resolution pixels and must
 * fit inside the image. */
gboolean aenet_dataset_get_patch(AenetDataset *ds, guint index, int x, int y, int size,
                                 int transform, float *hr, float *lr, GError **error);

/* The whole image as planar RGB floats: hr (3, h, w) and, when scale > 1,
 * lr (3, h/scale, w/scale). Returned buffers are new (g_free). */
gboolean aenet_dataset_get_image(AenetDataset *ds, guint index, float **hr, float **lr,
                                 GError **error);

G_END_DECLS

#endif
