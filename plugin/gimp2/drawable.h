/* drawable.h — the GIMP 2.10 front end's pixel path: drawables through a
 * job (plugin/common/process.h). Nothing in the image changes until all
 * pixels are computed, so a failed or killed run leaves it as it was. */
#ifndef AENET_GIMP2_DRAWABLE_H
#define AENET_GIMP2_DRAWABLE_H

#include <libgimp/gimp.h>
#include "process.h"

G_BEGIN_DECLS

/* The float format for a drawable (see process.h). */
const Babl *aenet_gimp2_float_format(gint32 drawable, int *n_channels);

/* Checks that the drawable can be processed (not indexed, not a group,
 * not locked; a layer when need_layer); FALSE with a message otherwise. */
gboolean aenet_gimp2_check_drawable(gint32 drawable, gboolean need_layer, GError **error);

/* A size-keeping task on the selected part of the drawable, into its
 * shadow buffer, merged as one undo step. estimate: the noise level a
 * dialog estimated for this drawable (0–255), or negative. */
gboolean aenet_gimp2_filter(gint32 drawable, AenetJob *job, double estimate, GError **error);

/* A size-changing task on the whole drawable into the chosen output. On
 * success *new_image (or -1) and *new_layer are the result. */
gboolean aenet_gimp2_enlarge(gint32 image, gint32 drawable, AenetJob *job, AenetOutput output,
                             gboolean interactive, gint32 *new_image, gint32 *new_layer,
                             GError **error);

G_END_DECLS

#endif
