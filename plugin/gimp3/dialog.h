/* dialog.h — the GIMP 3 front end's dialog: GimpProcedureDialog on the
 * procedure's config, rows from the task's row, the model list and a live
 * preview. */
#ifndef AENET_GIMP3_DIALOG_H
#define AENET_GIMP3_DIALOG_H

#include <libgimp/gimp.h>
#include "process.h"

G_BEGIN_DECLS

/* Shows the dialog for a task on drawable (the first selected); TRUE when
 * the user pressed OK, with config updated and *estimate the noise level
 * the dialog estimated (0–255) when the level is automatic, else -1. */
gboolean aenet_gimp3_dialog_run(GimpProcedure *procedure, GimpProcedureConfig *config,
                                const AenetTask *task, GimpDrawable *drawable, double *estimate);

/* A dialog label for GIMP 3's rows: translated, without the colon that
 * GIMP 2.10's rows end with (free with g_free). */
char *aenet_gimp3_label(const char *label);

G_END_DECLS

#endif
