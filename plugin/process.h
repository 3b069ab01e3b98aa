/* process.h — the plug-in's pixel path: GIMP drawables fed through the
 * engine's tiler.
 *
 * Pixels cross as float formats chosen from the drawable (R'G'B'A, R'G'B',
 * Y'A, Y' float), so 8-, 16- and 32-bit images keep their precision. Only
 * the rectangles the tiler asks for are read or written, never a whole
 * layer. Nothing in the image changes until all pixels are computed, so a
 * failed or killed run leaves the image as it was. */
#ifndef AENET_PLUGIN_PROCESS_H
#define AENET_PLUGIN_PROCESS_H

#include <libgimp/gimp.h>
#include "model.h"

G_BEGIN_DECLS

typedef enum {
  AENET_OUTPUT_NEW_IMAGE = 0,
  AENET_OUTPUT_IN_PLACE = 1,
  AENET_OUTPUT_NEW_LAYER = 2,
} AenetOutput;

/* The babl format of floats for a drawable (see tiler.h's channel order). */
const Babl *aenet_plugin_float_format(gint32 drawable, int *n_channels);

/* Checks that the drawable can be processed (not indexed, not a group,
 * not locked); FALSE with a message for the user otherwise. */
gboolean aenet_plugin_check_drawable(gint32 drawable, gboolean need_layer, GError **error);

/* The noise level (sigma on 0–255) estimated from a crop of at most
 * 512 × 512 pixels of buf around the centre of the given rectangle. */
double aenet_plugin_estimate_noise(GeglBuffer *buf, const Babl *format, int n_channels,
                                   const GeglRectangle *rect, GError **error);

/* Denoises the selected part of the drawable into its shadow buffer and
 * merges it as one undo step. noise_level is on 0–255, negative = estimate;
 * strength blends the result with the original. Shows progress. */
gboolean aenet_plugin_denoise(gint32 drawable, const AenetModel *model, double noise_level,
                              double strength, GError **error);

/* Upscales the whole drawable by the model's scale into the chosen output.
 * On success *new_image (or -1) and *new_layer are the result. */
gboolean aenet_plugin_upscale(gint32 image, gint32 drawable, const AenetModel *model,
                              AenetOutput output, gboolean interactive, gint32 *new_image,
                              gint32 *new_layer, GError **error);

G_END_DECLS

#endif
