/* drawable.h — the GIMP 3 front end's pixel path: drawables through a job
 * (plugin/common/process.h), as plugin/gimp2/drawable.h with GIMP 2.10's
 * calls. Nothing in the image changes until all pixels are computed (for
 * a size-keeping task, those of every selected drawable), so a failed or
 * killed run leaves the image as it was. */
#ifndef AENET_GIMP3_DRAWABLE_H
#define AENET_GIMP3_DRAWABLE_H

#include <libgimp/gimp.h>
#include "process.h"

G_BEGIN_DECLS

/* The float format for a drawable, in its colour space (see process.h). */
const Babl *aenet_gimp3_float_format(GimpDrawable *drawable, int *n_channels);

/* Checks that the drawable can be processed (not indexed, not a group,
 * not locked; a layer when need_layer); FALSE with a message otherwise. */
gboolean aenet_gimp3_check_drawable(GimpDrawable *drawable, gboolean need_layer, GError **error);

/* A size-keeping task on the selected part of the drawable, into its
 * shadow buffer; *rect is that part. Nothing changes until
 * aenet_gimp3_merge, so the caller can compute every selected drawable
 * before it changes any. estimate: the noise level a dialog estimated for
 * this drawable (0–255), or negative. */
gboolean aenet_gimp3_filter(GimpDrawable *drawable, AenetJob *job, double estimate,
                            GeglRectangle *rect, GError **error);
/* Merges the shadow buffer into the drawable, one undo step (the caller
 * groups several drawables). */
void aenet_gimp3_merge(GimpDrawable *drawable, const GeglRectangle *rect);

/* A size-changing task on the whole layer into the chosen output. On
 * success *new_image (NULL unless a new image) and *new_layer are the
 * result. */
gboolean aenet_gimp3_enlarge(GimpImage *image, GimpDrawable *drawable, AenetJob *job,
                             AenetOutput output, gboolean interactive, GimpImage **new_image,
                             GimpLayer **new_layer, GError **error);

G_END_DECLS

#endif
